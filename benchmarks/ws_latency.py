"""WebSocket latency of job progress: from the worker's ``Progress.update`` to a client.

Starts everything for real in a scratch data dir: Redis (the embedded one unless REDIS_URL
is set), a SQLite database, one Celery worker and the production web server (gunicorn with
--workers uvicorn processes, as ``make run`` starts it). N clients (default 500) connect to
``/api/jobs/{id}/ws`` of one demo job (the TEST-ONLY ``demo.count`` with ``clock``: each
update's message is the worker's wall-clock time), and every ``job_progress`` a client
receives once all clients are subscribed (each has its first ``job_status``) is one sample.

    .venv/bin/python benchmarks/ws_latency.py [--clients 500] [--workers 2] [--seconds 20]

Prints the median, p95 and max delay, and the Redis messages per update (PUBLISH calls:
one per group per update, whatever the number of clients). Goal: p95 <= 100 ms at 500.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
UPDATE_EVERY = 0.05  # seconds between the demo job's updates (the runner sends ~2 a second)


def prepare_environment(scratch: Path):
    """Point Django at a scratch database and Redis before it is imported."""
    sys.path.insert(0, str(REPO_DIR))
    os.environ["STASHHOG_DATA_DIR"] = str(scratch)
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
    redis_process = None
    if not os.environ.get("REDIS_URL"):
        from stashhog import embedded_redis

        socket_path = scratch / "redis.sock"
        redis_process = embedded_redis.start(socket_path)
        os.environ["REDIS_URL"] = f"unix://{socket_path}"
    import django

    django.setup()
    return redis_process


async def client(url: str, headers: dict, connected: asyncio.Event, all_connected: asyncio.Event,
                 samples: list[float], served: list[int]) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers=headers, open_timeout=60,
                       max_queue=None) as socket:
        async for raw in socket:
            received = time.time()
            message = json.loads(raw)
            job = message["job"]
            if message["type"] == "job_status" and not connected.is_set():
                connected.set()  # subscribed: the server sends the status after group_add
            elif message["type"] == "job_progress" and all_connected.is_set():
                samples.append(received - float(job["message"]))
            if job["status"] in ("completed", "failed", "cancelled"):
                served.append(1)


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children (the web server's workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        times = process.cpu_times()
        total += times.user + times.system
    return total


def publishes(client) -> int:
    return int(client.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))


async def measure(url: str, headers: dict, clients: int,
                  on_all_connected) -> tuple[list, int, int]:
    samples: list[float] = []
    served: list[int] = []
    all_connected = asyncio.Event()
    events = [asyncio.Event() for _ in range(clients)]
    tasks = [asyncio.create_task(client(url, headers, event, all_connected, samples, served))
             for event in events]
    await asyncio.gather(*(event.wait() for event in events))
    all_connected.set()
    on_all_connected()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [result for result in results if isinstance(result, Exception)]
    for error in errors[:3]:
        print(f"client error: {type(error).__name__}: {error}", file=sys.stderr)
    return samples, len(served), len(errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="web processes")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the job runs")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="stashhog-bench-"))
    redis_process = prepare_environment(scratch)
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from jobs.runner import start_job
    from stashhog import embedded_redis
    from tests import e2e_support
    from tests.jobs import demo_jobs  # noqa: F401 - registers demo.count here too

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password",
                                                    is_staff=True)
    token = Token.objects.create(user=user)
    env = e2e_support.process_env(["tests.jobs.demo_jobs"])
    worker = server = None
    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        worker = e2e_support.start_worker(env, concurrency=1)
        server = e2e_support.start_web_server(env, workers=args.workers)
        steps = int(args.seconds / UPDATE_EVERY)
        # The job counts while the clients connect; only later updates are samples.
        job = start_job("demo.count", {"n": steps, "delay": UPDATE_EVERY, "clock": True})
        url = f"{server.ws_url}/api/jobs/{job.id}/ws"
        published_before = publishes(redis_client)
        cpu_at_start: list[float] = []  # web, clients: once every client is subscribed

        def note_cpu():
            cpu_at_start[:] = [cpu_seconds(server.pid), time.process_time()]

        samples, served, errors = asyncio.run(
            measure(url, {"Authorization": f"Token {token.key}"}, args.clients, note_cpu)
        )
        web_cpu = cpu_seconds(server.pid) - cpu_at_start[0]
        clients_cpu = time.process_time() - cpu_at_start[1]
        published = publishes(redis_client) - published_before
        job.refresh_from_db()
    finally:
        for process in (server, worker):
            if process is not None:
                process.stop()
        if redis_process is not None:
            embedded_redis.stop(redis_process)
        shutil.rmtree(scratch, ignore_errors=True)

    if not samples:
        print(f"no samples (job {job.status}, {errors} client errors)")
        return 1
    ms = sorted(sample * 1000 for sample in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"job: {job.status}, {job.processed_items} updates counted over {args.seconds:.0f} s")
    print(f"clients: {args.clients} connected at once to {args.workers} web processes; "
          f"{served} followed the job to its end, {errors} failed")
    per_client = len(ms) / max(1, args.clients - errors)
    print(f"Redis PUBLISH calls while the clients followed the job: {published}, for "
          f"{per_client:.0f} updates each client received (2 per update: the job's group and "
          f"the monitor's; not per client)")
    print(f"samples: {len(ms)} job_progress messages received after all clients subscribed")
    print(f"CPU once all were subscribed: web processes {web_cpu:.1f} s, the clients "
          f"{clients_cpu:.1f} s ({web_cpu * 1e6 / max(1, len(ms)):.0f} us of web CPU per "
          f"message delivered); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"update -> client delay: median {statistics.median(ms):.1f} ms, "
          f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
