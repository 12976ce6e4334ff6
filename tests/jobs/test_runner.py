"""The runner's state machine, progress reporter and cancellation (job bodies run inline:
Celery is eager and the channel layer in memory)."""

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from jobs import runner
from jobs.models import Job, JobLock, JobStatus
from jobs.notify import ALL_JOBS_GROUP, job_group
from jobs.processes import ProcessIdentity
from stashhog.api.errors import http_status
from stashhog.api.exceptions import Conflict, InvalidInput, NotFound
from tests.jobs import demo_jobs
from tests.jobs.demo_jobs import SECRET_IN_ERROR

pytestmark = pytest.mark.django_db


def run(job: Job) -> Job:
    runner.run_job(str(job.id), worker="unit@test")
    job.refresh_from_db()
    return job


def listen(group: str):
    """Subscribe a channel to ``group``; returns a function draining its messages."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    def drain():
        messages = []
        while not layer.channels.get(channel, asyncio.Queue()).empty():
            messages.append(async_to_sync(layer.receive)(channel))
        return messages

    return drain


def test_start_job_writes_a_pending_row_and_dispatches_on_commit(
        django_capture_on_commit_callbacks):
    with mock.patch("jobs.tasks.run_job_task.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = runner.start_job("demo.count", {"n": 3})
        assert Job.objects.get(id=job.id).status == JobStatus.PENDING
        apply_async.assert_not_called()  # nothing is sent before the row is committed
        for callback in callbacks:
            callback()
    apply_async.assert_called_once_with(args=(str(job.id),), queue="default", task_id=str(job.id))
    assert Job.objects.get(id=job.id).celery_task_id == str(job.id)


def test_dispatch_failure_marks_the_job_failed(django_capture_on_commit_callbacks):
    with mock.patch("jobs.tasks.run_job_task.apply_async",
                    side_effect=ConnectionRefusedError("broker down")):
        with django_capture_on_commit_callbacks(execute=True):
            job = runner.start_job("demo.count")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "Could not queue the job" in job.error
    assert job.completed_at is not None


@pytest.mark.django_db(transaction=True)
def test_start_job_raises_queue_unavailable_when_the_broker_refuses():
    with mock.patch("jobs.tasks.run_job_task.apply_async",
                    side_effect=ConnectionRefusedError("broker down")):
        with pytest.raises(runner.JobQueueUnavailable) as refused:
            runner.start_job("demo.count")
    assert http_status(refused.value) == 503
    assert refused.value.job.status == JobStatus.FAILED


def test_idempotent_job_types_go_through_the_late_ack_task(django_capture_on_commit_callbacks):
    from jobs.tasks import run_idempotent_job_task

    assert run_idempotent_job_task.acks_late
    assert run_idempotent_job_task.reject_on_worker_lost
    with mock.patch("jobs.tasks.run_idempotent_job_task.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            job = runner.start_job("demo.idempotent")
    apply_async.assert_called_once_with(args=(str(job.id),), queue="default", task_id=str(job.id))


def test_eager_dispatch_runs_the_job_to_completion(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = runner.start_job("demo.count", {"n": 4})
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"counted": 4}
    assert (job.processed_items, job.total_items, job.progress) == (4, 4, 100)
    assert job.started_at <= job.completed_at
    assert job.exclusive_key is None


def test_unknown_job_type_is_invalid_input():
    with pytest.raises(InvalidInput):
        runner.start_job("no.such.type")


def test_a_job_type_name_registered_twice_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="'demo.count' is already registered"):
        runner.register_job_type("demo.count", lambda progress, params: None)
    assert runner.JOB_TYPES["demo.count"].body is demo_jobs.count  # the first one stays


def test_apps_register_their_job_types_in_ready():
    assert runner.JOB_TYPES["sync"].exclusive_key({}) == "sync"
    assert runner.JOB_TYPES["analysis"].queue == "ai"
    assert runner.JOB_TYPES["analysis_chunk"].queue == "ai"
    assert runner.JOB_TYPES["analysis_chunk"].idempotent
    assert runner.JOB_TYPES["apply"].exclusive_key({"plan_id": 3}) == "apply:plan:3"


def test_gathered_steps_run_here_when_no_worker_takes_them_and_sum_into_the_parent():
    # The test's transaction never commits: no step message is sent, the parent runs all.
    job = run(runner.start_job("demo.fan_out", {"steps": 3, "n": 4}))

    assert job.status == JobStatus.COMPLETED
    steps = list(job.steps.all())
    assert len(steps) == 3
    assert {(s.type, s.status, s.worker) for s in steps} == {
        ("demo.count", JobStatus.COMPLETED, "unit@test")}
    assert (job.processed_items, job.total_items, job.progress) == (12, 12, 100)
    assert job.message.startswith("12 counted")


def test_a_parent_leaves_its_steps_to_their_workers_until_none_comes():
    started = time.monotonic()
    job = run(runner.start_job("demo.fan_out", {"steps": 2, "n": 1, "run_here_after": 0.6}))

    assert job.status == JobStatus.COMPLETED
    assert time.monotonic() - started >= 0.6  # it waited for a worker first
    assert {s.status for s in job.steps.all()} == {JobStatus.COMPLETED}


def _parent_with_steps(*statuses: str) -> tuple[Job, list[Job]]:
    parent = Job.objects.create(type="demo.fan_out", status=JobStatus.RUNNING)
    steps = [Job.objects.create(type="demo.count", status=status, parent=parent)
             for status in statuses]
    return parent, steps


def test_cancelling_a_parent_cancels_its_queued_steps_and_stops_its_running_ones():
    parent, (queued, running, done) = _parent_with_steps(
        JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED)

    runner.cancel_job(parent.id)

    statuses = {job.id: job.status for job in Job.objects.filter(parent=parent)}
    assert statuses == {queued.id: JobStatus.CANCELLED, running.id: JobStatus.CANCELLING,
                        done.id: JobStatus.COMPLETED}


def test_a_parent_whose_cancel_stopped_its_last_steps_before_it_looked_is_cancelled():
    parent, _ = _parent_with_steps(JobStatus.RUNNING, JobStatus.PENDING)
    runner.cancel_job(parent.id)  # the queued step is cancelled, the running one asked to stop
    Job.objects.filter(parent=parent, status=JobStatus.CANCELLING).update(
        status=JobStatus.CANCELLED)  # and it stopped before the parent's next look

    with pytest.raises(runner.JobCancelled):
        runner.gather_steps(runner.Progress(Job.objects.get(pk=parent.pk)),
                            run_here_after=None, message=lambda done, counts: "")


def test_a_parent_that_fails_takes_its_steps_down_with_it():
    parent, steps = _parent_with_steps(JobStatus.PENDING, JobStatus.PENDING)

    runner.fail_job(parent, "Worker lost")

    assert {job.status for job in Job.objects.filter(parent=parent)} == {JobStatus.CANCELLED}


def test_run_job_records_timestamps_worker_and_result():
    job = run(Job.objects.create(type="demo.count", parameters={"n": 2}))
    assert job.status == JobStatus.COMPLETED
    assert job.worker == "unit@test"
    assert job.started_at
    assert job.completed_at
    assert job.heartbeat_at
    assert job.duration_seconds is not None
    assert job.duration_seconds >= 0


def test_a_failing_body_records_a_redacted_message_and_traceback():
    job = run(Job.objects.create(type="demo.fail"))
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("upstream refused apikey=********")
    assert "Traceback" in job.error
    assert "RuntimeError" in job.error
    assert SECRET_IN_ERROR not in job.error
    assert len(job.error) <= runner.MESSAGE_LIMIT + runner.TRACEBACK_LIMIT + 2
    assert (job.processed_items, job.message) == (1, "about to fail")


def test_configured_secret_values_are_masked_in_errors(settings):
    from settings_app.registry import save_settings

    save_settings({"stash_api_key": "plain-stash-key-42"})
    try:
        raise ValueError("Stash said no to plain-stash-key-42")
    except ValueError as exc:
        error = runner.describe_failure(exc)
    assert "plain-stash-key-42" not in error
    assert error.startswith("Stash said no to ********")


def test_a_body_without_registration_fails_the_job():
    job = run(Job.objects.create(type="gone.type"))
    assert job.status == JobStatus.FAILED
    assert "no body registered" in job.error


def test_run_job_leaves_a_job_that_is_no_longer_pending_alone():
    job = Job.objects.create(type="demo.count", status=JobStatus.CANCELLED)
    assert run(job).status == JobStatus.CANCELLED
    assert job.started_at is None


def test_a_redelivered_idempotent_job_restarts_a_lost_run_but_not_a_finished_one():
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    here = ProcessIdentity.current()
    lost = Job.objects.create(
        type="demo.idempotent", status=JobStatus.RUNNING, worker="dead@node", processed_items=7,
        **ProcessIdentity(here.host, exited.pid, f"{here.boot_id}/0").as_fields(),
    )
    runner.run_job(str(lost.id), worker="new@node", restart_running=True)
    lost.refresh_from_db()
    assert (lost.status, lost.worker, lost.result) == (JobStatus.COMPLETED, "new@node",
                                                       {"done": True})
    failed = Job.objects.create(type="demo.idempotent", status=JobStatus.FAILED)
    runner.run_job(str(failed.id), worker="new@node", restart_running=True)
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED


def test_a_second_delivery_never_runs_a_job_twice():
    # e.g. a pending job sent again by the beat task while its first message still waited
    running_here = Job.objects.create(type="demo.idempotent", status=JobStatus.RUNNING,
                                      worker="first@node", **ProcessIdentity.current().as_fields())
    runner.run_job(str(running_here.id), worker="second@node", restart_running=True)
    running_here.refresh_from_db()
    assert (running_here.status, running_here.worker) == (JobStatus.RUNNING, "first@node")
    elsewhere = Job.objects.create(
        type="demo.idempotent", status=JobStatus.RUNNING, worker="first@other",
        **ProcessIdentity("other-host", 7, "boot/1").as_fields(),
    )
    with mock.patch("jobs.processes.executing_tasks",
                    return_value={"first@other": {str(elsewhere.id)}}):
        runner.run_job(str(elsewhere.id), worker="second@node", restart_running=True)
    elsewhere.refresh_from_db()
    assert (elsewhere.status, elsewhere.worker) == (JobStatus.RUNNING, "first@other")
    pending = Job.objects.create(type="demo.count", parameters={"n": 2})
    for node in ("first@node", "second@node"):
        runner.run_job(str(pending.id), worker=node)
    pending.refresh_from_db()
    assert (pending.status, pending.worker, pending.result) == (
        JobStatus.COMPLETED, "first@node", {"counted": 2})


def test_stop_jobs_asks_running_jobs_to_stop_and_they_end_cancelled():
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    pending = Job.objects.create(type="demo.count")
    assert runner.stop_jobs([str(job.id), str(pending.id)]) == 1
    progress = runner.Progress(Job.objects.get(id=job.id))
    with pytest.raises(runner.JobCancelled):
        progress.check_cancelled()
    assert Job.objects.get(id=job.id).status == JobStatus.CANCELLING
    assert Job.objects.get(id=pending.id).status == JobStatus.PENDING


def test_progress_writes_are_throttled_but_the_final_update_always_lands():
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    progress = runner.Progress(job)
    drain = listen(job_group(job.id))
    with mock.patch("jobs.runner.time.monotonic", return_value=1000.0):
        progress.update(1, 10, "one")       # first write
        progress.update(2, 10, "two")       # within 0.5 s: kept in memory only
        assert Job.objects.get(id=job.id).processed_items == 1
        progress.update(10, 10, "done")     # final: written regardless of the throttle
    row = Job.objects.get(id=job.id)
    assert (row.processed_items, row.progress, row.message) == (10, 100, "done")
    with mock.patch("jobs.runner.time.monotonic", return_value=1000.6):
        progress.update(3, None, "later")   # 0.6 s later: written
    assert Job.objects.get(id=job.id).processed_items == 3
    events = [(m["event"], m["job"]["processed_items"]) for m in drain()]
    assert events == [("job_progress", 1), ("job_progress", 10), ("job_progress", 3)]


def test_progress_force_writes_and_refreshes_the_heartbeat():
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    progress = runner.Progress(job)
    with mock.patch("jobs.runner.time.monotonic", return_value=50.0):
        progress.update(1, 100)
        first_beat = Job.objects.get(id=job.id).heartbeat_at
        progress.update(2, 100, force=True)
    row = Job.objects.get(id=job.id)
    assert row.processed_items == 2
    assert row.heartbeat_at > first_beat


def test_progress_reaches_both_the_job_group_and_the_monitor_group():
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    one, every = listen(job_group(job.id)), listen(ALL_JOBS_GROUP)
    runner.Progress(job).update(5, 10, "half")
    for drain in (one, every):
        (message,) = drain()
        assert message["type"] == "job.update"
        assert message["event"] == "job_progress"
        assert message["job"]["id"] == str(job.id)
        assert (message["job"]["progress"], message["job"]["message"]) == (50, "half")
        assert "parameters" in message["job"]
        assert "duration_seconds" in message["job"]


def test_a_throttled_last_update_is_written_when_the_job_finishes():
    def body(progress, params):
        with mock.patch("jobs.runner.time.monotonic", return_value=7.0):
            progress.update(1, message="first")
            progress.update(2, message="second (throttled)")
        return None

    with mock.patch.dict(runner.JOB_TYPES, {"unit.body": runner.JobType(
            "unit.body", body, "default", None, False)}):
        job = run(Job.objects.create(type="unit.body"))
    assert (job.processed_items, job.message) == (2, "second (throttled)")


def test_cancel_a_pending_job_cancels_it_at_once_and_revokes_the_message():
    job = Job.objects.create(type="demo.count", exclusive_key="demo:1")
    with mock.patch("stashhog.celery.app.control.revoke") as revoke:
        cancelled = runner.cancel_job(job.id)
    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.completed_at is not None
    assert cancelled.exclusive_key is None
    revoke.assert_called_once_with(str(job.id))
    assert run(job).status == JobStatus.CANCELLED  # a late delivery does nothing


def test_cancel_a_running_job_is_cooperative():
    seen = []

    def body(progress, params):
        progress.update(1, 3)
        runner.cancel_job(progress.job.id)        # the API call arriving mid-run
        seen.append(Job.objects.get(id=progress.job.id).status)
        progress.partial_result = {"counted": 1}
        with mock.patch("jobs.runner.time.monotonic", return_value=10**6):
            progress.check_cancelled()
        seen.append("not stopped")

    with mock.patch.dict(runner.JOB_TYPES, {"unit.cancel": runner.JobType(
            "unit.cancel", body, "default", None, False)}):
        job = run(Job.objects.create(type="unit.cancel"))
    assert seen == [JobStatus.CANCELLING]
    assert job.status == JobStatus.CANCELLED
    assert job.result == {"counted": 1}


def test_check_cancelled_reads_the_row_at_most_twice_a_second(django_assert_num_queries):
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    progress = runner.Progress(job)
    with mock.patch("jobs.runner.time.monotonic", return_value=500.0):
        with django_assert_num_queries(1):
            progress.check_cancelled()
            progress.check_cancelled()


def test_cancelling_a_finished_job_is_a_conflict_and_an_unknown_one_not_found():
    done = Job.objects.create(type="demo.count", status=JobStatus.COMPLETED)
    with pytest.raises(Conflict) as conflict:
        runner.cancel_job(done.id)
    assert conflict.value.detail == {"job_id": str(done.id)}
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", None):
        with pytest.raises(NotFound):
            runner.cancel_job(bad)


def test_cancel_racing_a_claim_never_cancels_a_running_body():
    """The worker claims the job between cancel_job's read and its write."""
    job = Job.objects.create(type="demo.count")
    real_get = runner._get_job

    def read_then_claim(job_id):
        found = real_get(job_id)
        Job.objects.filter(id=job_id).update(status=JobStatus.RUNNING)
        return found

    with mock.patch("jobs.runner._get_job", side_effect=read_then_claim):
        assert runner.cancel_job(job.id).status == JobStatus.CANCELLING


def test_exclusive_jobs_clash_with_job_already_active():
    first = runner.start_job("demo.exclusive", {"target": 7})
    with pytest.raises(runner.JobAlreadyActive) as clash:
        runner.start_job("demo.exclusive", {"target": 7})
    assert clash.value.job == first
    assert http_status(clash.value) == 409
    assert clash.value.detail == {"job_id": str(first.id)}
    other = runner.start_job("demo.exclusive", {"target": 8})  # another key runs in parallel
    assert other.exclusive_key == "demo:8"
    run(first)
    assert runner.start_job("demo.exclusive", {"target": 7}).id != first.id  # key released


def test_inline_start_runs_through_the_same_states():
    job = runner.start_job("demo.count", {"n": 3}, inline=True)
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"counted": 3}


@pytest.mark.parametrize(("job_type", "status_code", "message"), [
    ("demo.upstream_down", 502, "Could not reach Stash"),
    ("demo.fail", 500, "upstream refused apikey=********"),
])
def test_an_inline_job_that_fails_raises_with_the_status_of_its_cause(job_type, status_code,
                                                                       message):
    with pytest.raises(runner.JobNotCompleted) as stopped:
        runner.start_job(job_type, inline=True)
    assert http_status(stopped.value) == status_code
    assert stopped.value.message.startswith(message)
    assert stopped.value.job.status == JobStatus.FAILED
    assert stopped.value.detail["job_id"] == str(stopped.value.job.id)


def test_heartbeat_thread_refreshes_the_row(transactional_db):
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    with mock.patch("jobs.runner.get_setting", return_value=5):  # interval floor: 1 s
        beat = runner._Heartbeat(job.id)
    beat.interval = 0.05
    with beat:
        deadline = time.monotonic() + 5
        while Job.objects.get(id=job.id).heartbeat_at is None:
            assert time.monotonic() < deadline, "no heartbeat written"
    assert not beat.thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_survives_a_locked_database_and_keeps_beating():
    long_ago = timezone.now() - timedelta(hours=1)
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING, heartbeat_at=long_ago)
    real_update, beats = QuerySet.update, []

    def locked_once(queryset, **fields):
        beats.append(fields)
        if len(beats) == 1:
            raise OperationalError("database is locked")
        return real_update(queryset, **fields)

    with mock.patch.object(QuerySet, "update", locked_once):
        with runner._Heartbeat(job.id, interval=0.05):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(beats) < 3:
                time.sleep(0.02)
    assert len(beats) >= 3  # it went on beating after the error
    assert Job.objects.get(id=job.id).heartbeat_at > long_ago


def test_holding_waits_while_another_active_job_holds_a_lock_and_finishing_releases_it():
    other = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    JobLock.objects.create(key="scene:1", job=other)
    finished = Job.objects.create(type="demo.count", status=JobStatus.COMPLETED)
    JobLock.objects.create(key="scene:3", job=finished)  # left by a worker that died
    mine = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    progress = runner.Progress(mine)
    waits = []

    def other_job_ends(seconds):
        waits.append(seconds)
        runner.fail_job(other, "Worker lost")

    with mock.patch("jobs.runner.time.sleep", side_effect=other_job_ends):
        with progress.holding(["scene:2", "scene:1", "scene:3"], "Waiting for scene 1"):
            assert set(JobLock.objects.values_list("key", "job_id")) == {
                ("scene:1", mine.id), ("scene:2", mine.id), ("scene:3", mine.id)}
            assert Job.objects.get(id=mine.id).message == "Waiting for scene 1"
    assert waits == [runner.LOCK_POLL_INTERVAL]
    assert not JobLock.objects.exists()


def test_a_job_waiting_for_a_lock_can_be_cancelled():
    other = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    JobLock.objects.create(key="scene:1", job=other)
    mine = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    progress = runner.Progress(mine)
    runner.cancel_job(mine.id)
    with mock.patch("jobs.runner.time.sleep"), pytest.raises(runner.JobCancelled):
        with progress.holding(["scene:1"], "Waiting"):
            raise AssertionError("not reached")
    assert list(JobLock.objects.values_list("job_id", flat=True)) == [other.id]
