"""``make run``: the embedded Redis when needed, then the web server (gunicorn with
``STASHHOG_WEB_WORKERS`` uvicorn processes, stashhog/gunicorn_conf.py), a Celery worker and
Celery beat in the foreground. Ctrl-C (or SIGTERM) stops all of them.

Operators running at scale start these processes themselves (see README); this launcher
is the one-command path for a single machine.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
django.setup()

from django.conf import settings  # noqa: E402

from stashhog import embedded_redis  # noqa: E402

BIN = Path(sys.executable).parent


def commands() -> dict[str, list[str]]:
    return {
        "web": [str(BIN / "gunicorn"), "-c", "python:stashhog.gunicorn_conf",
                "stashhog.asgi:application"],
        # No -Q: a worker takes every queue StashHog declares (CELERY_TASK_QUEUES).
        "worker": [str(BIN / "celery"), "-A", "stashhog", "worker", "--loglevel", "INFO"],
        "beat": [str(BIN / "celery"), "-A", "stashhog", "beat", "--loglevel", "INFO"],
    }


def main() -> int:
    redis_process = None
    if settings.EMBEDDED_REDIS:
        redis_process = embedded_redis.start(settings.EMBEDDED_REDIS_SOCKET)
        print(f"embedded Redis on {settings.EMBEDDED_REDIS_SOCKET}", flush=True)
    children = {name: subprocess.Popen(cmd) for name, cmd in commands().items()}
    print(f"StashHog on http://{settings.STASHHOG_HOST}:{settings.STASHHOG_PORT}/ "
          "(Ctrl-C stops it)", flush=True)

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; stopping", flush=True)
                    exit_code, stopping = child.returncode or 1, True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_process is not None:
            embedded_redis.stop(redis_process)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
