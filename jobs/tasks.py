"""Celery tasks of the jobs app, and the worker signal receivers that recover lost jobs
and stop running ones cleanly when a worker shuts down (``JobsConfig.ready`` connects
them)."""

import threading

from billiard.exceptions import WorkerLostError
from celery import shared_task

from jobs import recovery, runner


@shared_task(name="jobs.run_job", bind=True, ignore_result=True)
def run_job_task(self, job_id: str) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "")


# Only for job types registered ``idempotent=True``: the message is acknowledged after the
# run and requeued when the worker is lost, and a redelivered message restarts the job.
@shared_task(name="jobs.run_idempotent_job", bind=True, ignore_result=True,
             acks_late=True, reject_on_worker_lost=True)
def run_idempotent_job_task(self, job_id: str) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "", restart_running=True)


RUN_TASK_NAMES = {run_job_task.name, run_idempotent_job_task.name}


@shared_task(name="jobs.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs_task() -> int:
    return recovery.reap_stale_jobs()


@shared_task(name="jobs.resend_pending_jobs", ignore_result=True)
def resend_pending_jobs_task() -> int:
    return recovery.resend_pending_jobs()


@shared_task(name="jobs.delete_old_jobs", ignore_result=True)
def delete_old_jobs_task() -> int:
    return recovery.delete_old_jobs()


def recover_jobs_on_worker_start(sender, **kwargs):
    """Runs in the worker's main process once it is consuming. (Pool children started
    later drop the inherited database connection: Celery's Django fixup sees to it.)"""
    recovery.fail_jobs_of_lost_workers()


def stop_running_jobs_on_shutdown(sender=None, **kwargs):
    """A warm shutdown (SIGTERM, the launcher's Ctrl-C) waits for running tasks: ask their
    jobs to stop at their next safe point, so they end ``cancelled`` instead of keeping the
    worker for hours or being killed into "worker lost". Runs in the main process, inside
    its signal handler: the database work goes to a thread of its own."""
    from celery.worker import state

    job_ids = [request.id for request in state.active_requests]
    if job_ids:
        threading.Thread(target=_stop_jobs, args=(job_ids,), name="stop-jobs").start()


def _stop_jobs(job_ids: list[str]) -> None:
    from django.db import connections

    try:
        runner.stop_jobs(job_ids)
    finally:
        connections.close_all()


def recover_job_of_lost_child(sender=None, task_id=None, exception=None, **kwargs):
    """Celery reports a pool child lost mid-task in the main process: fail its job (an
    idempotent job's message is requeued instead, so Celery sends no failure for it)."""
    if getattr(sender, "name", None) in RUN_TASK_NAMES and isinstance(exception,
                                                                       WorkerLostError):
        recovery.fail_job_of_lost_child(task_id, str(exception))
