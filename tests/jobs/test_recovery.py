"""Lost workers, the heartbeat reaper and the retention task."""

from datetime import timedelta
from unittest import mock

import pytest
from billiard.exceptions import WorkerLostError
from celery.signals import task_failure, worker_ready
from django.conf import settings
from django.utils import timezone

from jobs import recovery
from jobs.models import Job, JobStatus
from jobs.tasks import run_job_task
from settings_app.registry import save_settings

pytestmark = pytest.mark.django_db


class Sender:
    """A hashable stand-in for a signal's sender (a worker consumer, a task)."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def make_job(status=JobStatus.RUNNING, worker="", **fields) -> Job:
    return Job.objects.create(type="demo.count", status=status, worker=worker, **fields)


def status_of(job: Job) -> str:
    return Job.objects.get(id=job.id).status


def test_a_starting_worker_fails_its_own_leftovers_and_those_of_silent_nodes():
    own = make_job(worker="w1@host", exclusive_key="sync")
    own_cancelling = make_job(JobStatus.CANCELLING, worker="w1@host")
    silent = make_job(worker="dead@host")
    alive = make_job(worker="w2@host")
    pending = make_job(JobStatus.PENDING)
    done = make_job(JobStatus.COMPLETED, worker="w1@host")
    pinged = []

    def ping(nodes):
        pinged.append(set(nodes))
        return {"w2@host"}

    assert recovery.fail_jobs_of_lost_workers("w1@host", ping=ping) == 3
    assert pinged == [{"dead@host", "w2@host"}]  # never itself: it cannot run old jobs
    for job in (own, own_cancelling, silent):
        row = Job.objects.get(id=job.id)
        assert row.status == JobStatus.FAILED
        assert row.error.startswith(f"Worker lost: {job.worker} stopped")
        assert row.exclusive_key is None
        assert row.completed_at is not None
    assert (status_of(alive), status_of(pending), status_of(done)) == (
        JobStatus.RUNNING, JobStatus.PENDING, JobStatus.COMPLETED)


def test_when_the_ping_fails_only_the_own_jobs_are_judged():
    own = make_job(worker="w1@host")
    other = make_job(worker="w2@host")

    def broken_ping(nodes):
        raise ConnectionError("broker gone")

    assert recovery.fail_jobs_of_lost_workers("w1@host", ping=broken_ping) == 1
    assert (status_of(own), status_of(other)) == (JobStatus.FAILED, JobStatus.RUNNING)


def test_no_ping_when_only_this_node_had_jobs():
    make_job(worker="w1@host")
    ping = mock.Mock()
    recovery.fail_jobs_of_lost_workers("w1@host", ping=ping)
    ping.assert_not_called()


def test_ping_nodes_reads_the_replies():
    replies = [{"a@h": {"ok": "pong"}}, {"b@h": {"ok": "pong"}}]
    with mock.patch("stashhog.celery.app.control.ping", return_value=replies) as ping:
        assert recovery.ping_nodes({"b@h", "a@h", "c@h"}) == {"a@h", "b@h"}
    ping.assert_called_once_with(destination=["a@h", "b@h", "c@h"],
                                 timeout=recovery.PING_TIMEOUT)


def test_worker_ready_signal_runs_the_recovery_for_the_node():
    own = make_job(worker="me@host")
    worker_ready.send(sender=Sender(hostname="me@host"))
    assert status_of(own) == JobStatus.FAILED


def test_a_lost_pool_child_fails_its_job_through_task_failure():
    job = make_job(worker="me@host")
    task_failure.send(sender=run_job_task, task_id=str(job.id),
                      exception=WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)"))
    row = Job.objects.get(id=job.id)
    assert row.status == JobStatus.FAILED
    assert "process running the job died" in row.error
    assert "SIGKILL" in row.error


def test_other_task_failures_leave_jobs_alone():
    job = make_job(worker="me@host")
    task_failure.send(sender=run_job_task, task_id=str(job.id), exception=ValueError("x"))
    task_failure.send(sender=Sender(name="scenes.other"), task_id=str(job.id),
                      exception=WorkerLostError("lost"))
    assert status_of(job) == JobStatus.RUNNING


def test_reaper_fails_running_jobs_whose_heartbeat_is_older_than_the_setting():
    save_settings({"job_heartbeat_timeout_seconds": 120})
    now = timezone.now()
    stale = make_job(heartbeat_at=now - timedelta(seconds=121))
    stale_cancelling = make_job(JobStatus.CANCELLING, heartbeat_at=now - timedelta(hours=1))
    fresh = make_job(heartbeat_at=now - timedelta(seconds=100))
    pending = make_job(JobStatus.PENDING)
    assert recovery.reap_stale_jobs() == 2
    assert (status_of(stale), status_of(stale_cancelling)) == (JobStatus.FAILED,) * 2
    assert "no heartbeat for more than 120 seconds" in Job.objects.get(id=stale.id).error
    assert (status_of(fresh), status_of(pending)) == (JobStatus.RUNNING, JobStatus.PENDING)


def test_retention_deletes_only_finished_jobs_older_than_the_setting():
    save_settings({"job_retention_days": 7})
    now = timezone.now()
    old = [make_job(status, completed_at=now - timedelta(days=8))
           for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)]
    recent = make_job(JobStatus.COMPLETED, completed_at=now - timedelta(days=6))
    running = make_job(JobStatus.RUNNING)
    assert recovery.delete_old_jobs() == 3
    assert not Job.objects.filter(id__in=[job.id for job in old]).exists()
    assert Job.objects.filter(id__in=[recent.id, running.id]).count() == 2


def test_the_beat_schedule_runs_the_reaper_and_the_retention_task():
    from stashhog.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks == {"jobs.reap_stale_jobs", "jobs.delete_old_jobs"}
    assert tasks <= set(app.tasks)
    with mock.patch("jobs.recovery.reap_stale_jobs", return_value=0) as reap:
        app.tasks["jobs.reap_stale_jobs"].apply()
    reap.assert_called_once_with()
