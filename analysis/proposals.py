"""From findings (of every proposal source, analysis.sources) to a scene's PlanChanges.

Value shapes, as stored on PlanChange and documented in the API schema:

- studio, set: proposed ``{"id": "12" | null, "name": "..."}`` (null id: a studio Stash does
  not have yet); current ``{"id", "name"}`` or null.
- performers / tags, add | remove: proposed a list of ``{"id": "12" | null, "name"}``;
  current the scene's list of ``{"id", "name"}``. One change per scene, field and action.
  A new entity found on a stash-box also carries ``"stash_ids": [{"endpoint", "stash_id"}]``
  (a new studio too), which apply creates it with.
- details, title, code, set: proposed and current are strings ("" for none); date a
  "YYYY-MM-DD" string or null; rating an integer 0-100 or null; organized a boolean.
- urls, add | remove: a list of URL strings; stash_ids, add | remove: a list of
  ``{"endpoint", "stash_id"}``; current the scene's list.

Rules, the same for every source: only switched-on fields are proposed, new entities only
with create-missing; a value the scene already has is never proposed; findings below the
confidence threshold are dropped; the same entity found twice (path and AI) counts once,
with the higher confidence; a list change's confidence (and its source) is that of its least
certain entity, so auto-accept only takes a change all of whose entities clear the bar.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from analysis.detectors.normalize import normalize
from analysis.fields import SCENE_FIELDS, SceneField, Shape, Strategy
from analysis.library import SceneSnapshot
from analysis.models import ChangeAction, ChangeSource, ChangeStatus, PlanChange
from analysis.options import AnalysisOptions
from analysis.rejections import IN_OPEN_PLAN, REJECTED, Blocked


@dataclass(frozen=True, slots=True)
class Finding:
    """One value a source found for a scene's field.

    Entity fields name an entity (``entity_id`` None proposes a new one, by ``name``);
    plain-value fields carry ``value`` (list fields: one item).
    """

    field: str  # a SCENE_FIELDS key
    entity_id: str | None
    name: str
    confidence: float
    reason: str
    source: str  # a ChangeSource
    value: Any = None
    # A new entity's id on a stash-box, (endpoint, id): apply creates it linked there.
    stash_id: tuple[str, str] | None = None
    # The held value in a cleaner form (details without markup): every strategy allows it.
    reformat: bool = False

    @property
    def key(self) -> tuple[str, Any]:
        """What two findings of the same proposal share (the same entity or value)."""
        field = SCENE_FIELDS[self.field]
        if field.shape == Shape.VALUE:
            return (self.field, repr(self.value))
        if field.shape == Shape.VALUE_LIST:
            return (self.field, field.item_key(self.value))
        entity = self.entity_id if self.entity_id is not None else f"new:{normalize(self.name)}"
        return (self.field, entity)


# -- from findings to changes ------------------------------------------------------------------


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per proposal: the most confident, path winning ties (cheaper evidence)."""
    best: dict[tuple[Any, ...], Finding] = {}
    for finding in sorted(findings, key=lambda f: (-f.confidence, f.source != ChangeSource.PATH)):
        best.setdefault(finding.key, finding)
    return list(best.values())


def _is_current(finding: Finding, current: list[Any]) -> bool:
    field = SCENE_FIELDS[finding.field]
    if field.plain:
        return field.item_key(finding.value) in {field.item_key(item) for item in current}
    if finding.entity_id is not None:
        return any(item["id"] == finding.entity_id for item in current)
    return any(normalize(item["name"]) == normalize(finding.name) for item in current)


def _holds(finding: Finding, current: Any) -> bool:
    """Whether a single-value field already holds what ``finding`` proposes."""
    field = SCENE_FIELDS[finding.field]
    if field.plain:
        return field.same_set_value(finding.value, current)
    return _is_current(finding, [current] if current else [])


def _status(confidence: float, options: AnalysisOptions) -> str:
    threshold = options.auto_accept_threshold
    if threshold is not None and confidence >= threshold:
        return ChangeStatus.ACCEPTED
    return ChangeStatus.PENDING


def _value(finding: Finding) -> Any:
    """The finding as an item of its field's value (a new entity found on a stash-box with
    its stash id)."""
    if SCENE_FIELDS[finding.field].plain:
        return finding.value
    value: dict[str, Any] = {"id": finding.entity_id, "name": finding.name}
    if finding.entity_id is None and finding.stash_id is not None:
        endpoint, stash_id = finding.stash_id
        value["stash_ids"] = [{"endpoint": endpoint, "stash_id": stash_id}]
    return value


def _reason(finding: Finding) -> str:
    label = SCENE_FIELDS[finding.field].item_label(_value(finding))
    return f"{label} ({finding.source}): {finding.reason}"


def _best(found: list[Finding]) -> Finding:
    return max(found, key=lambda f: (f.confidence, f.source == ChangeSource.PATH))


class ChangeBuilder:
    """Builds a scene's unsaved PlanChanges (plan not set), and counts what it dropped.

    Each field's strategy (``AnalysisOptions.strategy``) decides whether a found value may
    replace what Stash holds; ``blocked`` (set per chunk) holds back what a person rejected
    and what another open plan already proposes, counted in ``suppressed`` by reason.
    """

    def __init__(self, options: AnalysisOptions):
        self.options = options
        self.dropped_below_threshold = 0
        self.suppressed: Counter[str] = Counter({REJECTED: 0, IN_OPEN_PLAN: 0})
        self.blocked = Blocked()

    def wanted(self, finding: Finding) -> bool:
        """Whether the options let any source propose this: its field is switched on, and a
        new entity only with create-missing."""
        field = SCENE_FIELDS[finding.field]
        new_entity = not field.plain and finding.entity_id is None
        return self.options.detects(field) and (self.options.create_missing or not new_entity)

    def changes_for(self, scene: SceneSnapshot, findings: list[Finding]) -> list[PlanChange]:
        kept = []
        for finding in _merge([f for f in findings if self.wanted(f)]):
            if finding.confidence < self.options.confidence_threshold:
                self.dropped_below_threshold += 1
            else:
                kept.append(finding)
        changes = []
        for field in SCENE_FIELDS.values():
            found = [f for f in kept if f.field == field.name]
            if found:
                build = self._list_changes if field.shape.is_list else self._set_change
                changes += build(scene, field, found)
        return changes

    def _allowed(self, scene: SceneSnapshot, field: SceneField, action: str,
                 items: list[Any]) -> list[Any]:
        """``items`` (findings, or held items for a removal) without the blocked ones."""
        kept = []
        for item in items:
            value = _value(item) if isinstance(item, Finding) else item
            reason = self.blocked.why(scene.id, field.name, action, value)
            if reason is None:
                kept.append(item)
            else:
                self.suppressed[reason] += 1
        return kept

    def _change(self, scene: SceneSnapshot, **fields: Any) -> PlanChange:
        return PlanChange(
            scene_id=scene.id, scene_title=scene.title,
            status=_status(fields["confidence"], self.options), **fields,
        )

    def _set_change(self, scene: SceneSnapshot, field: SceneField, found: list[Finding]
                    ) -> list[PlanChange]:
        current = scene.values[field.name]
        candidates = [f for f in found if not _holds(f, current)]
        if not (field.is_blank(current) or self.options.strategy(field) == Strategy.OVERWRITE):
            # A cleaner or a more precise form of the value Stash holds replaces nothing a
            # person chose.
            candidates = [f for f in candidates
                          if f.reformat or field.refines(_value(f), current)]
        candidates = self._allowed(scene, field, ChangeAction.SET, candidates)
        if not candidates:
            return []
        best = _best(candidates)
        return [self._change(
            scene, field=field.name, action=ChangeAction.SET, current_value=current,
            proposed_value=_value(best), confidence=best.confidence, source=best.source,
            reason=best.reason if field.plain else _reason(best),
        )]

    def _list_changes(self, scene: SceneSnapshot, field: SceneField, found: list[Finding]
                      ) -> list[PlanChange]:
        current = scene.values[field.name]
        strategy = self.options.strategy(field)
        if strategy == Strategy.FILL_BLANK and not field.is_blank(current):
            return []
        changes = []
        added = self._allowed(scene, field, ChangeAction.ADD,
                              [f for f in found if not _is_current(f, current)])
        if added:
            added.sort(key=lambda f: (-f.confidence, field.item_label(_value(f))))
            weakest = added[-1]  # gives the change its confidence, and so its source
            changes.append(self._change(
                scene, field=field.name, action=ChangeAction.ADD,
                current_value=current, proposed_value=[_value(f) for f in added],
                confidence=weakest.confidence, source=weakest.source,
                reason="; ".join(_reason(f) for f in added),
            ))
        if strategy == Strategy.REPLACE:
            unfound = [item for item in current
                       if not any(_is_current(f, [item]) for f in found)]
            removed = self._allowed(scene, field, ChangeAction.REMOVE, unfound)
            if removed:
                surest = _best(found)  # how sure the sources are of what the list holds
                sources = ", ".join(sorted({f.source for f in found}))
                changes.append(self._change(
                    scene, field=field.name, action=ChangeAction.REMOVE,
                    current_value=current, proposed_value=removed,
                    confidence=surest.confidence, source=surest.source,
                    reason=f"Not found by {sources} (strategy replace): "
                    + ", ".join(field.item_label(item) for item in removed),
                ))
        return changes
