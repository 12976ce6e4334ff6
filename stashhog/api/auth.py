"""API token authentication whose failures count like failed password logins.

django-axes records failed logins in the database (so every web process and machine sees
the same counts) and locks an address out after ``AXES_FAILURE_LIMIT`` failures for
``AXES_COOLOFF_TIME``. Password logins (admin, /api-auth/login/) go through its
authentication backend; DRF's token check does not call ``authenticate()``, so this class
reports a bad token to axes itself and refuses tokens from a locked-out address (429).
"""

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from stashhog.api.errors import json_error

# Token attempts carry no user name: they are counted per address, apart from any user's.
TOKEN_CREDENTIALS = {"username": "(api token)"}
LOCKED_OUT = "Too many failed logins from this address; try again later."


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the error
    envelope, 429 with Retry-After, like every other error."""
    response = json_error(request, 429, "throttled", LOCKED_OUT)
    response["Retry-After"] = str(cooloff_seconds())
    return response


class LockoutTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        credentials = get_authorization_header(request).split()
        if not credentials or credentials[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count
        attempt = request._request  # axes reads the address from the Django request
        if not AxesProxyHandler.is_allowed(attempt, TOKEN_CREDENTIALS):
            raise Throttled(wait=cooloff_seconds(), detail=LOCKED_OUT)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            user_login_failed.send(sender=type(self), credentials=TOKEN_CREDENTIALS,
                                   request=attempt)
            raise
