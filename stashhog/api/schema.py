"""OpenAPI pieces shared by every app: the error envelope and a hook on paths."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


def paths_without_trailing_slash(result, generator, request, public):
    """Routes accept both forms; document the canonical one (no trailing slash)."""
    result["paths"] = {
        (path.rstrip("/") or "/"): item for path, item in result.get("paths", {}).items()
    }
    return result


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The error envelope every error status answers with (see stashhog.api.errors)."""

    success = serializers.BooleanField(default=False)
    error = serializers.CharField(help_text="What went wrong, for a person.")
    detail = serializers.JSONField(
        allow_null=True,
        help_text="Details: for 400 the problems by field; for a job conflict ``job_id``.",
    )
    request_id = serializers.CharField(help_text="Equals the X-Request-ID response header.")

    class Meta:
        ref_name = "ErrorEnvelope"


def error_example(name: str, status: int, error: str, detail=None) -> OpenApiExample:
    return OpenApiExample(name, response_only=True, status_codes=[str(status)], value={
        "success": False, "error": error, "detail": detail,
        "request_id": "0f8b1c2d3e4f45a6b7c8d9e0f1a2b3c4",
    })


def error_response(description: str, *examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description,
                           examples=list(examples))
