"""ASGI entry point: Django for HTTP, Channels for the job WebSockets."""

import asyncio
import os

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from stashhog.request_threads import needs_own_thread

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
# A request waits this long for SQLite's write lock, then answers 503 with Retry-After;
# workers keep the longer default: a job step may wait, a browser should not.
os.environ.setdefault("STASHHOG_SQLITE_BUSY_TIMEOUT", "5")


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, entering the process's one request thread
    (stashhog/request_threads.py) once per request.

    Every HTTP view of StashHog is synchronous (DRF, the admin). Django's own handler takes
    three hops to that thread for a sync chain (request_started's receivers, the middleware
    chain with the view, the response's close()), and in async mode one more for each
    middleware's ``process_request``/``process_response``: a dozen thread switches per
    request, each a few hundred microseconds of CPU on a busy server, and each a new wait in
    the thread's queue. Here one call runs all of it: request_started, the request, the
    middleware chain (built in sync mode) and the view, and, for a response already whole,
    its close() (request_finished: the database connection goes back to the pool before a
    byte is sent). A streamed response is closed after its last part, as Django does.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        # Django enters a ThreadSensitiveContext here, which gives each request a thread of
        # its own. Without one, asgiref runs every thread-sensitive call of this process in
        # its single thread-sensitive thread: the view, the response's close() (which ends
        # the request's database connection: same thread) and the WebSocket consumers'
        # database calls.
        if needs_own_thread(scope):
            async with ThreadSensitiveContext():
                await self.handle(scope, receive, send)
        else:
            await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        """Django's ``handle`` with ``respond`` as its one hop; as there, a client that
        disconnects first cancels a request still waiting for the thread."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))

        async def process_request():
            response = await sync_to_async(self.respond, thread_sensitive=True)(
                scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected during the send
            return response

        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)),
                 asyncio.create_task(process_request())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        body_file.close()

    def respond(self, scope, body_file):
        """In the request thread: the response to the request in ``scope``."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the server chunks it
        if not response.streaming:
            response.close()
        return response


django.setup(set_prefix=False)  # what get_asgi_application() does before its handler
django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from stashhog.api.ws_auth import authenticated_websocket  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": authenticated_websocket(URLRouter(websocket_urlpatterns)),
})
