"""Sync benchmark: how fast and how lean a sync of a large library is.

    .venv/bin/python benchmarks/sync.py --scenes 100000
    .venv/bin/python benchmarks/sync.py --scenes 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/stashhog_bench

Prints: full-sync seconds; the floor (a bare StashClient pulling the same pages from the
same fake); their ratio; a no-op incremental sync; an incremental sync after 1% of the
scenes changed; and the sync worker's peak RSS at --baseline-scenes and at --scenes.

The fake Stash runs in its own process (its memory is not counted). Every measured step
runs in a fresh child process (``worker`` below) that reports its own peak RSS, so one
step's memory never hides in another's. Jobs run the way a worker runs them
(``start_job(..., inline=True)``: the runner, its heartbeat and progress included).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DAY = 24 * 3600


# -- the fake Stash, in its own process -----------------------------------------------------


def serve(scenes: int) -> None:
    """Serve a generated library; stdin commands: ``change <fraction>``, ``quit``."""
    from tests.fakes.stash import FakeStashServer
    from tests.fakes.stash_library import generate_library

    library = generate_library(scenes)
    with FakeStashServer(library) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            command, *args = line.split()
            if command == "change":
                library.clock.advance(DAY)
                ids = sorted(library.scenes)
                step = max(1, round(1 / float(args[0])))
                for scene_id in ids[::step]:
                    library.update_scene(scene_id, title=f"Changed {scene_id}")
                print(len(ids[::step]), flush=True)
            elif command == "quit":
                return


class FakeStash:
    def __init__(self, scenes: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", "--scenes", str(scenes)],
            cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()

    def change(self, fraction: float) -> int:
        self.process.stdin.write(f"change {fraction}\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


# -- measured steps, each in a child process ------------------------------------------------


def worker(step: str, url: str) -> None:
    """Run one step and print ``{"seconds", "peak_rss_mb", ...}`` as JSON."""
    import resource

    import django

    django.setup()
    from django.core.management import call_command

    from scenes.models import Performer, Scene, Studio, SyncState, Tag

    if step == "reset":
        call_command("migrate", verbosity=0)
        for model in (Scene, Performer, Tag, Studio, SyncState):
            model.objects.all().delete()
        from settings_app.registry import save_settings

        save_settings({"stash_url": url, "stash_api_key": None})
        print(json.dumps({"seconds": 0, "peak_rss_mb": 0}))
        return

    from scenes.stash import StashClient
    from settings_app import get_setting

    report = {}
    started = time.perf_counter()
    if step == "floor":
        with StashClient(url) as client:
            pages = client.iter_scene_pages(per_page=get_setting("sync_page_size"))
            report["scenes"] = sum(len(page.scenes) for page in pages)
    else:
        from jobs.runner import start_job

        job = start_job("sync", {"incremental": step == "incremental"}, inline=True)
        report["result"] = job.result
        report["scenes"] = Scene.objects.count()
    report["seconds"] = time.perf_counter() - started
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report))


def run_step(step: str, url: str, env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "worker", step, url],
        cwd=REPO_DIR, env=env, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# -- the benchmark --------------------------------------------------------------------------


def child_env(database_url: str | None, data_dir: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "stashhog.settings",
        "STASHHOG_DATA_DIR": data_dir,
        "DATABASE_URL": database_url or f"sqlite:///{data_dir}/bench.sqlite3",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_DIR),
    })
    return env


def measure(scenes: int, env: dict, *, full_only: bool) -> dict:
    print(f"-- {scenes:,} scenes: generating the fake library...", flush=True)
    stash = FakeStash(scenes)
    try:
        figures = {}
        run_step("reset", stash.url, env)
        figures["floor"] = run_step("floor", stash.url, env)
        figures["full"] = run_step("full", stash.url, env)
        assert figures["full"]["scenes"] == scenes, figures["full"]
        if not full_only:
            figures["noop"] = run_step("incremental", stash.url, env)
            figures["changed"] = stash.change(0.01)
            figures["incremental"] = run_step("incremental", stash.url, env)
        return figures
    finally:
        stash.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--baseline-scenes", type=int, default=10_000,
                        help="the smaller library whose peak RSS is compared")
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stashhog-bench-") as data_dir:
        env = child_env(args.database_url, data_dir)
        database = "PostgreSQL" if args.database_url else "SQLite"
        baseline = measure(args.baseline_scenes, env, full_only=True)
        large = measure(args.scenes, env, full_only=False)

    full, floor = large["full"]["seconds"], large["floor"]["seconds"]
    small_rss, large_rss = baseline["full"]["peak_rss_mb"], large["full"]["peak_rss_mb"]
    print(f"\nSync benchmark, {database}, page size from settings (sync_page_size)")
    print(f"full sync, {args.scenes:,} scenes:        {full:8.2f} s")
    print(f"floor (bare client, same pages):    {floor:8.2f} s")
    print(f"ratio full / floor:                 {full / floor:8.2f}   (goal <= 1.5)")
    print(f"no-op incremental:                  {large['noop']['seconds']:8.2f} s "
          f"  (goal < 3 s; re-read {large['noop']['result']['scenes']['updated']} scenes "
          "inside the overlap margin)")
    print(f"incremental after {large['changed']:,} changed (1%): "
          f"{large['incremental']['seconds']:8.2f} s")
    print(f"peak RSS, full sync, {args.baseline_scenes:,} scenes:  {small_rss:8.1f} MB")
    print(f"peak RSS, full sync, {args.scenes:,} scenes: {large_rss:8.1f} MB "
          f"  (+{(large_rss / small_rss - 1) * 100:.1f}%; goal < 250 MB and <= +10%)")
    print(f"peak RSS, incremental after 1% changed: {large['incremental']['peak_rss_mb']:.1f} MB;"
          f" floor client: {large['floor']['peak_rss_mb']:.1f} MB")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_DIR))
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
