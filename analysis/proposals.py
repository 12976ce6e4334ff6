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

from dataclasses import dataclass

from analysis.detectors.details import clean_details
from analysis.detectors.normalize import normalize
from analysis.detectors.path import detect_performers, detect_studio, detect_tags
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import ChangeAction, ChangeField, ChangeSource, ChangeStatus, PlanChange
from analysis.options import AnalysisOptions

# Cleaning markup changes the form of the details, never their words.
DETAILS_CLEANING_CONFIDENCE = 0.9
DETAILS_CLEANING_REASON = "Details contain HTML markup; proposed as plain text"


@dataclass(frozen=True, slots=True)
class Finding:
    """One entity a detector found for a scene; ``entity_id`` None proposes a new one."""

    field: str  # ChangeField.STUDIO, PERFORMERS or TAGS
    entity_id: str | None
    name: str
    confidence: float
    reason: str
    source: str  # ChangeSource.PATH or AI

    @property
    def key(self) -> str:
        return self.entity_id if self.entity_id is not None else f"new:{normalize(self.name)}"


def path_findings(scene: SceneSnapshot, indexes: LibraryIndexes, options: AnalysisOptions
                  ) -> list[Finding]:
    text = scene.text()
    proposals = []
    if options.detect_studios:
        studio = detect_studio(text, indexes.studios)
        proposals += [studio] if studio else []
    if options.detect_performers:
        proposals += detect_performers(text, indexes.performers)
    if options.detect_tags:
        proposals += detect_tags(text, indexes.tags)
    return [
        Finding(p.field, p.entity_id, p.name, p.confidence, p.reason, ChangeSource.PATH)
        for p in proposals
    ]


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per entity: the most confident, path winning ties (cheaper evidence)."""
    best: dict[str, Finding] = {}
    for finding in sorted(findings, key=lambda f: (-f.confidence, f.source != ChangeSource.PATH)):
        best.setdefault(finding.key, finding)
    return list(best.values())


def _is_current(finding: Finding, current: list[dict]) -> bool:
    if finding.entity_id is not None:
        return any(item["id"] == finding.entity_id for item in current)
    return any(normalize(item["name"]) == normalize(finding.name) for item in current)


def _status(confidence: float, options: AnalysisOptions) -> str:
    threshold = options.auto_accept_threshold
    if threshold is not None and confidence >= threshold:
        return ChangeStatus.ACCEPTED
    return ChangeStatus.PENDING


def _value(finding: Finding) -> dict:
    return {"id": finding.entity_id, "name": finding.name}


def _reason(finding: Finding) -> str:
    return f"{finding.name} ({finding.source}): {finding.reason}"


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
        studio = self._studio_change(scene, [f for f in kept if f.field == ChangeField.STUDIO])
        changes += [studio] if studio else []
        for field, current in ((ChangeField.PERFORMERS, scene.performers),
                               (ChangeField.TAGS, scene.tags)):
            added = [f for f in kept if f.field == field and not _is_current(f, current)]
            if added:
                changes.append(self._list_change(scene, field, added, current))
        if self.options.detect_details:
            details = self._details_change(scene)
            changes += [details] if details else []
        return changes

    def _change(self, scene: SceneSnapshot, **fields) -> PlanChange:
        return PlanChange(
            scene_id=scene.id, scene_title=scene.title,
            status=_status(fields["confidence"], self.options), **fields,
        )

    def _studio_change(self, scene: SceneSnapshot, found: list[Finding]) -> PlanChange | None:
        current = [scene.studio] if scene.studio else []
        candidates = [f for f in found if not _is_current(f, current)]
        if not candidates:
            return None
        best = max(candidates, key=lambda f: (f.confidence, f.source == ChangeSource.PATH))
        return self._change(
            scene, field=ChangeField.STUDIO, action=ChangeAction.SET,
            current_value=scene.studio, proposed_value=_value(best),
            confidence=best.confidence, source=best.source, reason=_reason(best),
        )

    def _list_change(self, scene: SceneSnapshot, field: str, added: list[Finding],
                     current: list[dict]) -> PlanChange:
        added.sort(key=lambda f: (-f.confidence, f.name))
        any_ai = any(f.source == ChangeSource.AI for f in added)
        return self._change(
            scene, field=field, action=ChangeAction.ADD,
            current_value=current, proposed_value=[_value(f) for f in added],
            confidence=min(f.confidence for f in added),
            source=ChangeSource.AI if any_ai else ChangeSource.PATH,
            reason="; ".join(_reason(f) for f in added),
        )

    def _details_change(self, scene: SceneSnapshot) -> PlanChange | None:
        cleaned = clean_details(scene.details)
        if cleaned is None:
            return None
        if DETAILS_CLEANING_CONFIDENCE < self.options.confidence_threshold:
            self.dropped_below_threshold += 1
            return None
        return self._change(
            scene, field=ChangeField.DETAILS, action=ChangeAction.SET,
            current_value=scene.details, proposed_value=cleaned,
            confidence=DETAILS_CLEANING_CONFIDENCE, source=ChangeSource.PATH,
            reason=DETAILS_CLEANING_REASON,
        )
