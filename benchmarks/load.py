"""Load benchmark: concurrent API clients and WebSocket subscribers against the production
web server (gunicorn + uvicorn processes, as ``make run`` starts it) on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres deployload
    .venv/bin/python benchmarks/load.py \\
        --database-url postgres://postgres@127.0.0.1:5432/deployload \\
        [--clients 50] [--seconds 60] [--scenes 10000] [--subscribers 200] [--workers N]

Setup (skipped when the database already holds it): --scenes scenes synced from a fake
Stash (as benchmarks/api.py does), a path-analysis plan over all of them, 500 finished
jobs. Then one Celery worker and the web server start, and for --seconds:

- --clients clients each send one request after the other, without pause (closed loop),
  cycling through the mix: scene list (a random page of 50), scene detail, plan list, plan
  detail (a random page of 50 scenes), job list, job detail;
- --subscribers WebSocket clients (in their own process) follow a demo job that sends an
  update every 50 ms for the whole run (the runner throttles it to ~2 a second);
- the memory of the web processes (gunicorn's master and workers) is sampled every second.

A warm-up of --warmup seconds with the same load precedes the measured run. Prints
throughput, median / p95 / p99 latency overall and per request kind, errors, the
WebSocket delivery delay, and the web processes' memory at the start, peak and end.
Goals: zero errors, p99 <= 250 ms, web memory flat.
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
PER_PAGE = 50
JOBS = 500
UPDATE_EVERY = 0.05  # seconds between the demo job's updates (throttled by the runner)
KINDS = ["scene list", "scene detail", "plan list", "plan detail", "job list", "job detail"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database")
    parser.add_argument("--scenes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None,
                        help="web processes (default: STASHHOG_WEB_WORKERS' default)")
    return parser.parse_args()


def setup_django(database_url: str, scratch: Path):
    """Django on the benchmark database and a Redis (the embedded one unless REDIS_URL)."""
    sys.path.insert(0, str(REPO_DIR))
    os.environ["STASHHOG_DATA_DIR"] = str(scratch)
    os.environ["DATABASE_URL"] = database_url
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
    redis_process = None
    if not os.environ.get("REDIS_URL"):
        from stashhog import embedded_redis

        socket_path = scratch / "redis.sock"
        redis_process = embedded_redis.start(socket_path)
        os.environ["REDIS_URL"] = f"unix://{socket_path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return redis_process


def ensure_data(scenes: int):
    """The library, one plan over it and finished jobs; returns what the clients ask for."""
    from analysis.generate import ANALYSIS_JOB, refresh_change_statistics
    from analysis.models import AnalysisPlan
    from analysis.options import AnalysisOptions
    from benchmarks.api import ensure_library
    from jobs.models import Job, JobStatus
    from jobs.runner import start_job
    from scenes.models import Scene

    ensure_library(scenes)
    plan = AnalysisPlan.objects.filter(name="load benchmark").first()
    if plan is None:
        print("analysing the library into a plan first...", flush=True)
        start_job(ANALYSIS_JOB, {"scene_ids": None, "filters": None,
                                 "plan_name": "load benchmark",
                                 "options": AnalysisOptions.resolve(use_ai=False).as_dict()},
                  inline=True)
        plan = AnalysisPlan.objects.get(name="load benchmark")
    refresh_change_statistics()  # as generation leaves it, for a plan made before it did
    finished = Job.objects.filter(status=JobStatus.COMPLETED).count()
    if finished < JOBS:
        Job.objects.bulk_create(
            Job(type="sync", status=JobStatus.COMPLETED, progress=100,
                parameters={"incremental": True}, result={"scenes_seen": i})
            for i in range(JOBS - finished)
        )
    plan_scenes = plan.changes.values("scene_id").distinct().count()
    return {
        "scene_ids": list(Scene.objects.values_list("id", flat=True)),
        "scene_pages": max(1, Scene.objects.count() // PER_PAGE),
        "plan_id": plan.id,
        "plan_pages": max(1, plan_scenes // PER_PAGE),
        "plan_changes": plan.changes.count(),
        "job_ids": [str(i) for i in Job.objects.values_list("id", flat=True)[:JOBS]],
    }


def request_for(kind: str, data: dict, rng: random.Random) -> tuple[str, dict]:
    if kind == "scene list":
        return "/api/scenes", {"page": rng.randint(1, data["scene_pages"]),
                               "per_page": PER_PAGE}
    if kind == "scene detail":
        return f"/api/scenes/{rng.choice(data['scene_ids'])}", {}
    if kind == "plan list":
        return "/api/analysis/plans", {}
    if kind == "plan detail":
        return f"/api/analysis/plans/{data['plan_id']}", {
            "page": rng.randint(1, data["plan_pages"]), "per_page": PER_PAGE}
    if kind == "job list":
        return "/api/jobs", {}
    return f"/api/jobs/{rng.choice(data['job_ids'])}", {}


def alone_in_process(token: str, data: dict,
                     repeats: int = 20) -> dict[str, tuple[float, float]]:
    """Median ms of each kind of request alone, through Django's test Client in this
    process (query and serialization of one page; no server, no concurrency): elapsed, and
    this process's CPU (PostgreSQL's not included), which depends less on the machine's
    other load."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    rng = random.Random(0)
    medians = {}
    for kind in KINDS:
        times, cpu = [], []
        for attempt in range(repeats + 3):
            path, params = request_for(kind, data, rng)
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(path, params)
            if attempt >= 3:
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code} {response.content[:300]}")
        medians[kind] = (statistics.median(times), statistics.median(cpu))
    return medians


class KeepAliveClient:
    """One client's HTTP/1.1 keep-alive connection, kept as lean as a load generator must
    be: the clients share the machine's cores with the server, and httpx spent about 3 ms of
    CPU per request, as much as half of what the web processes spent serving it. A raw
    asyncio stream and httptools' response parser (the one uvicorn parses requests with)
    cost a fraction of that. ``cpu_seconds`` of this process is printed beside the result."""

    opened = 0  # connections opened by all clients

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.head = "".join(f"{name}: {value}\r\n" for name, value in
                            {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> int:
        """GET ``target`` (path and query); the status code, once the whole body is read."""
        import httptools

        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            KeepAliveClient.opened += 1
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\n{self.head}\r\n".encode())
        end = _ResponseEnd()
        parser = end.parser = httptools.HttpResponseParser(end)
        while not end.complete:
            data = await self.reader.read(1 << 16)
            if not data:
                raise ConnectionResetError("the server closed the connection")
            parser.feed_data(data)
        if not end.keep_alive:  # the server said Connection: close
            self.close()
        return parser.get_status_code()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class _ResponseEnd:
    """httptools callbacks: only the end of the message matters (the body is not kept), and
    whether the connection stays open (the parser forgets it once the message ends)."""

    parser: Any = None
    complete = keep_alive = False

    def on_message_complete(self):
        self.complete, self.keep_alive = True, self.parser.should_keep_alive()


async def run_clients(base_url: str, token: str, data: dict, clients: int,
                      seconds: float) -> list[tuple[str, float, str | None]]:
    """Closed-loop clients; returns (kind, seconds, error or None) per request."""
    from urllib.parse import urlencode, urlsplit

    import httptools

    results: list[tuple[str, float, str | None]] = []
    server = urlsplit(base_url)
    deadline = time.monotonic() + seconds

    async def client(number: int):
        rng = random.Random(number)
        turn = number
        http = KeepAliveClient(server.hostname, server.port,
                               {"Authorization": f"Token {token}"})
        while time.monotonic() < deadline:
            kind = KINDS[turn % len(KINDS)]
            turn += 1
            path, params = request_for(kind, data, rng)
            target = f"{path}?{urlencode(params)}" if params else path
            started = time.perf_counter()
            error = None
            try:
                async with asyncio.timeout(30):
                    status = await http.get(target)
                if status != 200:
                    error = f"HTTP {status}"
            except (OSError, TimeoutError, httptools.HttpParserError) as exc:
                error = type(exc).__name__
                http.close()  # a new connection for the next request
            results.append((kind, time.perf_counter() - started, error))
        http.close()

    await asyncio.gather(*(client(number) for number in range(clients)))
    return results


def follow_job(ws_url: str, token: str, subscribers: int, ready, results) -> None:
    """Child process: ``subscribers`` WebSocket clients follow one job; every job_progress
    received once all are subscribed is a delay sample (the message is the worker's clock)."""
    import json

    from websockets.asyncio.client import connect

    async def subscriber(connected: asyncio.Event, all_connected: asyncio.Event,
                         delays: list[float], errors: list[str]):
        try:
            async with connect(ws_url, additional_headers={"Authorization": f"Token {token}"},
                               open_timeout=60, max_queue=None) as socket:
                async for raw in socket:
                    received = time.time()
                    message = json.loads(raw)
                    if message["type"] == "job_status":
                        connected.set()  # subscribed: sent after the server's group_add
                    elif message["type"] == "job_progress" and all_connected.is_set():
                        delays.append(received - float(message["job"]["message"]))
        except Exception as exc:
            errors.append(type(exc).__name__)
            connected.set()

    async def main():
        delays: list[float] = []
        errors: list[str] = []
        all_connected = asyncio.Event()
        events = [asyncio.Event() for _ in range(subscribers)]
        tasks = [asyncio.create_task(subscriber(event, all_connected, delays, errors))
                 for event in events]
        await asyncio.gather(*(event.wait() for event in events))
        all_connected.set()
        ready.set()
        await asyncio.gather(*tasks)
        results.put((delays, errors))

    asyncio.run(main())


class MemorySampler:
    """Memory of the gunicorn master and its worker processes, once a second, in a thread:
    PSS (each shared page counted once, split among the processes sharing it; the workers
    are forked from a master that loaded Django, so RSS would count those pages N times).
    Also their CPU time over the run (``cpu_seconds``): per request, a figure that depends
    less on what else the machine runs than latency does."""

    def __init__(self, pid: int):
        import threading

        import psutil

        self.master = psutil.Process(pid)
        self.samples: list[tuple[float, float, int]] = []  # (time, MB, processes)
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cpu_time(self) -> float:
        processes = [self.master, *self.master.children(recursive=True)]
        return sum(p.cpu_times().user + p.cpu_times().system for p in processes)

    def pss_mb(self) -> tuple[float, int]:
        processes = [self.master, *self.master.children(recursive=True)]
        return sum(p.memory_full_info().pss for p in processes) / 2**20, len(processes) - 1

    def _run(self):
        while not self._stop.wait(1.0):
            mb, workers = self.pss_mb()
            self.samples.append((time.monotonic(), mb, workers))

    def __enter__(self):
        self._cpu_start = self.cpu_time()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self.cpu_time() - self._cpu_start


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def report(results, seconds: float, delays, ws_errors, memory: MemorySampler,
           clients_cpu: float, subscribers: int, data: dict, workers: int,
           alone: dict[str, tuple[float, float]], connections: int) -> None:
    ms = sorted(duration * 1000 for _, duration, _ in results)
    errors = [error for _, _, error in results if error]
    print(f"\n{len(results):,} requests in {seconds:.0f} s by the clients: "
          f"{len(results) / seconds:.1f} requests/s; {workers} web processes")
    print(f"latency: median {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
          f"p99 {percentile(ms, 0.99):.1f} ms, max {ms[-1]:.1f} ms   (goal: p99 <= 250 ms)")
    print(f"errors: {len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
          + "   (goal: 0)")
    print(f"connections opened by the clients: {connections} (one each at the start; the "
          "others after an answer with Connection: close, which a process holding more than "
          "its share of the connections gives)")
    print(f"web CPU: {memory.cpu_seconds / len(results) * 1000:.1f} ms per request (all web "
          f"processes, WebSocket updates included; load average now "
          f"{os.getloadavg()[0]:.1f}); the clients: "
          f"{clients_cpu / len(results) * 1000:.1f} ms per request")
    print(f"{'kind':14} {'requests':>9} {'median ms':>10} {'p99 ms':>8} {'alone ms':>9} "
          f"{'CPU ms':>7}")
    for kind in KINDS:
        kind_ms = sorted(duration * 1000 for k, duration, _ in results if k == kind)
        if kind_ms:
            print(f"{kind:14} {len(kind_ms):>9} {statistics.median(kind_ms):>10.1f} "
                  f"{percentile(kind_ms, 0.99):>8.1f} {alone[kind][0]:>9.1f} "
                  f"{alone[kind][1]:>7.1f}")
    print("(alone: the median of one request at a time, in-process: building one page; CPU: "
          "of this process, PostgreSQL's not included)")
    print(f"(plan detail: a page of {PER_PAGE} scenes of a plan with "
          f"{data['plan_changes']:,} changes)")
    if delays:
        delay_ms = sorted(delay * 1000 for delay in delays)
        print(f"WebSocket: {subscribers} subscribers, {len(delay_ms):,} updates received, "
              f"{len(ws_errors)} failed; delay median {statistics.median(delay_ms):.1f} ms, "
              f"p95 {percentile(delay_ms, 0.95):.1f} ms")
    else:
        print(f"WebSocket: no updates received ({len(ws_errors)} subscribers failed)")
    values = [mb for _, mb, _ in memory.samples]
    if values:
        print(f"web memory (PSS, all web processes): start {values[0]:.0f} MB, "
              f"peak {max(values):.0f} MB, end {values[-1]:.0f} MB "
              f"({values[-1] - values[0]:+.0f} MB over the run)   (goal: flat)")


def main() -> int:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stashhog-load-"))
    redis_process = setup_django(args.database_url, scratch)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from jobs.runner import cancel_job, start_job
    from stashhog import embedded_redis
    from tests import e2e_support
    from tests.jobs import demo_jobs  # noqa: F401 - registers demo.count here too

    data = ensure_data(args.scenes)
    user, _ = get_user_model().objects.get_or_create(
        username="load-bench", defaults={"is_staff": True, "is_superuser": True})
    token = Token.objects.get_or_create(user=user)[0].key
    alone = alone_in_process(token, data)
    env = e2e_support.process_env(["tests.jobs.demo_jobs"], LOG_LEVEL="WARNING")
    workers = args.workers or settings.STASHHOG_WEB_WORKERS
    worker = server = None
    try:
        worker = e2e_support.start_worker(env, concurrency=1)
        server = e2e_support.start_web_server(env, workers=workers)
        print(f"warm-up: {args.warmup:.0f} s", flush=True)
        asyncio.run(run_clients(server.base_url, token, data, args.clients, args.warmup))

        steps = int((args.seconds + 30) / UPDATE_EVERY)
        job = start_job("demo.count", {"n": steps, "delay": UPDATE_EVERY, "clock": True})
        context = multiprocessing.get_context("spawn")
        ready, results_queue = context.Event(), context.Queue()
        follower = context.Process(target=follow_job, args=(
            f"{server.ws_url}/api/jobs/{job.id}/ws", token, args.subscribers, ready,
            results_queue))
        follower.start()
        ready.wait(timeout=120)
        print(f"measuring: {args.clients} clients for {args.seconds:.0f} s, "
              f"{args.subscribers} WebSocket subscribers; load average before: "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        with MemorySampler(server.pid) as memory:
            KeepAliveClient.opened = 0
            clients_cpu = time.process_time()
            results = asyncio.run(run_clients(server.base_url, token, data, args.clients,
                                              args.seconds))
            clients_cpu = time.process_time() - clients_cpu
        cancel_job(job.id)  # the subscribers see it end, and close
        if any(error for _, _, error in results):
            print(f"web server log, last lines:\n{server.log_tail(40)}")
        delays, ws_errors = results_queue.get(timeout=120)
        follower.join(timeout=30)
    finally:
        for process in (server, worker):
            if process is not None:
                process.stop()
        if redis_process is not None:
            embedded_redis.stop(redis_process)
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, args.seconds, delays, ws_errors, memory, clients_cpu, args.subscribers,
           data, workers, alone, KeepAliveClient.opened)
    return 0


if __name__ == "__main__":
    sys.exit(main())
