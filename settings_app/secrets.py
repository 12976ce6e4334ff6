"""Keeping secrets out of text that leaves the process: job errors, logs, exceptions."""

import logging
import re
from collections.abc import Iterable

# What stands for a secret wherever one would show: API reads, logs, error messages.
SECRET_MASK = "********"

# Stash puts its API key into stream URLs as ?apikey=...; HTTP clients may echo headers.
_SECRET_PATTERNS = [
    (re.compile(r"(apikey=)[^&\s'\"]+", re.IGNORECASE), rf"\g<1>{SECRET_MASK}"),
    (re.compile(r"(ApiKey:\s*)\S+", re.IGNORECASE), rf"\g<1>{SECRET_MASK}"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.IGNORECASE), rf"\g<1>{SECRET_MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), f"sk-{SECRET_MASK}"),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret value and secret-looking token masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, SECRET_MASK)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def current_secrets() -> tuple[str, ...]:
    """The secret values configured right now (database or environment)."""
    from settings_app.registry import REGISTRY, effective_settings

    values = effective_settings()
    return tuple(values[key] for key, spec in REGISTRY.items() if spec.secret and values[key])


class RedactSecretsFilter(logging.Filter):
    """Masks secret-looking tokens in every log line (pattern-based: no database access)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
