"""What a person does to a plan: edit, accept or reject changes, in bulk, or cancel it.

Every action ends with ``refresh_plan_status``. Applied changes are history and never change;
a plan being applied or cancelled takes no review (409).
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count

from analysis import rejections
from analysis.fields import SCENE_FIELDS
from analysis.filters import filter_changes
from analysis.models import (
    AIAnswerCache,
    AnalysisPlan,
    ChangeSource,
    ChangeStatus,
    PlanChange,
    PlanStatus,
    Rejection,
)
from analysis.plan_queries import get_plan
from analysis.plan_status import refresh_plan_status
from stashhog.api.exceptions import Conflict, InvalidInput, NotFound

# What a person may set (the API validates requests against these; apply sets the rest).
REVIEW_STATUSES = (ChangeStatus.PENDING, ChangeStatus.ACCEPTED, ChangeStatus.REJECTED)
BULK_STATUSES = (ChangeStatus.ACCEPTED, ChangeStatus.REJECTED)
UNSET = object()
# What recording a change's rejection reads of it.
REJECTION_COLUMNS = ("id", "scene_id", "field", "action", "proposed_value")


def _check_reviewable(plan: AnalysisPlan) -> None:
    if plan.status == PlanStatus.CANCELLED:
        raise Conflict("The plan is cancelled", detail={"plan_id": plan.id})
    if plan.status == PlanStatus.APPLYING:
        raise Conflict("The plan is being applied; review it when the apply job ends",
                       detail={"plan_id": plan.id})


# -- review actions --------------------------------------------------------------------------


def update_change(change_id: int | str, *, proposed_value: Any = UNSET,
                  status: str | None = None, user: Any = None) -> PlanChange:
    """Edit the proposed value and/or set the status (pending, accepted, rejected); ``user``
    is recorded as the reviewer.

    NotFound for an unknown change; Conflict for an applied change or a plan that takes no
    review; InvalidInput for a value that does not fit the field.
    """
    with transaction.atomic():
        try:
            change = PlanChange.objects.select_for_update().get(pk=int(change_id))
        except (PlanChange.DoesNotExist, ValueError, TypeError):
            raise NotFound("Change not found") from None
        if change.status == ChangeStatus.APPLIED:
            raise Conflict("The change was already applied and can no longer be edited",
                           detail={"change_id": change.id})
        plan = get_plan(change.plan_id, for_update=True)
        _check_reviewable(plan)
        updated = []
        if proposed_value is not UNSET:
            value = SCENE_FIELDS[change.field].validate(change, proposed_value)
            if value != change.proposed_value:
                change.proposed_value, change.source = value, ChangeSource.USER
                updated += ["proposed_value", "source"]
        if status is not None and status != change.status:
            change.status = status
            updated.append("status")
        if updated:
            change.reviewed_by = user
            change.save(update_fields=[*updated, "reviewed_by"])
            rejections.withdraw([change.pk])
            if change.status == ChangeStatus.REJECTED:
                rejections.record([change], user)
        refresh_plan_status(plan)
    return change


def bulk_review(plan_id: int | str, status: str, *, change_ids: list[Any] | None = None,
                field: str | None = None, min_confidence: float | None = None,
                scene_ids: list[Any] | None = None, filters: dict[str, Any] | None = None,
                user: Any = None) -> dict[str, Any]:
    """Set ``status`` on the plan's changes matching every given selector (none: all);
    ``filters`` are those of the changes list (analysis.filters). ``user`` is recorded as
    the reviewer of the changes whose status changed.

    Applied changes are never touched, and accepting skips revert changes marked as a
    conflict unless they are named by ``change_ids``. Returns the counts.
    """
    with transaction.atomic():
        plan = get_plan(plan_id, for_update=True)
        _check_reviewable(plan)
        selected = plan.changes.all()
        if change_ids is not None:
            wanted = {int(change_id) for change_id in change_ids}
            found = set(selected.filter(pk__in=wanted).values_list("pk", flat=True))
            if wanted - found:
                raise InvalidInput("Some changes are not in this plan",
                                   detail={"change_ids": sorted(wanted - found)})
            selected = selected.filter(pk__in=wanted)
        if field is not None:
            selected = selected.filter(field=field)
        if min_confidence is not None:
            selected = selected.filter(confidence__gte=min_confidence)
        if scene_ids is not None:
            selected = selected.filter(scene_id__in=[str(s) for s in scene_ids])
        if filters:
            selected = filter_changes(selected, filters)
        by_status = dict(selected.order_by().values_list("status").annotate(n=Count("id")))
        matched = sum(by_status.values())
        applied = by_status.get(ChangeStatus.APPLIED, 0)
        to_update = selected.exclude(status__in=(ChangeStatus.APPLIED, status))
        conflicts = 0
        if status == ChangeStatus.ACCEPTED and change_ids is None:
            conflicts = to_update.exclude(conflict="").count()
            to_update = to_update.filter(conflict="")
        updated = 0
        if matched - applied - by_status.get(status, 0) - conflicts:
            if status == ChangeStatus.REJECTED:
                # Rows, not model instances: a plan's ``changes`` attach the plan to each
                # instance, and reading the deferred plan_id to do so was a query per change.
                rejections.record(to_update.values_list(*REJECTION_COLUMNS, named=True)
                                  .iterator(), user)
            else:
                rejections.withdraw(to_update.filter(status=ChangeStatus.REJECTED)
                                    .values_list("pk", flat=True))
            updated = to_update.update(status=status, reviewed_by=user)
        refresh_plan_status(plan)
    return {
        "plan_id": plan.id, "status": status, "matched": matched, "updated": updated,
        "unchanged": matched - applied - conflicts - updated, "skipped_applied": applied,
        "skipped_conflicts": conflicts,
        "plan_status": plan.status,
    }


def cancel_plan(plan_id: int | str) -> AnalysisPlan:
    """Cancel a plan that is not applied or being applied (Conflict); idempotent."""
    with transaction.atomic():
        plan = get_plan(plan_id, for_update=True)
        if plan.status in (PlanStatus.APPLIED, PlanStatus.APPLYING):
            raise Conflict(f"An {plan.status} plan cannot be cancelled",
                           detail={"plan_id": plan.id})
        if plan.status != PlanStatus.CANCELLED:
            plan.status = PlanStatus.CANCELLED
            plan.save(update_fields=["status"])
    return plan


def forget_removed_scenes(sender: object = None, scene_ids: Iterable[str] = (),
                          **kwargs: Any) -> None:
    """``scenes_removed`` receiver: drop those scenes' unapplied changes and cached answers.

    Runs inside sync's deleting transaction. Plans being applied keep their status (the
    apply job sets it when it ends).
    """
    unapplied = PlanChange.objects.filter(scene_id__in=scene_ids).exclude(
        status=ChangeStatus.APPLIED
    )
    plan_ids = set(unapplied.order_by().values_list("plan_id", flat=True).distinct())
    unapplied.delete()
    AIAnswerCache.objects.filter(scene_id__in=scene_ids).delete()
    Rejection.objects.filter(scene_id__in=scene_ids).delete()
    for plan in AnalysisPlan.objects.filter(pk__in=plan_ids).exclude(
        status=PlanStatus.APPLYING
    ):
        refresh_plan_status(plan)
