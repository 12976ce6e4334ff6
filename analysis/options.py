"""What an analysis run looks for: the caller's options over the effective settings.

Options are resolved once, when the job is requested, and travel with the job's parameters,
so a settings change while a job waits does not alter what it was asked to do.
"""

from dataclasses import asdict, dataclass, fields

from analysis.fields import SCENE_FIELDS, SceneField
from settings_app import get_setting
from settings_app.registry import problem_message, unit_interval
from stashhog.api.exceptions import InvalidInput

DETECTORS = tuple(field.option for field in SCENE_FIELDS.values())


@dataclass(frozen=True)
class AnalysisOptions:
    detect_studios: bool = True
    detect_performers: bool = True
    detect_tags: bool = True
    detect_details: bool = True
    use_ai: bool = False
    create_missing: bool = False
    confidence_threshold: float = 0.5
    auto_accept_threshold: float | None = None
    max_cost_usd: float = 5.0

    def detects(self, field: SceneField) -> bool:
        """Whether analysis proposes changes of this field."""
        return getattr(self, field.option)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "AnalysisOptions":
        return cls(**values)


# Option -> the setting giving its default; detectors default to on.
_SETTING_DEFAULTS = {
    "use_ai": "analysis_use_ai",
    "create_missing": "analysis_create_missing",
    "confidence_threshold": "analysis_confidence_threshold",
    "auto_accept_threshold": "analysis_auto_accept_threshold",
    "max_cost_usd": "analysis_max_cost_usd",
}


def _check(name: str, value):
    """The value if it has the option's type and range, else ValueError."""
    if name in DETECTORS or name in ("use_ai", "create_missing"):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if name == "auto_accept_threshold" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    value = float(value)
    if name == "max_cost_usd":
        if value < 0:
            raise ValueError("must not be negative")
        return value
    return unit_interval(value)


def resolve_options(requested: dict | None) -> AnalysisOptions:
    """Requested options over the effective settings; InvalidInput lists every problem."""
    requested = requested or {}
    if not isinstance(requested, dict):
        raise InvalidInput("Invalid options", detail={"options": ["Expected an object."]})
    known = {field.name for field in fields(AnalysisOptions)}
    problems = {name: ["Unknown option."] for name in requested if name not in known}
    values = {name: get_setting(setting) for name, setting in _SETTING_DEFAULTS.items()}
    for name, value in requested.items():
        if name not in known:
            continue
        try:
            values[name] = _check(name, value)
        except ValueError as exc:
            problems[name] = [problem_message(exc)]
    if problems:
        raise InvalidInput("Invalid options", detail={"options": problems})
    options = AnalysisOptions(**values)
    if not any(getattr(options, name) for name in DETECTORS):
        raise InvalidInput(
            "Invalid options", detail={"options": {"detectors": ["Enable at least one."]}}
        )
    return options
