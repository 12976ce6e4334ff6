"""The StashHog exception hierarchy.

Services raise these; each class says what went wrong, never how HTTP spells it: the one
exception handler (``stashhog.api.errors``) maps each kind to its status and the error
envelope. Messages must be safe to show a user: never put a secret (API key, stream URL)
into one.
"""


class StashHogException(Exception):
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, detail=None):
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)


class InvalidInput(StashHogException):
    default_message = "Invalid input"


class NotFound(StashHogException):
    default_message = "Not found"


class Conflict(StashHogException):
    default_message = "Conflict"


class UpstreamUnavailable(StashHogException):
    """A service StashHog depends on (Stash, the AI server) failed or could not be reached."""

    default_message = "Upstream service unavailable"


class ServiceUnavailable(StashHogException):
    """StashHog itself cannot serve the request right now (its database is locked by a
    writer, its job queue is unreachable); the same request may succeed after
    ``retry_after`` seconds, which the answer's ``Retry-After`` header carries."""

    default_message = "Service temporarily unavailable"

    def __init__(self, message: str | None = None, detail=None, retry_after: int = 5):
        super().__init__(message, detail)
        self.retry_after = retry_after
