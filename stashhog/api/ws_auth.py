"""WebSocket handshake checks, in order: the origin, then the user.

- A browser's ``Origin`` must be the socket's own origin, compared as scheme, host and
  port (as Django's CSRF check compares it for HTTPS), with the host in
  ``ALLOWED_HOSTS``; or one of ``CSRF_TRUSTED_ORIGINS``. So no other site, and no other
  port or scheme of this host, can open a socket with the user's session cookie. Clients
  that send no ``Origin`` are not browsers and carry no ambient cookie risk; they pass, and
  must authenticate like everyone else.
- The user comes from the Django session cookie or an ``Authorization: Token <key>``
  header (the same tokens as the REST API, counted the same way: a bad token is a failed
  login, and an address locked out refuses every token). Handshakes by anyone but a staff
  user (the API's own rule, stashhog.api.permissions) are refused (HTTP 403).
"""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from rest_framework.exceptions import AuthenticationFailed, Throttled

from stashhog.api.auth import token_credentials, with_lockout

DEFAULT_PORTS = {"http": 80, "https": 443}


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def is_secure(scope) -> bool:
    """TLS reached this socket, directly or through a proxy named by
    ``SECURE_PROXY_SSL_HEADER`` (the same rule as ``HttpRequest.is_secure``)."""
    if scope.get("scheme") == "wss":
        return True
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        forwarded = header(scope, name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        return forwarded is not None and forwarded.split(",")[0].strip() == secure_value
    return False


def origin_key(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def own_origin(scope) -> tuple[str, str, int] | None:
    """The origin a browser has when it opens this socket: the Host it connected to (when
    ``ALLOWED_HOSTS`` admits it) with http or https."""
    host = header(scope, b"host")
    if not host:
        return None
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return None
    return origin_key(f"{'https' if is_secure(scope) else 'http'}://{host}")


class SameOriginValidator:
    """Refuses a browser handshake whose ``Origin`` is not this socket's own origin nor a
    trusted one (module docstring)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = header(scope, b"origin")
        if origin is None or self.valid_origin(scope, origin):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def valid_origin(scope, origin: str) -> bool:
        key = origin_key(origin)
        if key is None:  # "null" (sandboxed frames, file: pages) or garbage
            return False
        trusted = {origin_key(url) for url in settings.CSRF_TRUSTED_ORIGINS}
        return key == own_origin(scope) or key in trusted


def token_key(scope) -> str | None:
    keyword, _, key = (header(scope, b"authorization") or "").partition(" ")
    return key.strip() if keyword.lower() == "token" and key.strip() else None


def handshake_request(scope) -> HttpRequest:
    """The handshake as a Django request, for django-axes: the client's address (the proxy
    headers are already applied to it by the server), user agent and path."""
    request = HttpRequest()
    request.path = request.path_info = scope["path"]
    request.META = {"REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
                    "PATH_INFO": scope["path"],
                    "HTTP_USER_AGENT": header(scope, b"user-agent") or ""}
    return request


@database_sync_to_async
def user_for_token(scope, key: str):
    """The active user of the token; anonymous (refused) for a bad token, which counts as a
    failed login, or for any token from a locked-out address."""
    try:
        attempt = handshake_request(scope)
        user, _ = with_lockout(attempt, lambda: token_credentials(attempt, key))
    except (AuthenticationFailed, Throttled):
        return AnonymousUser()
    return user


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from an ``Authorization: Token`` header when the session
    did not already authenticate the connection."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if not (user and user.is_authenticated) and (key := token_key(scope)):
            scope = {**scope, "user": await user_for_token(scope, key)}
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
    return SameOriginValidator(
        AuthMiddlewareStack(TokenAuthMiddleware(RequireStaffUser(application)))
    )
