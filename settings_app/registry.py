"""Every runtime-editable setting, in one place.

Each key has a type, a default, the environment variable that can set it, a description
and whether it is secret. The effective value is: the database (``Setting`` row) over the
environment over the default. ``get_setting`` is the only reader; there is no second loader.

It reads the database on every call (one indexed row), so a change made through the API or
the admin takes effect for the next job and request in every process, with no restart.

A secret key is bound to the origin (scheme, host, port) of its URL setting when it was
saved (``SettingSpec.url_key``; a key from the environment, to the environment's URL): the
reader gives no key while the URL names another origin, so a saved key never travels to a
server it was not saved for, whichever way the URL changed.
"""

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlparse

from settings_app.secrets import SECRET_MASK, remember
from stashhog.api.exceptions import InvalidInput
from stashhog.booleans import parse_bool

STRING_LIMIT = 2048  # characters, for every text setting (URLs, keys, model names)
MAX_PRICE = 10_000  # USD per 1M tokens
# What an unset ``openai_base_url`` means: OpenAI itself.
OPENAI_API_URL = "https://api.openai.com/v1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def http_url(value: str) -> str:
    """An http(s) URL with a host and nothing that would carry a credential: no
    ``user:password@`` and no query string (they would show in every answer and log)."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an http(s) URL")
    if "@" in parsed.netloc:
        raise ValueError("must not contain a user name or password; put keys in the key setting")
    if parsed.query or parsed.fragment or value.rstrip().endswith(("?", "#")):
        raise ValueError("must not contain a query string or fragment")
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError("must have a valid port")
    return value.rstrip("/")


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port spelled out: what a saved key is bound to."""
    parsed = urlparse(url)
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    return f"{parsed.scheme}://{parsed.hostname}:{port}"


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


PRICE_KEYS = {"prompt", "completion"}
OPTIONAL_PRICE_KEYS = {"cached_prompt"}  # prompt tokens read from the server's cache


def price_table(value: dict[str, Any]) -> dict[str, Any]:
    for model, prices in value.items():
        if not isinstance(prices, dict) or not PRICE_KEYS <= set(prices) <= (
                PRICE_KEYS | OPTIONAL_PRICE_KEYS):
            raise ValueError(
                f"price of {model}: expected {{'prompt': <USD/1M>, 'completion': <USD/1M>}} "
                "and optionally 'cached_prompt': <USD/1M>"
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
    url_key: str | None = None  # a secret: the URL setting whose origin the key is bound to

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
                env="STASH_API_KEY", secret=True, nullable=True, validate=header_safe,
                url_key="stash_url"),
    SettingSpec("openai_api_key", str, None, "API key of the OpenAI-compatible server.",
                env="OPENAI_API_KEY", secret=True, nullable=True, validate=header_safe,
                url_key="openai_base_url"),
    SettingSpec("openai_base_url", str, None,
                "Base URL of an OpenAI-compatible API (empty: OpenAI itself), e.g. "
                "http://localhost:11434/v1 for Ollama.", env="OPENAI_BASE_URL", nullable=True,
                validate=http_url),
    SettingSpec("openai_model", str, "gpt-4o-mini", "Model used for AI proposals.",
                env="OPENAI_MODEL", validate=non_empty),
    SettingSpec("ai_prices", dict, {}, "Price overrides, USD per 1M tokens: "
                '{"model": {"prompt": 0.15, "cached_prompt": 0.075, "completion": 0.6}} '
                "(cached_prompt: prompt tokens the server served from its prompt cache; "
                "default: the prompt price); merged over the built-in table.",
                env="STASHHOG_AI_PRICES", validate=price_table),
    SettingSpec("ai_concurrency", int, 4, "AI requests in flight at once per analysis chunk.",
                env="STASHHOG_AI_CONCURRENCY", minimum=1, maximum=64),
    SettingSpec("ai_batch_size", int, 8,
                "Scenes per AI request: the instructions and candidate list are sent once "
                "per request, so larger batches cost fewer tokens per scene.",
                env="STASHHOG_AI_BATCH_SIZE", minimum=1, maximum=32),
    SettingSpec("analysis_chunk_size", int, 500,
                "Scenes per chunk of an AI analysis; the chunks run on every worker of the "
                "'ai' queue.", env="STASHHOG_ANALYSIS_CHUNK_SIZE", minimum=10, maximum=5000),
    SettingSpec("analysis_confidence_threshold", float, 0.5,
                "Proposals below this confidence are dropped.",
                env="STASHHOG_CONFIDENCE_THRESHOLD", minimum=0, maximum=1),
    SettingSpec("analysis_auto_accept_threshold", float, None,
                "Proposals at or above this confidence start accepted (empty: off).",
                env="STASHHOG_AUTO_ACCEPT_THRESHOLD", nullable=True, minimum=0, maximum=1),
    SettingSpec("analysis_use_ai", bool, False, "Ask the AI for proposals by default.",
                env="STASHHOG_USE_AI"),
    SettingSpec("analysis_use_stashbox", bool, False,
                "Identify scenes on a stash-box Stash is configured for, by default.",
                env="STASHHOG_USE_STASHBOX"),
    SettingSpec("analysis_create_missing", bool, False,
                "Propose studios, performers and tags that Stash does not have yet.",
                env="STASHHOG_CREATE_MISSING"),
    SettingSpec("analysis_skip_settled", bool, True,
                "Ask the AI only for the fields a scene's path proposals leave open (above "
                "the confidence threshold); a scene with none open is not sent at all.",
                env="STASHHOG_SKIP_SETTLED"),
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


def environment_value(spec: SettingSpec) -> Any:
    raw = os.environ.get(spec.env, "") if spec.env else ""
    if not raw.strip():
        return spec.default
    try:
        return spec.clean(spec.parse_env(raw))
    except (ValueError, TypeError):
        return spec.default


# (value, origin) of stored rows, by key
Stored = dict[str, tuple[Any, str]]


def _stored(keys: Iterable[str]) -> Stored:
    """(value, origin) of the ``Setting`` rows of ``keys``."""
    from settings_app.models import Setting

    rows = Setting.objects.filter(key__in=list(keys)).values_list("key", "value", "origin")
    return {key: (value, bound_origin) for key, value, bound_origin in rows}


def _value(spec: SettingSpec, stored: Stored) -> Any:
    value = stored[spec.key][0] if spec.key in stored else environment_value(spec)
    if spec.secret:
        remember(value)  # masked in this process's logs from now on
    return value


def url_origin(url: str | None) -> str:
    return origin(url or OPENAI_API_URL)  # only openai_base_url may be unset


def _saved_origin(spec: SettingSpec, stored: Stored) -> str:
    """The origin ``spec``'s key was saved for (from the environment: the environment's URL)."""
    if spec.key in stored:
        return stored[spec.key][1]
    return url_origin(environment_value(REGISTRY[str(spec.url_key)]))


def _effective(spec: SettingSpec, stored: Stored) -> Any:
    value = _value(spec, stored)
    if spec.url_key and value is not None:
        url = _value(REGISTRY[spec.url_key], stored)
        if url_origin(url) != _saved_origin(spec, stored):
            return None  # the key was saved for another origin: it is not sent here
    return value


def _keys_needed(spec: SettingSpec) -> list[str]:
    return [spec.key, spec.url_key] if spec.url_key else [spec.key]


def get_setting(key: str) -> Any:
    """The effective value of ``key``: database, else environment, else default; a key
    whose URL setting names another origin than the one it was saved for reads as None."""
    spec = _spec(key)
    return _effective(spec, _stored(_keys_needed(spec)))


def effective_settings() -> dict[str, Any]:
    """Every registered key with its effective value (secrets in clear: callers mask)."""
    stored = _stored(REGISTRY)
    return {key: _effective(spec, stored) for key, spec in REGISTRY.items()}


def saved_key_for(key: str, url: str | None, field: str) -> str | None:
    """The saved secret ``key``, to be sent to ``url``: only when ``url`` has the origin the
    key was saved for; otherwise InvalidInput naming ``field`` (the caller must give a key)."""
    spec = _spec(key)
    stored = _stored(_keys_needed(spec))
    value = _effective(spec, stored)
    saved_for = _saved_origin(spec, stored)
    if value is not None and url_origin(url) != saved_for:
        raise InvalidInput("Invalid input", detail={field: [
            f"The saved key is only sent to {saved_for}; give the key for "
            f"{url_origin(url)} (or null for none)."
        ]})
    return str(value) if value is not None else None


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
        if spec.secret and isinstance(value, str):
            remember(value.strip())
        try:
            cleaned[key] = spec.clean(value)
        except ValueError as exc:
            problems[key] = [problem_message(exc)]
    if problems:
        raise InvalidInput("Invalid settings", detail=problems)
    return cleaned


def _keys_left_behind(cleaned: dict[str, Any]) -> dict[str, list[str]]:
    """Problems of a URL moved to another origin while its saved key would stay behind."""
    problems = {}
    for spec in REGISTRY.values():
        if not spec.url_key or spec.url_key not in cleaned or spec.key in cleaned:
            continue
        stored = _stored(_keys_needed(spec))
        saved_for = _saved_origin(spec, stored)
        moved_to = url_origin(cleaned[spec.url_key])
        if _effective(spec, stored) is not None and moved_to != saved_for:
            problems[spec.key] = [
                f"The saved key belongs to {saved_for}; send the key for {moved_to} with the "
                "new URL (or null for none)."
            ]
    return problems


def binding_origin(key: str, value: Any) -> str:
    """The origin a ``Setting`` row of ``key`` saved now with ``value`` is bound to: the
    same as before while the key is unchanged (re-saving never re-binds it), else the origin
    its URL setting has now; "" for settings that are not bound keys."""
    spec = REGISTRY.get(key)
    if spec is None or not spec.url_key:
        return ""
    stored = _stored(_keys_needed(spec))
    if key in stored and stored[key][0] == value:
        return stored[key][1]
    return url_origin(_value(REGISTRY[spec.url_key], stored))


def save_settings(changes: dict[str, Any]) -> None:
    """Validate then store all changes in one transaction. Moving a URL setting to another
    origin needs its key again (400 naming the key), never carries the saved one along."""
    from django.db import transaction

    from settings_app.models import Setting

    cleaned = validate_changes(changes)
    if problems := _keys_left_behind(cleaned):
        raise InvalidInput("Invalid settings", detail=problems)
    with transaction.atomic():
        # URLs before the keys bound to them (a key binds to its URL as stored).
        for key in sorted(cleaned, key=lambda key: REGISTRY[key].url_key is not None):
            if REGISTRY[key].url_key:  # a key sent now binds to the URL now, even if unchanged
                Setting.objects.filter(key=key).delete()
            Setting.objects.update_or_create(key=key, defaults={"value": cleaned[key]})
