"""The one error envelope: ``{"success": false, "code", "error", "detail", "request_id"}``.

DRF errors, StashHog exceptions and Django's own 404/500 handlers all end here, so every
error status answers in the same shape. ``code`` is for programs (``error_codes`` lists
them all), ``error`` for people.
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


# DRF's own codes (its ``default_code``), except that every 400 about input is one code.
FRAMEWORK_CODES = {
    "validation_error": "The request is invalid; ``detail`` lists the problems by field.",
    "parse_error": "The body is not valid JSON, or is nested too deeply.",
    "bad_request": "The request could not be read (e.g. a host not allowed).",
    "not_authenticated": "No credentials were sent.",
    "authentication_failed": "The credentials are wrong (e.g. an unknown token).",
    "permission_denied": "The user may not do this.",
    "not_found": "Nothing has this id, or no such path.",
    "method_not_allowed": "The path does not take this HTTP method.",
    "not_acceptable": "No response format matches the Accept header.",
    "unsupported_media_type": "The body is not JSON.",
    "throttled": "Too many requests; retry after the Retry-After header's seconds.",
    "server_error": "Something failed inside StashHog (the log has it, under request_id).",
}


def error_code(exc: StashHogException) -> str:
    """``exc``'s code; like its status, an exception of no mapped kind raised from another
    StashHog exception (an inline job that failed because Stash did) takes that one's."""
    if not any(kind in STATUS_OF_KIND for kind in type(exc).__mro__) and isinstance(
            exc.__cause__, StashHogException):
        return error_code(exc.__cause__)
    return exc.code


def _subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def error_codes() -> dict[str, str]:
    """Every ``code`` an error envelope can carry, with what it means.

    A StashHogException subclass adds its ``code``, explained by its docstring's first
    paragraph.
    """
    codes = dict(FRAMEWORK_CODES)
    for cls in _subclasses(StashHogException):
        codes.setdefault(cls.code, " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()))
    return dict(sorted(codes.items()))


def envelope(request, code: str, error: str, detail=None) -> dict:
    return {
        "success": False, "code": code, "error": error, "detail": detail,
        "request_id": request_id_of(request),
    }


def _database_locked(exc) -> bool:
    """SQLite's answer when another process holds the write lock past the busy timeout."""
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def _describe(exc) -> tuple[int, str, str, object]:
    """(status, code, error message, detail) for any exception a view may raise."""
    if isinstance(exc, StashHogException):
        return http_status(exc), error_code(exc), exc.message, exc.detail
    if isinstance(exc, Http404):
        return 404, "not_found", "Not found", None
    if isinstance(exc, PermissionDenied):
        return 403, "permission_denied", "You do not have permission to perform this action.", None
    if isinstance(exc, drf_exceptions.ValidationError):
        return 400, "validation_error", "Invalid input", exc.detail
    if isinstance(exc, drf_exceptions.APIException):
        detail = exc.detail
        message = str(detail) if isinstance(detail, str) else exc.default_detail
        return (exc.status_code, exc.default_code, str(message),
                None if isinstance(detail, str) else detail)
    return 500, "server_error", "Internal server error", None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER."""
    request = context["request"]
    if _database_locked(exc):
        exc = ServiceUnavailable("The database is busy; retry shortly")
    status, code, error, detail = _describe(exc)
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
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return Response(envelope(request, code, error, detail), status=status, headers=headers)


def json_error(request, status: int, code: str, error: str) -> JsonResponse:
    return JsonResponse(envelope(request, code, error), status=status)


def handler404(request, exception=None):
    return json_error(request, 404, "not_found", "Not found")


def handler500(request):
    return json_error(request, 500, "server_error", "Internal server error")


def handler403(request, exception=None):
    return json_error(request, 403, "permission_denied",
                      "You do not have permission to perform this action.")


def handler400(request, exception=None):
    return json_error(request, 400, "bad_request", "Bad request")
