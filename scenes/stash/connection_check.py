"""The Stash connection test of the settings page (registered with settings_app)."""

import logging
from typing import Any

from settings_app.connections import failure, saved_if_masked
from settings_app.registry import get_setting, http_url
from settings_app.secrets import SECRET_MASK

from .client import StashClient
from .errors import StashAuthError, StashError, StashNotStash, StashUnreachable

logger = logging.getLogger("stashhog.settings")

STASH_READY = "OK"


def _stash_reason(exc: StashError) -> tuple[str, str]:
    """(reason, message); a query error is summarised, since it quotes the target."""
    if isinstance(exc, StashUnreachable):
        return "unreachable", exc.message
    if isinstance(exc, StashAuthError):
        return "auth", exc.message
    if isinstance(exc, StashNotStash):
        return "not_stash", exc.message
    return "rejected", "Stash rejected the version query; is this a supported Stash version?"


def check_stash(*, timeout: float, url: str | None = None,
                api_key: str | None = SECRET_MASK) -> dict[str, Any]:
    """Ask Stash for its version and system status with this URL and key."""
    url = http_url(url or get_setting("stash_url"))
    api_key = saved_if_masked(api_key, "stash_api_key", url)
    with StashClient(url, api_key, timeout=timeout, retries=0) as client:
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
            return failure("Stash", *_stash_reason(exc), api_key)
        except (KeyError, TypeError):
            return failure(
                "Stash", "not_stash",
                f"{client.base_url} answered, but without Stash's version and status", api_key,
            )
    if result["status"] != STASH_READY:
        not_ready = failure(
            "Stash", "not_ready",
            f"Stash answered but is not ready (status {result['status']}): finish its setup "
            "or database migration first", api_key,
        )
        return {**result, **not_ready}
    logger.info("Stash connection test succeeded: %s %s", result["url"], result["version"])
    return {"success": True, **result}
