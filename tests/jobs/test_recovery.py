"""Lost workers, the heartbeat reaper and the retention task."""

import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from billiard.exceptions import WorkerLostError
from celery.signals import task_failure, worker_ready
from django.conf import settings
from django.utils import timezone

from jobs import processes, recovery
from jobs.models import Job, JobStatus
from jobs.processes import ProcessIdentity
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


def finished_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def on_this_machine(pid: int, started: str = "0") -> dict:
    here = ProcessIdentity.current()
    return ProcessIdentity(here.host, pid, f"{here.boot_id}/{started}").as_fields()


def elsewhere(pid: int = 7) -> dict:
    return ProcessIdentity("other-host", pid, "other-boot/123").as_fields()


def test_a_starting_worker_fails_only_jobs_whose_process_is_gone():
    here = ProcessIdentity.current()
    # A second worker started with the same node name must not fail the first one's job.
    twin = make_job(worker="w1@host", exclusive_key="sync", **here.as_fields())
    exited = make_job(worker="w1@host", **on_this_machine(finished_pid()))
    # the same pid, but a later process (a restarted container reuses pids)
    reused_pid = make_job(worker="w1@host", **on_this_machine(here.pid, started="1"))
    remote_alive = make_job(worker="w2@other", **elsewhere())
    remote_finished = make_job(JobStatus.CANCELLING, worker="w2@other", **elsewhere(8))
    silent = make_job(worker="dead@other", **elsewhere(9))
    pending = make_job(JobStatus.PENDING)
    done = make_job(JobStatus.COMPLETED, worker="w1@host", **on_this_machine(finished_pid()))
    asked = []

    def ask_nodes(nodes):
        asked.append(set(nodes))
        return {"w2@other": {str(remote_alive.id)}}

    assert recovery.fail_jobs_of_lost_workers(ask_nodes) == 4
    assert asked == [{"w2@other", "dead@other"}]  # this machine's jobs need no asking
    for job in (exited, reused_pid, remote_finished, silent):
        row = Job.objects.get(id=job.id)
        assert row.status == JobStatus.FAILED, job.worker
        assert row.error.startswith(f"Worker lost: {job.worker} stopped")
        assert row.exclusive_key is None
        assert row.completed_at is not None
    assert (status_of(twin), status_of(remote_alive), status_of(pending), status_of(done)) == (
        JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.PENDING, JobStatus.COMPLETED)
    assert Job.objects.get(id=twin.id).exclusive_key == "sync"


def test_a_lost_idempotent_job_is_queued_again_to_run_from_the_start():
    lost = Job.objects.create(type="demo.idempotent", status=JobStatus.RUNNING,
                              worker="w1@host", processed_items=5, progress=50,
                              **on_this_machine(finished_pid()))
    other = make_job(worker="w1@host", **on_this_machine(finished_pid()))
    with mock.patch("jobs.tasks.run_idempotent_job_task.apply_async") as apply_async:
        assert recovery.fail_jobs_of_lost_workers(lambda nodes: {}) == 2
    row = Job.objects.get(id=lost.id)
    assert (row.status, row.worker, row.worker_pid, row.processed_items) == (
        JobStatus.PENDING, "", None, 0)
    assert row.message.startswith("Worker lost: w1@host stopped")
    assert row.dispatch_count == 1
    assert apply_async.call_args.kwargs["task_id"] == str(lost.id)
    assert status_of(other) == JobStatus.FAILED  # not idempotent: failed as before


def test_when_asking_other_nodes_fails_only_this_machines_jobs_are_judged():
    exited = make_job(worker="w1@host", **on_this_machine(finished_pid()))
    other = make_job(worker="w2@other", **elsewhere())

    def broken(nodes):
        raise ConnectionError("broker gone")

    assert recovery.fail_jobs_of_lost_workers(broken) == 1
    assert (status_of(exited), status_of(other)) == (JobStatus.FAILED, JobStatus.RUNNING)


def test_jobs_recorded_before_process_identities_are_judged_by_their_node():
    old = make_job(worker="gone@host")
    assert recovery.fail_jobs_of_lost_workers(lambda nodes: {}) == 1
    assert status_of(old) == JobStatus.FAILED


def test_no_node_is_asked_when_every_job_ran_on_this_machine():
    make_job(worker="w1@host", **on_this_machine(finished_pid()))
    ask = mock.Mock()
    recovery.fail_jobs_of_lost_workers(ask)
    ask.assert_not_called()


def test_executing_tasks_reads_the_inspect_replies():
    replies = {"a@h": [{"id": "1"}, {"id": "2"}], "b@h": []}
    with mock.patch("stashhog.celery.app.control.inspect") as inspect:
        inspect.return_value.active.return_value = replies
        assert processes.executing_tasks({"b@h", "a@h"}) == {"a@h": {"1", "2"}, "b@h": set()}
    inspect.assert_called_once_with(destination=["a@h", "b@h"],
                                    timeout=processes.INSPECT_TIMEOUT)


def test_this_process_is_alive_and_an_exited_one_is_not():
    here = ProcessIdentity.current()
    assert processes.process_alive(here) is True
    assert processes.process_alive(ProcessIdentity(here.host, finished_pid(), here.instance)) \
        is False
    assert processes.process_alive(ProcessIdentity("other-host", here.pid, here.instance)) \
        is None


def test_worker_ready_signal_runs_the_recovery():
    lost = make_job(worker="me@host", **on_this_machine(finished_pid()))
    worker_ready.send(sender=Sender(hostname="me@host"))
    assert status_of(lost) == JobStatus.FAILED


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
    assert tasks == {"jobs.reap_stale_jobs", "jobs.resend_pending_jobs", "jobs.delete_old_jobs"}
    assert tasks <= set(app.tasks)
    with mock.patch("jobs.recovery.reap_stale_jobs", return_value=0) as reap:
        app.tasks["jobs.reap_stale_jobs"].apply()
    reap.assert_called_once_with()


# -- pending jobs whose message was lost -------------------------------------------------------

def pending_job(sent_ago: timedelta | None, sends: int = 1, **fields) -> Job:
    job = make_job(JobStatus.PENDING, dispatch_count=sends, **fields)
    sent = None if sent_ago is None else timezone.now() - sent_ago
    created = timezone.now() - (sent_ago or timedelta(0)) - timedelta(seconds=1)
    Job.objects.filter(id=job.id).update(dispatched_at=sent, created_at=created)
    return Job.objects.get(id=job.id)


def test_pending_jobs_whose_message_is_lost_are_sent_again_under_the_same_task_id():
    lost = pending_job(timedelta(minutes=3))
    never_sent = pending_job(None, sends=0)  # its process died between commit and send
    Job.objects.filter(id=never_sent.id).update(created_at=timezone.now() - timedelta(minutes=5))
    waiting = pending_job(timedelta(minutes=3))  # still in a queue or held by a worker
    recent = pending_job(timedelta(seconds=30))
    with mock.patch("jobs.tasks.run_job_task.apply_async") as apply_async:
        assert recovery.resend_pending_jobs(lambda jobs: {str(waiting.id)}) == 2
    sent = sorted(call.kwargs["task_id"] for call in apply_async.call_args_list)
    assert sent == sorted([str(lost.id), str(never_sent.id)])
    for job in (lost, never_sent):
        row = Job.objects.get(id=job.id)
        assert row.status == JobStatus.PENDING
        assert row.dispatch_count == job.dispatch_count + 1
        assert timezone.now() - row.dispatched_at < timedelta(seconds=10)
    assert Job.objects.get(id=waiting.id).dispatch_count == 1
    assert Job.objects.get(id=recent.id).dispatch_count == 1


def test_a_job_sent_too_often_without_starting_is_failed_and_frees_its_key():
    given_up = pending_job(timedelta(minutes=3), sends=recovery.MAX_SENDS, exclusive_key="sync")
    with mock.patch("jobs.tasks.run_job_task.apply_async") as apply_async:
        assert recovery.resend_pending_jobs(lambda jobs: set()) == 1
    apply_async.assert_not_called()
    row = Job.objects.get(id=given_up.id)
    assert row.status == JobStatus.FAILED
    assert row.exclusive_key is None
    assert row.error == f"Never started: no worker took the job after {recovery.MAX_SENDS} " \
                        "sends to the queue"


def test_nothing_is_judged_when_the_broker_cannot_be_asked():
    job = pending_job(timedelta(minutes=10), sends=recovery.MAX_SENDS)

    def broker_down(jobs):
        raise ConnectionError("no broker")

    assert recovery.resend_pending_jobs(broker_down) == 0
    assert status_of(job) == JobStatus.PENDING


def test_messages_in_flight_counts_a_busy_queue_and_what_workers_hold():
    in_queue = pending_job(timedelta(minutes=3))
    held = pending_job(timedelta(minutes=3))
    with mock.patch("stashhog.celery.app.connection_for_write") as connect, \
            mock.patch("stashhog.celery.app.control.inspect") as inspect:
        channel = connect.return_value.__enter__.return_value.default_channel
        channel.queue_declare.return_value.message_count = 0
        inspect.return_value.reserved.return_value = {"w@h": [{"id": str(held.id)}]}
        inspect.return_value.active.return_value = {"w@h": []}
        assert recovery.messages_in_flight([in_queue, held]) == {str(held.id)}
        channel.queue_declare.return_value.message_count = 3
        assert recovery.messages_in_flight([in_queue, held]) == {str(in_queue.id), str(held.id)}
    channel.queue_declare.assert_called_with(queue="default", passive=True)
