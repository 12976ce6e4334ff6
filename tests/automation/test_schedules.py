"""Schedules through the API, the admin and the beat task: validation, the periodic task
beat reads, runs (started / skipped / refused) and their record on the schedule."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from analysis.fields import SCENE_FIELDS
from automation.models import Schedule
from automation.tasks import run_schedule_task
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

SYNC = {"name": "Sync", "kind": "sync", "parameters": {"incremental": True},
        "crontab": "*/15 * * * *"}


def create(api_client, **fields):
    return api_client.post("/api/schedules", {**SYNC, **fields}, format="json")


def active_sync() -> Job:
    return Job.objects.create(type="sync", status=JobStatus.RUNNING, exclusive_key="sync")


def test_a_fresh_install_has_a_disabled_sync_and_workflow_schedule(api_client):
    body = api_client.get("/api/schedules").json()
    assert body["total"] == 2
    sync, workflow = body["items"]  # by name
    assert sync["name"] == "Incremental sync"
    assert (sync["kind"], sync["parameters"]) == ("sync", {"incremental": True})
    assert (sync["crontab"], sync["timezone"], sync["enabled"]) == ("*/30 * * * *", "UTC", False)
    assert sync["next_run_at"] is None
    assert sync["last_job"] is None
    assert workflow["name"] == "Nightly workflow"
    assert (workflow["kind"], workflow["parameters"]) == ("workflow", {})
    assert (workflow["crontab"], workflow["enabled"]) == ("0 3 * * *", False)


def test_create_stores_a_periodic_task_pointing_at_the_run_task(api_client):
    response = create(api_client, crontab="0  3 * * 1-5", timezone="Europe/Berlin")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["crontab"] == "0 3 * * 1-5"
    assert body["timezone"] == "Europe/Berlin"
    assert body["enabled"] is True
    assert body["next_run_at"] is not None
    task = Schedule.objects.get(pk=body["id"]).periodic_task
    assert task.task == "automation.run_schedule"
    assert json.loads(task.args) == [body["id"]]
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "3", "1-5")
    assert str(task.crontab.timezone) == "Europe/Berlin"
    assert task.interval is None
    assert task.enabled


@pytest.mark.parametrize(("fields", "field"), [
    ({"crontab": "*/15 * * *"}, "crontab"),
    ({"crontab": "61 * * * *"}, "crontab"),
    ({"crontab": None}, "crontab"),
    ({"crontab": "* * * * *", "interval_seconds": 600}, "crontab"),
    ({"crontab": None, "interval_seconds": 59}, "interval_seconds"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"kind": "reindex"}, "kind"),
    ({"name": "Incremental sync"}, "name"),
    ({"parameters": {"incremental": "sometimes"}}, "parameters"),
    ({"parameters": {"full": True}}, "parameters"),
    ({"kind": "analysis", "parameters": {"options": {"confidence_threshold": 2}}}, "parameters"),
    ({"kind": "analysis", "parameters": {"scene_ids": ["424242"]}}, "parameters"),
    ({"kind": "analysis", "parameters": {"options": {
        field.option: False for field in SCENE_FIELDS.values()}}}, "parameters"),
    ({"kind": "apply", "parameters": {"plan_id": 999}}, "parameters"),
])
def test_a_bad_schedule_is_a_400_when_saved(api_client, fields, field):
    response = create(api_client, **fields)
    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]
    assert Schedule.objects.count() == 2  # only the default ones


def test_an_interval_schedule(api_client):
    body = create(api_client, crontab=None, interval_seconds=60).json()
    assert (body["interval_seconds"], body["crontab"]) == (60, None)
    assert Schedule.objects.get(pk=body["id"]).periodic_task.interval.every == 60


def test_patch_switches_timing_disables_and_revalidates(api_client):
    schedule_id = create(api_client).json()["id"]
    url = f"/api/schedules/{schedule_id}"
    body = api_client.patch(url, {"interval_seconds": 3600}, format="json").json()
    assert (body["crontab"], body["interval_seconds"]) == (None, 3600)
    body = api_client.patch(url, {"enabled": False}, format="json").json()
    assert body["enabled"] is False
    assert body["next_run_at"] is None
    assert not Schedule.objects.get(pk=schedule_id).periodic_task.enabled
    response = api_client.patch(url, {"kind": "apply"}, format="json")
    assert response.status_code == 400  # sync parameters are no apply request
    assert api_client.get(url).json()["kind"] == "sync"


def test_delete_removes_the_periodic_task(api_client):
    schedule = Schedule.objects.get(pk=create(api_client).json()["id"])
    assert api_client.delete(f"/api/schedules/{schedule.pk}").status_code == 204
    assert not PeriodicTask.objects.filter(pk=schedule.periodic_task_id).exists()
    assert api_client.get(f"/api/schedules/{schedule.pk}").status_code == 404


def test_run_now_starts_the_job_even_when_disabled(api_client, stash,
                                                   django_capture_on_commit_callbacks):
    schedule_id = create(api_client, enabled=False).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/schedules/{schedule_id}/run")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(id=response.json()["job_id"])
    assert job.type == "sync"
    assert job.status == JobStatus.COMPLETED
    assert job.parameters == {"incremental": True, "schedule_id": schedule_id}
    body = api_client.get(f"/api/schedules/{schedule_id}").json()
    assert body["last_job"] == {"id": str(job.id), "status": "completed"}
    assert body["last_outcome"] == "started"
    assert body["last_run_at"] is not None


def test_run_now_answers_409_while_the_exclusive_job_is_active(api_client):
    schedule_id = create(api_client).json()["id"]
    running = active_sync()
    response = api_client.post(f"/api/schedules/{schedule_id}/run")
    assert response.status_code == 409
    assert response.json()["detail"] == {"job_id": str(running.id)}
    body = api_client.get(f"/api/schedules/{schedule_id}").json()
    assert body["last_outcome"] == "skipped: a sync is already running"


def test_a_beat_run_that_meets_an_active_sync_records_the_skip_and_no_job():
    schedule = Schedule.objects.get(name="Incremental sync")
    active_sync()
    run_schedule_task.delay(schedule.pk)
    schedule.refresh_from_db()
    assert schedule.last_outcome == "skipped: a sync is already running"
    assert schedule.last_run_at is not None
    assert schedule.last_job is None
    assert Job.objects.count() == 1  # only the running sync: no failed job


def test_a_beat_run_starts_an_ordinary_job(stash, django_capture_on_commit_callbacks):
    schedule = Schedule.objects.get(name="Incremental sync")
    with django_capture_on_commit_callbacks(execute=True):
        run_schedule_task.delay(schedule.pk)
    schedule.refresh_from_db()
    assert schedule.last_outcome == "started"
    assert schedule.last_job.status == JobStatus.COMPLETED
    assert schedule.last_job.parameters["schedule_id"] == schedule.pk


def test_a_beat_run_of_a_deleted_schedule_does_nothing():
    run_schedule_task.delay(424242)
    assert not Job.objects.exists()


def test_an_analysis_schedule_runs_the_analysis_request(api_client):
    body = create(api_client, name="Analyse", kind="analysis",
                  parameters={"options": {"use_ai": False}, "plan_name": "Nightly"}).json()
    response = api_client.post(f"/api/schedules/{body['id']}/run")
    assert response.status_code == 202
    job = Job.objects.get(id=response.json()["job_id"])
    assert job.type == "analysis"
    assert job.parameters["plan_name"] == "Nightly"
    assert job.parameters["schedule_id"] == body["id"]


def test_schedules_need_authentication(anon_client):
    assert anon_client.get("/api/schedules").status_code == 401


# -- admin ----------------------------------------------------------------------------------

@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="admin-password")
    client.force_login(admin)
    return client


def admin_form(**fields):
    return {"name": "Admin sync", "kind": "sync", "parameters": '{"incremental": false}',
            "crontab": "0 * * * *", "timezone": "UTC", "interval_seconds": "",
            "enabled": "on", **fields}


def test_admin_creates_a_schedule_through_the_same_validation(admin_client):
    response = admin_client.post("/admin/automation/schedule/add/", admin_form())
    assert response.status_code == 302
    schedule = Schedule.objects.get(name="Admin sync")
    assert schedule.parameters == {"incremental": False}
    assert schedule.periodic_task.crontab.hour == "*"
    assert schedule.periodic_task.enabled

    response = admin_client.post("/admin/automation/schedule/add/",
                                 admin_form(name="Bad", crontab="every hour"))
    assert response.status_code == 200
    assert b"five fields" in response.content
    response = admin_client.post("/admin/automation/schedule/add/",
                                 admin_form(name="Bad", parameters='{"plan": 1}'))
    assert response.status_code == 200
    assert b"Unknown field" in response.content
    assert not Schedule.objects.filter(name="Bad").exists()


def test_admin_lists_changes_and_runs_schedules(admin_client):
    schedule = Schedule.objects.get(name="Incremental sync")
    assert b"*/30 * * * * (UTC)" in admin_client.get("/admin/automation/schedule/").content
    page = admin_client.get(f"/admin/automation/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    response = admin_client.post(f"/admin/automation/schedule/{schedule.pk}/change/",
                                 admin_form(name="Incremental sync", crontab="",
                                            interval_seconds="900"))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.periodic_task.interval.every == 900
    assert schedule.periodic_task.crontab is None

    active_sync()
    response = admin_client.post("/admin/automation/schedule/", {
        "action": "run_now", "_selected_action": [schedule.pk]}, follow=True)
    assert b"A sync job is already running" in response.content
    schedule.refresh_from_db()
    assert schedule.last_outcome == "skipped: a sync is already running"
