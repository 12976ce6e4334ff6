"""Connection tests for the settings page: do these values reach Stash / the AI server?

settings_app knows no client: each app registers the check for the service its client
talks to (in its ``AppConfig.ready``, as job types register with the runner), and the
settings API runs it by name.

Every check makes the server send requests to a URL a user typed, so it is an SSRF
surface: only http(s) URLs (checked by the caller's serializer and again by the check), a
short timeout, no retries, and only a classified error goes back, never what the target
answered. Any value left out is the saved one; the secret mask as an API key also means
the saved key, which is only sent to the origin it was saved for: testing another origin
needs its key (400 naming ``api_key``).
"""

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from settings_app.registry import saved_key_for
from settings_app.secrets import SECRET_MASK, redact, remember

logger = logging.getLogger("stashhog.settings")

CONNECTION_TEST_TIMEOUT = 5.0  # seconds per request
STASH = "stash"  # the services the settings page tests
AI = "openai"

# ``check(timeout=..., **values) -> {"success": bool, ...}``, by service name.
ConnectionCheck = Callable[..., dict[str, Any]]
CONNECTION_CHECKS: dict[str, ConnectionCheck] = {}


def register_connection_check(service: str, check: ConnectionCheck) -> None:
    if service in CONNECTION_CHECKS:
        raise ImproperlyConfigured(f"A connection check for {service!r} is already registered")
    CONNECTION_CHECKS[service] = check


def check_connection(service: str, **values: Any) -> dict[str, Any]:
    """Run the check registered for ``service`` with the values the user typed."""
    return CONNECTION_CHECKS[service](timeout=CONNECTION_TEST_TIMEOUT, **values)


def saved_if_masked(api_key: str | None, key: str, url: str | None) -> str | None:
    """The saved secret ``key`` when the user sent the mask back (only if ``url`` has the
    origin it was saved for, else InvalidInput naming ``api_key``), else what they typed."""
    if api_key == SECRET_MASK:
        return saved_key_for(key, url, "api_key")
    remember(api_key)  # a key typed in for the test is masked in logs like a saved one
    return api_key


def failure(service: str, reason: str, error: str, secret: str | None) -> dict[str, Any]:
    """A failed check's answer, logged; ``secret`` is masked in both."""
    error = redact(error, (secret,) if secret else ())
    logger.warning("%s connection test failed (%s): %s", service, reason, error)
    return {"success": False, "reason": reason, "error": error}
