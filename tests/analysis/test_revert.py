"""Undo against the fake Stash: apply records what it replaced, a revert plan takes it back
(conflicts marked, created entities left in Stash), and a scene's history says who did what."""

import pytest

from analysis.apply import CHANGED_IN_STASH, request_apply
from analysis.models import ChangeSource, ChangeStatus, PlanChange, PlanStatus
from analysis.revert import create_revert_plan
from analysis.review import bulk_review, update_change
from jobs.models import JobStatus
from jobs.runner import JobNotCompleted
from stashhog.api.exceptions import Conflict, NotFound
from tests.analysis.conftest import add_change, entity, make_plan, named

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)


def apply_plan(plan, user=None):
    try:
        return request_apply(plan.pk, None, background=False, user=user)
    except JobNotCompleted as stopped:
        return stopped.job


def accept_all(plan, user=None):
    return bulk_review(plan.pk, ChangeStatus.ACCEPTED, user=user)


@pytest.fixture
def applied(stash, user):
    """An applied plan on one scene: a studio set, a details set, a performer added, two
    tags added (one Stash already had by apply time, one created by the apply) and a tag
    removed. Returns (plan, scene id, the scene as it was before)."""
    library = stash.library
    scene = next(s for s in library.scenes.values() if s.studio_id and len(s.tag_ids) >= 2)
    before = {"studio_id": scene.studio_id, "details": scene.details,
              "tag_ids": list(scene.tag_ids), "performer_ids": list(scene.performer_ids)}
    studio = next(s for s in library.studios.values() if s.id != scene.studio_id)
    performer = next(p for p in library.performers.values() if p.id not in scene.performer_ids)
    beach = named(library.tags, "Beach")
    if beach.id in scene.tag_ids:
        beach = named(library.tags, "Forest")
    removed = library.tags[scene.tag_ids[0]]
    plan = make_plan()
    add_change(plan, scene.id, "studio", "set", entity(studio))
    add_change(plan, scene.id, "details", "set", "Rewritten details.")
    add_change(plan, scene.id, "performers", "add", [entity(performer)])
    add_change(plan, scene.id, "tags", "add", [entity(beach), {"id": None, "name": "Undo Me"}])
    add_change(plan, scene.id, "tags", "remove", [entity(removed)])
    plan.changes.update(status=ChangeStatus.PENDING)
    accept_all(plan, user)
    # Stash got Beach from someone else before the apply: the apply does not add it.
    library.update_scene(scene.id, tag_ids=[*scene.tag_ids, beach.id])
    before["tag_ids_at_apply"] = list(scene.tag_ids)
    job = apply_plan(plan, user)
    assert job.status == JobStatus.COMPLETED, job.error
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPLIED
    return plan, scene.id, before


def test_apply_records_the_value_before_created_entities_and_users(applied, stash, user):
    plan, scene_id, before = applied
    changes = {(c.field, c.action): c for c in plan.changes.all()}
    library = stash.library
    studio = changes[("studio", "set")]
    assert studio.value_before_apply == {"id": str(before["studio_id"]),
                                         "name": library.studios[before["studio_id"]].name}
    assert changes[("details", "set")].value_before_apply == (before["details"] or "")
    tags_added = changes[("tags", "add")]
    assert [t["id"] for t in tags_added.value_before_apply] == [
        str(i) for i in before["tag_ids_at_apply"]]
    created = named(library.tags, "Undo Me")
    assert tags_added.created_entities == [{"id": str(created.id), "name": "Undo Me"}]
    assert all((c.reviewed_by, c.applied_by) == (user, user) for c in changes.values())


def test_a_revert_plan_undoes_exactly_what_the_apply_wrote(applied, stash, user):
    plan, scene_id, before = applied
    library = stash.library
    created = named(library.tags, "Undo Me")

    revert = create_revert_plan(plan.pk)

    assert revert.status == PlanStatus.DRAFT
    assert revert.name == f"Revert of {plan.name}"
    assert f"tag 'Undo Me' (id {created.id})" in revert.description
    assert revert.metadata["entities_left_in_stash"] == [
        {"kind": "tag", "id": str(created.id), "name": "Undo Me"}]
    undo = {(c.field, c.action): c for c in revert.changes.all()}
    assert set(undo) == {("studio", "set"), ("details", "set"), ("performers", "remove"),
                         ("tags", "remove"), ("tags", "add")}
    assert all(c.source == ChangeSource.REVERT and c.status == ChangeStatus.PENDING
               and not c.conflict and c.reverts.plan_id == plan.pk for c in undo.values())
    # Beach was in Stash before the apply: only the created tag is taken off.
    assert [t["name"] for t in undo[("tags", "remove")].proposed_value] == ["Undo Me"]
    assert undo[("studio", "set")].proposed_value["id"] == str(before["studio_id"])

    accept_all(revert, user)
    assert apply_plan(revert, user).status == JobStatus.COMPLETED
    scene = library.scenes[scene_id]
    assert scene.studio_id == before["studio_id"]
    assert (scene.details or "") == (before["details"] or "")
    assert sorted(scene.performer_ids) == sorted(before["performer_ids"])
    assert sorted(scene.tag_ids) == sorted(before["tag_ids_at_apply"])
    assert created.id in library.tags  # left in Stash
    # Applied reverts are not reverted twice from the original plan.
    with pytest.raises(Conflict):
        create_revert_plan(plan.pk)


def test_values_changed_in_stash_since_the_apply_are_conflicts(applied, stash, user):
    plan, scene_id, before = applied
    library = stash.library
    other = next(s for s in library.studios.values()
                 if s.id not in (before["studio_id"], library.scenes[scene_id].studio_id))
    created = named(library.tags, "Undo Me")
    # Someone moves the studio and takes the created tag off in Stash after the apply.
    library.update_scene(scene_id, studio_id=other.id,
                         tag_ids=[t for t in library.scenes[scene_id].tag_ids if t != created.id])

    revert = create_revert_plan(plan.pk)

    undo = {(c.field, c.action): c for c in revert.changes.all()}
    studio, tags = undo[("studio", "set")], undo[("tags", "remove")]
    assert studio.conflict == (f"Stash now holds {other.name}, not "
                               f"{plan.changes.get(field='studio').proposed_value['name']} "
                               "that the apply wrote.")
    assert tags.conflict == "Stash no longer has: Undo Me."
    assert {studio.status, tags.status} == {ChangeStatus.REJECTED}
    assert revert.metadata["conflicts"] == 2
    assert not undo[("details", "set")].conflict

    counts = accept_all(revert, user)
    assert counts["skipped_conflicts"] == 2
    assert PlanChange.objects.get(pk=studio.pk).status == ChangeStatus.REJECTED
    # Accepting a conflict by name is possible, but apply still refuses to clobber.
    update_change(studio.pk, status=ChangeStatus.ACCEPTED, user=user)
    apply_plan(revert, user)
    studio.refresh_from_db()
    assert (studio.status, studio.error) == (ChangeStatus.FAILED, CHANGED_IN_STASH)
    assert library.scenes[scene_id].studio_id == other.id


def test_revert_of_some_scenes_only(stash, user):
    library = stash.library
    tag = named(library.tags, "Pool")
    first, second = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:2]
    plan = make_plan()
    add_change(plan, first, "tags", "add", [entity(tag)])
    add_change(plan, second, "tags", "add", [entity(tag)])
    apply_plan(plan, user)

    revert = create_revert_plan(plan.pk, [str(second)])

    assert list(revert.changes.values_list("scene_id", flat=True)) == [str(second)]


def test_changes_applied_before_recording_fall_back_to_the_analysed_value(stash, user):
    library = stash.library
    scene = next(s for s in library.scenes.values() if s.details)
    analysed = scene.details
    plan = make_plan()
    change = add_change(plan, scene.id, "details", "set", "New details")
    apply_plan(plan, user)
    PlanChange.objects.filter(pk=change.pk).update(value_before_apply=None)

    undo = create_revert_plan(plan.pk).changes.get()

    assert undo.proposed_value == change.current_value == analysed
    assert "was not recorded" in undo.reason


def test_nothing_to_revert_is_a_conflict_and_unknown_plans_404(stash, plan_factory):
    plan = plan_factory({"scene_id": "1", "field": "details", "proposed_value": "x"})
    with pytest.raises(Conflict, match="no applied changes"):
        create_revert_plan(plan.pk)
    with pytest.raises(NotFound):
        create_revert_plan(99999)


# -- API and admin ---------------------------------------------------------------------------


def test_api_revert_answers_201_with_the_new_plan(applied, api_client):
    plan, scene_id, _before = applied
    response = api_client.post(f"/api/analysis/plans/{plan.pk}/revert",
                               {"scene_ids": [str(scene_id)]}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["metadata"]["reverts_plan_id"] == plan.pk
    assert body["review_counts"]["pending"] == body["total_changes"] == 5
    assert "stay in Stash" in body["description"]
    bad = api_client.post(f"/api/analysis/plans/{plan.pk}/revert", {"scene_id": ["1"]},
                          format="json")
    assert bad.status_code == 400
    assert api_client.post("/api/analysis/plans/999/revert", {}, format="json").status_code == 404


def test_admin_action_creates_the_revert_plan(applied, client, django_user_model):
    plan, _scene_id, _before = applied
    client.force_login(django_user_model.objects.create_superuser("boss", password="pw"))
    response = client.post("/admin/analysis/analysisplan/",
                           {"action": "revert_plans", "_selected_action": [plan.pk]},
                           follow=True)
    revert = plan.__class__.objects.get(metadata__reverts_plan_id=plan.pk)
    assert f'/admin/analysis/analysisplan/{revert.pk}/change/' in response.content.decode()


def test_scene_history_lists_applied_changes_newest_first_with_users(applied, api_client,
                                                                      stash, user):
    plan, scene_id, _before = applied
    revert = create_revert_plan(plan.pk)
    revert.changes.filter(field="details").update(status=ChangeStatus.ACCEPTED)
    assert apply_plan(revert).status == JobStatus.COMPLETED  # started by the system

    response = api_client.get(f"/api/scenes/{scene_id}/history")

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 6
    newest = body["items"][0]
    assert (newest["plan_id"], newest["field"], newest["applied_by"]) == (
        revert.pk, "details", None)
    rest = body["items"][1:]
    assert {item["plan_id"] for item in rest} == {plan.pk}
    assert {(item["reviewed_by"], item["applied_by"]) for item in rest} == {("tester", "tester")}
    assert set(newest) == {"change_id", "plan_id", "plan_name", "field", "action",
                           "value_before", "applied_value", "applied_at", "reviewed_by",
                           "applied_by"}
    times = [item["applied_at"] for item in body["items"]]
    assert times == sorted(times, reverse=True)


def test_scene_history_of_an_unknown_scene_is_404(api_client, db):
    response = api_client.get("/api/scenes/424242/history")
    assert response.status_code == 404
    assert response.json()["error"] == "Scene not found"
