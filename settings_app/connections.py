"""Connection tests for the settings page: do these values reach Stash / the AI server?

Both make the server send requests to a URL a user typed, so they are an SSRF surface: only
http(s) URLs (checked by the caller's serializer and again here), a short timeout, no
retries, and only a classified error goes back, never what the target answered.

Any value left out is the saved one; the secret mask as an API key also means the saved key.
"""

import logging

from analysis.ai import AIAuthError, AIClient, AIConfig, AIError, AIModelNotFound, AIUnreachable
from scenes.stash import (
    StashAuthError,
    StashClient,
    StashError,
    StashNotStash,
    StashUnreachable,
)
from settings_app.registry import SECRET_MASK, get_setting, http_url
from settings_app.secrets import redact

logger = logging.getLogger("stashhog.settings")

CONNECTION_TEST_TIMEOUT = 5.0  # seconds per request
STASH_READY = "OK"


def _saved_if_masked(api_key: str | None, key: str) -> str | None:
    return get_setting(key) if api_key == SECRET_MASK else api_key


def _failure(service: str, reason: str, error: str, secret: str | None) -> dict:
    error = redact(error, (secret,) if secret else ())
    logger.warning("%s connection test failed (%s): %s", service, reason, error)
    return {"success": False, "reason": reason, "error": error}


def _stash_reason(exc: StashError) -> tuple[str, str]:
    """(reason, message); a query error is summarised, since it quotes the target."""
    if isinstance(exc, StashUnreachable):
        return "unreachable", exc.message
    if isinstance(exc, StashAuthError):
        return "auth", exc.message
    if isinstance(exc, StashNotStash):
        return "not_stash", exc.message
    return "rejected", "Stash rejected the version query; is this a supported Stash version?"


def check_stash(url: str | None = None, api_key: str | None = SECRET_MASK) -> dict:
    """Ask Stash for its version and system status with this URL and key."""
    url = http_url(url or get_setting("stash_url"))
    api_key = _saved_if_masked(api_key, "stash_api_key")
    with StashClient(url, api_key, timeout=CONNECTION_TEST_TIMEOUT, retries=0) as client:
        try:
            info = client.server_info()
            version, status = info["version"], info["system_status"]
            result = {
                "url": client.base_url,
                "version": version["version"],
                "build_hash": version["hash"],
                "status": status["status"],
                "database_schema": status.get("databaseSchema"),
            }
        except StashError as exc:
            return _failure("Stash", *_stash_reason(exc), api_key)
        except (KeyError, TypeError):
            return _failure(
                "Stash", "not_stash",
                f"{client.base_url} answered, but without Stash's version and status", api_key,
            )
    if result["status"] != STASH_READY:
        failure = _failure(
            "Stash", "not_ready",
            f"Stash answered but is not ready (status {result['status']}): finish its setup "
            "or database migration first", api_key,
        )
        return {**result, **failure}
    logger.info("Stash connection test succeeded: %s %s", result["url"], result["version"])
    return {"success": True, **result}


def _ai_reason(exc: AIError) -> tuple[str, str]:
    """(reason, message); an unclassified error is summarised, since it quotes the target."""
    if isinstance(exc, AIAuthError):
        return "auth", exc.message
    if isinstance(exc, AIModelNotFound):
        return "unknown_model", exc.message
    if isinstance(exc, AIUnreachable):
        return "unreachable", exc.message
    status = getattr(exc.__cause__, "status_code", None)
    answered = f" (HTTP {status})" if status else ""
    return "error", (
        f"The AI server answered with an error{answered}; check that the base URL points at "
        "an OpenAI-compatible API"
    )


def check_openai(
    api_key: str | None = SECRET_MASK, model: str | None = None, base_url: str | None = None
) -> dict:
    """Check the model exists on the AI server and answers a one-token request."""
    base_url = base_url or get_setting("openai_base_url")
    config = AIConfig(
        base_url=http_url(base_url) if base_url else None,
        api_key=_saved_if_masked(api_key, "openai_api_key"),
        model=model or get_setting("openai_model"),
        timeout=CONNECTION_TEST_TIMEOUT,
        max_retries=0,
    )
    try:
        with AIClient(config) as client:
            found = client.check_model()
    except AIError as exc:
        return {**_failure("AI", *_ai_reason(exc), config.api_key), "model": config.model}
    logger.info("AI connection test succeeded: model %s", found["model"])
    return {"success": True, **found}
