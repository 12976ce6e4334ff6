"""Every runtime-editable setting, in one place.

Each key has a type, a default, the environment variable that can set it, a description
and whether it is secret. The effective value is: the database (``Setting`` row) over the
environment over the default. ``get_setting`` is the only reader; there is no second loader.

It reads the database on every call (one indexed row), so a change made through the API or
the admin takes effect for the next job and request in every process, with no restart.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlparse

from settings_app.secrets import SECRET_MASK
from stashhog.api.exceptions import InvalidInput
from stashhog.booleans import parse_bool

STRING_LIMIT = 2048  # characters, for every text setting (URLs, keys, model names)
MAX_PRICE = 10_000  # USD per 1M tokens


def http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


def non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def header_safe(value: str) -> str:
    """API keys travel in HTTP headers, which take printable ASCII only."""
    value = value.strip()
    if not all("!" <= char <= "~" for char in value):
        raise ValueError("must be printable ASCII without spaces")
    return value


def price_table(value: dict[str, Any]) -> dict[str, Any]:
    for model, prices in value.items():
        if not isinstance(prices, dict) or set(prices) != {"prompt", "completion"}:
            raise ValueError(
                f"price of {model}: expected {{'prompt': <USD/1M>, 'completion': <USD/1M>}}"
            )
        for price in prices.values():
            if (not isinstance(price, int | float) or isinstance(price, bool)
                    or not 0 <= price <= MAX_PRICE):
                raise ValueError(f"price of {model}: must be numbers from 0 to {MAX_PRICE}")
    return value


def apprise_urls(value: str) -> str:
    """One or more Apprise URLs (ntfy://, discord://, mailto://, json://, ...)."""
    import apprise

    urls = value.replace(",", " ").split()
    for url in urls:
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.split("://", 1)[0] if "://" in url else url[:0]
            raise ValueError(f"not a notification URL Apprise knows ({scheme or 'no'}://...)")
    return " ".join(urls)


NOTIFY_EVENTS = ("job_failed", "plan_ready_for_review", "budget_reached", "workflow_finished")


def notify_events(value: list[str]) -> list[str]:
    unknown = [event for event in value if event not in NOTIFY_EVENTS]
    if unknown or not all(isinstance(event, str) for event in value):
        raise ValueError(f"events are some of: {', '.join(NOTIFY_EVENTS)}")
    return value


@dataclass(frozen=True)
class SettingSpec:
    key: str
    type: type
    default: Any
    description: str
    env: str | None = None
    secret: bool = False
    nullable: bool = False
    validate: Callable[[Any], Any] | None = None
    # The range of a number setting, both ends included; every number setting has one.
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type in (int, float) and (self.minimum is None or self.maximum is None):
            raise TypeError(f"setting {self.key}: a number setting needs minimum and maximum")

    def parse_env(self, raw: str) -> Any:
        if self.type is bool:
            return parse_bool(raw)
        if self.type is dict:
            return json.loads(raw)
        if self.type is list:
            return [item.strip() for item in raw.split(",") if item.strip()]
        return self.type(raw)

    def clean(self, value: Any) -> Any:
        """The value as stored, or ValueError with a user-facing reason."""
        if self.secret and isinstance(value, str) and not value.strip():
            value = None  # an empty key is no key
        if value is None:
            if self.nullable or self.secret:
                return None
            raise ValueError("must not be null")
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise ValueError(f"must be of type {self.type.__name__}")
        if (self.minimum is not None and self.maximum is not None
                and not self.minimum <= cast(float, value) <= self.maximum):
            raise ValueError(f"must be between {self.minimum:g} and {self.maximum:g}")
        if self.type is str and len(cast(str, value)) > STRING_LIMIT:
            raise ValueError(f"must be at most {STRING_LIMIT} characters")
        return self.validate(value) if self.validate else value


SETTINGS = [
    SettingSpec("stash_url", str, "http://localhost:9999", "Base URL of the Stash server.",
                env="STASH_URL", validate=http_url),
    SettingSpec("stash_api_key", str, None, "Stash API key (Settings > Security in Stash).",
                env="STASH_API_KEY", secret=True, nullable=True, validate=header_safe),
    SettingSpec("openai_api_key", str, None, "API key of the OpenAI-compatible server.",
                env="OPENAI_API_KEY", secret=True, nullable=True, validate=header_safe),
    SettingSpec("openai_base_url", str, None,
                "Base URL of an OpenAI-compatible API (empty: OpenAI itself), e.g. "
                "http://localhost:11434/v1 for Ollama.", env="OPENAI_BASE_URL", nullable=True,
                validate=http_url),
    SettingSpec("openai_model", str, "gpt-4o-mini", "Model used for AI proposals.",
                env="OPENAI_MODEL", validate=non_empty),
    SettingSpec("ai_prices", dict, {}, "Price overrides, USD per 1M tokens: "
                '{"model": {"prompt": 0.15, "completion": 0.6}}; merged over the built-in table.',
                env="STASHHOG_AI_PRICES", validate=price_table),
    SettingSpec("ai_concurrency", int, 4, "AI requests in flight at once per analysis job.",
                env="STASHHOG_AI_CONCURRENCY", minimum=1, maximum=64),
    SettingSpec("analysis_confidence_threshold", float, 0.5,
                "Proposals below this confidence are dropped.",
                env="STASHHOG_CONFIDENCE_THRESHOLD", minimum=0, maximum=1),
    SettingSpec("analysis_auto_accept_threshold", float, None,
                "Proposals at or above this confidence start accepted (empty: off).",
                env="STASHHOG_AUTO_ACCEPT_THRESHOLD", nullable=True, minimum=0, maximum=1),
    SettingSpec("analysis_use_ai", bool, False, "Ask the AI for proposals by default.",
                env="STASHHOG_USE_AI"),
    SettingSpec("analysis_create_missing", bool, False,
                "Propose studios, performers and tags that Stash does not have yet.",
                env="STASHHOG_CREATE_MISSING"),
    SettingSpec("analysis_max_cost_usd", float, 5.0,
                "An analysis job stops before its AI cost would exceed this (USD). A request "
                "may ask for less, never more.",
                env="STASHHOG_MAX_COST_USD", minimum=0, maximum=10_000),
    SettingSpec("analysis_max_concurrent_jobs", int, 2,
                "At most this many analysis jobs are active (queued or running) at once; a "
                "request beyond it is refused with 409.",
                env="STASHHOG_MAX_CONCURRENT_ANALYSES", minimum=1, maximum=100),
    SettingSpec("sync_page_size", int, 500, "Scenes fetched from Stash per request.",
                env="STASHHOG_SYNC_PAGE_SIZE", minimum=1, maximum=5000),
    SettingSpec("sync_watermark_overlap_seconds", int, 3 * 3600,
                "Incremental sync re-reads this much before its watermark, to cover clock "
                "and time zone shifts on the Stash server.",
                env="STASHHOG_SYNC_OVERLAP_SECONDS", minimum=0, maximum=7 * 86400),
    SettingSpec("job_heartbeat_timeout_seconds", int, 300,
                "A running job whose heartbeat is older than this is marked failed.",
                env="STASHHOG_JOB_HEARTBEAT_TIMEOUT", minimum=10, maximum=86400),
    SettingSpec("job_retention_days", int, 30, "Finished jobs older than this are deleted.",
                env="STASHHOG_JOB_RETENTION_DAYS", minimum=1, maximum=3650),
    SettingSpec("notify_urls", str, None,
                "Where notifications go: Apprise URLs separated by spaces, e.g. "
                "ntfy://ntfy.sh/my-topic or discord://id/token.", env="STASHHOG_NOTIFY_URLS",
                secret=True, nullable=True, validate=apprise_urls),
    SettingSpec("notify_events", list, list(NOTIFY_EVENTS),
                f"What to notify about: some of {', '.join(NOTIFY_EVENTS)}.",
                env="STASHHOG_NOTIFY_EVENTS", validate=notify_events),
    SettingSpec("hook_analyze", bool, False,
                "Analyse the new or changed scenes that Stash's hooks report, once resynced.",
                env="STASHHOG_HOOK_ANALYZE"),
]
REGISTRY: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}


def _spec(key: str) -> SettingSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown setting {key!r}") from None


def _environment_value(spec: SettingSpec) -> Any:
    raw = os.environ.get(spec.env, "") if spec.env else ""
    if not raw.strip():
        return spec.default
    try:
        return spec.clean(spec.parse_env(raw))
    except (ValueError, TypeError):
        return spec.default


def get_setting(key: str) -> Any:
    """The effective value of ``key``: database, else environment, else default."""
    from settings_app.models import Setting

    spec = _spec(key)
    row = Setting.objects.filter(key=key).values("value").first()
    return row["value"] if row is not None else _environment_value(spec)


def effective_settings() -> dict[str, Any]:
    """Every registered key with its effective value (secrets in clear: callers mask)."""
    from settings_app.models import Setting

    stored = dict(Setting.objects.values_list("key", "value"))
    return {
        key: stored[key] if key in stored else _environment_value(spec)
        for key, spec in REGISTRY.items()
    }


def masked(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (SECRET_MASK if value else None) if REGISTRY[key].secret else value
        for key, value in values.items()
    }


def problem_message(exc: ValueError) -> str:
    """A spec's ValueError as a sentence for the user."""
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Clean every change or raise InvalidInput listing every problem (nothing partial).

    The mask sent back for a secret means "keep the stored value", so it is dropped here.
    """
    if not isinstance(changes, dict):
        raise InvalidInput("Expected a JSON object of setting keys to values")
    problems, cleaned = {}, {}
    for key, value in changes.items():
        spec = REGISTRY.get(key)
        if spec is None:
            problems[key] = ["Unknown setting."]
            continue
        if spec.secret and value == SECRET_MASK:
            continue
        try:
            cleaned[key] = spec.clean(value)
        except ValueError as exc:
            problems[key] = [problem_message(exc)]
    if problems:
        raise InvalidInput("Invalid settings", detail=problems)
    return cleaned


def save_settings(changes: dict[str, Any]) -> None:
    """Validate then store all changes in one transaction."""
    from django.db import transaction

    from settings_app.models import Setting

    cleaned = validate_changes(changes)
    with transaction.atomic():
        for key, value in cleaned.items():
            Setting.objects.update_or_create(key=key, defaults={"value": value})
