"""The AI server connection test of the settings page (registered with settings_app)."""

import logging
from typing import Any

from settings_app.connections import failure, saved_if_masked
from settings_app.registry import get_setting, http_url
from settings_app.secrets import SECRET_MASK

from .client import AIClient, AIConfig
from .errors import AIAuthError, AIError, AIModelNotFound, AINotOpenAI, AIUnreachable

logger = logging.getLogger("stashhog.settings")


def _ai_reason(exc: AIError) -> tuple[str, str]:
    """(reason, message); an unclassified error is summarised, since it quotes the target."""
    if isinstance(exc, AIAuthError):
        return "auth", exc.message
    if isinstance(exc, AIModelNotFound):
        return "unknown_model", exc.message
    if isinstance(exc, AIUnreachable):
        return "unreachable", exc.message
    if isinstance(exc, AINotOpenAI):
        return "not_openai", exc.message
    status = getattr(exc.__cause__, "status_code", None)  # what the AI server answered
    answered = f" (HTTP {status})" if status else ""
    return "error", (
        f"The AI server answered with an error{answered}; check that the base URL points at "
        "an OpenAI-compatible API"
    )


def check_openai(*, timeout: float, api_key: str | None = SECRET_MASK, model: str | None = None,
                 base_url: str | None = None) -> dict[str, Any]:
    """Check the model exists on the AI server and answers a one-token request."""
    base_url = base_url or get_setting("openai_base_url")
    config = AIConfig(
        base_url=http_url(base_url) if base_url else None,
        api_key=saved_if_masked(api_key, "openai_api_key", base_url),
        model=model or get_setting("openai_model"),
        timeout=timeout,
        max_retries=0,
    )
    try:
        with AIClient(config) as client:
            found = client.check_model()
    except AIError as exc:
        return {**failure("AI", *_ai_reason(exc), config.api_key), "model": config.model}
    logger.info("AI connection test succeeded: model %s", found["model"])
    return {"success": True, **found}
