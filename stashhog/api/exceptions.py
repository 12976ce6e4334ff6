"""The StashHog exception hierarchy.

Services raise these; each class says what went wrong, never how HTTP spells it: the one
exception handler (``stashhog.api.errors``) maps each kind to its status and the error
envelope. Messages must be safe to show a user: never put a secret (API key, stream URL)
into one.

``code`` is the machine-readable reason clients branch on (the envelope's ``code``). A
subclass that means something a client may act on gets its own code, with a docstring
whose first paragraph says when: the schema and the README list every code (see
``stashhog.api.errors.error_codes``).
"""


class StashHogException(Exception):
    """Something failed inside StashHog (the log has it, under the request id)."""

    code = "server_error"
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, detail=None):
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)


class InvalidInput(StashHogException):
    """The request is invalid; ``detail`` lists the problems by field."""

    code = "validation_error"
    default_message = "Invalid input"


class NotFound(StashHogException):
    """Nothing has this id."""

    code = "not_found"
    default_message = "Not found"


class Conflict(StashHogException):
    """The resource's state does not allow this now (e.g. an applied plan or change)."""

    code = "conflict"
    default_message = "Conflict"


class UpstreamUnavailable(StashHogException):
    """A service StashHog depends on (Stash, the AI server) failed or could not be reached."""

    code = "upstream_unavailable"
    default_message = "Upstream service unavailable"


class ServiceUnavailable(StashHogException):
    """StashHog itself cannot serve the request right now (its database is locked by a
    writer, its job queue is unreachable); the same request may succeed after
    ``retry_after`` seconds, which the answer's ``Retry-After`` header carries."""

    code = "service_unavailable"
    default_message = "Service temporarily unavailable"

    def __init__(self, message: str | None = None, detail=None, retry_after: int = 5):
        super().__init__(message, detail)
        self.retry_after = retry_after
