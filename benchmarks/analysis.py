"""Analysis benchmark: speed and quality per proposal source (path, stash-box, AI).

Builds a generated fake library (tests.fakes.stash_library), syncs it through the real sync
service from the fake Stash server into a throwaway SQLite database, then:

- path detection (no AI): runs the analysis job body over every scene and prints scenes per
  second (the whole job: reading scenes, detecting, writing the plan) and the detectors alone;
  precision and recall of the studio and performer proposals against ``library.truth``, on
  the scenes whose path carries the names. A proposal is right when it names a true entity;
  recall counts the true entities that the scene lacks in Stash and whose name or alias
  appears in its path as whole words (what path detection can possibly find).
- stash-box (through the fake Stash's ``scrapeMultiScenes`` over its fake StashDB): scenes
  per second, requests, matches, and precision and recall per field against what the box
  truly has for each scene (``score_stashbox``).
- AI: analyses scenes against the fake OpenAI server at 1,000 and at 50,000 performers and
  prints requests per scene and prompt tokens per scene (the fake answers schema-valid empty
  proposals: the AI's precision and recall need a real model, not measured here).

- AI on several workers (``--workers 1,2``, only this): one AI analysis run by that many
  real Celery workers of the ``ai`` queue (two processes each, ``ai_concurrency`` 8), against
  the fake OpenAI server with ``--latency`` seconds per request (1 s by default), on a SQLite
  file and an embedded Redis; prints scenes per second for each worker count.

Goals: > 2,000 scenes/s; precision >= 0.95; recall >= 0.85; at most 1/ai_batch_size
requests per scene; prompt tokens per scene within 10% between the two catalogue sizes; two
workers finish an AI analysis in close to half the time of one.
Batch sizes, cost and throughput at 1 s latency: benchmarks/ai.py.

    .venv/bin/python benchmarks/analysis.py [--scenes 20000] [--ai-scenes 300]
    .venv/bin/python benchmarks/analysis.py --workers 1,2 [--worker-scenes 1600] [--latency 1]
"""

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
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

from stashhog.celery import app as celery_app  # noqa: E402

# In this process, an AI analysis's chunk jobs run at once, in the process (no broker),
# and their progress goes nowhere.
celery_app.conf.task_always_eager = True
settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

from django.core.management import call_command  # noqa: E402

from analysis.detectors.normalize import normalize  # noqa: E402
from analysis.fields import SCENE_FIELDS  # noqa: E402
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

    is_step = False

    def __init__(self):
        self.job = Job.objects.create(type="benchmark")
        self.partial_result = None

    def update(self, *args, **kwargs):
        pass

    def check_cancelled(self, now=False):
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


def _items(field, value) -> set:
    """A change's proposed items as the truth names them: entity ids (``new:<name>`` for an
    entity Stash lacks), plain values, or a list field's items."""
    scene_field = SCENE_FIELDS[field]
    if scene_field.kind is not None:
        return {item["id"] or f"new:{item['name']}" for item in scene_field.entity_items(value)}
    if isinstance(value, list):
        return {json.dumps(item, sort_keys=True) for item in value}
    return {json.dumps(value)}


def _stashbox_truth(truth: dict, endpoint: str) -> dict[str, set]:
    """What a perfect identification proposes, per field (fields StashHog has)."""
    values = {
        "studio": {truth["studio"]} if truth["studio"] else set(),
        "performers": set(truth["performers"]), "tags": set(truth["tags"]),
        "urls": {json.dumps(url) for url in truth["urls"]},
        "stash_ids": {json.dumps({"endpoint": endpoint, "stash_id": truth["remote_id"]},
                                 sort_keys=True)},
        **{field: {json.dumps(truth[field])} for field in ("title", "code", "details", "date")},
    }
    return {field: items for field, items in values.items() if field in SCENE_FIELDS}


def _held(scene, field: str, endpoint: str) -> set:
    """What Stash holds of a field, as ``_stashbox_truth`` names items (blank: nothing)."""
    held = {
        "studio": {str(scene.studio_id)} if scene.studio_id else set(),
        "performers": {str(p) for p in scene.performer_ids},
        "tags": {str(t) for t in scene.tag_ids},
        "urls": {json.dumps(url) for url in scene.urls},
        "stash_ids": {json.dumps({"endpoint": s["endpoint"], "stash_id": s["stash_id"]},
                                 sort_keys=True) for s in scene.stash_ids},
    }
    if field in held:
        return held[field]
    value = getattr(scene, field)
    return {json.dumps(value)} if value else set()


def score_stashbox(library, plan, endpoint: str) -> dict:
    """Precision and recall per field of a stash-box plan against what the box truly has.

    A proposed item is right when it is the truth's (wrong matches and wrong entity matches
    count against precision). Recall: of the true items Stash lacks on the scenes the box
    knows and that are not linked to it yet (those are skipped by design), how many were
    proposed; a plain value counts only where Stash has none (the proposals' default
    strategy fills blanks). Several matches and wrong matches lower recall too.
    """
    proposed: dict[tuple[str, str], set] = {}
    for scene_id, field, value in plan.changes.values_list("scene_id", "field",
                                                           "proposed_value"):
        proposed[scene_id, field] = _items(field, value)
    tallies: dict[str, Counter] = {}
    for scene_id, truth in library.truth.items():
        scene = library.scenes[int(scene_id)]
        linked = any(s["endpoint"] == endpoint for s in scene.stash_ids)
        true = _stashbox_truth(truth["stashbox"], endpoint) if truth.get("stashbox") else {}
        for field in SCENE_FIELDS:
            tally = tallies.setdefault(field, Counter())
            items = proposed.get((scene_id, field), set())
            right = items & true.get(field, set())
            tally["right"] += len(right)
            tally["wrong"] += len(items - right)
            if field not in true or linked:
                continue
            held = _held(scene, field, endpoint)
            plain = SCENE_FIELDS[field].kind is None and field not in ("urls", "stash_ids")
            findable = set() if plain and held else true[field] - held
            tally["findable"] += len(findable)
            tally["found"] += len(findable & items)
    return {
        field: {"precision": t["right"] / max(1, t["right"] + t["wrong"]),
                "recall": t["found"] / max(1, t["findable"]),
                "proposed": t["right"] + t["wrong"], "findable": t["findable"]}
        for field, t in tallies.items() if t["findable"] or t["right"] + t["wrong"]
    }


def bench_stashbox(scene_count: int, seed: int) -> None:
    """Identification through the fake Stash's scrapeMultiScenes over its fake box."""
    reset_database()
    library = generate_library(scene_count, seed=seed)
    box = next(iter(library.stash_boxes.values()))
    sync(library)
    real_rate = box.max_requests_per_minute
    box.max_requests_per_minute = 1_000_000  # measure StashHog, not the pacing
    with FakeStashServer(library) as server:
        save_settings({"stash_url": server.url, "stash_api_key": None})
        started = time.perf_counter()
        result = run_analysis(QuietProgress(), parameters(
            use_path=False, use_ai=False, use_stashbox=True, create_missing=True))
        seconds = time.perf_counter() - started
    plan = AnalysisPlan.objects.get(pk=result["plan_id"])
    found = plan.metadata["sources"]["stashbox"]
    print(f"\nstash-box identification (fake Stash, {box.name}, {scene_count:,} scenes)")
    print(f"  whole job:        {scene_count / seconds:,.0f} scenes/s ({seconds:.2f} s, "
          f"{found['requests']:,} scrapeMultiScenes requests; at the box's "
          f"{real_rate} requests/min Stash needs >= {found['requests'] / real_rate:.1f} min)")
    print(f"  matched {found['matched']:,}, several matches {found['multiple_matches']['count']:,}"
          f", no match {found['no_match']:,}, already linked {found['already_linked']:,}")
    for field, figures in score_stashbox(library, plan, box.endpoint).items():
        print(f"  {field:<10} precision {figures['precision']:.3f}  recall "
              f"{figures['recall']:.3f}  ({figures['proposed']:,} proposed, "
              f"{figures['findable']:,} findable)")


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


def bench_workers(counts: list[int], scene_count: int, chunk_size: int, latency: float,
                  seed: int) -> None:
    from jobs.runner import start_job
    from stashhog import embedded_redis
    from tests import e2e_support

    socket_path = Path(os.environ["STASHHOG_DATA_DIR"]) / "redis.sock"
    redis_process = embedded_redis.start(socket_path)
    try:
        settings.REDIS_URL = f"unix://{socket_path}"
        celery_app.conf.broker_url = f"redis+socket://{socket_path}"
        celery_app.conf.task_always_eager = False
        reset_database()
        sync(generate_library(scene_count, seed=seed))
        env = e2e_support.process_env(LOG_LEVEL="WARNING")
        with FakeOpenAIServer(latency=latency) as server:
            save_settings({"openai_base_url": server.base_url, "openai_api_key": None,
                           "openai_model": "gpt-4o-mini", "ai_concurrency": 8,
                           "analysis_chunk_size": chunk_size})
            print(f"\nAI on several workers: {scene_count} scenes in chunks of {chunk_size}, "
                  f"{latency:g} s per request, 8 in flight per chunk, 2 processes per worker")
            rates = {}
            for count in counts:
                AIAnswerCache.objects.all().delete()  # every run asks for every scene
                workers = [e2e_support.start_worker(env, queues="ai") for _ in range(count)]
                try:
                    requests = server.request_count
                    started = time.perf_counter()
                    job = start_job("analysis", parameters(
                        use_ai=True, detect_details=False, max_cost_usd=100.0))
                    job = e2e_support.wait_for_job(job.id, {"completed", "failed"},
                                                   timeout=3600)
                    seconds = time.perf_counter() - started
                finally:
                    for worker in workers:
                        worker.stop()
                analysed = job.result["counts"]["scenes_analysed"]
                rates[count] = analysed / seconds
                print(f"  {count} worker(s): {rates[count]:.1f} scenes/s ({analysed} scenes in "
                      f"{seconds:.1f} s, {server.request_count - requests} requests, "
                      f"{job.status})")
            if len(rates) > 1:
                first, *_, last = sorted(rates)
                print(f"  {last} workers vs {first}: {rates[last] / rates[first]:.2f}x as fast")
    finally:
        embedded_redis.stop(redis_process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenes", type=int, default=20_000)
    parser.add_argument("--ai-scenes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", help="e.g. 1,2: only the AI benchmark on that many "
                        "workers")
    parser.add_argument("--worker-scenes", type=int, default=1600)
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    print(f"database: {settings.DATABASES['default']['NAME']}")
    call_command("migrate", verbosity=0)
    if args.workers:
        counts = [int(count) for count in args.workers.split(",")]
        bench_workers(counts, args.worker_scenes, args.chunk_size, args.latency, args.seed)
        return

    bench_path(args.scenes, args.seed)
    bench_stashbox(args.scenes, args.seed)

    print("\nAI (fake OpenAI server)")
    _, small = bench_ai(args.ai_scenes, 1_000, args.seed)
    _, large = bench_ai(args.ai_scenes, 50_000, args.seed)
    print(f"  prompt tokens per scene, 50,000 vs 1,000 performers: "
          f"{(large - small) / small:+.1%}")


if __name__ == "__main__":
    main()
