"""Errors raised by the Stash client.

Every one is an ``UpstreamUnavailable``: Stash failed, whatever a caller makes of that.
Messages are shown to users, so they name the Stash base URL only after ``safe_url`` has
stripped credentials and query strings, and they never carry the API key.
"""

from urllib.parse import urlsplit, urlunsplit

from stashhog.api.exceptions import UpstreamUnavailable


class StashError(UpstreamUnavailable):
    """Stash failed, refused the key, or could not be reached."""

    code = "stash_unavailable"
    default_message = "Stash request failed"


class StashUnreachable(StashError):
    """Connection refused, timed out or answered 5xx, after all retries."""

    default_message = "Stash could not be reached"


class StashAuthError(StashError):
    """Stash answered 401/403."""

    default_message = "Stash refused the API key"


class StashQueryError(StashError):
    """Stash answered with GraphQL errors."""

    default_message = "Stash rejected the request"


class StashNotStash(StashError):
    """The URL answered, but not like a Stash GraphQL endpoint (404, HTML, redirect...)."""

    default_message = "The URL does not look like a Stash server"


def safe_url(url: str) -> str:
    """``url`` without user info, query string or fragment, fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
