"""The one error envelope: ``{"success": false, "error", "detail", "request_id"}``.

DRF errors, StashHog exceptions and Django's own 404/500 handlers all end here, so every
error status answers in the same shape.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from stashhog.api.exceptions import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    StashHogException,
    UpstreamUnavailable,
)
from stashhog.api.request_id import request_id_of

logger = logging.getLogger("stashhog.api")

# The one place that knows how HTTP spells each kind of StashHog exception.
STATUS_OF_KIND: dict[type[StashHogException], int] = {
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    UpstreamUnavailable: 502,
    ServiceUnavailable: 503,
}


def http_status(exc: StashHogException) -> int:
    """The status of ``exc``'s kind; else that of the StashHog exception it was raised from
    (an inline job that failed because Stash did answers as Stash's failure); else 500."""
    for kind in type(exc).__mro__:
        if kind in STATUS_OF_KIND:
            return STATUS_OF_KIND[kind]
    if isinstance(exc.__cause__, StashHogException):
        return http_status(exc.__cause__)
    return 500


def envelope(request, error: str, detail=None) -> dict:
    return {
        "success": False, "error": error, "detail": detail, "request_id": request_id_of(request)
    }


def _database_locked(exc) -> bool:
    """SQLite's answer when another process holds the write lock past the busy timeout."""
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def _describe(exc) -> tuple[int, str, object]:
    """(status, error message, detail) for any exception a view may raise."""
    if isinstance(exc, StashHogException):
        return http_status(exc), exc.message, exc.detail
    if isinstance(exc, Http404):
        return 404, "Not found", None
    if isinstance(exc, PermissionDenied):
        return 403, "You do not have permission to perform this action.", None
    if isinstance(exc, drf_exceptions.ValidationError):
        return 400, "Invalid input", exc.detail
    if isinstance(exc, drf_exceptions.APIException):
        detail = exc.detail
        message = str(detail) if isinstance(detail, str) else exc.default_detail
        return exc.status_code, str(message), None if isinstance(detail, str) else detail
    return 500, "Internal server error", None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER."""
    request = context["request"]
    if _database_locked(exc):
        exc = ServiceUnavailable("The database is busy; retry shortly")
    status, error, detail = _describe(exc)
    headers = {}
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
        logger.warning("request %s: %s", request_id_of(request), error)
    elif status >= 500:
        # The traceback goes to the log (with the request id), never to the client.
        logger.error("request %s failed: %s", request_id_of(request), error, exc_info=exc)
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        # Token auth is what API clients use; say so, as RFC 7235 asks for a 401.
        headers["WWW-Authenticate"] = "Token"
        status = 401
    return Response(envelope(request, error, detail), status=status, headers=headers)


def json_error(request, status: int, error: str) -> JsonResponse:
    return JsonResponse(envelope(request, error), status=status)


def handler404(request, exception=None):
    return json_error(request, 404, "Not found")


def handler500(request):
    return json_error(request, 500, "Internal server error")


def handler403(request, exception=None):
    return json_error(request, 403, "You do not have permission to perform this action.")


def handler400(request, exception=None):
    return json_error(request, 400, "Bad request")
