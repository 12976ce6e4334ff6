"""What an analysis run looks for: the caller's options over the effective settings.

The API's serializer validates what the caller sent; ``AnalysisOptions.resolve`` fills in
the rest. Options are resolved once, when the job is requested, and travel with the job's
parameters, so a settings change while a job waits does not alter what it was asked to do.
"""

from dataclasses import asdict, dataclass
from typing import Any

from analysis.fields import SCENE_FIELDS, SceneField
from settings_app import get_setting

# Option -> the setting giving its default.
SETTING_DEFAULTS = {
    "use_ai": "analysis_use_ai",
    "create_missing": "analysis_create_missing",
    "confidence_threshold": "analysis_confidence_threshold",
    "auto_accept_threshold": "analysis_auto_accept_threshold",
    "max_cost_usd": "analysis_max_cost_usd",
}


@dataclass(frozen=True)
class AnalysisOptions:
    use_ai: bool
    create_missing: bool
    confidence_threshold: float
    auto_accept_threshold: float | None
    max_cost_usd: float
    # The SCENE_FIELDS names to propose. Outside, each is a switch named by its field's
    # ``option`` ("detect_tags"), on unless turned off.
    fields: frozenset[str] = frozenset(SCENE_FIELDS)

    @classmethod
    def resolve(cls, **requested: Any) -> "AnalysisOptions":
        """The requested (already validated) options over the effective settings."""
        defaults = {name: get_setting(setting) for name, setting in SETTING_DEFAULTS.items()}
        return cls.from_dict({**defaults, **requested})

    def detects(self, field: SceneField) -> bool:
        """Whether analysis proposes changes of this field."""
        return field.name in self.fields

    @property
    def detects_anything(self) -> bool:
        return bool(self.fields)

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON: the settings-backed options and one switch per field."""
        values = {name: value for name, value in asdict(self).items() if name != "fields"}
        return {**values, **{field.option: self.detects(field) for field in SCENE_FIELDS.values()}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AnalysisOptions":
        """From ``as_dict``'s shape; a switch left out is on."""
        values = dict(values)
        switches = {field.name: values.pop(field.option, True) for field in SCENE_FIELDS.values()}
        return cls(**values, fields=frozenset(name for name, on in switches.items() if on))
