"""Keeping secrets out of text that leaves the process: job errors, logs, exceptions.

Two nets: patterns for anything shaped like a credential, and the secret values themselves.
Every secret value reaches a process through the settings registry (its one reader), which
``remember``s it here; so each process masks every key it has ever held, without reading
the database from inside a log call.
"""

import logging
import re
import threading
from collections.abc import Iterable

# What stands for a secret wherever one would show: API reads, logs, error messages.
SECRET_MASK = "********"
_REMEMBERED_LIMIT = 64  # keys typed into connection tests count too; keep the newest
_SECRET_PATTERNS = [
    # Stash puts its API key into stream URLs as ?apikey=...; JSON and forms spell api_key.
    (re.compile(r"""(\bapi[_-]?key["']?\s*[:=]\s*["']?)[^"'&\s,;}]+""", re.IGNORECASE),
     rf"\g<1>{SECRET_MASK}"),
    # HTTP clients may echo headers: Stash's ApiKey, bearer and DRF token credentials.
    (re.compile(r"(ApiKey:\s*)\S+", re.IGNORECASE), rf"\g<1>{SECRET_MASK}"),
    (re.compile(r"(\b(?:Bearer|Token)\s+)[A-Za-z0-9._\-]{8,}", re.IGNORECASE),
     rf"\g<1>{SECRET_MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), f"sk-{SECRET_MASK}"),
    # user:password@ in a URL
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE),
     rf"\g<1>{SECRET_MASK}@"),
]

_remembered: dict[str, None] = {}  # an ordered set
_remembered_lock = threading.Lock()


def remember(secret: str | None) -> None:
    """Mask ``secret`` in this process's logs from now on."""
    if not secret or len(secret) < 4:
        return
    with _remembered_lock:
        _remembered.pop(secret, None)
        _remembered[secret] = None
        while len(_remembered) > _REMEMBERED_LIMIT:
            _remembered.pop(next(iter(_remembered)))


def remembered() -> tuple[str, ...]:
    with _remembered_lock:
        return tuple(_remembered)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret value and secret-looking token masked."""
    values = {secret for secret in (*secrets, *remembered()) if secret and len(secret) >= 4}
    for secret in sorted(values, key=len, reverse=True):  # a key containing another: whole
        text = text.replace(secret, SECRET_MASK)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def current_secrets() -> tuple[str, ...]:
    """The secret values configured right now (database or environment)."""
    from settings_app.registry import REGISTRY, effective_settings

    values = effective_settings()
    return tuple(values[key] for key, spec in REGISTRY.items() if spec.secret and values[key])


class RedactingFormatter(logging.Formatter):
    """Formats the whole record (message, traceback with its chained exceptions, stack),
    then masks secrets in the result: nothing reaches a log line unmasked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
