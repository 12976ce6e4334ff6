"""Request and response shapes of the settings API.

The settings object is described field by field from the registry, so the schema always
lists every registered key with its type. Values themselves are checked by the registry
(``validate_changes``), which is stricter than DRF's coercion ("5" is not an int).
"""

from typing import Any

from rest_framework import serializers

from settings_app.registry import (
    REGISTRY,
    STRING_LIMIT,
    SettingSpec,
    header_safe,
    http_url,
    problem_message,
)
from settings_app.secrets import SECRET_MASK
from stashhog.api.validation import NoUnknownKeysMixin

_FIELD_FOR_TYPE = {
    str: serializers.CharField,
    int: serializers.IntegerField,
    float: serializers.FloatField,
    bool: serializers.BooleanField,
    dict: serializers.DictField,
    list: lambda **kwargs: serializers.ListField(child=serializers.CharField(), **kwargs),
}
SECRET_HELP = (
    f' Secret: reads return "{SECRET_MASK}" when set and null when not; write the mask back '
    "to keep the stored value, null to clear it. A key is bound to the origin of its URL "
    "setting when saved: moving the URL to another origin needs the key again (400)."
)


def _bounds(spec: SettingSpec) -> dict:
    """The spec's range, for the schema (the registry enforces it)."""
    if spec.type is str:
        return {"max_length": STRING_LIMIT}
    if spec.minimum is not None:
        return {"min_value": spec.minimum, "max_value": spec.maximum}
    return {}


def _setting_field(spec: SettingSpec, *, for_request: bool) -> serializers.Field:
    field_class: Any = _FIELD_FOR_TYPE[spec.type]
    return field_class(
        required=not for_request,
        allow_null=spec.nullable or spec.secret,
        help_text=spec.description + (SECRET_HELP if spec.secret else ""),
        **_bounds(spec),
    )


def _settings_serializer(name: str, *, for_request: bool) -> type[serializers.Serializer]:
    fields = {
        key: _setting_field(spec, for_request=for_request) for key, spec in REGISTRY.items()
    }
    # A request's unknown key is an error (the registry says so); the schema says it too.
    bases = (NoUnknownKeysMixin, serializers.Serializer) if for_request else (
        serializers.Serializer,)
    return type(name, bases, fields)


Settings = _settings_serializer("Settings", for_request=False)
SettingsUpdate = _settings_serializer("SettingsUpdate", for_request=True)


def _registry_validator(check):
    """A registry check as a DRF validator, with the registry's wording."""

    def validate(value):
        try:
            check(value)
        except ValueError as exc:
            raise serializers.ValidationError(problem_message(exc))

    return validate


_http_url = _registry_validator(http_url)
_header_safe = _registry_validator(header_safe)


API_KEY_HELP = (
    f'Left out or "{SECRET_MASK}": the saved key, which is only sent to the origin (scheme, '
    "host, port) it was saved for: 400 for a URL of another origin. Null or empty: no key."
)


class StashConnectionTest(NoUnknownKeysMixin, serializers.Serializer):
    url = serializers.CharField(
        required=False, validators=[_http_url], help_text="Left out: the saved Stash URL."
    )
    api_key = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[_header_safe],
        help_text=API_KEY_HELP,
    )


class OpenAIConnectionTest(NoUnknownKeysMixin, serializers.Serializer):
    api_key = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[_header_safe],
        help_text=API_KEY_HELP,
    )
    model = serializers.CharField(required=False, help_text="Left out: the saved model.")
    base_url = serializers.CharField(
        required=False,
        validators=[_http_url],
        help_text="Left out: the saved base URL (none saved: OpenAI itself).",
    )


REASON_HELP = "Why it failed, for programs; ``error`` says it for people."


class _ConnectionResult(serializers.Serializer):
    success = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Set when ``success`` is false.")


class StashConnectionResult(_ConnectionResult):
    reason = serializers.ChoiceField(
        choices=["unreachable", "auth", "not_stash", "rejected", "not_ready"],
        required=False,
        help_text=REASON_HELP,
    )
    url = serializers.CharField(required=False)
    version = serializers.CharField(required=False, allow_null=True)
    build_hash = serializers.CharField(required=False)
    status = serializers.CharField(required=False, help_text="Stash's systemStatus.status.")
    database_schema = serializers.IntegerField(required=False, allow_null=True)


class OpenAIConnectionResult(_ConnectionResult):
    reason = serializers.ChoiceField(
        choices=["auth", "unknown_model", "unreachable", "not_openai", "error"],
        required=False,
        help_text=REASON_HELP,
    )
    model = serializers.CharField(required=False)
    owned_by = serializers.CharField(required=False)
