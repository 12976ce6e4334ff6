"""End to end: a worker lost mid-job never leaves the job "running", a worker told to stop
ends its job "cancelled", and a worker sharing another's node name leaves its job alone.

Two ways to lose it under prefork: the pool child running the job dies (its main process
lives on and reports it), or the main process itself is SIGKILLed (its children die with
it through PDEATHSIG) and the job is failed by the next worker to start.
"""

import signal
import time
import uuid

import psutil
import pytest

from jobs.models import Job, JobStatus
from jobs.runner import start_job
from tests.e2e_support import running, start_worker, wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_JOB = {"n": 10_000, "delay": 0.05}


@pytest.fixture(scope="module")
def e2e_imports():
    return ["tests.jobs.demo_jobs"]


def start_running_job(worker):
    job = start_job("demo.count", LONG_JOB)
    row = wait_for_job(job.id, {JobStatus.RUNNING})
    assert row.worker == worker.node_name
    return row


def test_a_killed_pool_child_fails_its_job_while_the_worker_lives_on(e2e_env, live_celery):
    with running(start_worker(e2e_env, concurrency=1)) as worker:
        job = start_running_job(worker)
        (child,) = psutil.Process(worker.pid).children()
        child.kill()
        row = wait_for_job(job.id, {JobStatus.FAILED, JobStatus.COMPLETED}, timeout=30)
        assert row.status == JobStatus.FAILED
        assert row.error.startswith("Worker lost: the process running the job died")
        assert worker.alive()
        # the worker replaced its child and still runs jobs
        follow_up = start_job("demo.count", {"n": 2})
        assert wait_for_job(follow_up.id, {JobStatus.COMPLETED}).result == {"counted": 2}


def test_a_sigkilled_worker_leaves_its_job_failed_once_a_new_worker_starts(e2e_env,
                                                                           live_celery):
    with running(start_worker(e2e_env, concurrency=1)) as lost:
        job = start_running_job(lost)
        children = psutil.Process(lost.pid).children()
        lost.kill()  # SIGKILL to the main process, as an OOM killer or `kill -9` would
        lost.popen.wait(timeout=10)
        psutil.wait_procs(children, timeout=10)  # PDEATHSIG takes the pool child down too
        assert Job.objects.get(id=job.id).status == JobStatus.RUNNING  # nobody noticed yet
        with running(start_worker(e2e_env, concurrency=1)):
            row = wait_for_job(job.id, {JobStatus.FAILED, JobStatus.COMPLETED}, timeout=30)
    assert row.status == JobStatus.FAILED
    assert row.error.startswith(f"Worker lost: {lost.node_name} stopped")



def test_a_worker_sharing_a_node_name_leaves_the_job_alone_and_a_stopped_worker_cancels_it(
        e2e_env, live_celery):
    name = f"twin-{uuid.uuid4().hex[:8]}@127.0.0.1"
    with running(start_worker(e2e_env, node_name=name, concurrency=1)) as first:
        job = start_running_job(first)
        with running(start_worker(e2e_env, node_name=name, concurrency=1)) as second:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and " ready." not in second.log_tail():
                time.sleep(0.2)
            assert " ready." in second.log_tail()  # its start-up recovery has run
            row = Job.objects.get(id=job.id)
            assert (row.status, row.error) == (JobStatus.RUNNING, "")
        first.kill(signal.SIGTERM)  # warm shutdown: `docker stop`, the launcher's Ctrl-C
        row = wait_for_job(job.id, {JobStatus.CANCELLED, JobStatus.FAILED,
                                    JobStatus.COMPLETED}, timeout=30)
        assert row.status == JobStatus.CANCELLED
        assert first.popen.wait(timeout=30) == 0  # it did not wait for the whole job
