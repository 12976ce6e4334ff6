"""``make run``: StashHog on one machine, in the foreground, supervised.

It starts the embedded Redis (when ``REDIS_URL`` is unset), the web server (gunicorn with
``STASHHOG_WEB_WORKERS`` uvicorn processes, stashhog/gunicorn_conf.py), a Celery worker and
Celery beat, and keeps them running:
- a child that exits is started again after a backoff (1 s, doubling up to 60 s, back to
  1 s once it has run for a minute); the others keep running;
- the embedded Redis is supervised like the rest, and keeps its data across restarts (AOF);
- Ctrl-C (or SIGTERM) stops the children tier by tier, Redis last. The worker's warm
  shutdown asks its running jobs to stop (they end ``cancelled``, see ``jobs.tasks``) and
  is given time to let them.

Children run in their own sessions: a Ctrl-C in the terminal reaches the launcher alone,
which then stops them in that order. Operators running at scale start these processes
themselves (see README); this launcher is the one-command path for a single machine. To add
a process, add it to ``commands()`` (or a ``Child`` to ``children()``).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
django.setup()

from django.conf import settings  # noqa: E402

from stashhog import embedded_redis  # noqa: E402

BIN = Path(sys.executable).parent
# Seconds a child may take to stop after SIGTERM before it is killed. The worker's running
# jobs stop at their next safe point: a slow Stash or AI request may need a while; gunicorn
# gives its processes 30 s (its graceful timeout) to finish their requests.
STOP_TIMEOUTS = {"worker": 90.0, "web": 35.0}
DEFAULT_STOP_TIMEOUT = 20.0


def commands() -> dict[str, list[str]]:
    return {
        "web": [str(BIN / "gunicorn"), "-c", "python:stashhog.gunicorn_conf",
                "stashhog.asgi:application"],
        # No -Q: a worker takes every queue StashHog declares (CELERY_TASK_QUEUES).
        "worker": [str(BIN / "celery"), "-A", "stashhog", "worker", "-n", "worker@%h",
                   "--loglevel", "INFO"],
        "beat": [str(BIN / "celery"), "-A", "stashhog", "beat", "--loglevel", "INFO"],
    }


def say(message: str) -> None:
    print(f"launcher: {message}", flush=True)


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Child:
    """One supervised process: how to start it, and in which tier it stops (higher
    tiers stop first; a tier's children stop together)."""

    name: str
    start: Callable[[], subprocess.Popen]
    tier: int = 1
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    process: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each before it ran ``stable_after`` seconds
    restart_at: float = 0.0


class Supervisor:
    def __init__(self, children: list[Child], *, clock: Callable[[], float] = time.monotonic,
                 backoff_start: float = 1.0, backoff_max: float = 60.0,
                 stable_after: float = 60.0):
        self.children = children
        self.clock = clock
        self.backoff_start, self.backoff_max = backoff_start, backoff_max
        self.stable_after = stable_after

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def poll(self) -> None:
        """Restart children that exited, once their backoff has passed."""
        now = self.clock()
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                if now - child.started_at >= self.stable_after:
                    child.failures = 0
                continue
            self._schedule_restart(child, f"exited with code {code}")

    def stop(self) -> None:
        for tier in sorted({child.tier for child in self.children}, reverse=True):
            stopping = [(child.process, child.stop_timeout) for child in self.children
                        if child.tier == tier and child.process is not None]
            for process, _timeout in stopping:
                if process.poll() is None:
                    process.terminate()
            for process, timeout in stopping:
                stop_process(process, timeout)

    def _start(self, child: Child) -> None:
        try:
            child.process = child.start()
        except Exception as exc:
            child.process = None
            self._schedule_restart(child, f"could not start ({exc})")
            return
        child.started_at = self.clock()

    def _schedule_restart(self, child: Child, why: str) -> None:
        delay = min(self.backoff_max, self.backoff_start * 2 ** child.failures)
        child.failures += 1
        child.process = None
        child.restart_at = self.clock() + delay
        say(f"{child.name} {why}; restarting it in {delay:.0f} s")


def _spawn(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, start_new_session=True)


def children() -> list[Child]:
    supervised = []
    if settings.EMBEDDED_REDIS:
        supervised.append(Child(
            "redis", partial(embedded_redis.start, settings.EMBEDDED_REDIS_SOCKET), tier=0,
        ))
    for name, argv in commands().items():
        supervised.append(Child(name, partial(_spawn, argv),
                                stop_timeout=STOP_TIMEOUTS.get(name, DEFAULT_STOP_TIMEOUT)))
    return supervised


def main() -> int:
    supervisor = Supervisor(children())
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor.start()
    if settings.EMBEDDED_REDIS:
        say(f"embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}")
    say(f"StashHog on http://{settings.STASHHOG_HOST}:{settings.STASHHOG_PORT}/ "
        "(Ctrl-C stops it)")
    try:
        while not stopping:
            supervisor.poll()
            time.sleep(0.5)
    finally:
        say("stopping (running jobs are cancelled)")
        supervisor.stop()
        if settings.EMBEDDED_REDIS:
            settings.EMBEDDED_REDIS_SOCKET.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
