"""Jobs whose worker is gone become failed, and old finished jobs are deleted.

Three ways a worker can be lost, three detectors:
- a pool child dies mid-job (OOM killer, segfault) while its worker lives on: Celery
  reports ``WorkerLostError`` in the main process (``fail_job_of_lost_child``);
- the whole worker dies: the next worker to start fails every job left running by a node
  that is itself, or that does not answer a ping (``fail_jobs_of_lost_workers``);
- a worker hangs or is partitioned away: the beat reaper fails jobs whose heartbeat is
  older than ``job_heartbeat_timeout_seconds`` (``reap_stale_jobs``).
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from celery import current_app
from django.utils import timezone

from jobs import runner
from jobs.models import FINISHED_STATUSES, Job, JobStatus
from settings_app import get_setting

logger = logging.getLogger("stashhog.jobs")

RUNNING_STATUSES = (JobStatus.RUNNING, JobStatus.CANCELLING)
PING_TIMEOUT = 2.0  # seconds


def ping_nodes(nodes: Iterable[str]) -> set[str]:
    """The names of the Celery nodes among ``nodes`` that answer a ping."""
    replies = current_app.control.ping(destination=sorted(nodes), timeout=PING_TIMEOUT) or []
    return {name for reply in replies for name in reply}


def fail_jobs_of_lost_workers(this_node: str,
                              ping: Callable[[Iterable[str]], set[str]] = ping_nodes) -> int:
    """Called when ``this_node`` starts: fail the jobs no living worker is running.

    Jobs recorded on this node's own name were run by a process that no longer exists
    (this one has only just started). Jobs of other nodes are alive only if that node
    answers a ping; when the ping itself fails, nothing is judged.
    """
    active = list(Job.objects.filter(status__in=RUNNING_STATUSES).exclude(worker=""))
    others = {job.worker for job in active} - {this_node}
    try:
        alive = ping(others) if others else set()
    except Exception as exc:
        logger.warning("could not ping workers (%s); only this node's jobs are recovered",
                       type(exc).__name__)
        alive = others
    failed = 0
    for job in active:
        if job.worker == this_node or job.worker not in alive:
            failed += runner.fail_job(job, f"Worker lost: {job.worker} stopped while the job "
                                           "was running")
    if failed:
        logger.warning("failed %d job(s) left running by lost workers", failed)
    return failed


def fail_job_of_lost_child(job_id: str, exit_reason: str) -> bool:
    """A pool child died while running the job (its main process reports it)."""
    job = Job.objects.filter(id=job_id).first()
    if job is None:
        return False
    return runner.fail_job(job, f"Worker lost: the process running the job died "
                                f"({exit_reason})")


def reap_stale_jobs() -> int:
    """Fail running jobs whose heartbeat stopped: their worker hung or vanished."""
    timeout = get_setting("job_heartbeat_timeout_seconds")
    cutoff = timezone.now() - timedelta(seconds=timeout)
    failed = 0
    for job in Job.objects.filter(status__in=RUNNING_STATUSES, heartbeat_at__lt=cutoff):
        failed += runner.fail_job(
            job, f"Worker lost: no heartbeat for more than {timeout} seconds"
        )
    return failed


def delete_old_jobs() -> int:
    """Delete finished jobs that completed more than ``job_retention_days`` ago."""
    cutoff = timezone.now() - timedelta(days=get_setting("job_retention_days"))
    deleted, _ = Job.objects.filter(
        status__in=FINISHED_STATUSES, completed_at__lt=cutoff
    ).delete()
    return deleted
