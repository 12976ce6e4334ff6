"""Apply against the fake Stash: checked through its mutation log and its final data."""

import contextlib
import json
import threading

import pytest
from django.db import connections

from analysis import apply
from analysis.apply import CHANGED_IN_STASH, SCENE_GONE, apply_job, request_apply
from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
from jobs.models import Job, JobStatus
from jobs.runner import JobAlreadyActive, JobCancelled, JobNotCompleted, fail_job, start_job
from scenes.models import Scene, Tag
from scenes.stash import StashClient
from stashhog.api.errors import http_status
from stashhog.api.exceptions import Conflict, NotFound
from tests.analysis.conftest import API_KEY, add_change, entity, make_plan, named, scene_without

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)


def statuses(plan) -> dict[int, str]:
    return dict(plan.changes.values_list("id", "status"))


def mutations(server, name=None) -> list[dict]:
    return [variables for op, variables in server.mutation_log if name in (None, op)]


def run(plan, scene_ids=None) -> Job:
    """Apply in this process; an apply that fails or is cancelled comes back as its row."""
    try:
        return request_apply(plan.pk, scene_ids, background=False)
    except JobNotCompleted as stopped:
        return stopped.job


# -- what lands ----------------------------------------------------------------------------


def test_exactly_the_accepted_changes_land(stash):
    library = stash.library
    outdoor, beach = named(library.tags, "Outdoor"), named(library.tags, "Beach")
    performer = next(iter(library.performers.values()))
    studio = next(iter(library.studios.values()))
    s1 = scene_without(library, "tag_ids", outdoor.id)
    s2 = scene_without(library, "performer_ids", performer.id, skip={s1})
    s3 = next(s.id for s in library.scenes.values() if s.studio_id != studio.id
              and s.id not in (s1, s2))
    plan = make_plan()
    accepted = [
        add_change(plan, s1, "tags", "add", [entity(outdoor)]),
        add_change(plan, s2, "performers", "add", [entity(performer)]),
        add_change(plan, s3, "studio", "set", entity(studio)),
        add_change(plan, s3, "details", "set", "Clean details."),
    ]
    rejected = add_change(plan, s1, "tags", "add", [entity(beach)], status=ChangeStatus.REJECTED)
    pending = add_change(plan, s2, "tags", "add", [entity(beach)], status=ChangeStatus.PENDING)
    before = {sid: list(library.scenes[sid].tag_ids) for sid in (s1, s2)}

    job = run(plan)

    assert job.status == JobStatus.COMPLETED, job.error
    assert library.scenes[s1].tag_ids == [*before[s1], outdoor.id]
    assert performer.id in library.scenes[s2].performer_ids
    assert library.scenes[s2].tag_ids == before[s2]  # the pending change did not land
    assert library.scenes[s3].studio_id == studio.id
    assert library.scenes[s3].details == "Clean details."
    assert beach.id not in library.scenes[s1].tag_ids
    current = statuses(plan)
    assert {current[c.pk] for c in accepted} == {ChangeStatus.APPLIED}
    assert current[rejected.pk] == ChangeStatus.REJECTED
    assert current[pending.pk] == ChangeStatus.PENDING
    assert all(c.applied_at for c in plan.changes.filter(status=ChangeStatus.APPLIED))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPLIED
    assert job.result["applied"] == 4
    assert job.result["failed"] == 0
    assert job.result["plan_status"] == PlanStatus.APPLIED
    # Lists were only ever added to, never replaced.
    for variables in mutations(stash, "BulkSceneUpdate"):
        for key in ("tag_ids", "performer_ids"):
            assert variables["input"].get(key, {"mode": "ADD"})["mode"] == "ADD"
    assert all("tag_ids" not in v["input"] for v in mutations(stash, "SceneUpdate"))
    # The local copy matches Stash.
    assert str(outdoor.id) in set(Scene.objects.get(id=str(s1)).tags.values_list("id", flat=True))
    local = Scene.objects.get(id=str(s3))
    assert (local.studio_id, local.details) == (str(studio.id), "Clean details.")


def test_removals_and_clearing_a_studio(stash):
    library = stash.library
    scene = next(s for s in library.scenes.values() if s.tag_ids and s.studio_id)
    tag_id, kept = scene.tag_ids[0], scene.tag_ids[1:]
    plan = make_plan()
    add_change(plan, scene.id, "tags", "remove",
               [{"id": str(tag_id), "name": library.tags[tag_id].name}])
    add_change(plan, scene.id, "studio", "set", None)

    assert run(plan).status == JobStatus.COMPLETED
    assert library.scenes[scene.id].tag_ids == kept
    assert library.scenes[scene.id].studio_id is None
    assert Scene.objects.get(id=str(scene.id)).studio_id is None
    assert {c.status for c in plan.changes.all()} == {ChangeStatus.APPLIED}


def test_one_request_serves_every_scene_getting_the_same_change(stash):
    library = stash.library
    tag, studio = named(library.tags, "Kitchen"), next(iter(library.studios.values()))
    targets = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:12]
    plan = make_plan()
    for scene_id in targets:
        add_change(plan, scene_id, "tags", "add", [entity(tag)])
        if library.scenes[scene_id].studio_id != studio.id:
            add_change(plan, scene_id, "studio", "set", entity(studio))

    job = run(plan)

    writes = mutations(stash)
    assert len(writes) == 2  # one tag ADD and one studio set, for all twelve scenes
    assert sorted(writes[0]["input"]["ids"], key=int) == sorted(map(str, targets), key=int)
    assert job.result["requests"] < len(targets)
    assert all(tag.id in library.scenes[sid].tag_ids for sid in targets)
    assert all(library.scenes[sid].studio_id == studio.id for sid in targets)


def test_only_the_given_scenes_are_applied(stash):
    library = stash.library
    tag = named(library.tags, "Pool")
    s1 = scene_without(library, "tag_ids", tag.id)
    s2 = scene_without(library, "tag_ids", tag.id, skip={s1})
    plan = make_plan()
    first = add_change(plan, s1, "tags", "add", [entity(tag)])
    second = add_change(plan, s2, "tags", "add", [entity(tag)])

    job = run(plan, scene_ids=[str(s1)])

    assert job.result["applied"] == 1
    assert statuses(plan) == {first.pk: ChangeStatus.APPLIED, second.pk: ChangeStatus.ACCEPTED}
    assert tag.id not in library.scenes[s2].tag_ids
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING


@pytest.mark.django_db(transaction=True)
def test_two_plans_setting_the_same_scene_at_once_are_applied_one_after_the_other(
        stash, monkeypatch):
    library = stash.library
    scene_id = next(s.id for s in library.scenes.values() if s.studio_id is not None)
    first_studio, second_studio = [
        studio for studio in library.studios.values()
        if studio.id != library.scenes[scene_id].studio_id][:2]
    plans = [make_plan(), make_plan()]
    changes = [add_change(plan, scene_id, "studio", "set", entity(studio))
               for plan, studio in zip(plans, (first_studio, second_studio), strict=True)]
    # The first apply pauses between reading the scene and writing it, long enough for the
    # second one to read it too, were it allowed to.
    first_read, second_read = threading.Event(), threading.Event()
    get_scenes = StashClient.get_scenes

    def read_then_pause(client, ids):
        found = get_scenes(client, ids)
        if threading.current_thread().name == "first-apply" and not first_read.is_set():
            first_read.set()
            second_read.wait(timeout=1.5)
        elif threading.current_thread().name == "second-apply":
            second_read.set()
        return found

    monkeypatch.setattr(StashClient, "get_scenes", read_then_pause)
    jobs = {}

    def apply_in_thread(name, plan):
        try:
            jobs[name] = run(plan)
        finally:
            connections.close_all()  # this thread's own

    first = threading.Thread(target=apply_in_thread, args=("first", plans[0]),
                             name="first-apply")
    second = threading.Thread(target=apply_in_thread, args=("second", plans[1]),
                              name="second-apply")
    first.start()
    assert first_read.wait(timeout=30)
    second.start()
    first.join(timeout=60)
    second.join(timeout=60)

    assert (jobs["first"].result["applied"], jobs["second"].result["applied"]) == (1, 0)
    assert jobs["second"].result["failed"] == 1
    second_change = PlanChange.objects.get(pk=changes[1].pk)
    assert (second_change.status, second_change.error) == (ChangeStatus.FAILED, CHANGED_IN_STASH)
    assert library.scenes[scene_id].studio_id == first_studio.id
    assert len(mutations(stash)) == 1  # only one of them wrote


# -- missing entities ------------------------------------------------------------------------


def test_missing_entities_are_found_by_name_or_alias_and_created_once(stash):
    library = stash.library
    ids = list(library.scenes)[:3]
    plan = make_plan()
    for scene_id in ids:
        add_change(plan, scene_id, "tags", "add",
                   [{"id": None, "name": "brand new tag"}, {"id": None, "name": "outdoors"}])
    add_change(plan, ids[0], "performers", "add", [{"id": None, "name": "Nova Star"}])
    add_change(plan, ids[1], "studio", "set", {"id": None, "name": "Fresh Studio"})

    job = run(plan)

    assert job.status == JobStatus.COMPLETED, job.error
    assert [op for op, _ in stash.mutation_log].count("TagCreate") == 1
    created = named(library.tags, "brand new tag")
    outdoor = named(library.tags, "Outdoor")  # "outdoors" is its alias
    assert all({created.id, outdoor.id} <= set(library.scenes[sid].tag_ids) for sid in ids)
    assert named(library.performers, "Nova Star").id in library.scenes[ids[0]].performer_ids
    assert library.scenes[ids[1]].studio_id == named(library.studios, "Fresh Studio").id
    assert job.result["created"]["tags"] == [{"id": str(created.id), "name": "brand new tag"}]
    assert [p["name"] for p in job.result["created"]["performers"]] == ["Nova Star"]
    # The ids are recorded locally, so a later run knows them.
    assert Tag.objects.filter(id=str(created.id), name="brand new tag").exists()
    for change in plan.changes.filter(field="tags"):
        assert [item["id"] for item in change.proposed_value] == [str(created.id),
                                                                  str(outdoor.id)]


def test_a_rerun_finds_the_entity_an_interrupted_run_created(stash):
    """A crash between tagCreate and recording its id: the rerun looks it up, no twin."""
    library = stash.library
    scene_id = next(iter(library.scenes))
    library.add_tag("Half Made")  # what the dead run created
    plan = make_plan()
    change = add_change(plan, scene_id, "tags", "add", [{"id": None, "name": "half made"}])

    run(plan)

    assert "TagCreate" not in [op for op, _ in stash.mutation_log]
    assert sum(1 for t in library.tags.values() if t.name.casefold() == "half made") == 1
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED
    assert change.proposed_value[0]["id"] == str(named(library.tags, "Half Made").id)


# -- edits made in Stash meanwhile -----------------------------------------------------------


def test_edits_made_in_stash_after_analysis_survive(stash):
    library = stash.library
    performer = next(iter(library.performers.values()))
    studio, other = list(library.studios.values())[:2]
    scene_id = scene_without(library, "performer_ids", performer.id)
    library.update_scene(scene_id, studio_id=None)
    Scene.objects.filter(id=str(scene_id)).update(studio=None)
    plan = make_plan()
    performer_add = add_change(plan, scene_id, "performers", "add", [entity(performer)])
    studio_set = add_change(plan, scene_id, "studio", "set", entity(studio))
    # A person edits the scene in Stash after the analysis.
    added_tag = named(library.tags, "Shower")
    library.update_scene(scene_id, studio_id=other.id,
                         tag_ids=[*library.scenes[scene_id].tag_ids, added_tag.id])

    job = run(plan)

    scene = library.scenes[scene_id]
    assert added_tag.id in scene.tag_ids  # kept through the performer add
    assert performer.id in scene.performer_ids
    assert scene.studio_id == other.id  # not clobbered
    performer_add.refresh_from_db()
    studio_set.refresh_from_db()
    assert performer_add.status == ChangeStatus.APPLIED
    assert (studio_set.status, studio_set.error) == (ChangeStatus.FAILED, CHANGED_IN_STASH)
    assert all("studio_id" not in v["input"] for v in mutations(stash))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING
    assert job.result["failed"] == 1


def test_a_value_stash_already_holds_is_applied_without_a_request(stash):
    library = stash.library
    studio = next(iter(library.studios.values()))
    tag = named(library.tags, "Hotel")
    scene_id = next(s.id for s in library.scenes.values() if s.studio_id != studio.id)
    plan = make_plan()
    studio_set = add_change(plan, scene_id, "studio", "set", entity(studio))
    add_change(plan, scene_id, "details", "set", "Already there.")
    add_change(plan, scene_id, "tags", "add", [entity(tag)])
    # The run that sent these died before recording them.
    library.update_scene(scene_id, studio_id=studio.id, details="Already there.",
                         tag_ids=[*library.scenes[scene_id].tag_ids, tag.id])

    job = run(plan)

    assert stash.mutation_log == []
    assert {c.status for c in plan.changes.all()} == {ChangeStatus.APPLIED}
    assert (job.result["skipped"], job.result["applied"]) == (3, 0)
    studio_set.refresh_from_db()
    assert studio_set.applied_at is not None
    assert Scene.objects.get(id=str(scene_id)).studio_id == str(studio.id)


def test_changes_of_a_scene_deleted_in_stash_fail(stash):
    library = stash.library
    tag = named(library.tags, "Car")
    gone, kept = list(library.scenes)[:2]
    plan = make_plan()
    lost = add_change(plan, gone, "details", "set", "New text")
    applied = add_change(plan, kept, "details", "set", "New text")
    library.delete_scene(gone)
    add_change(plan, kept, "tags", "add", [entity(tag)])

    run(plan)

    lost.refresh_from_db()
    applied.refresh_from_db()
    assert (lost.status, lost.error) == (ChangeStatus.FAILED, SCENE_GONE)
    assert applied.status == ChangeStatus.APPLIED
    assert library.scenes[kept].details == "New text"


# -- faults ----------------------------------------------------------------------------------


def test_a_bad_entity_id_fails_only_its_own_changes(stash):
    library = stash.library
    tag = named(library.tags, "Forest")
    ids = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:4]
    plan = make_plan()
    bad = [add_change(plan, sid, "tags", "add", [{"id": "987654", "name": "Deleted"}])
           for sid in ids[:3]]
    good = [add_change(plan, sid, "tags", "add", [entity(tag)]) for sid in ids]

    job = run(plan)

    assert job.status == JobStatus.COMPLETED
    for change in bad:
        change.refresh_from_db()
        assert change.status == ChangeStatus.FAILED
        assert "987654" in change.error
    assert {c.status for c in PlanChange.objects.filter(pk__in=[c.pk for c in good])} == {
        ChangeStatus.APPLIED
    }
    assert all(tag.id in library.scenes[sid].tag_ids for sid in ids)
    # The bad group: one request for three scenes, then one per scene.
    bad_sends = [v for v in mutations(stash) if v["input"]["tag_ids"]["ids"] == ["987654"]]
    assert [len(v["input"]["ids"]) for v in bad_sends] == [3, 1, 1, 1]
    assert job.result["failed"] == 3
    assert job.result["applied"] == 4


def test_a_rejected_chunk_is_retried_scene_by_scene(stash):
    library = stash.library
    tag = named(library.tags, "Garden")
    ids = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:3]
    plan = make_plan()
    for sid in ids:
        add_change(plan, sid, "tags", "add", [entity(tag)])
    stash.fail_operation("BulkSceneUpdate", error_message="database is locked")

    job = run(plan)

    assert [len(v["input"]["ids"]) for v in mutations(stash)] == [3, 1, 1, 1]
    assert job.result["applied"] == 3
    assert all(tag.id in library.scenes[sid].tag_ids for sid in ids)


def test_stash_going_away_fails_the_job_and_leaves_the_rest_accepted(stash):
    library = stash.library
    tag = named(library.tags, "Office")
    ids = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:2]
    plan = make_plan()
    for sid in ids:
        add_change(plan, sid, "tags", "add", [entity(tag)])
    stash.fail_operation("BulkSceneUpdate", times=10, status=503)

    job = run(plan)

    assert job.status == JobStatus.FAILED
    assert {c.status for c in plan.changes.all()} == {ChangeStatus.ACCEPTED}
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING  # not left "applying"
    assert job.result["remaining"] == 2
    assert API_KEY not in job.error

    stash.clear_faults()
    assert run(plan).result["applied"] == 2  # the rerun applies what was left


def test_a_failed_change_is_retried_only_once_accepted_again(stash):
    library = stash.library
    studio, other = list(library.studios.values())[:2]
    scene_id = next(s.id for s in library.scenes.values() if s.studio_id not in (studio.id,
                                                                                  other.id))
    plan = make_plan()
    change = add_change(plan, scene_id, "studio", "set", entity(studio))
    original = library.scenes[scene_id].studio_id
    library.update_scene(scene_id, studio_id=other.id)
    run(plan)
    change.refresh_from_db()
    assert change.status == ChangeStatus.FAILED

    with pytest.raises(Conflict):
        run(plan)  # nothing accepted: the failure is not retried on its own

    library.update_scene(scene_id, studio_id=original)  # the person reverts the edit
    PlanChange.objects.filter(pk=change.pk).update(status=ChangeStatus.ACCEPTED, error="")
    run(plan)
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED
    assert library.scenes[scene_id].studio_id == studio.id


# -- the job: status, progress, cancellation, secrets ----------------------------------------


class RecordingProgress:
    """Stands in for the runner's reporter; cancels at the ``cancel_at``-th check."""

    def __init__(self, plan, cancel_at=None):
        self.plan, self.cancel_at = plan, cancel_at
        self.checks, self.updates, self.plan_statuses = 0, [], []
        self.partial_result = None
        self.job = Job(type="apply")  # started by the system

    def update(self, processed, total=None, message=None, force=False):
        self.updates.append((processed, total))
        self.plan_statuses.append(AnalysisPlan.objects.get(pk=self.plan.pk).status)

    def check_cancelled(self):
        self.checks += 1
        if self.checks == self.cancel_at:
            raise JobCancelled()

    def holding(self, keys, waiting_message):
        return contextlib.nullcontext()  # the locks are the runner's (tested below)


def test_progress_per_scene_and_cancel_between_chunks(stash, monkeypatch):
    monkeypatch.setattr(apply, "SCENE_BATCH", 4)
    library = stash.library
    tag = named(library.tags, "Bedroom")
    ids = [s.id for s in library.scenes.values() if tag.id not in s.tag_ids][:10]
    plan = make_plan()
    for sid in ids:
        add_change(plan, sid, "tags", "add", [entity(tag)])
    progress = RecordingProgress(plan, cancel_at=2)

    with pytest.raises(JobCancelled):
        apply_job(progress, {"plan_id": plan.pk, "scene_ids": None})

    assert progress.updates == [(0, 10), (4, 10)]
    assert set(progress.plan_statuses) == {PlanStatus.APPLYING}
    assert sum(tag.id in library.scenes[sid].tag_ids for sid in ids) == 4
    assert list(plan.changes.values_list("status", flat=True)).count(ChangeStatus.APPLIED) == 4
    assert progress.partial_result["remaining"] == 6
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING

    progress = RecordingProgress(plan)
    result = apply_job(progress, {"plan_id": plan.pk, "scene_ids": None})
    assert progress.updates == [(0, 6), (4, 6), (6, 6)]
    assert result["applied"] == 6
    assert result["plan_status"] == PlanStatus.APPLIED
    assert all(tag.id in library.scenes[sid].tag_ids for sid in ids)


def test_no_api_key_in_errors_results_or_logs(stash, caplog):
    library = stash.library
    scene_id = next(iter(library.scenes))
    plan = make_plan()
    change = add_change(plan, scene_id, "tags", "add", [{"id": "55555", "name": "x"}])
    stash.fail_operation("BulkSceneUpdate",
                         error_message=f"boom at {stash.url}/scene/1/stream?apikey={API_KEY}")

    job = run(plan)

    change.refresh_from_db()
    assert change.status == ChangeStatus.FAILED
    assert change.error
    assert API_KEY not in change.error
    assert API_KEY not in json.dumps(job.result)
    assert API_KEY not in caplog.text


# -- request_apply rules ---------------------------------------------------------------------


def test_request_apply_404_and_409(stash):
    with pytest.raises(NotFound):
        request_apply(999_999, None, background=False)

    cancelled = make_plan(PlanStatus.CANCELLED)
    add_change(cancelled, next(iter(stash.library.scenes)), "details", "set", "x")
    with pytest.raises(Conflict):
        request_apply(cancelled.pk, None, background=False)

    plan = make_plan()
    scene_id = next(iter(stash.library.scenes))
    add_change(plan, scene_id, "details", "set", "x", status=ChangeStatus.PENDING)
    with pytest.raises(Conflict):
        request_apply(plan.pk, None, background=False)
    add_change(plan, scene_id, "details", "set", "x")
    with pytest.raises(Conflict):
        request_apply(plan.pk, ["12345"], background=False)  # nothing accepted there

    start_job(apply.APPLY_JOB, {"plan_id": plan.pk, "scene_ids": None})  # queued, active
    with pytest.raises(JobAlreadyActive) as raised:
        request_apply(plan.pk, None, background=True)
    assert http_status(raised.value) == 409


def test_background_apply_queues_a_job(stash, django_capture_on_commit_callbacks):
    library = stash.library
    tag = named(library.tags, "Duo")
    scene_id = scene_without(library, "tag_ids", tag.id)
    plan = make_plan()
    add_change(plan, scene_id, "tags", "add", [entity(tag)])

    with django_capture_on_commit_callbacks(execute=True):
        job = request_apply(plan.pk, None, background=True)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.exclusive_key is None
    assert tag.id in library.scenes[scene_id].tag_ids


# -- through the API -------------------------------------------------------------------------


def apply_url(plan_id, background: bool) -> str:
    return f"/api/analysis/plans/{plan_id}/apply?background={str(background).lower()}"


def test_api_apply_inline_answers_the_result(stash, api_client):
    library = stash.library
    tag = named(library.tags, "Solo")
    scene_id = scene_without(library, "tag_ids", tag.id)
    plan = make_plan()
    add_change(plan, scene_id, "tags", "add", [entity(tag)])

    response = api_client.post(apply_url(plan.pk, False), {}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["applied"] == 1
    assert response.json()["plan_status"] == PlanStatus.APPLIED
    assert tag.id in library.scenes[scene_id].tag_ids


def test_api_apply_404_and_409(stash, api_client):
    assert api_client.post(apply_url(999_999, False), {}, format="json").status_code == 404

    plan = make_plan()
    scene_id = next(iter(stash.library.scenes))
    add_change(plan, scene_id, "details", "set", "x", status=ChangeStatus.PENDING)
    response = api_client.post(apply_url(plan.pk, False), {}, format="json")
    assert response.status_code == 409
    assert response.json()["success"] is False

    add_change(plan, scene_id, "details", "set", "x")
    start_job(apply.APPLY_JOB, {"plan_id": plan.pk, "scene_ids": None})  # one is active
    response = api_client.post(apply_url(plan.pk, True), {}, format="json")
    assert response.status_code == 409

    AnalysisPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.CANCELLED)
    Job.objects.update(status=JobStatus.CANCELLED, exclusive_key=None)
    response = api_client.post(apply_url(plan.pk, False), {"scene_ids": [str(scene_id)]},
                               format="json")
    assert response.status_code == 409


def test_an_apply_job_lost_with_its_worker_does_not_leave_the_plan_applying(stash):
    library = stash.library
    tag = named(library.tags, "Office")
    scene_id = next(s.id for s in library.scenes.values() if tag.id not in s.tag_ids)
    plan = make_plan(status=PlanStatus.APPLYING)  # as the job left it when its worker died
    add_change(plan, scene_id, "tags", "add", [entity(tag)])
    job = Job.objects.create(type=apply.APPLY_JOB, status=JobStatus.RUNNING,
                             parameters={"plan_id": plan.pk, "scene_ids": None})

    assert fail_job(job, "worker lost")

    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING
