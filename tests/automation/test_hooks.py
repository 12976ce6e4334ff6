"""POST /api/hooks/stash: hooks become a few jobs that resync every scene named.

The database is not transactional here, so a started job stays pending (its dispatch waits
for a commit that never comes): exactly what a burst meets while the job waits to run."""

import itertools

import pytest
from rest_framework.test import APIClient

from analysis.models import SceneAnalysis
from automation.hooks import HOOK_JOB
from automation.models import HookedScene
from jobs import runner
from jobs.models import Job, JobStatus
from scenes.models import Scene
from settings_app.registry import save_settings

pytestmark = pytest.mark.django_db

HOOK_TYPES = ("Scene.Create.Post", "Scene.Update.Post")


@pytest.fixture
def stash(db, fake_stash_factory):
    server = fake_stash_factory(scenes=200)
    save_settings({"stash_url": server.url, "stash_api_key": server.api_key})
    return server


def hook(api_client, scene_id, hook_type="Scene.Update.Post"):
    return api_client.post("/api/hooks/stash", {"hookContext": {
        "type": hook_type, "id": int(scene_id), "input": None, "inputFields": None}},
        format="json")


def hook_jobs():
    return list(Job.objects.filter(type=HOOK_JOB))


def run(job: Job) -> Job:
    runner.run_job(str(job.id), worker="unit@test")
    job.refresh_from_db()
    return job


def test_a_burst_of_1000_hooks_is_one_job_that_syncs_every_scene(api_client, stash):
    scene_ids = sorted(str(scene_id) for scene_id in stash.library.scenes)
    calls = zip(itertools.islice(itertools.cycle(scene_ids), 1000),
                itertools.cycle(HOOK_TYPES), strict=False)
    for scene_id, hook_type in calls:
        response = hook(api_client, scene_id, hook_type)
        assert response.status_code == 202
    [job] = hook_jobs()
    assert response.json() == {"scenes": 1, "job_id": str(job.id)}
    assert HookedScene.objects.count() == len(scene_ids)

    job = run(job)
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.result == {"resynced": 200, "removed": 0, "analysis_job_id": None}
    assert sorted(Scene.objects.values_list("id", flat=True)) == scene_ids
    assert not HookedScene.objects.exists()


def test_a_hook_during_a_running_job_starts_the_next_one(api_client, stash):
    hook(api_client, "1")
    [first] = hook_jobs()
    Job.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)  # a worker took it
    body = hook(api_client, "2").json()
    assert body["job_id"] != str(first.id)
    assert len(hook_jobs()) == 2


def test_a_batch_and_a_destroyed_scene(api_client, stash):
    stash.library.delete_scene(5)
    Scene.objects.create(id="5", title="gone", created_date="2026-01-01T00:00:00Z",
                         stash_updated_at="2026-01-01T00:00:00Z",
                         last_synced="2026-01-01T00:00:00Z")
    response = api_client.post("/api/hooks/stash", {
        "type": "Scene.Destroy.Post", "scene_ids": ["5", "6", "6"]}, format="json")
    assert response.status_code == 202
    assert response.json()["scenes"] == 2
    job = run(hook_jobs()[0])
    assert (job.result["resynced"], job.result["removed"]) == (1, 1)
    assert list(Scene.objects.values_list("id", flat=True)) == ["6"]


def test_with_hook_analyze_the_resynced_scenes_are_analysed_once(api_client, stash):
    save_settings({"hook_analyze": True})
    api_client.post("/api/hooks/stash", {"type": "Scene.Create.Post",
                                         "scene_ids": ["1", "2", "3"]}, format="json")
    job = run(hook_jobs()[0])
    analysis = Job.objects.get(id=job.result["analysis_job_id"])
    assert analysis.type == "analysis"
    assert (analysis.parameters["scene_ids"], analysis.parameters["only"]) == (
        ["1", "2", "3"], "changed")
    run(analysis)
    assert SceneAnalysis.objects.count() == 3

    # The same scenes come back unchanged (e.g. StashHog's own apply, already held): the
    # resync finds nothing new to analyse, so no analysis (and no cycle).
    api_client.post("/api/hooks/stash", {"type": "Scene.Update.Post",
                                         "scene_ids": ["1", "2", "3"]}, format="json")
    second = run(Job.objects.filter(type=HOOK_JOB, status=JobStatus.PENDING).get())
    assert second.result["analysis_job_id"] is None


def test_other_hooks_are_ignored_and_bad_bodies_are_400(api_client):
    response = api_client.post("/api/hooks/stash", {"hookContext": {
        "type": "Performer.Update.Post", "id": 3}}, format="json")
    assert response.status_code == 200
    assert response.json() == {"scenes": 0, "job_id": None}
    assert not hook_jobs()
    for body in ({}, {"scene_ids": ["1"]}, {"hookContext": {"type": "Scene.Update.Post"}},
                 {"hookContext": {"type": "Scene.Update.Post", "id": 1}, "scene_ids": ["2"]}):
        assert api_client.post("/api/hooks/stash", body, format="json").status_code == 400


def test_hooks_take_a_token_not_a_session(user):
    client = APIClient()
    client.force_login(user)
    response = client.post("/api/hooks/stash", {"scene_ids": ["1"], "type": "Scene.Create.Post"},
                           format="json")
    assert response.status_code == 401
