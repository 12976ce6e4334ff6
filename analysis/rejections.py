"""Rejections that stick: what a person rejected is not proposed again, and what another open
plan already proposes is not proposed twice.

A rejection is one value of one scene's field and action: the set value, or one item of a
list change (a rejected ``tags add [A, B]`` rejects A and B, each its own row, so a later
analysis still proposes C). Review records them when a person rejects a change and drops
them when that change is accepted or reset to pending; a person may also take one back
(``DELETE /api/analysis/rejections/{id}``). Analysis reads them chunk by chunk
(``Blocked``); the request's ``include_rejected`` skips them.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet

from analysis.fields import SCENE_FIELDS
from analysis.models import (
    OPEN_PLAN_STATUSES,
    ChangeStatus,
    PlanChange,
    Rejection,
)

# Why a proposal was left out (the plan's ``counts.suppressed`` keys).
REJECTED = "rejected"
IN_OPEN_PLAN = "in_open_plan"
# Changes that another plan still proposes (a rejected or applied one proposes nothing).
OPEN_CHANGE_STATUSES = (ChangeStatus.PENDING, ChangeStatus.ACCEPTED)

Slot = tuple[str, str, str]  # (scene id, field, action)


def _rows(change: Any, user: Any) -> list[Rejection]:
    field = SCENE_FIELDS[change.field]
    return [
        Rejection(scene_id=change.scene_id, field=change.field, action=change.action,
                  value=[item] if field.shape.is_list else item,
                  value_key=field.proposal_key(item), change_id=change.id, rejected_by=user)
        for item in field.proposal_items(change.proposed_value)
    ]


def record(changes: Iterable[Any], user: Any) -> None:
    """Remember the values of ``changes`` (PlanChanges, or rows with their id, scene_id,
    field, action and proposed_value), just rejected by ``user`` (the latest rejection of a
    value wins: its change and user)."""
    rows = [row for change in changes for row in _rows(change, user)]
    Rejection.objects.bulk_create(
        rows, batch_size=500, update_conflicts=True,
        unique_fields=["scene", "field", "action", "value_key"],
        update_fields=["value", "change", "rejected_by", "created_at"],
    )


def withdraw(change_ids: Iterable[int] | QuerySet[PlanChange, int]) -> None:
    """Forget the rejections these changes recorded (they were accepted or reset)."""
    Rejection.objects.filter(change_id__in=change_ids).delete()


class Blocked:
    """The values a chunk of scenes must not be proposed again, and why."""

    def __init__(self) -> None:
        self.reasons: dict[Slot, dict[str, str]] = {}

    @classmethod
    def load(cls, scene_ids: Sequence[str], *, plan_id: int,
             include_rejected: bool) -> "Blocked":
        """For these scenes: the values of other open plans' pending and accepted changes,
        and (unless ``include_rejected``) the rejected ones."""
        blocked = cls()
        open_changes = (
            PlanChange.objects.filter(scene_id__in=scene_ids, status__in=OPEN_CHANGE_STATUSES,
                                      plan__status__in=OPEN_PLAN_STATUSES)
            .exclude(plan_id=plan_id)
            .values_list("scene_id", "field", "action", "proposed_value")
        )
        for scene_id, field_name, action, value in open_changes:
            field = SCENE_FIELDS[field_name]
            slot = blocked.reasons.setdefault((scene_id, field_name, action), {})
            for item in field.proposal_items(value):
                slot[field.proposal_key(item)] = IN_OPEN_PLAN
        if not include_rejected:
            # A rejection outranks an open proposal: it is the person's last word.
            rejected = Rejection.objects.filter(scene_id__in=scene_ids).values_list(
                "scene_id", "field", "action", "value_key")
            for scene_id, field_name, action, key in rejected:
                blocked.reasons.setdefault((scene_id, field_name, action), {})[key] = REJECTED
        return blocked

    def why(self, scene_id: str, field_name: str, action: str, item: Any) -> str | None:
        """Why ``item`` must not be proposed for this scene, field and action (None: it may)."""
        slot = self.reasons.get((scene_id, field_name, action))
        if not slot:
            return None
        reasons = [slot[key] for key in SCENE_FIELDS[field_name].proposal_keys(item)
                   if key in slot]
        return REJECTED if REJECTED in reasons else next(iter(reasons), None)
