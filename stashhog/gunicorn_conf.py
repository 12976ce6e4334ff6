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
import math
import multiprocessing
import os
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
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


class ConnectionShares:
    """The open HTTP connections of each web process, in memory the processes share (made
    here, in the master, before they are forked), so that each can tell whether it holds
    more than its share.

    A keep-alive connection stays with the process that accepted it, and SO_REUSEPORT hands
    new ones out by a hash of their addresses: 50 clients split 20/30 nearly as often as 25/25.
    Each process serves its requests one after another, so a client's wait grows with its
    process's share: 102 ms for the 20, 158 ms for the 30 (benchmarks/load.py, 2 processes).
    A process holding more than an even share answers its next request with ``Connection:
    close`` (uvicorn's own graceful close); the client opens a new connection, which the
    kernel hands to any process. Clients do this for any HTTP/1.1 server; a WebSocket leaves
    the count once it is upgraded."""

    FREE = -1  # in ``held``: no process has the slot
    HELD, LEAVING = "held", "leaving"

    def __init__(self, slots: int):
        # Per process: its connections, and those it told to close that are not closed
        # yet (they will open again somewhere: still part of the total to share).
        self.held = multiprocessing.RawArray(ctypes.c_int, [self.FREE] * slots)
        self.leaving = multiprocessing.RawArray(ctypes.c_int, slots)
        self.slot: int | None = None  # this process's, once forked

    def assign(self) -> int | None:
        """A free slot for a process about to be forked, in the master (None if all are
        taken: that process is not balanced)."""
        slot = next((slot for slot, held in enumerate(self.held) if held == self.FREE), None)
        if slot is not None:
            self.held[slot] = self.leaving[slot] = 0
        return slot

    def release(self, slot: int | None) -> None:
        if slot is not None:
            self.held[slot], self.leaving[slot] = self.FREE, 0

    def move(self, old: str | None, new: str | None) -> None:
        """One connection of this process's goes from count ``old`` to ``new`` (None: not
        counted). Each slot is written only by its process's event loop."""
        if self.slot is None:
            return
        for name, change in ((old, -1), (new, 1)):
            if name is not None:
                counts = self.held if name == self.HELD else self.leaving
                counts[self.slot] += change

    def over_share(self) -> bool:
        if self.slot is None:
            return False
        live = [slot for slot, held in enumerate(self.held) if held != self.FREE]
        total = sum(self.held[slot] + self.leaving[slot] for slot in live)
        return self.held[self.slot] > math.ceil(total / len(live))


# More slots than processes: gunicorn's -w or TTIN may add some to the configured count.
connection_shares = ConnectionShares(slots=64)


def pre_fork(server, worker) -> None:
    worker.connection_slot = connection_shares.assign()


def child_exit(server, worker) -> None:
    connection_shares.release(getattr(worker, "connection_slot", None))


class SharedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, counting its connection in ``connection_shares`` and
    closing it after the response when this process holds more than its share.

    A connection told to close stops counting as this process's at once, not when it closes
    after its response: the requests queued behind it would otherwise all see the process
    still over its share, and all be told to close."""

    counted_as: str | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._count_as(ConnectionShares.HELD)

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self._count_as(None)

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()  # the WebSocket protocol has the connection now
        self._count_as(None)

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        if (self.cycle is not previous and self.counted_as == ConnectionShares.HELD
                and connection_shares.over_share()):
            self.cycle.keep_alive = False
            self._count_as(ConnectionShares.LEAVING)

    def _count_as(self, name: str | None) -> None:
        if name != self.counted_as:
            connection_shares.move(self.counted_as, name)
            self.counted_as = name


class StashHogWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": SharedHttpProtocol,
        # Channels' router has no lifespan protocol; do not probe for it on every start.
        "lifespan": "off",
        # Job updates are small JSON sent to many sockets at once: compressing each copy
        # separately costs more CPU than the bytes it saves on a LAN or loopback proxy.
        "ws_per_message_deflate": False,
    }

    sockets: list  # set by gunicorn (untyped): its listeners, shared with every process

    connection_slot: int | None = None  # set by pre_fork in the master

    def run(self) -> None:
        connection_shares.slot = self.connection_slot
        self.sockets = [*own_listeners(self.sockets), *self.sockets]
        super().run()
