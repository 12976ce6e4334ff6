"""From findings (path detectors, AI answers, details cleaning) to a scene's PlanChanges.

Value shapes, as stored on PlanChange and documented in the API schema:

- studio, set: proposed ``{"id": "12" | null, "name": "..."}`` (null id: a studio Stash does
  not have yet); current ``{"id", "name"}`` or null.
- performers / tags, add | remove: proposed a list of ``{"id": "12" | null, "name"}``;
  current the scene's list of ``{"id", "name"}``. One change per scene, field and action.
- details, set: proposed and current are strings.

Rules: a value the scene already has is never proposed; findings below the confidence
threshold are dropped; the same entity found twice (path and AI) counts once, with the
higher confidence; a list change's confidence is that of its least certain entity, so
auto-accept only takes a change all of whose entities clear the bar.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analysis.detectors.catalogue import EntityIndex
from analysis.detectors.details import clean_details
from analysis.detectors.normalize import normalize
from analysis.detectors.path import (
    Proposal,
    SceneText,
    detect_performers,
    detect_studio,
    detect_tags,
)
from analysis.fields import DETAILS, PERFORMERS_FIELD, SCENE_FIELDS, STUDIO, TAGS_FIELD, Shape
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import ChangeAction, ChangeSource, ChangeStatus, PlanChange
from analysis.options import AnalysisOptions

# Cleaning markup changes the form of the details, never their words.
DETAILS_CLEANING_CONFIDENCE = 0.9
DETAILS_CLEANING_REASON = "Details contain HTML markup; proposed as plain text"


@dataclass(frozen=True, slots=True)
class Finding:
    """One value a source found for a scene's field.

    Entity fields name an entity (``entity_id`` None proposes a new one, by ``name``);
    plain-value fields carry ``value``.
    """

    field: str  # a SCENE_FIELDS key
    entity_id: str | None
    name: str
    confidence: float
    reason: str
    source: str  # a ChangeSource
    value: Any = None

    @property
    def key(self) -> tuple[str, Any]:
        """What two findings of the same proposal share (the same entity or value)."""
        if SCENE_FIELDS[self.field].shape == Shape.VALUE:
            return (self.field, repr(self.value))
        entity = self.entity_id if self.entity_id is not None else f"new:{normalize(self.name)}"
        return (self.field, entity)


# -- per-scene proposal sources ----------------------------------------------------------------

# The path detector of each entity field (the single-studio one proposes at most one).
PATH_DETECTORS: dict[str, Callable[[SceneText, EntityIndex], list[Proposal]]] = {
    STUDIO.name: lambda text, index: [p for p in [detect_studio(text, index)] if p],
    PERFORMERS_FIELD.name: detect_performers,
    TAGS_FIELD.name: detect_tags,
}


def path_findings(scene: SceneSnapshot, indexes: LibraryIndexes, options: AnalysisOptions
                  ) -> list[Finding]:
    """Entities named by the scene's file path and title."""
    text = scene.text()
    return [
        Finding(p.field, p.entity_id, p.name, p.confidence, p.reason, ChangeSource.PATH)
        for name, detect in PATH_DETECTORS.items()
        if options.detects(field := SCENE_FIELDS[name])
        for p in detect(text, indexes[field.entity_kind])
    ]


def details_findings(scene: SceneSnapshot, _indexes: LibraryIndexes, options: AnalysisOptions
                     ) -> list[Finding]:
    """Plain-text details for details carrying HTML markup."""
    cleaned = clean_details(scene.values[DETAILS.name]) if options.detects(DETAILS) else None
    if cleaned is None:
        return []
    return [Finding(DETAILS.name, None, "", DETAILS_CLEANING_CONFIDENCE,
                    DETAILS_CLEANING_REASON, ChangeSource.PATH, value=cleaned)]


# What every scene is run through locally (the AI source works on chunks: ai_analysis).
# A new source is one more function here.
SCENE_SOURCES = (path_findings, details_findings)


def local_findings(scene: SceneSnapshot, indexes: LibraryIndexes, options: AnalysisOptions
                   ) -> list[Finding]:
    return [finding for source in SCENE_SOURCES for finding in source(scene, indexes, options)]


# -- from findings to changes ------------------------------------------------------------------


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per proposal: the most confident, path winning ties (cheaper evidence)."""
    best: dict[tuple[Any, ...], Finding] = {}
    for finding in sorted(findings, key=lambda f: (-f.confidence, f.source != ChangeSource.PATH)):
        best.setdefault(finding.key, finding)
    return list(best.values())


def _is_current(finding: Finding, current: list[dict[str, Any]]) -> bool:
    if finding.entity_id is not None:
        return any(item["id"] == finding.entity_id for item in current)
    return any(normalize(item["name"]) == normalize(finding.name) for item in current)


def _status(confidence: float, options: AnalysisOptions) -> str:
    threshold = options.auto_accept_threshold
    if threshold is not None and confidence >= threshold:
        return ChangeStatus.ACCEPTED
    return ChangeStatus.PENDING


def _value(finding: Finding) -> dict[str, Any]:
    return {"id": finding.entity_id, "name": finding.name}


def _reason(finding: Finding) -> str:
    return f"{finding.name} ({finding.source}): {finding.reason}"


def _best(found: list[Finding]) -> Finding:
    return max(found, key=lambda f: (f.confidence, f.source == ChangeSource.PATH))


class ChangeBuilder:
    """Builds a scene's unsaved PlanChanges (plan not set), and counts what it dropped."""

    def __init__(self, options: AnalysisOptions):
        self.options = options
        self.dropped_below_threshold = 0

    def changes_for(self, scene: SceneSnapshot, findings: list[Finding]) -> list[PlanChange]:
        kept = []
        for finding in _merge(findings):
            if finding.confidence < self.options.confidence_threshold:
                self.dropped_below_threshold += 1
            else:
                kept.append(finding)
        changes = []
        for field in SCENE_FIELDS.values():
            found = [f for f in kept if f.field == field.name]
            if not found:
                continue
            build = {Shape.VALUE: self._value_change, Shape.ENTITY: self._entity_change,
                     Shape.ENTITY_LIST: self._list_change}[field.shape]
            change = build(scene, field.name, found)
            changes += [change] if change else []
        return changes

    def _change(self, scene: SceneSnapshot, **fields: Any) -> PlanChange:
        return PlanChange(
            scene_id=scene.id, scene_title=scene.title,
            status=_status(fields["confidence"], self.options), **fields,
        )

    def _value_change(self, scene: SceneSnapshot, field: str, found: list[Finding]
                      ) -> PlanChange | None:
        current = scene.values[field]
        candidates = [f for f in found if f.value != current]
        if not candidates:
            return None
        best = _best(candidates)
        return self._change(
            scene, field=field, action=ChangeAction.SET, current_value=current,
            proposed_value=best.value, confidence=best.confidence, source=best.source,
            reason=best.reason,
        )

    def _entity_change(self, scene: SceneSnapshot, field: str, found: list[Finding]
                       ) -> PlanChange | None:
        current = scene.values[field]
        candidates = [f for f in found if not _is_current(f, [current] if current else [])]
        if not candidates:
            return None
        best = _best(candidates)
        return self._change(
            scene, field=field, action=ChangeAction.SET,
            current_value=current, proposed_value=_value(best),
            confidence=best.confidence, source=best.source, reason=_reason(best),
        )

    def _list_change(self, scene: SceneSnapshot, field: str, found: list[Finding]
                     ) -> PlanChange | None:
        current = scene.values[field]
        added = [f for f in found if not _is_current(f, current)]
        if not added:
            return None
        added.sort(key=lambda f: (-f.confidence, f.name))
        any_ai = any(f.source == ChangeSource.AI for f in added)
        return self._change(
            scene, field=field, action=ChangeAction.ADD,
            current_value=current, proposed_value=[_value(f) for f in added],
            confidence=min(f.confidence for f in added),
            source=ChangeSource.AI if any_ai else ChangeSource.PATH,
            reason="; ".join(_reason(f) for f in added),
        )
