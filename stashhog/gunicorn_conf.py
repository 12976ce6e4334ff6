"""How StashHog serves HTTP and WebSockets: gunicorn runs ``STASHHOG_WEB_WORKERS`` uvicorn
processes behind one port (``make run``, the Docker image and compose all start it with
``gunicorn -c python:stashhog.gunicorn_conf stashhog.asgi:application``).

Each process serves its requests one after another in one thread
(stashhog/request_threads.py) and accepts connections on a socket of its own besides the
shared one (own_listeners), and the processes use the cores; gunicorn restarts a process
that dies. WebSocket updates reach every process through Redis (settings.CHANNEL_LAYERS).
"""

import ctypes
import errno
import gc
import os
import socket

from uvicorn_worker import UvicornWorker

M_ARENA_MAX = -8  # glibc's mallopt() parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads that allocate at the same time arenas of their own (up to 8 per
    core) that it keeps. When Django served each request in a thread of its own, a web
    process's memory grew with the traffic for minutes, with no Python object left behind;
    a process still runs the event loop, the request thread and the connection tests'.
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
backlog = 2048  # gunicorn's default, named: each process's own socket gets the same
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
# SO_REUSEPORT on the shared socket, so that each process can add a socket of its own on the
# same port (StashHogWorker.run).
reuse_port = True


def when_ready(server) -> None:
    """gunicorn has loaded Django (preload_app) and is about to fork the web processes: the
    objects that exist now are set aside from the garbage collector (gc.freeze). A full
    collection in a web process walked those 210,000 objects again every few seconds under
    load, 300 ms each with the GIL held while that process's requests waited (load.py: p95
    437 ms, 264 with them frozen). Never walked, never written by the collector, their pages
    also stay shared with the master: about 100 MB less memory for three processes."""
    gc.collect()
    gc.freeze()


def on_starting(server) -> None:
    """Refuse a port another server already listens on. With SO_REUSEPORT the bind would
    succeed, and two StashHogs would silently split the connections between them."""
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket or an inherited descriptor: bound by its owner
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address[:2])
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise SystemExit(f"{address[0]}:{address[1]} is already in use") from None
                raise


def own_listeners(shared: list) -> list[socket.socket]:
    """A listening socket of this process's own on the address of each shared TCP one.

    All processes accepting from one shared socket, the one whose event loop woke first
    took a whole burst of new connections: 49 of 50 clients' keep-alive connections went to
    one of three processes, which served nearly every request while the others idled
    (benchmarks/load.py). Sockets on one port with SO_REUSEPORT form a group over which the
    kernel spreads new connections evenly. The shared socket stays in the group (no
    connection is ever left without a taker); only its share goes to the first taker.
    Nothing is added beside a Unix socket, or a shared socket without SO_REUSEPORT (one
    handed over by descriptor may not have it)."""
    own = []
    for listener in shared:
        if listener.family not in (socket.AF_INET, socket.AF_INET6) or not listener.getsockopt(
                socket.SOL_SOCKET, socket.SO_REUSEPORT):
            continue
        sock = socket.socket(listener.family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(listener.getsockname())
        sock.listen(backlog)
        sock.setblocking(False)
        own.append(sock)
    return own


class StashHogWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        # Channels' router has no lifespan protocol; do not probe for it on every start.
        "lifespan": "off",
        # Job updates are small JSON sent to many sockets at once: compressing each copy
        # separately costs more CPU than the bytes it saves on a LAN or loopback proxy.
        "ws_per_message_deflate": False,
    }

    sockets: list  # set by gunicorn (untyped): its listeners, shared with every process

    def run(self) -> None:
        self.sockets = [*own_listeners(self.sockets), *self.sockets]
        super().run()
