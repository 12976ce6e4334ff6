"""ASGI entry point: Django for HTTP, Channels for the job WebSockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")
# A request waits this long for SQLite's write lock, then answers 503 with Retry-After;
# workers keep the longer default: a job step may wait, a browser should not.
os.environ.setdefault("STASHHOG_SQLITE_BUSY_TIMEOUT", "5")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from stashhog.api.ws_auth import authenticated_websocket  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": authenticated_websocket(URLRouter(websocket_urlpatterns)),
})
