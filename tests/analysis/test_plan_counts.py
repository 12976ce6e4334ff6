"""PlanCounts and PlanScene, kept by triggers on the changes (migration 0010). Every
analysis test also checks them against the changes when it ends (conftest)."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanCounts, PlanScene
from analysis.plan_queries import plan_scene_ids, plan_scenes, plans_with_counts
from tests.analysis.conftest import plan_count_drift


def change(plan, scene_id, status=ChangeStatus.PENDING, field="title"):
    return PlanChange(plan=plan, scene_id=str(scene_id), field=field, action="set",
                      proposed_value="x", confidence=0.5, source="path", status=status)


def counts(plan):
    row = plans_with_counts().get(pk=plan.pk)
    return (row.total_scenes, row.total_changes, row.count_pending, row.count_accepted,
            row.count_rejected, row.count_applied, row.count_failed)


def scenes(plan):
    return list(PlanScene.objects.filter(plan=plan).order_by("scene_number")
                .values_list("scene_id", "changes"))


@pytest.fixture
def plans(db):
    return (AnalysisPlan.objects.create(name="One"), AnalysisPlan.objects.create(name="Two"))


def test_a_plan_without_changes_counts_zero(plans):
    assert counts(plans[0]) == (0, 0, 0, 0, 0, 0, 0)
    assert not PlanCounts.objects.exists()


def test_inserts_in_one_statement_and_one_by_one_count_scenes_once(plans):
    one, two = plans
    PlanChange.objects.bulk_create([change(one, 10), change(one, 10, field="date"),
                                    change(one, 9, ChangeStatus.ACCEPTED), change(two, 10)])
    change(one, 9, ChangeStatus.REJECTED, field="date").save()
    change(one, 100).save()

    assert counts(one) == (3, 5, 3, 1, 1, 0, 0)
    assert counts(two) == (1, 1, 1, 0, 0, 0, 0)
    assert scenes(one) == [("9", 2), ("10", 2), ("100", 1)]  # as numbers, not as text


def test_status_updates_move_counts_between_statuses(plans):
    one, _ = plans
    PlanChange.objects.bulk_create([change(one, scene) for scene in (1, 1, 2, 3)])
    PlanChange.objects.filter(plan=one, scene_id="1").update(status=ChangeStatus.ACCEPTED)
    single = PlanChange.objects.get(plan=one, scene_id="2")
    single.status = ChangeStatus.FAILED
    single.save(update_fields=["status"])
    PlanChange.objects.filter(plan=one).update(reason="unrelated")  # no status changes

    assert counts(one) == (3, 4, 1, 2, 0, 0, 1)


def test_deletes_drop_a_scene_with_its_last_change(plans):
    one, two = plans
    PlanChange.objects.bulk_create([change(one, 1), change(one, 1, ChangeStatus.APPLIED),
                                    change(one, 2), change(two, 2)])
    PlanChange.objects.filter(plan=one, status=ChangeStatus.PENDING).delete()

    assert counts(one) == (1, 1, 0, 0, 0, 1, 0)
    assert scenes(one) == [("1", 1)]
    assert counts(two) == (1, 1, 1, 0, 0, 0, 0)


def test_deleting_a_plan_deletes_its_counts_and_scenes(plans):
    one, two = plans
    PlanChange.objects.bulk_create([change(one, 1), change(two, 1)])
    one.delete()

    assert set(PlanCounts.objects.values_list("plan_id", flat=True)) == {two.pk}
    assert set(PlanScene.objects.values_list("plan_id", flat=True)) == {two.pk}


@pytest.mark.parametrize("moved", [{"scene_id": "2"}, {"plan_id": "other"}])
def test_a_change_cannot_move_to_another_plan_or_scene(plans, moved):
    one, two = plans
    PlanChange.objects.bulk_create([change(one, 1)])
    target = {key: two.pk if value == "other" else value for key, value in moved.items()}
    with pytest.raises(DatabaseError), transaction.atomic():
        PlanChange.objects.filter(plan=one).update(**target)
    assert counts(one) == (1, 1, 1, 0, 0, 0, 0)


def test_the_drift_check_sees_counts_and_scenes_that_disagree(plans):
    one, _ = plans
    PlanChange.objects.bulk_create([change(one, 1), change(one, 2)])
    PlanCounts.objects.filter(plan=one).update(accepted=1)
    PlanScene.objects.filter(plan=one, scene_id="2").delete()

    assert sorted(plan_count_drift()) == [("missing counts", one.pk, ""),
                                          ("missing scene", one.pk, "2"),
                                          ("wrong counts", one.pk, "")]
    PlanCounts.objects.filter(plan=one).update(accepted=0)  # as it was, for the conftest
    PlanScene.objects.create(plan=one, scene_id="2", scene_number=2, changes=1)


def test_pages_of_plan_scenes_are_the_pages_of_its_changes_scenes(plans):
    one, _ = plans
    PlanChange.objects.bulk_create([change(one, scene, field=field)
                                    for scene in (1, 2, 9, 10, 11, 100, 20)
                                    for field in ("title", "date")[:1 + scene % 2]])
    changes = one.changes.all()
    for page in (1, 2, 3, 4):
        assert (plan_scenes(changes, page, 2, plan_scene_ids(one.pk))
                == plan_scenes(changes, page, 2))
    assert [s["scene_id"] for s in plan_scenes(changes, 2, 3, plan_scene_ids(one.pk))] == [
        "10", "11", "20"]


def test_a_page_of_the_plan_detail_reads_plan_scenes_not_the_changes_distinct(api_client,
                                                                              plans):
    one, _ = plans
    PlanChange.objects.bulk_create([change(one, scene) for scene in range(1, 8)])
    with CaptureQueriesContext(connection) as captured:
        body = api_client.get(f"/api/analysis/plans/{one.pk}", {"page": 2, "per_page": 3}
                              ).json()

    assert [s["scene_id"] for s in body["scenes"]] == ["4", "5", "6"]
    assert body["total_scenes"] == 7
    assert not any("DISTINCT" in query["sql"] for query in captured)
    assert any('"analysis_planscene"' in query["sql"] for query in captured)
