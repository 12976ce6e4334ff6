"""What an analysis run looks for: the caller's options over the effective settings.

The API's serializer validates what the caller sent; ``AnalysisOptions.resolve`` fills in
the rest. Options are resolved once, when the job is requested, and travel with the job's
parameters, so a settings change while a job waits does not alter what it was asked to do.
"""

from dataclasses import asdict, dataclass

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
    # One switch per scene field (SceneField.option); every field is proposed by default.
    detect_studios: bool = True
    detect_performers: bool = True
    detect_tags: bool = True
    detect_details: bool = True

    @classmethod
    def resolve(cls, **requested) -> "AnalysisOptions":
        """The requested (already validated) options over the effective settings."""
        defaults = {name: get_setting(setting) for name, setting in SETTING_DEFAULTS.items()}
        return cls(**{**defaults, **requested})

    def detects(self, field: SceneField) -> bool:
        """Whether analysis proposes changes of this field."""
        return getattr(self, field.option)

    @property
    def detects_anything(self) -> bool:
        return any(self.detects(field) for field in SCENE_FIELDS.values())

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "AnalysisOptions":
        return cls(**values)
