"""The workflow job: sync, analysis of new or changed scenes, apply of auto-accepted
changes; each step a child job; cancel and failure semantics. Jobs run inline (eager
Celery) against the fake Stash."""

from unittest import mock

import pytest

from analysis.models import AnalysisPlan, ChangeStatus
from automation.workflow import WorkflowRequestSerializer, request_workflow
from jobs import runner
from jobs.models import Job, JobStatus
from settings_app.registry import save_settings
from stashhog.api.validation import validated

# Sync reads Stash ids in a second thread, with its own database connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)


@pytest.fixture
def run_workflow():
    """Request a workflow; eager Celery runs it at once. Returns the finished row."""

    def run(**request) -> Job:
        job = request_workflow(validated(WorkflowRequestSerializer, request))
        job.refresh_from_db()
        return job

    return run


def steps_of(workflow: Job) -> dict[str, Job]:
    return {job.type: job for job in Job.objects.filter(parent=workflow)}


def test_first_workflow_syncs_analyses_everything_and_applies_nothing_without_threshold(
        stash, run_workflow):
    workflow = run_workflow()
    assert workflow.status == JobStatus.COMPLETED, workflow.error
    assert workflow.progress == 100
    steps = steps_of(workflow)
    assert set(steps) == {"sync", "analysis"}
    assert all(step.status == JobStatus.COMPLETED for step in steps.values())
    result = workflow.result["steps"]
    assert result["sync"]["job_id"] == str(steps["sync"].id)
    assert result["sync"]["counts"]["scenes"]["created"] == len(stash.library.scenes)
    assert result["analysis"]["job_id"] == str(steps["analysis"].id)
    assert result["analysis"]["counts"]["scenes_analysed"] == len(stash.library.scenes)
    assert result["apply"] == {"status": "skipped", "reason": "no auto-accept threshold is set"}
    assert not stash.mutation_log


def test_a_second_workflow_analyses_exactly_the_scenes_changed_in_stash(stash, run_workflow):
    run_workflow()
    changed = sorted(stash.library.scenes)[:3]
    for scene_id in changed:
        stash.library.update_scene(scene_id, title=f"Renamed {scene_id}")
    workflow = run_workflow()
    analysis = steps_of(workflow)["analysis"]
    plan = AnalysisPlan.objects.get(pk=analysis.result["plan_id"])
    assert workflow.result["steps"]["analysis"]["counts"]["scenes_analysed"] == 3
    assert plan.metadata["selection"]["only"] == "changed"
    assert analysis.parameters["only"] == "changed"


def test_a_workflow_with_nothing_changed_skips_analysis_and_apply(stash, run_workflow):
    run_workflow()
    plans = AnalysisPlan.objects.count()
    workflow = run_workflow()
    assert workflow.status == JobStatus.COMPLETED
    assert workflow.result["steps"]["analysis"] == {"status": "skipped",
                                                    "reason": "no new or changed scenes"}
    assert set(steps_of(workflow)) == {"sync"}
    assert AnalysisPlan.objects.count() == plans  # no empty plan every night


def test_auto_accepted_changes_are_applied_in_the_third_step(stash, run_workflow):
    workflow = run_workflow(options={"auto_accept_threshold": 0.0})
    assert workflow.status == JobStatus.COMPLETED, workflow.error
    steps = steps_of(workflow)
    assert steps["apply"].status == JobStatus.COMPLETED
    plan_id = workflow.result["steps"]["analysis"]["counts"]["plan_id"]
    assert steps["apply"].parameters["plan_id"] == plan_id
    applied = workflow.result["steps"]["apply"]["counts"]["applied"]
    accepted = workflow.result["steps"]["analysis"]["counts"]["auto_accepted"]
    assert applied > 0
    assert applied <= accepted
    assert AnalysisPlan.objects.get(pk=plan_id).changes.filter(
        status=ChangeStatus.APPLIED).count() == applied
    assert stash.mutation_log


def test_a_failed_step_fails_the_workflow_with_its_error_and_runs_no_later_step(
        stash, run_workflow):
    stash.fail_next(50, status=500)
    workflow = run_workflow()
    assert workflow.status == JobStatus.FAILED
    assert workflow.error.startswith("The sync step failed: ")
    sync = steps_of(workflow)["sync"]
    assert sync.status == JobStatus.FAILED
    assert workflow.error.split("\n")[0].removeprefix("The sync step failed: ") == (
        sync.error.split("\n")[0])
    assert not Job.objects.filter(type="analysis").exists()
    assert workflow.result["steps"]["analysis"]["status"] == "skipped"


def test_a_busy_sync_fails_the_workflow_without_starting_a_step(stash, run_workflow):
    Job.objects.create(type="sync", status=JobStatus.RUNNING, exclusive_key="sync")
    workflow = run_workflow()
    assert workflow.status == JobStatus.FAILED
    assert "A sync job is already running" in workflow.error
    assert not steps_of(workflow)


def test_cancelling_the_workflow_cancels_the_running_step_and_skips_the_rest(
        stash, run_workflow):
    from analysis import generate

    real_load_indexes = generate.load_indexes

    def cancel_meanwhile(options):
        workflow = Job.objects.get(type="workflow")
        runner.cancel_job(workflow.id)  # as a person would, from the API
        return real_load_indexes(options)

    with mock.patch.object(generate, "load_indexes", side_effect=cancel_meanwhile):
        workflow = run_workflow(options={"auto_accept_threshold": 0.0})
    assert workflow.status == JobStatus.CANCELLED
    steps = steps_of(workflow)
    assert steps["sync"].status == JobStatus.COMPLETED
    assert steps["analysis"].status == JobStatus.CANCELLED
    assert "apply" not in steps
    assert workflow.result["steps"]["apply"]["status"] == "skipped"


def test_the_workflow_progress_spans_its_steps(stash, run_workflow):
    save_settings({"sync_page_size": 10})  # sync reports progress page by page
    seen = []
    real_update = runner.Progress.update

    def record(progress, processed, total=None, message=None, force=False):
        real_update(progress, processed, total, message, force)
        if progress.job.type == "workflow":
            seen.append(progress.job.progress)

    with mock.patch.object(runner.Progress, "update", record):
        run_workflow()
    assert seen == sorted(seen)  # never goes back
    assert any(0 < value < 40 for value in seen)  # moved during the sync step
    assert any(40 <= value < 85 for value in seen)  # then at the analysis
    assert seen[-1] == 100


def test_post_workflow_starts_one_and_a_second_is_a_409(api_client, stash):
    response = api_client.post("/api/workflow", {}, format="json")
    assert response.status_code == 202, response.json()
    assert Job.objects.get(id=response.json()["job_id"]).type == "workflow"
    active = Job.objects.create(type="workflow", status=JobStatus.RUNNING,
                                exclusive_key="workflow")
    response = api_client.post("/api/workflow", {}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == {"job_id": str(active.id)}
    response = api_client.post("/api/workflow", {"options": {"confidence": 1}}, format="json")
    assert response.status_code == 400


def test_a_workflow_schedule(api_client, stash):
    schedule = {"name": "Nightly", "kind": "workflow", "crontab": "0 4 * * *"}
    bad = api_client.post("/api/schedules", {**schedule, "parameters": {"only": "all"}},
                          format="json")
    assert bad.status_code == 400
    schedule_id = api_client.post("/api/schedules", {**schedule, "parameters": {
        "options": {"use_ai": False}}}, format="json").json()["id"]
    response = api_client.post(f"/api/schedules/{schedule_id}/run")
    workflow = Job.objects.get(id=response.json()["job_id"])
    assert workflow.status == JobStatus.COMPLETED, workflow.error
    assert workflow.parameters["schedule_id"] == schedule_id
