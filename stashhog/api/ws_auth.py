"""WebSocket handshake checks, in order: the origin, then the user.

- A browser's ``Origin`` must name one of ``ALLOWED_HOSTS`` (no cross-site WebSocket
  hijacking with the session cookie). Clients that send no ``Origin`` are not browsers
  and carry no ambient cookie risk; they pass, and must authenticate like everyone else.
- The user comes from the Django session cookie or an ``Authorization: Token <key>``
  header (the same tokens as the REST API). Handshakes by anyone but a staff user (the
  API's own rule, stashhog.api.permissions) are refused (HTTP 403).
"""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token


class BrowserOriginValidator(OriginValidator):
    """``ALLOWED_HOSTS`` (read per connection) for browsers; no Origin header passes."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=())

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        return any(pattern == "*" or self.match_allowed_origin(parsed_origin, pattern)
                   for pattern in allowed)


def token_key(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            keyword, _, key = value.decode("latin1").partition(" ")
            if keyword.lower() == "token" and key.strip():
                return key.strip()
    return None


@database_sync_to_async
def user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else AnonymousUser()


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from an ``Authorization: Token`` header when the session
    did not already authenticate the connection."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if not (user and user.is_authenticated) and (key := token_key(scope)):
            scope = {**scope, "user": await user_for_token(key)}
        return await self.application(scope, receive, send)


class RequireStaffUser:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["user"].is_staff:  # the anonymous user is never staff
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def authenticated_websocket(application):
    """Wrap the WebSocket router: origin check, session or token user, refusal unless staff."""
    return BrowserOriginValidator(
        AuthMiddlewareStack(TokenAuthMiddleware(RequireStaffUser(application)))
    )
