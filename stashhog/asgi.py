"""ASGI entry point: Django for HTTP, Channels for the job WebSockets."""

import os

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

from stashhog.request_threads import needs_own_thread

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
# A request waits this long for SQLite's write lock, then answers 503 with Retry-After;
# workers keep the longer default: a job step may wait, a browser should not.
os.environ.setdefault("STASHHOG_SQLITE_BUSY_TIMEOUT", "5")


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view run together in the
    process's one request thread (stashhog/request_threads.py).

    Every HTTP view of StashHog is synchronous (DRF, the admin). Django's own handler runs
    an async-capable middleware (all of Django's, through ``MiddlewareMixin``) in async mode
    when it wraps an async handler, and then hops to a thread and back for each of its
    ``process_request``/``process_response``; a sync-only one in between (WhiteNoise) hops
    back again. That was a dozen thread switches per request, each a few hundred
    microseconds of CPU on a busy server. Built in sync mode, the chain is entered once.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

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


django.setup(set_prefix=False)  # what get_asgi_application() does before its handler
django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from stashhog.api.ws_auth import authenticated_websocket  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": authenticated_websocket(URLRouter(websocket_urlpatterns)),
})
