"""``/api/settings``: read and change the runtime settings, and test the connections they
configure. Secrets are write-only: every answer carries the mask, never the value."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from settings_app.connections import AI, STASH, check_connection
from settings_app.registry import (
    REGISTRY,
    effective_settings,
    masked,
    save_settings,
)
from settings_app.secrets import SECRET_MASK
from settings_app.serializers import (
    OpenAIConnectionResult,
    OpenAIConnectionTest,
    Settings,
    SettingsUpdate,
    StashConnectionResult,
    StashConnectionTest,
)
from stashhog.api.exceptions import ServiceUnavailable
from stashhog.api.permissions import IsSuperuser
from stashhog.api.schema import error_example, error_response
from stashhog.api.validation import validated

EXAMPLE_SETTINGS = {
    key: SECRET_MASK if spec.secret else spec.default for key, spec in REGISTRY.items()
}


TOO_MANY_TESTS = error_response(
    "Too many connection tests: ``Retry-After`` says when to try again.",
    OpenApiExample("Rate limited", response_only=True, status_codes=["429"], value={
        "success": False, "code": "throttled",
        "error": "Request was throttled. Expected available in 42 seconds.",
        "detail": None, "request_id": "5f0c6b2e9a7d4c1b8e3f2a1d0c9b8a7e",
    }),
)

COUNTER_UNAVAILABLE = "Connection tests are rate-limited in Redis, which cannot be reached"
COUNTER_DOWN = error_response(
    "Redis, where the connection tests' rate limit is counted, cannot be reached (no test is "
    "made until it is back), or the database is locked by a writer. Retry after the "
    "``Retry-After`` header's seconds.",
    error_example("Redis down", 503, COUNTER_UNAVAILABLE, code="service_unavailable"),
    error_example("Database busy", 503, "The database is busy; retry shortly",
                  code="service_unavailable"),
)


class ConnectionTestThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, counted in the cache (Redis, shared by every web process).
    When Redis is down the test is refused with a 503 that says so: a limit that cannot be
    counted must not let every test through, and a 500 would say nothing."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            raise ServiceUnavailable(COUNTER_UNAVAILABLE) from exc


def _invalid_input_response(example: dict) -> OpenApiResponse:
    return error_response(
        "Invalid input: ``detail`` lists every problem by key.",
        OpenApiExample("Invalid input", value=example, response_only=True, status_codes=["400"]),
    )


class SettingsViewSet(viewsets.ViewSet):
    # Superusers only: these hold the service keys and point StashHog's requests anywhere.
    permission_classes = [IsSuperuser]
    throttle_scope = "connection_test"

    def get_throttles(self):
        # Only the connection tests: each makes StashHog call out to a URL of the caller's
        # choosing (rate: REST_FRAMEWORK's DEFAULT_THROTTLE_RATES).
        return [ConnectionTestThrottle()] if self.action in ("test_stash", "test_openai") else []

    @extend_schema(
        summary="Every setting with its effective value (database, else environment, else "
        "default); secrets masked",
        responses={200: Settings},
        examples=[OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True)],
    )
    def retrieve(self, request):
        """Each key as the next job will see it. Secrets read as the mask or null."""
        return Response(masked(effective_settings()))

    @extend_schema(
        summary="Change some settings, all or nothing; takes effect without a restart",
        request=SettingsUpdate,
        responses={200: Settings, 400: _invalid_input_response({
            "success": False,
            "code": "validation_error",
            "error": "Invalid settings",
            "detail": {"stash_url": ["Must be an http(s) URL."],
                       "analysis_confidence_threshold": ["Must be between 0 and 1."]},
            "request_id": "5f0c6b2e9a7d4c1b8e3f2a1d0c9b8a7e",
        })},
        examples=[
            OpenApiExample(
                "Change the Stash URL, keep the key",
                value={"stash_url": "http://stash.lan:9999", "stash_api_key": SECRET_MASK,
                       "analysis_confidence_threshold": 0.6},
                request_only=True,
            ),
            OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True),
        ],
    )
    def update(self, request):
        """An object of keys to new values. Nothing is saved unless every value is valid;
        the mask sent back for a secret keeps it, null clears it."""
        save_settings(request.data)
        return Response(masked(effective_settings()))

    @extend_schema(
        summary="Test a Stash URL and API key (default: the saved ones)",
        request=StashConnectionTest,
        responses={200: StashConnectionResult, 429: TOO_MANY_TESTS, 503: COUNTER_DOWN,
                   400: _invalid_input_response({
            "success": False, "code": "validation_error", "error": "Invalid input",
            "detail": {"url": ["Must be an http(s) URL."]},
            "request_id": "5f0c6b2e9a7d4c1b8e3f2a1d0c9b8a7e",
        })},
        examples=[
            OpenApiExample("Test the saved connection", value={}, request_only=True),
            OpenApiExample(
                "Test another server with its own key",
                value={"url": "http://stash.lan:9999", "api_key": "the-other-server's-key"},
                request_only=True,
            ),
            OpenApiExample("Connected", response_only=True, value={
                "success": True, "url": "http://stash.lan:9999", "version": "v0.30.1",
                "build_hash": "b23b0267", "status": "OK", "database_schema": 75,
            }),
            OpenApiExample("Key refused", response_only=True, value={
                "success": False, "reason": "auth",
                "error": "Stash refused the API key (http://stash.lan:9999)",
            }),
        ],
    )
    def test_stash(self, request):
        """Asks Stash for its version and system status, with a short timeout. A failure
        answers 200 with ``success: false`` and the classified cause."""
        return Response(check_connection(STASH, **validated(StashConnectionTest, request.data)))

    @extend_schema(
        summary="Test an OpenAI-compatible server, key and model (default: the saved ones)",
        request=OpenAIConnectionTest,
        responses={200: OpenAIConnectionResult, 429: TOO_MANY_TESTS, 503: COUNTER_DOWN,
                   400: _invalid_input_response({
            "success": False, "code": "validation_error", "error": "Invalid input",
            "detail": {"base_url": ["Must be an http(s) URL."]},
            "request_id": "5f0c6b2e9a7d4c1b8e3f2a1d0c9b8a7e",
        })},
        examples=[
            OpenApiExample(
                "Test a local Ollama model",
                value={"base_url": "http://localhost:11434/v1", "model": "llama3.1",
                       "api_key": None},
                request_only=True,
            ),
            OpenApiExample("Model answers", response_only=True, value={
                "success": True, "model": "gpt-4o-mini", "owned_by": "openai",
            }),
            OpenApiExample("Unknown model", response_only=True, value={
                "success": False, "reason": "unknown_model", "model": "gpt-9",
                "error": "The model 'gpt-9' does not exist on the AI server",
            }),
        ],
    )
    def test_openai(self, request):
        """Retrieves the model and sends it a one-token request, with a short timeout. A
        failure answers 200 with ``success: false`` and the classified cause."""
        return Response(check_connection(AI, **validated(OpenAIConnectionTest, request.data)))
