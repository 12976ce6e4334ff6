"""Apply benchmark: a plan of 10,000 accepted changes over 2,000 scenes, against the fake Stash.

    .venv/bin/python benchmarks/apply.py
    .venv/bin/python benchmarks/apply.py --scenes 2000 \
        --database-url postgres://postgres@127.0.0.1:5432/stashhog_bench

Prints the Stash requests the apply sent (counted by the fake), the seconds it took and the
changes per second. Goals: fewer requests than scenes touched; under 30 s.

The fake Stash runs in its own process. The local library is synced first (not timed); the
plan then gets five accepted changes per scene: tag adds (some naming tags Stash does not
have yet, so they are created), a tag removal or a third tag, a performer add, a studio set
and, for one scene in five, new details. The apply runs the way a worker runs it
(``request_apply(..., background=False)``: the job runner, heartbeat and progress included).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
CHANGES_PER_SCENE = 5
NEW_TAGS = 7  # tags the plan names that Stash does not have: created by the apply


# -- the fake Stash, in its own process -----------------------------------------------------


def serve(scenes: int) -> None:
    """Serve a generated library; stdin commands: ``requests``, ``quit``."""
    from tests.fakes import stash
    from tests.fakes.stash_library import generate_library

    with stash.FakeStashServer(generate_library(scenes)) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "requests":
                print(len(server.request_log), len(server.mutation_log), flush=True)
            elif line.strip() == "quit":
                return


class FakeStash:
    def __init__(self, scenes: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", str(scenes)],
            cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()

    def requests(self) -> tuple[int, int]:
        """(requests, mutations) the fake has answered so far."""
        self.process.stdin.write("requests\n")
        self.process.stdin.flush()
        requests, mutations = self.process.stdout.readline().split()
        return int(requests), int(mutations)

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


# -- the plan -------------------------------------------------------------------------------


def build_plan(scenes: int):
    """Five accepted changes per local scene, each one that Stash does not hold yet."""
    from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
    from scenes.models import Performer, Scene, Studio, Tag

    tags = [{"id": t.id, "name": t.name} for t in Tag.objects.order_by("id")]
    performers = [{"id": p.id, "name": p.name} for p in Performer.objects.order_by("id")[:50]]
    studios = [{"id": s.id, "name": s.name} for s in Studio.objects.order_by("id")[:10]]
    plan = AnalysisPlan.objects.create(name="benchmark", status=PlanStatus.REVIEWING)
    rows = []

    def change(scene, field, action, proposed, current=None):
        rows.append(PlanChange(
            plan=plan, scene=scene, field=field, action=action, proposed_value=proposed,
            current_value=current, confidence=0.9, source="path", status=ChangeStatus.ACCEPTED,
        ))

    listed = Scene.objects.select_related("studio").prefetch_related("tags", "performers")
    for number, scene in enumerate(listed.order_by("id")[:scenes]):
        present = {t.id for t in scene.tags.all()}
        absent = [t for t in tags[number % len(tags):] + tags if t["id"] not in present]
        third = {"id": None, "name": f"Bench Tag {number % NEW_TAGS}"} if number % 50 == 2 \
            else absent[2]
        change(scene, "tags", "add", [absent[0]])
        change(scene, "tags", "add", [absent[1]])
        if number % 5 == 0:
            change(scene, "details", "set", f"Benchmark details {number}", scene.details)
        elif present and number % 5 == 1:
            gone = next(t for t in tags if t["id"] in present)
            change(scene, "tags", "remove", [gone])
        else:
            change(scene, "tags", "add", [third])
        cast = {p.id for p in scene.performers.all()}
        change(scene, "performers", "add",
               [next(p for p in performers[number % len(performers):] + performers
                     if p["id"] not in cast)])
        studio = next(s for s in studios[number % len(studios):] + studios
                      if s["id"] != scene.studio_id)
        current = {"id": scene.studio_id, "name": scene.studio.name} if scene.studio else None
        change(scene, "studio", "set", studio, current)
    PlanChange.objects.bulk_create(rows, batch_size=2000)
    return plan, len(rows)


# -- the benchmark --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stashhog-bench-") as data_dir:
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "stashhog.settings",
            "STASHHOG_DATA_DIR": data_dir,
            "DATABASE_URL": args.database_url or f"sqlite:///{data_dir}/bench.sqlite3",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "LOG_LEVEL": "WARNING",
        })
        import django

        django.setup()
        from django.core.management import call_command

        from analysis.apply import request_apply
        from analysis.models import AnalysisPlan
        from jobs.runner import start_job
        from scenes.models import Performer, Scene, Studio, SyncState, Tag
        from settings_app.registry import save_settings

        print(f"-- {args.scenes:,} scenes: generating the fake library and syncing it...",
              flush=True)
        stash = FakeStash(args.scenes)
        try:
            call_command("migrate", verbosity=0)
            for model in (AnalysisPlan, Scene, Performer, Tag, Studio, SyncState):
                model.objects.all().delete()
            save_settings({"stash_url": stash.url, "stash_api_key": None})
            sync = start_job("sync", {"incremental": False}, inline=True)
            if sync.status != "completed":
                raise SystemExit(f"sync {sync.status}: {sync.error}")
            plan, changes = build_plan(args.scenes)
            scenes = plan.changes.values("scene_id").distinct().count()

            requests_before, mutations_before = stash.requests()
            started = time.perf_counter()
            job = request_apply(plan.pk, None, background=False)
            seconds = time.perf_counter() - started
            requests_after, mutations_after = stash.requests()
        finally:
            stash.close()

    if job.status != "completed":
        raise SystemExit(f"apply {job.status}: {job.error}")
    result = job.result
    requests = requests_after - requests_before
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nApply benchmark, {database}: "
          f"{changes:,} accepted changes over {scenes:,} scenes")
    print(f"outcome:             applied {result['applied']:,}, already in Stash "
          f"{result['skipped']:,}, failed {result['failed']:,}; plan {result['plan_status']}")
    print("entities created:    " + ", ".join(
        f"{len(items)} {kind}" for kind, items in result["created"].items()))
    print(f"Stash requests sent: {requests:,} ({mutations_after - mutations_before:,} "
          f"mutations)   goal < {scenes:,} scenes touched")
    print(f"seconds:             {seconds:8.2f}   goal < 30 s")
    print(f"changes per second:  {changes / seconds:8.0f}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_DIR))
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        main()
