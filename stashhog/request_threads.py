"""Which thread of a web process serves a request.

Every HTTP view of StashHog is synchronous. A web process runs them in one thread, one
request after another in arrival order (like gunicorn's classic sync workers), while its
event loop goes on reading requests and serving WebSockets. Run all at once in a thread
each (Django's default under ASGI), a process's requests shared one GIL: every thread
waited for its turn again after each database round trip, so under load each request took
about as long as all of them together (benchmarks/load.py, 3 processes on 2 cores: 96
requests/s and p99 2.2 s, against 171 requests/s and p99 1.3 s one after another).

A view that waits on another server for seconds (the connection tests, a scene's resync)
or runs a job inline (``background=false``: a sync, an analysis, an apply) would hold up
every request queued behind it: ``own_thread`` marks it, and it gets a thread of its own.
So does every request that may write on SQLite: it can wait seconds for the database's one
write lock (a sync writing in a worker), where reads never wait. Such a view is a write
(POST): a read only reads the database, and is routed without resolving its path.
"""

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import Resolver404, resolve

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_thread(view: Callable) -> Callable:
    """Serve ``view`` (a view, or a viewset's action, taking writes only) in a thread of its
    own: it waits on another server (Stash, the AI server, a notification service), or may
    run a job."""
    view.own_thread = True  # type: ignore[attr-defined]
    return view


def needs_own_thread(scope: dict) -> bool:
    """Whether the ASGI request ``scope`` is a write for a view or viewset action marked
    ``own_thread``, or any write on SQLite."""
    if scope["method"] in READ_METHODS:
        return False
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite":
        return True
    path = scope["path"].removeprefix(scope.get("root_path", ""))
    try:
        view = resolve(path).func
    except Resolver404:
        return False
    # A viewset's route maps each HTTP method to an action of its class.
    actions = getattr(view, "actions", None) or {}
    action = getattr(getattr(view, "cls", None), actions.get(scope["method"].lower(), ""), None)
    return getattr(view, "own_thread", False) or getattr(action, "own_thread", False)
