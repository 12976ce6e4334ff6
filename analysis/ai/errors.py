"""Errors raised by the AI client; all are upstream failures (``UpstreamUnavailable``).

Messages are shown to users and recorded on plans and jobs, so they never contain the key.
"""

from stashhog.api.exceptions import UpstreamUnavailable


class AIError(UpstreamUnavailable):
    """The AI server failed, refused the key, lacks the model, or could not be reached."""

    code = "ai_unavailable"
    default_message = "The AI server failed"


class AIAuthError(AIError):
    default_message = "The AI server rejected the API key"


class AIModelNotFound(AIError):
    default_message = "The configured model does not exist on the AI server"


class AINotOpenAI(AIError):
    """The server answered, but not like an OpenAI-compatible API (e.g. HTML with 200)."""

    default_message = ("The AI server answered, but not as an OpenAI-compatible API; check "
                       "that the base URL points at one (e.g. ends in /v1)")


class AIUnreachable(AIError):
    default_message = "Could not reach the AI server"


class AIRequestTooLong(AIError):
    """The server refused the request as longer than the model's context: fewer scenes per
    request may fit."""

    default_message = "The request is longer than the model's context"


class AIOutputInvalid(AIError):
    """The model answered, but not with JSON matching the schema.

    Carries the usage so the call's cost is still recorded, and the raw content for diagnosis.
    """

    default_message = "The AI answer did not match the expected format"

    def __init__(
        self,
        message: str | None = None,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        model: str,
        content: str | None,
        cached_tokens: int = 0,
    ):
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.cached_tokens = cached_tokens
        self.model = model
        self.content = content
