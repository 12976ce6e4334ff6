"""API token authentication whose failures count like failed password logins.

django-axes records failed logins in the database (so every web process and machine sees
the same counts) and locks an address out after ``AXES_FAILURE_LIMIT`` failures for
``AXES_COOLOFF_TIME``. Password logins (admin, /api-auth/login/) go through its
authentication backend; DRF's token check does not call ``authenticate()``, so ``with_lockout``
reports a bad token to axes itself and refuses tokens from a locked-out address: for the
REST API (429) and for the WebSocket handshakes (stashhog.api.ws_auth, refused).

Every API request carries a token, so a good one costs one query: the token, its user and
whether axes holds any token failure from the address. Only then (or for a bad token) is
axes asked for its verdict: an address with no failure on record cannot be locked out
(StashHog keeps no address blacklist), and asking axes on every request cost a second
query and more CPU than the rest of authentication.
"""

import functools
from collections.abc import Callable
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import connections
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, Throttled

from stashhog.api.errors import json_error

# Token attempts carry no user name: they are counted per address, apart from any user's.
TOKEN_CREDENTIALS = {"username": "(api token)"}
LOCKED_OUT = "Too many failed logins from this address; try again later."
Credentials = tuple[Any, Any]  # DRF's (user, token)


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the error
    envelope, 429 with Retry-After, like every other error."""
    response = json_error(request, 429, "throttled", LOCKED_OUT)
    response["Retry-After"] = str(cooloff_seconds())
    return response


def with_lockout(attempt: HttpRequest, check_token: Callable[[], Credentials]) -> Credentials:
    """``check_token()`` as a login django-axes counts: refused (Throttled) from a
    locked-out address, and a failure (AuthenticationFailed) recorded against the address
    of ``attempt`` (the Django request, or a handshake made to look like one).

    ``check_token`` is ``token_credentials``: its token says whether the address has
    failures on record; with none, axes is not asked."""
    try:
        user, token = check_token()
    except AuthenticationFailed:
        if not AxesProxyHandler.is_allowed(attempt, TOKEN_CREDENTIALS):
            raise Throttled(wait=cooloff_seconds(), detail=LOCKED_OUT) from None
        user_login_failed.send(sender=LockoutTokenAuthentication,
                               credentials=TOKEN_CREDENTIALS, request=attempt)
        raise
    if token.failures_here and not AxesProxyHandler.is_allowed(
            attempt, TOKEN_CREDENTIALS):
        raise Throttled(wait=cooloff_seconds(), detail=LOCKED_OUT)
    return user, token


# What authentication and the permission checks read; any other field of the user or the
# token loads on first access, through the ORM (with its type conversions).
TOKEN_FIELDS = ("key", "user_id")
USER_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser")


def in_model_order(meta, names: tuple[str, ...]) -> list[str]:
    """``names`` in the order of the model's fields, the order ``Model.from_db`` reads."""
    return [field.attname for field in meta.concrete_fields if field.attname in names]


@functools.cache
def token_statement(address_known: bool) -> str:
    """The token query (TOKEN_FIELDS, USER_FIELDS, and whether axes holds token failures
    from the address), written out once. Composed by the ORM on every request, it cost
    0.76 ms of CPU (now 0.15), most of authentication."""
    quote = connections[Token.objects.db].ops.quote_name
    token, user, attempt = Token._meta, get_user_model()._meta, AccessAttempt._meta

    def column(meta, alias: str, name: str) -> str:
        return f"{alias}.{quote(meta.get_field(name).column)}"

    selected = ([column(token, "t", name) for name in in_model_order(token, TOKEN_FIELDS)]
                + [column(user, "u", name) for name in in_model_order(user, USER_FIELDS)])
    address = column(attempt, "a", "ip_address") + (" = %s" if address_known else " IS NULL")
    return (f"SELECT {', '.join(selected)}, "
            f"EXISTS(SELECT 1 FROM {quote(attempt.db_table)} a"
            f" WHERE {column(attempt, 'a', 'username')} = %s AND {address})"
            f" FROM {quote(token.db_table)} t"
            f" INNER JOIN {quote(user.db_table)} u"
            f" ON {column(user, 'u', 'id')} = {column(token, 't', 'user')}"
            f" WHERE {column(token, 't', 'key')} = %s")


def token_credentials(attempt: HttpRequest, key: str) -> Credentials:
    """DRF's ``(user, token)`` for a key, with ``token.failures_here``: whether axes holds
    a token failure from the address of ``attempt``, read in the same query."""
    address = get_client_ip_address(attempt) or None  # as the ORM stores "": NULL
    sql = token_statement(address is not None)
    params = [TOKEN_CREDENTIALS["username"], *([address] if address is not None else []), key]
    database = Token.objects.db
    with connections[database].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise AuthenticationFailed(_("Invalid token."))
    token = Token.from_db(database, TOKEN_FIELDS, row[:len(TOKEN_FIELDS)])
    user = get_user_model().from_db(database, USER_FIELDS, row[len(TOKEN_FIELDS):-1])
    # Cached on the token only: ``token.user = user`` would also cache the token on the user
    # (a one-to-one's reverse side), a cycle that outlived every request.
    Token.user.field.set_cached_value(token, user)
    token.failures_here = bool(row[-1])  # type: ignore[attr-defined]  # not a field
    if not user.is_active:
        raise AuthenticationFailed(_("User inactive or deleted."))
    return user, token


class LockoutTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        credentials = get_authorization_header(request).split()
        if not credentials or credentials[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count
        self.attempt = request._request
        return with_lockout(self.attempt, lambda: super(
            LockoutTokenAuthentication, self).authenticate(request))

    def authenticate_credentials(self, key):
        return token_credentials(self.attempt, key)
