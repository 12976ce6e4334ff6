"""Jobs whose worker is gone become failed, jobs whose message was lost are sent again, and
old finished jobs are deleted.

Three ways a worker can be lost, three detectors:
- a pool child dies mid-job (OOM killer, segfault) while its worker lives on: Celery
  reports ``WorkerLostError`` in the main process (``fail_job_of_lost_child``);
- the whole worker dies: the next worker to start fails every running job whose process is
  gone, or queues it again if it is idempotent (``fail_jobs_of_lost_workers``;
  ``jobs.processes`` tells a dead process from a live one, even when two workers share a
  node name);
- a worker hangs or is partitioned away: the beat reaper fails jobs whose heartbeat is
  older than ``job_heartbeat_timeout_seconds`` (``reap_stale_jobs``).

A job whose message never reached a worker (Redis restarted before saving it, the process
died between commit and send) stays pending: the beat task ``resend_pending_jobs`` sends
it again under the same task id, and fails it after a few sends.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db.models import Q
from django.utils import timezone

from jobs import processes, runner
from jobs.models import FINISHED_STATUSES, Job, JobStatus
from settings_app import get_setting

logger = logging.getLogger("stashhog.jobs")

RUNNING_STATUSES = (JobStatus.RUNNING, JobStatus.CANCELLING)
# A job pending longer was not picked up: it is sent again, and health reports it.
RESEND_AFTER = timedelta(minutes=2)
MAX_SENDS = 4  # the first send and three more, two minutes apart
INSPECT_TIMEOUT = 1.0  # seconds


def fail_jobs_of_lost_workers(ask_nodes: processes.AskNodes | None = None) -> int:
    """Called when a worker starts: fail the running jobs whose process is gone (see
    ``jobs.processes``; a live job of another worker sharing this node name is left alone);
    an idempotent one is queued again instead, to run from the start.
    """
    running = list(Job.objects.filter(status__in=RUNNING_STATUSES).exclude(worker=""))
    recovered = 0
    for job in processes.lost_jobs(running, ask_nodes):
        recovered += runner.recover_lost_job(
            job, f"Worker lost: {job.worker} stopped while the job was running")
    if recovered:
        logger.warning("recovered %d job(s) left running by lost workers", recovered)
    return recovered


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


def messages_in_flight(jobs: Iterable[Job]) -> set[str]:
    """Ids of the jobs whose message may still reach a worker: every job of a queue that is
    not empty (its message may be waiting there), and the ones a worker holds (prefetched
    or running). Raises when the broker cannot be asked."""
    from kombu.exceptions import ChannelError

    queues = {str(job.id): runner.queue_of(job) for job in jobs}
    in_flight = set()
    with current_app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's Channel (queue_declare)
        for queue in set(queues.values()):
            try:
                waiting = channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # no such queue: nothing waits in it
                waiting = 0
            if waiting:
                in_flight |= {job_id for job_id, name in queues.items() if name == queue}
    inspect = current_app.control.inspect(timeout=INSPECT_TIMEOUT)
    for held in (inspect.reserved(), inspect.active()):
        in_flight |= {task["id"] for tasks in (held or {}).values() for task in tasks or ()}
    return in_flight


def resend_pending_jobs(in_flight: Callable[[Iterable[Job]], set[str]] = messages_in_flight
                        ) -> int:
    """Send again the pending jobs whose last send is over two minutes old and whose
    message no queue or worker holds; fail those already sent ``MAX_SENDS`` times.

    A job waiting behind others in a busy queue is not touched: it was not lost.
    """
    cutoff = timezone.now() - RESEND_AFTER
    stale = list(Job.objects.filter(status=JobStatus.PENDING).filter(
        Q(dispatched_at__lt=cutoff) | Q(dispatched_at=None, created_at__lt=cutoff)
    ))
    if not stale:
        return 0
    try:
        held = in_flight(stale)
    except Exception as exc:
        logger.warning("could not ask the broker about pending jobs (%s)", type(exc).__name__)
        return 0
    handled = 0
    for job in stale:
        if str(job.id) in held:
            continue
        if job.dispatch_count >= MAX_SENDS:
            handled += runner.fail_job(job, f"Never started: no worker took the job after "
                                            f"{job.dispatch_count} sends to the queue")
        elif runner.resend_job(job):
            logger.warning("job %s was pending with no message left; sent again", job.id)
            handled += 1
    return handled


def delete_old_jobs() -> int:
    """Delete finished jobs that completed more than ``job_retention_days`` ago."""
    cutoff = timezone.now() - timedelta(days=get_setting("job_retention_days"))
    deleted, _ = Job.objects.filter(
        status__in=FINISHED_STATUSES, completed_at__lt=cutoff
    ).delete()
    return deleted
