"""Plan and change status transitions through the review services, and scenes removed by sync."""

import pytest

from analysis.models import AIAnswerCache, AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
from analysis.review import bulk_review, cancel_plan, update_change
from scenes import store
from stashhog.api.exceptions import Conflict


@pytest.fixture
def plan(library, plan_factory):
    for number in (1, 2):
        library.scene(number, f"/media/{number}.mp4")
    return plan_factory(
        {"scene_id": "1", "field": "details", "proposed_value": "one"},
        {"scene_id": "1", "field": "studio", "proposed_value": {"id": None, "name": "New"}},
        {"scene_id": "2", "field": "details", "proposed_value": "two"},
    )


def status_of(plan) -> str:
    plan.refresh_from_db()
    return plan.status


def test_review_moves_draft_to_reviewing_and_back_when_all_are_pending_again(plan):
    first, second, third = plan.changes.order_by("id")
    assert status_of(plan) == PlanStatus.DRAFT

    update_change(first.id, status=ChangeStatus.ACCEPTED)
    assert status_of(plan) == PlanStatus.REVIEWING
    update_change(second.id, status=ChangeStatus.REJECTED)
    assert status_of(plan) == PlanStatus.REVIEWING

    bulk_review(plan.id, ChangeStatus.REJECTED)
    update_change(first.id, status=ChangeStatus.PENDING)
    update_change(second.id, status=ChangeStatus.PENDING)
    update_change(third.id, status=ChangeStatus.PENDING)
    assert status_of(plan) == PlanStatus.DRAFT


def test_applied_plan_returns_to_reviewing_when_a_change_is_accepted_again(plan):
    first, second, third = plan.changes.order_by("id")
    PlanChange.objects.filter(pk=first.pk).update(status=ChangeStatus.APPLIED)
    PlanChange.objects.filter(pk=third.pk).update(status=ChangeStatus.APPLIED)
    update_change(second.id, status=ChangeStatus.REJECTED)
    assert status_of(plan) == PlanStatus.APPLIED
    assert plan.applied_at is not None

    update_change(second.id, status=ChangeStatus.ACCEPTED)
    assert status_of(plan) == PlanStatus.REVIEWING


def test_a_failed_change_can_be_accepted_again(plan):
    first = plan.changes.order_by("id").first()
    PlanChange.objects.filter(pk=first.pk).update(status=ChangeStatus.FAILED, error="boom")

    change = update_change(first.id, status=ChangeStatus.ACCEPTED)

    assert change.status == ChangeStatus.ACCEPTED


def test_a_cancelled_plan_stays_cancelled_and_takes_no_review(plan):
    first = plan.changes.order_by("id").first()
    cancel_plan(plan.id)

    with pytest.raises(Conflict):
        update_change(first.id, status=ChangeStatus.ACCEPTED)
    with pytest.raises(Conflict):
        bulk_review(plan.id, ChangeStatus.ACCEPTED)
    assert cancel_plan(plan.id).status == PlanStatus.CANCELLED  # idempotent
    assert status_of(plan) == PlanStatus.CANCELLED


def test_a_plan_being_applied_takes_no_review(plan):
    AnalysisPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.APPLYING)

    with pytest.raises(Conflict):
        update_change(plan.changes.first().id, status=ChangeStatus.REJECTED)
    assert status_of(plan) == PlanStatus.APPLYING


def test_sync_removing_a_scene_drops_its_unapplied_changes_and_refreshes_plans(
        plan, plan_factory):
    # Scene 1's accepted change goes, its applied change (history) stays; scene 2 is kept.
    first, second, _ = plan.changes.order_by("id")
    update_change(first.id, status=ChangeStatus.ACCEPTED)
    PlanChange.objects.filter(pk=second.pk).update(status=ChangeStatus.APPLIED)
    assert status_of(plan) == PlanStatus.REVIEWING
    only_scene_one = plan_factory({"scene_id": "1", "field": "details", "proposed_value": "z",
                                   "status": ChangeStatus.ACCEPTED})
    AIAnswerCache.objects.create(scene_id="1", request_key="k", model="m", answer={})
    AIAnswerCache.objects.create(scene_id="2", request_key="k", model="m", answer={})

    assert store.remove_scenes(["1"]) == ["1"]

    assert set(plan.changes.values_list("scene_id", "status")) == {
        ("1", ChangeStatus.APPLIED), ("2", ChangeStatus.PENDING)}
    assert status_of(plan) == PlanStatus.APPLIED  # nothing accepted is left over
    assert only_scene_one.changes.count() == 0
    assert status_of(only_scene_one) == PlanStatus.DRAFT  # was reviewing
    assert list(AIAnswerCache.objects.values_list("scene_id", flat=True)) == ["2"]
