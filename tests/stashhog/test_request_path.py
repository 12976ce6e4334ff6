"""What one API request costs on its way through the real ASGI application: thread hops
between the event loop and the worker thread (each is CPU on a busy server)."""

import asyncio

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import HttpCommunicator
from django.db import connections

from stashhog.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def get(path: str, headers=()) -> tuple[dict, int]:
    """GET through the ASGI application; the response and how many times the request
    entered a worker thread."""
    hops = 0
    enter = SyncToAsync.__call__

    def counting(self, *args, **kwargs):
        nonlocal hops
        hops += 1
        return enter(self, *args, **kwargs)

    async def scenario():
        communicator = HttpCommunicator(application, "GET", path,
                                        headers=[(b"host", b"127.0.0.1"), *headers])
        try:
            response = await communicator.get_response(timeout=10)
            await communicator.wait(timeout=10)  # response.close() included
            return response
        finally:  # the worker thread's connection would outlive the test database
            await sync_to_async(connections.close_all)()

    SyncToAsync.__call__ = counting
    try:
        response = asyncio.run(scenario())
    finally:
        SyncToAsync.__call__ = enter
    return response, hops - 1  # less the clean-up above


def test_middleware_and_view_run_in_one_thread_hop(token):
    response, hops = get("/api/jobs", [(b"authorization", f"Token {token.key}".encode())])
    assert response["status"] == 200
    # request_started's receivers, the middleware chain with the view and response.close()
    # together: Django's handler took 3 hops for them, and in async mode each middleware's
    # hooks took hops of their own (16 in all).
    assert hops == 1
