"""Which thread serves a request (stashhog/request_threads.py), through the real ASGI
application: a process's requests one after another in one thread, a connection test in a
thread of its own so that it holds up nobody."""

import asyncio
import threading
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.signals import request_finished
from django.db import connection, connections
from django.urls import URLResolver, get_resolver
from rest_framework.authtoken.models import Token

import stashhog.request_threads as thread_routing
from settings_app.registry import save_settings
from stashhog.asgi import application
from stashhog.request_threads import needs_own_thread

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(method: str, path: str, token: Token, body: bytes = b"") -> HttpCommunicator:
    return HttpCommunicator(application, method, path, body=body, headers=[
        (b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Token {token.key}".encode())])


def run(scenario):
    async def with_clean_up():
        try:
            return await scenario()
        finally:  # a request thread's connection would outlive the test database
            await sync_to_async(connections.close_all)()

    return asyncio.run(with_clean_up())


def job_lists_served_while(slow: Callable[[], HttpCommunicator], token: Token,
                           job_lists: int) -> None:
    """``job_lists`` job lists, each answered within 2 s while the request of ``slow``
    waits on a 3-second Stash; then that request's answer, 200."""

    async def scenario():
        waiting_request = slow()
        waiting = asyncio.create_task(waiting_request.get_response(timeout=10))
        await asyncio.sleep(0.3)  # it is waiting on Stash now
        for _ in range(job_lists):
            request = communicator("GET", "/api/jobs", token)
            assert (await request.get_response(timeout=2))["status"] == 200
            await request.wait(timeout=2)
        assert not waiting.done()
        assert (await waiting)["status"] == 200
        await waiting_request.wait(timeout=10)

    run(scenario)


@pytest.fixture
def request_threads():
    """The thread each request ended in (request_finished is sent from the thread that
    served it, where the response is closed)."""
    threads: list[threading.Thread] = []

    def record(**kwargs):
        threads.append(threading.current_thread())

    request_finished.connect(record)
    yield threads
    request_finished.disconnect(record)


def test_requests_are_served_one_after_another_in_one_thread(token, request_threads):
    async def scenario():
        for _ in range(3):
            request = communicator("GET", "/api/jobs", token)
            assert (await request.get_response(timeout=10))["status"] == 200
            await request.wait(timeout=10)

    run(scenario)
    assert len(request_threads) == 3
    assert request_threads[0] is request_threads[1] is request_threads[2]
    assert request_threads[0] is not threading.main_thread()  # not the event loop's


def test_a_connection_test_waiting_on_a_slow_server_holds_up_no_other_request(
        superuser, fake_stash, request_threads):
    fake_stash.latency = 3  # seconds before it answers
    token = Token.objects.create(user=superuser)
    body = f'{{"url": "{fake_stash.url}", "api_key": "any-key"}}'.encode()

    job_lists_served_while(
        lambda: communicator("POST", "/api/settings/test-stash", token, body), token, 2)
    served_meanwhile, connection_test = request_threads[:2], request_threads[2]
    assert served_meanwhile[0] is served_meanwhile[1]
    assert connection_test is not served_meanwhile[0]


@pytest.mark.parametrize(("method", "path", "own"), [
    ("POST", "/api/scenes/sync", True),  # background=false runs the sync inline
    ("POST", "/api/scenes/12/resync", True),  # reads the scene from Stash
    ("POST", "/api/analysis/generate", True),
    ("POST", "/api/analysis/plans/3/apply", True),
    ("POST", "/api/analysis/plans/3/revert", True),  # reads the scenes from Stash
    ("POST", "/api/settings/test-stash", True),
    ("GET", "/api/scenes", False),
    ("GET", "/api/scenes/12", False),
    ("GET", "/api/analysis/plans/3", False),
    ("GET", "/api/no-such-path", False),
])
def test_views_that_wait_on_other_servers_or_run_jobs_get_a_thread_of_their_own(
        method, path, own):
    assert needs_own_thread({"type": "http", "method": method, "path": path}) is own


def marked_routes(patterns=None):
    """``(route, methods)`` of every URL whose view, or one of whose actions, is marked
    ``own_thread``: the methods that reach a marked view or action."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from marked_routes(pattern.url_patterns)
            continue
        view = pattern.callback
        actions = getattr(view, "actions", None) or {}
        methods = {method for method, name in actions.items()
                   if getattr(view, "own_thread", False)
                   or getattr(getattr(view.cls, name, None), "own_thread", False)}
        if methods or getattr(view, "own_thread", False):
            yield str(pattern.pattern), methods or {"every method"}


def test_only_writes_are_marked_so_reads_are_routed_without_resolving_their_path():
    marked = list(marked_routes())
    assert len(marked) >= 7  # sync, resync, generate, apply, revert, two connection tests
    for route, methods in marked:
        assert methods <= {"post", "put", "patch", "delete"}, (route, methods)


def test_a_read_is_routed_without_resolving_its_path(monkeypatch):
    monkeypatch.setattr(thread_routing, "resolve", None)  # a call would raise
    assert needs_own_thread({"type": "http", "method": "GET", "path": "/api/scenes/sync"}) \
        is False


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_a_request_that_may_write_gets_a_thread_of_its_own_on_sqlite(method):
    """It may wait seconds for SQLite's one write lock; PostgreSQL locks rows, not the
    database."""
    on_sqlite = connection.vendor == "sqlite"
    for path in ("/api/analysis/changes/3", "/api/analysis/plans/3", "/api/settings"):
        assert needs_own_thread({"type": "http", "method": method, "path": path}) is on_sqlite


def test_a_resync_waiting_on_a_slow_stash_holds_up_no_other_request(
        token, fake_stash, request_threads):
    save_settings({"stash_url": fake_stash.url, "stash_api_key": fake_stash.api_key})
    scene_id = sorted(fake_stash.library.scenes)[0]
    fake_stash.latency = 3

    job_lists_served_while(
        lambda: communicator("POST", f"/api/scenes/{scene_id}/resync", token), token, 1)
    assert request_threads[0] is not request_threads[1]
