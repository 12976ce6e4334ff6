"""How StashHog serves HTTP and WebSockets: gunicorn runs ``STASHHOG_WEB_WORKERS`` uvicorn
processes behind one port (``make run``, the Docker image and compose all start it with
``gunicorn -c python:stashhog.gunicorn_conf stashhog.asgi:application``).

Each process runs its synchronous views in threads, one per request, and the processes
use the cores; gunicorn restarts a process that dies and shares the listening socket among
them. WebSocket updates reach every process through Redis (settings.CHANNEL_LAYERS).
"""

import ctypes
import os

from uvicorn_worker import UvicornWorker

M_ARENA_MAX = -8  # glibc's mallopt() parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Django serves each request in a thread of its own, and glibc gives threads that
    allocate at the same time arenas of their own (up to 8 per core) that it keeps: a web
    process's memory grew with the traffic for minutes, with no Python object left behind.
    Two arenas keep it flat. Set here, in the master, so that every forked process has it;
    a MALLOC_ARENA_MAX in the environment wins. Without glibc (musl, macOS): nothing to do."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, arenas)


limit_malloc_arenas()

# The web processes reach PostgreSQL through a connection pool (see settings.DATABASES); set
# before the settings are read. gunicorn loads Django in its master but connects only in
# the forked processes, so each process gets its own pool.
os.environ.setdefault("STASHHOG_DATABASE_POOL", "true")

from stashhog import settings  # noqa: E402

bind = [f"{settings.STASHHOG_HOST}:{settings.STASHHOG_PORT}"]
workers = settings.STASHHOG_WEB_WORKERS
worker_class = "stashhog.gunicorn_conf.StashHogWorker"
accesslog = None
# Keep idle client connections longer than a reverse proxy's upstream keep-alive, so the
# server never closes one just as the proxy (or a script) sends the next request on it.
keepalive = 75
# Import Django once in the master and fork: faster starts, pages shared between processes.
preload_app = True
# gunicorn's runtime control socket (one per user, in $HOME) is not used by StashHog.
control_socket_disable = True


class StashHogWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        # Channels' router has no lifespan protocol; do not probe for it on every start.
        "lifespan": "off",
        # Job updates are small JSON sent to many sockets at once: compressing each copy
        # separately costs more CPU than the bytes it saves on a LAN or loopback proxy.
        "ws_per_message_deflate": False,
    }
