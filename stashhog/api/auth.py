"""API token authentication whose failures count like failed password logins.

django-axes records failed logins in the database (so every web process and machine sees
the same counts) and locks an address out after ``AXES_FAILURE_LIMIT`` failures for
``AXES_COOLOFF_TIME``. Password logins (admin, /api-auth/login/) go through its
authentication backend; DRF's token check does not call ``authenticate()``, so ``with_lockout``
reports a bad token to axes itself and refuses tokens from a locked-out address: for the
REST API (429) and for the WebSocket handshakes (stashhog.api.ws_auth, refused).
"""

from collections.abc import Callable
from typing import TypeVar

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from stashhog.api.errors import json_error

# Token attempts carry no user name: they are counted per address, apart from any user's.
TOKEN_CREDENTIALS = {"username": "(api token)"}
LOCKED_OUT = "Too many failed logins from this address; try again later."
Result = TypeVar("Result")


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the error
    envelope, 429 with Retry-After, like every other error."""
    response = json_error(request, 429, "throttled", LOCKED_OUT)
    response["Retry-After"] = str(cooloff_seconds())
    return response


def with_lockout(attempt: HttpRequest, check_token: Callable[[], Result]) -> Result:
    """``check_token()`` as a login django-axes counts: refused (Throttled) from a
    locked-out address, and a failure (AuthenticationFailed) recorded against the address
    of ``attempt`` (the Django request, or a handshake made to look like one)."""
    if not AxesProxyHandler.is_allowed(attempt, TOKEN_CREDENTIALS):
        raise Throttled(wait=cooloff_seconds(), detail=LOCKED_OUT)
    try:
        return check_token()
    except AuthenticationFailed:
        user_login_failed.send(sender=LockoutTokenAuthentication,
                               credentials=TOKEN_CREDENTIALS, request=attempt)
        raise


class LockoutTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        credentials = get_authorization_header(request).split()
        if not credentials or credentials[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count
        return with_lockout(request._request, lambda: super(
            LockoutTokenAuthentication, self).authenticate(request))
