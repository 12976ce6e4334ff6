"""Analysis benchmark: path detection speed and quality, AI requests and prompt size.

Builds a generated fake library (tests.fakes.stash_library), syncs it through the real sync
service from the fake Stash server into a throwaway SQLite database, then:

- path detection (no AI): runs the analysis job body over every scene and prints scenes per
  second (the whole job: reading scenes, detecting, writing the plan) and the detectors alone;
  precision and recall of the studio and performer proposals against ``library.truth``, on
  the scenes whose path carries the names. A proposal is right when it names a true entity;
  recall counts the true entities that the scene lacks in Stash and whose name or alias
  appears in its path as whole words (what path detection can possibly find).
- AI: analyses scenes against the fake OpenAI server at 1,000 and at 50,000 performers and
  prints requests per scene and prompt tokens per scene.

Goals: > 2,000 scenes/s; precision >= 0.95; recall >= 0.85; 1 request per scene; prompt
tokens per scene within 10% between the two catalogue sizes.

    .venv/bin/python benchmarks/analysis.py [--scenes 20000] [--ai-scenes 300]
"""

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["STASHHOG_DATA_DIR"] = tempfile.mkdtemp(prefix="stashhog-bench-")
atexit.register(shutil.rmtree, os.environ["STASHHOG_DATA_DIR"], ignore_errors=True)
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from analysis.detectors.normalize import normalize  # noqa: E402
from analysis.generate import run_analysis  # noqa: E402
from analysis.library import load_indexes  # noqa: E402
from analysis.models import AIAnswerCache, AnalysisPlan, ChangeField  # noqa: E402
from analysis.options import AnalysisOptions  # noqa: E402
from analysis.selection import SceneSelection  # noqa: E402
from analysis.sources.path import path_findings  # noqa: E402
from jobs.models import Job  # noqa: E402
from scenes.models import Performer, Scene, Studio, SyncState, Tag  # noqa: E402
from scenes.stash import StashClient  # noqa: E402
from scenes.sync import run_sync  # noqa: E402
from settings_app.registry import save_settings  # noqa: E402
from tests.fakes.openai import FakeOpenAIServer  # noqa: E402
from tests.fakes.stash import FakeStashServer  # noqa: E402
from tests.fakes.stash_library import generate_library  # noqa: E402


class QuietProgress:
    """The runner's reporter without the row writes and pushes (measured separately)."""

    def __init__(self):
        self.job = Job.objects.create(type="benchmark")
        self.partial_result = None

    def update(self, *args, **kwargs):
        pass

    def check_cancelled(self):
        pass


def reset_database() -> None:
    for model in (AIAnswerCache, AnalysisPlan, Scene, Performer, Tag, Studio, SyncState):
        model.objects.all().delete()


def sync(library) -> float:
    started = time.perf_counter()
    with FakeStashServer(library) as server:
        run_sync(lambda: StashClient(server.url, None), QuietProgress(), incremental=False)
    return time.perf_counter() - started


def parameters(**options) -> dict:
    return {"scene_ids": None, "filters": None, "plan_name": "benchmark",
            "options": AnalysisOptions.resolve(**options).as_dict()}


def names_in_path(path: str, names: list[str]) -> bool:
    padded = f" {normalize(path)} "
    return any(f" {normalize(name)} " in padded for name in names if normalize(name))


def score(library, plan) -> dict:
    """Precision and recall of studio and performer proposals on path-named scenes."""
    proposed: dict[tuple[str, str], set[str]] = {}
    scored = plan.changes.filter(field__in=(ChangeField.STUDIO, ChangeField.PERFORMERS))
    for scene_id, field, value in scored.values_list("scene_id", "field", "proposed_value"):
        items = [value] if field == ChangeField.STUDIO else value
        proposed[scene_id, field] = {item["id"] for item in items}
    by_name = {"studio": library.studios, "performers": library.performers}
    tallies = {field: {"right": 0, "wrong": 0, "found": 0, "findable": 0} for field in by_name}
    for scene_id, truth in library.truth.items():
        if not truth["path_has_names"]:
            continue
        scene = library.scenes[int(scene_id)]
        path = library.files[scene.file_ids[0]].path
        known = {"studio": {str(scene.studio_id)} if scene.studio_id else set(),
                 "performers": {str(p) for p in scene.performer_ids}}
        true_ids = {"studio": {truth["studio_id"]}, "performers": set(truth["performer_ids"])}
        for field, tally in tallies.items():
            ids = proposed.get((scene_id, field), set())
            tally["right"] += len(ids & true_ids[field])
            tally["wrong"] += len(ids - true_ids[field])
            for entity_id in true_ids[field] - known[field]:
                entity = by_name[field][int(entity_id)]
                if names_in_path(path, [entity.name, *entity.aliases]):
                    tally["findable"] += 1
                    tally["found"] += entity_id in ids
    return {
        field: {
            "precision": t["right"] / max(1, t["right"] + t["wrong"]),
            "recall": t["found"] / max(1, t["findable"]),
            "proposed": t["right"] + t["wrong"],
            "findable": t["findable"],
        }
        for field, t in tallies.items()
    }


def bench_path(scene_count: int, seed: int) -> None:
    reset_database()
    library = generate_library(scene_count, seed=seed)
    took = sync(library)
    print(f"library: {len(library.scenes)} scenes, {len(library.performers)} performers, "
          f"{len(library.studios)} studios, {len(library.tags)} tags (synced in {took:.1f} s)")

    options = AnalysisOptions.resolve(use_ai=False)
    started = time.perf_counter()
    indexes = load_indexes(options)
    index_seconds = time.perf_counter() - started
    started = time.perf_counter()
    detected = sum(
        len(path_findings(scene, indexes, options))
        for chunk in SceneSelection().chunks(500) for scene in chunk
    )
    detect_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = run_analysis(QuietProgress(), parameters(use_ai=False))
    job_seconds = time.perf_counter() - started
    plan = AnalysisPlan.objects.get(pk=result["plan_id"])

    print("\npath detection (no AI)")
    print(f"  whole job:        {scene_count / job_seconds:,.0f} scenes/s "
          f"({job_seconds:.2f} s, {result['counts']['changes']:,} changes written)")
    print(f"  read + detect:    {scene_count / detect_seconds:,.0f} scenes/s "
          f"({detected:,} findings; indexes built in {index_seconds:.2f} s)")
    for field, figures in score(library, plan).items():
        print(f"  {field:<10} precision {figures['precision']:.3f}  recall "
              f"{figures['recall']:.3f}  ({figures['proposed']:,} proposed, "
              f"{figures['findable']:,} findable in paths)")


def bench_ai(scene_count: int, performers: int, seed: int) -> tuple[float, float]:
    reset_database()
    library = generate_library(scene_count, performers=performers, seed=seed)
    sync(library)
    with FakeOpenAIServer() as server:
        save_settings({"openai_base_url": server.base_url, "openai_api_key": None,
                       "openai_model": "gpt-4o-mini", "ai_concurrency": 8})
        started = time.perf_counter()
        result = run_analysis(QuietProgress(), parameters(use_ai=True, detect_details=False,
                                                          max_cost_usd=100.0))
        seconds = time.perf_counter() - started
        requests = server.request_count
    analysed = result["counts"]["scenes_analysed"]
    per_scene = requests / analysed
    tokens = result["tokens"]["prompt"] / analysed
    print(f"  {performers:>6,} performers: {per_scene:.2f} requests/scene, "
          f"{tokens:,.0f} prompt tokens/scene, ${result['cost_usd'] / analysed:.6f}/scene "
          f"({analysed} scenes in {seconds:.1f} s)")
    return per_scene, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenes", type=int, default=20_000)
    parser.add_argument("--ai-scenes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"database: {settings.DATABASES['default']['NAME']}")
    call_command("migrate", verbosity=0)

    bench_path(args.scenes, args.seed)

    print("\nAI (fake OpenAI server)")
    _, small = bench_ai(args.ai_scenes, 1_000, args.seed)
    _, large = bench_ai(args.ai_scenes, 50_000, args.seed)
    print(f"  prompt tokens per scene, 50,000 vs 1,000 performers: "
          f"{(large - small) / small:+.1%}")


if __name__ == "__main__":
    main()
