"""Sync benchmark: how fast and how lean a sync of a large library is, on SQLite and
PostgreSQL side by side.

    createdb -h 127.0.0.1 -U postgres syncbench
    .venv/bin/python benchmarks/sync.py --scenes 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/syncbench

Two Stash servers serve the same generated library:

- the fake (``tests/fakes/stash.py``): graphql-core resolves every request, so it is slow and
  its speed sets the pace;
- a replay: the fake's answers to every request a full sync sends, recorded once through a
  proxy and then served from memory, byte for byte, with no resolver work. Its floor does not
  depend on the fake's speed, so the ratio against it shows StashHog's own cost.

For each server the floor is a bare ``StashClient`` pulling the same scene pages (HTTP and
JSON decoding: what any client pays). Measured on each database, against each server: a full
sync into an emptied database next to its floor, then a no-op incremental sync; then, against
the fake, an incremental sync after 1% of the scenes changed; and the sync worker's peak RSS
at --baseline-scenes and at --scenes. The servers run in their own processes (their memory
is not counted); every measured step runs in a fresh child process (``worker`` below) that
reports its own peak RSS. Jobs run the way a worker runs them (``start_job(...,
inline=True)``: the runner, its heartbeat and progress included). The machine's other load
moves absolute times, so each floor is measured next to its sync and the ratios are what to
compare. ``--profile DIR`` writes a pyinstrument profile of each full sync against the
replay (those syncs then carry the profiler's cost).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _Server:
    """A server process that prints its URL, then takes one-line commands on stdin."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args],
            cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()

    def command(self, line: str) -> str:
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


class FakeStash(_Server):
    def __init__(self, scenes: int):
        super().__init__("serve", "--scenes", str(scenes))

    def change(self, fraction: float) -> int:
        return int(self.command(f"change {fraction}"))


# -- the replay Stash, in its own process ---------------------------------------------------


def _request_key(body: bytes) -> str:
    """The request as data: the same operation and variables, however the JSON is spaced."""
    return json.dumps(json.loads(body), sort_keys=True)


def replay(upstream: str) -> None:
    """Forward every request to ``upstream`` and record the answers until stdin says
    ``replay``; from then on, answer recorded requests from memory (anything else: 422)."""
    import httpx

    recorded: dict[str, tuple[int, bytes]] = {}
    recording = threading.Event()
    recording.set()
    forward = httpx.Client(timeout=300)

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = _request_key(body)
            if recording.is_set():
                answer = forward.post(f"{upstream}{self.path}", content=body,
                                      headers={"Content-Type": "application/json"})
                recorded[key] = (answer.status_code, answer.content)
            status, payload = recorded.get(key) or (
                422, b'{"errors": [{"message": "the replay has no answer for this request"}]}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    for line in sys.stdin:
        if line.strip() == "replay":
            recording.clear()
            print(sum(len(payload) for _, payload in recorded.values()), flush=True)
        elif line.strip() == "quit":
            break
    server.shutdown()


class ReplayStash(_Server):
    def __init__(self, upstream: str):
        super().__init__("replay", upstream)

    def stop_recording(self) -> int:
        """Serve from memory from now on; returns the bytes recorded."""
        return int(self.command("replay"))


# -- measured steps, each in a child process ------------------------------------------------


def worker(step: str, url: str) -> None:
    """Run one step and print ``{"seconds", "peak_rss_mb", ...}`` as JSON."""
    import resource

    import django

    django.setup()
    from django.core.management import call_command

    from scenes.models import Performer, Scene, Studio, SyncState, Tag
    from settings_app.registry import save_settings

    if step == "reset":
        call_command("migrate", verbosity=0)
        for model in (Scene, Performer, Tag, Studio, SyncState):
            model.objects.all().delete()
        print(json.dumps({"seconds": 0, "peak_rss_mb": 0}))
        return

    from scenes.stash import StashClient
    from settings_app import get_setting

    save_settings({"stash_url": url, "stash_api_key": None})
    per_page = get_setting("sync_page_size")
    report = {}
    started = time.perf_counter()
    if step == "record":
        # Every request a full sync and then a no-op incremental sync send (the replay
        # records the answers): the incremental one asks for changes since the newest
        # updated_at, less the overlap, and for every scene id.
        from scenes.sync import shift_stamp

        with StashClient(url) as client:
            stamps = [item["updated_at"] for list_all in (
                client.all_tags, client.all_performers, client.all_studios)
                for item in list_all()]
            report["scenes"] = 0
            for page in client.iter_scene_pages(per_page=per_page):
                report["scenes"] += len(page.scenes)
                stamps.extend(scene["updated_at"] for scene in page.scenes)
            since = shift_stamp(max(stamps), get_setting("sync_watermark_overlap_seconds"))
            sum(1 for _ in client.iter_scene_pages(updated_since=since, per_page=per_page))
            client.scene_ids()
    elif step == "floor":
        with StashClient(url) as client:
            report["scenes"] = sum(len(page.scenes)
                                   for page in client.iter_scene_pages(per_page=per_page))
    else:
        from jobs.runner import start_job

        profile_to = os.environ.get("STASHHOG_BENCH_PROFILE") if step == "full" else None
        if profile_to:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        job = start_job("sync", {"incremental": step == "incremental"}, inline=True)
        if profile_to:
            profiler.stop()
            Path(profile_to).parent.mkdir(parents=True, exist_ok=True)
            Path(profile_to).write_text(profiler.output_text(unicode=True, show_all=False))
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
    """The environment of a measured step (None: a SQLite file in ``data_dir``)."""
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


def full_sync(stash_url: str, env: dict, scenes: int) -> dict:
    """A floor, a full sync into an emptied database and a no-op incremental sync."""
    run_step("reset", stash_url, env)
    figures = {"floor": run_step("floor", stash_url, env),
               "full": run_step("full", stash_url, env)}
    assert figures["full"]["scenes"] == scenes, figures["full"]
    figures["noop"] = run_step("incremental", stash_url, env)
    return figures


def measure(scenes: int, envs: dict[str, dict], *, full_only: bool,
            profile_dir: str | None = None) -> dict:
    """Figures per database name, with the bytes the replay served."""
    print(f"-- {scenes:,} scenes: generating the fake library...", flush=True)
    stash = FakeStash(scenes)
    replayed = ReplayStash(stash.url)
    try:
        any_env = next(iter(envs.values()))
        run_step("reset", replayed.url, any_env)
        run_step("record", replayed.url, any_env)
        recorded = replayed.stop_recording()
        figures: dict = {"replay_bytes": recorded}
        for name, env in envs.items():
            print(f"-- {scenes:,} scenes, {name}...", flush=True)
            if profile_dir:
                env = {**env, "STASHHOG_BENCH_PROFILE": f"{profile_dir}/sync-{name}.txt"}
            figures[name] = {"replay": full_sync(replayed.url, env, scenes)}
            if not full_only:
                figures[name]["fake"] = full_sync(stash.url, env, scenes)
        if not full_only:
            changed = stash.change(0.01)
            for name, env in envs.items():
                figures[name]["changed"] = changed
                figures[name]["incremental"] = run_step("incremental", stash.url, env)
        return figures
    finally:
        replayed.close()
        stash.close()


def report(name: str, scenes: int, baseline_scenes: int, large: dict, small: dict) -> None:
    print(f"\n{name}, page size from settings (sync_page_size), {scenes:,} scenes")
    for server in ("replay", "fake"):
        full, floor = large[server]["full"]["seconds"], large[server]["floor"]["seconds"]
        own = (full - floor) / scenes * 1e6
        print(f"  {server:>6}: full sync {full:7.2f} s, floor (bare client) {floor:7.2f} s, "
              f"ratio {full / floor:5.2f}" + ("   (goal <= 1.5)" if server == "replay" else "")
              + f"; StashHog's own time {own:.0f} µs per scene")
    for server in ("replay", "fake"):
        noop = large[server]["noop"]
        print(f"  {server:>6}: no-op incremental {noop['seconds']:.2f} s"
              + ("   (goal <= 1 s)" if server == "replay" else "")
              + f"; re-read {noop['result']['scenes']['updated']} scenes inside the overlap")
    print(f"  incremental after {large['changed']:,} changed (1%): "
          f"{large['incremental']['seconds']:.2f} s")
    small_rss = small["replay"]["full"]["peak_rss_mb"]
    large_rss = large["replay"]["full"]["peak_rss_mb"]
    print(f"  peak RSS, full sync: {small_rss:.1f} MB at {baseline_scenes:,} scenes, "
          f"{large_rss:.1f} MB at {scenes:,} (+{(large_rss / small_rss - 1) * 100:.1f}%; "
          "goal <= 200 MB, flat)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--baseline-scenes", type=int, default=10_000,
                        help="the smaller library whose peak RSS is compared")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL, measured next to SQLite (a fresh file in a "
                             "temporary folder); without it, SQLite only")
    parser.add_argument("--profile", metavar="DIR", default=None,
                        help="profile the full syncs against the replay (pyinstrument) into "
                             "DIR/sync-<database>.txt")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stashhog-bench-") as data_dir:
        envs = {"SQLite": child_env(None, data_dir)}
        if args.database_url:
            envs["PostgreSQL"] = child_env(args.database_url, data_dir)
        baseline = measure(args.baseline_scenes, envs, full_only=True)
        large = measure(args.scenes, envs, full_only=False, profile_dir=args.profile)

    print(f"\nSync benchmark: the replay served {large['replay_bytes'] / 1e6:.0f} MB of answers")
    for name in envs:
        report(name, args.scenes, args.baseline_scenes, large[name], baseline[name])


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_DIR))
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "replay":
        replay(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
