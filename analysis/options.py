"""What an analysis run looks for: the caller's options over the effective settings.

The API's serializer validates what the caller sent; ``AnalysisOptions.resolve`` fills in
the rest. Options are resolved once, when the job is requested, and travel with the job's
parameters, so a settings change while a job waits does not alter what it was asked to do.
"""

from dataclasses import asdict, dataclass
from dataclasses import field as option
from typing import Any

from analysis.fields import SCENE_FIELDS, SceneField
from analysis.sources import SOURCES
from settings_app import get_setting

# Option -> the setting giving its default (each source's ``use_`` switch: its own setting).
SETTING_DEFAULTS = {
    "create_missing": "analysis_create_missing",
    "confidence_threshold": "analysis_confidence_threshold",
    "auto_accept_threshold": "analysis_auto_accept_threshold",
    "max_cost_usd": "analysis_max_cost_usd",
    "skip_settled": "analysis_skip_settled",
}


@dataclass(frozen=True)
class AnalysisOptions:
    create_missing: bool
    confidence_threshold: float
    auto_accept_threshold: float | None
    max_cost_usd: float
    # Ask the AI only for the fields the path left open (a default for parameters stored
    # before the option existed).
    skip_settled: bool = True
    # The SCENE_FIELDS names to propose. Outside, each is a switch named by its field's
    # ``option`` ("detect_tags"), on unless turned off.
    fields: frozenset[str] = frozenset(SCENE_FIELDS)
    # The registered proposal sources to use. Outside, each is a switch named by its
    # source's ``option`` ("use_ai").
    sources: frozenset[str] = frozenset()
    # stash-box: the endpoint to identify with (None: the first one Stash has configured),
    # and whether scenes already linked to it are identified again.
    stashbox_endpoint: str | None = None
    reidentify: bool = False
    # Per field (a SCENE_FIELDS name): how a found value may replace what Stash holds
    # (analysis.fields.Strategy); a field left out takes its own default.
    strategies: dict[str, str] = option(default_factory=dict, hash=False)
    # Propose again what a person rejected (analysis.rejections).
    include_rejected: bool = False
    # Apply marks organized each scene whose changes in the plan all landed.
    set_organized: bool = False

    @classmethod
    def resolve(cls, **requested: Any) -> "AnalysisOptions":
        """The requested (already validated) options over the effective settings."""
        defaults = {name: get_setting(setting) for name, setting in SETTING_DEFAULTS.items()}
        switches = {source.option: get_setting(source.setting) if source.setting else True
                    for source in SOURCES.values()}
        return cls.from_dict({**defaults, **switches, **requested})

    def detects(self, field: SceneField) -> bool:
        """Whether analysis proposes changes of this field."""
        return field.name in self.fields

    def strategy(self, field: SceneField) -> str:
        return self.strategies.get(field.name, field.default_strategy)  # from_dict fills all

    def uses(self, source: str) -> bool:
        """Whether analysis asks this proposal source (a ChangeSource value)."""
        return source in self.sources

    @property
    def detects_anything(self) -> bool:
        return bool(self.fields)

    def as_dict(self) -> dict[str, Any]:
        """Flat JSON: the options, one switch per source and one per field."""
        values = {name: value for name, value in asdict(self).items()
                  if name not in ("fields", "sources")}
        return {
            **values,
            **{source.option: self.uses(source.name) for source in SOURCES.values()},
            **{field.option: self.detects(field) for field in SCENE_FIELDS.values()},
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AnalysisOptions":
        """From ``as_dict``'s shape; a field switch left out is on, a source switch left out
        (parameters saved before the source existed) is its source's built-in default."""
        values = dict(values)
        fields = {field.name: values.pop(field.option, True) for field in SCENE_FIELDS.values()}
        sources = {source.name: values.pop(source.option, source.setting is None)
                   for source in SOURCES.values()}
        chosen = values.pop("strategies", None) or {}
        strategies = {str(field.name): str(chosen.get(field.name, field.default_strategy))
                      for field in SCENE_FIELDS.values()}
        return cls(**values, strategies=strategies,
                   fields=frozenset(name for name, on in fields.items() if on),
                   sources=frozenset(name for name, on in sources.items() if on))
