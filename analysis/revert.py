"""Undo: a new plan whose changes take back what an apply wrote, reviewed and applied like any
other plan.

Each applied change is undone from what apply recorded (``value_before_apply``; changes
applied before that was recorded fall back to the value seen at analysis, and say so):
- a set goes back to the value Stash held before;
- an add removes what the apply added (not what the scene already had), a remove adds back
  what the apply removed;
- entities the apply created stay in Stash (removing them from the scene is the undo); the
  plan's description lists them.

Stash is read first: a change whose field no longer holds what the apply wrote (someone
edited it since) gets a ``conflict`` and starts rejected, so no bulk accept takes it blindly;
apply itself refuses a set whose value moved (``CHANGED_IN_STASH``).
"""

from collections.abc import Hashable

from django.db import transaction

from analysis.fields import SCENE_FIELDS, SceneField
from analysis.models import (
    AnalysisPlan,
    ChangeAction,
    ChangeSource,
    ChangeStatus,
    PlanChange,
)
from analysis.plan_queries import get_plan
from scenes.sync import client_from_settings
from stashhog.api.exceptions import Conflict

REVERT_CONFIDENCE = 1.0
UNDO_ACTION: dict[str, str] = {
    ChangeAction.ADD: ChangeAction.REMOVE, ChangeAction.REMOVE: ChangeAction.ADD,
}


def _label(field: SceneField, value) -> str:
    if isinstance(value, list):
        return ", ".join(field.item_label(item) for item in value) or "nothing"
    if isinstance(value, dict):
        return value.get("name") or f"#{value.get('id')}"
    if isinstance(value, str):
        return repr(value[:60] + "…" if len(value) > 60 else value) if value else "nothing"
    return "nothing" if value is None else str(value)


def _keys(field: SceneField, items) -> set[Hashable]:
    """The keys of the items a list held (entities Stash has, by id)."""
    return {field.item_key(item) for item in items or ()
            if field.plain or item.get("id") is not None}


class _Undo:
    """The revert change of one applied change, given the scene as Stash has it now."""

    def __init__(self, change: PlanChange, scene: dict | None):
        self.change = change
        self.scene = scene
        self.recorded = change.value_before_apply is not None
        self.before = change.value_before_apply if self.recorded else change.current_value

    def build(self) -> PlanChange | None:
        """None when the apply wrote nothing that could be taken back."""
        if self.change.action == ChangeAction.SET:
            return self._set()
        return self._list()

    def _set(self) -> PlanChange | None:
        change, written = self.change, self.change.proposed_value
        field = SCENE_FIELDS[change.field]
        if field.same_set_value(self.before, written):
            return None  # Stash already held it: the apply wrote nothing
        conflict = ""
        if self.scene is None:
            conflict = "The scene no longer exists in Stash."
        else:
            now = field.stash_value(self.scene)
            if not field.same_set_value(now, written):
                conflict = (f"Stash now holds {_label(field, now)}, not {_label(field, written)} "
                            "that the apply wrote.")
        return self._revert(ChangeAction.SET, current=written, proposed=self.before,
                            conflict=conflict)

    def _list(self) -> PlanChange | None:
        change = self.change
        field = SCENE_FIELDS[change.field]
        had = _keys(field, self.before)
        adding = change.action == ChangeAction.ADD
        # What the apply changed: added items the scene lacked, removed ones it had.
        written = [item for item in change.proposed_value or ()
                   if (field.item_key(item) in had) != adding]
        if not written:
            return None
        if self.scene is None:
            return self._revert(UNDO_ACTION[change.action], current=[], proposed=written,
                                conflict="The scene no longer exists in Stash.")
        now = field.stash_value(self.scene)
        holds = _keys(field, now)
        moved = [item for item in written if (field.item_key(item) in holds) != adding]
        conflict = ""
        if moved:
            state = "no longer has" if adding else "has again"
            conflict = f"Stash {state}: {_label(field, moved)}."
        return self._revert(UNDO_ACTION[change.action], current=now, proposed=written,
                            conflict=conflict)

    def _revert(self, action: str, *, current, proposed, conflict: str) -> PlanChange:
        change = self.change
        reason = f"Undoes change {change.pk} ({change.field} {change.action}) of plan " \
                 f"{change.plan_id}, applied {change.applied_at:%Y-%m-%d %H:%M} UTC."
        if not self.recorded:
            reason += " The value before the apply was not recorded: the analysed one is used."
        return PlanChange(
            scene_id=change.scene_id, scene_title=change.scene_title, field=change.field,
            action=action, current_value=current, proposed_value=proposed,
            confidence=REVERT_CONFIDENCE, source=ChangeSource.REVERT, reason=reason,
            status=ChangeStatus.REJECTED if conflict else ChangeStatus.PENDING,
            conflict=conflict, reverts=change,
        )


def _left_in_stash(changes: list[PlanChange]) -> list[dict]:
    left = {}
    for change in changes:
        for item in change.created_entities or ():  # only entity fields create any
            kind = SCENE_FIELDS[change.field].entity_kind
            left[(kind.plural, item["id"])] = {"kind": kind.singular, **item}
    return list(left.values())


def create_revert_plan(plan_id, scene_ids: list[str] | None = None) -> AnalysisPlan:
    """A new draft plan undoing the plan's applied changes (only those of ``scene_ids`` if
    given). Conflict when there is nothing to undo; UpstreamUnavailable when Stash cannot be
    read. Changes already undone by an applied revert are left out."""
    plan = get_plan(plan_id)
    query = plan.changes.filter(status=ChangeStatus.APPLIED).exclude(
        reverted_by__status=ChangeStatus.APPLIED
    ).order_by("scene_id", "id")
    if scene_ids is not None:
        query = query.filter(scene_id__in=[str(scene_id) for scene_id in scene_ids])
    applied = list(query)
    if not applied:
        raise Conflict("The plan has no applied changes to revert", detail={"plan_id": plan.pk})
    with client_from_settings() as client:
        in_stash = client.get_scenes(change.scene_id for change in applied)
    undo = [undone for change in applied
            if (undone := _Undo(change, in_stash.get(change.scene_id)).build()) is not None]
    if not undo:
        raise Conflict("The plan's applies changed nothing in Stash that could be reverted",
                       detail={"plan_id": plan.pk})
    left = _left_in_stash(applied)
    description = f"Undoes the applied changes of plan {plan.pk} ({plan.name})."
    if left:
        names = ", ".join(f"{item['kind']} {item['name']!r} (id {item['id']})" for item in left)
        description += (f" Entities the apply created stay in Stash (only removed from the "
                        f"scenes): {names}.")
    with transaction.atomic():
        revert = AnalysisPlan.objects.create(
            name=f"Revert of {plan.name}"[:255], description=description,
            metadata={"reverts_plan_id": plan.pk, "scene_ids": scene_ids,
                      "entities_left_in_stash": left,
                      "conflicts": sum(1 for change in undo if change.conflict)},
        )
        for change in undo:
            change.plan = revert
        PlanChange.objects.bulk_create(undo, batch_size=1000)
    return revert
