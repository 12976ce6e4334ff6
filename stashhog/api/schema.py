"""OpenAPI pieces shared by every app: the error envelope, strict request bodies, and the
hooks that finish the document."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class BoundedFiltersExtension(DjangoFilterExtension):
    """django-filter's parameters, with a number filter's ``min_value``/``max_value`` shown
    as the schema's bounds (drf-spectacular leaves them out)."""

    target_class = "stashhog.api.filters.StrictFilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name,
                             filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field)
        bounds = {bound: filter_field.extra[option] for bound, option in (
            ("minimum", "min_value"), ("maximum", "max_value")) if option in filter_field.extra}
        for parameter in parameters:
            parameter["schema"].update(bounds)
        return parameters


class NoUnknownKeysExtension(OpenApiSerializerExtension):
    """A serializer that refuses unknown keys says so: ``additionalProperties: false``."""

    target_class = "stashhog.api.validation.NoUnknownKeysMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


def document_error_codes(result, generator, request, public):
    """List every error code (known once all apps are loaded) on the envelope's ``code``."""
    from stashhog.api.errors import error_codes

    code = result["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]
    code["description"] += "\n\n" + "\n".join(
        f"- ``{name}``: {meaning}" for name, meaning in error_codes().items())
    return result


def paths_without_trailing_slash(result, generator, request, public):
    """Routes accept both forms; document the canonical one (no trailing slash)."""
    result["paths"] = {
        (path.rstrip("/") or "/"): item for path, item in result.get("paths", {}).items()
    }
    return result


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The error envelope every error status answers with (see stashhog.api.errors)."""

    success = serializers.BooleanField(default=False)
    code = serializers.CharField(
        help_text="What went wrong, for programs: one of the codes listed below (new codes "
        "may be added, so treat an unknown one by its HTTP status).")
    error = serializers.CharField(help_text="What went wrong, for a person.")
    detail = serializers.JSONField(
        allow_null=True,
        help_text="Details: for 400 the problems by field; for a job conflict ``job_id``.",
    )
    request_id = serializers.CharField(help_text="Equals the X-Request-ID response header.")

    class Meta:
        ref_name = "ErrorEnvelope"


# The code an example of each status carries unless it names a more specific one.
_EXAMPLE_CODES = {400: "validation_error", 401: "not_authenticated", 403: "permission_denied",
                  404: "not_found", 409: "conflict", 500: "server_error",
                  502: "upstream_unavailable", 503: "service_unavailable"}


def error_value(status: int, error: str, detail=None, *, code: str | None = None) -> dict:
    return {
        "success": False, "code": code or _EXAMPLE_CODES[status], "error": error,
        "detail": detail, "request_id": "0f8b1c2d3e4f45a6b7c8d9e0f1a2b3c4",
    }


def error_example(name: str, status: int, error: str, detail=None, *,
                  code: str | None = None) -> OpenApiExample:
    return OpenApiExample(name, response_only=True, status_codes=[str(status)],
                          value=error_value(status, error, detail, code=code))


# What every operation that needs a user can answer, documented once for all of them
# (an operation's own description of a status, if any, is kept).
_ACCESS_ERRORS = {
    "401": ("Not authenticated (no or wrong credentials).", "NoCredentials",
            error_value(401, "Authentication credentials were not provided.")),
    "403": ("Signed in, but not allowed (staff only; settings: superusers only).",
            "NotAllowed",
            error_value(403, "You do not have permission to perform this action.")),
    "503": ("StashHog cannot serve the request now (its database is locked by a writer); "
            "retry after the Retry-After header's seconds.", "DatabaseBusy",
            error_value(503, "The database is busy; retry shortly")),
}


def document_access_errors(result, generator, request, public):
    """Add the 401, 403 and 503 envelopes to every operation that requires authentication."""
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for item in result["paths"].values():
        for operation in item.values():
            if {} in operation.get("security", [{}]):
                continue  # open to anyone (health)
            for status, (description, name, value) in _ACCESS_ERRORS.items():
                operation["responses"].setdefault(status, {
                    "description": description,
                    "content": {"application/json": {
                        "schema": envelope, "examples": {name: {"value": value}}}},
                })
    return result


def error_response(description: str, *examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description,
                           examples=list(examples))


def document_empty_query_values(result, generator, request, public):
    """A query parameter sent empty (``?date_to=``) counts as left out, as forms send it
    (django-filter and DRF read query strings so): every optional one allows it."""
    for item in result["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
