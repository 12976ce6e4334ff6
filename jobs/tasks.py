"""Celery tasks of the jobs app, and the worker signal receivers that recover lost jobs
(``JobsConfig.ready`` connects them)."""

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


@shared_task(name="jobs.delete_old_jobs", ignore_result=True)
def delete_old_jobs_task() -> int:
    return recovery.delete_old_jobs()


def recover_jobs_on_worker_start(sender, **kwargs):
    """Runs in the worker's main process once it is consuming. (Pool children started
    later drop the inherited database connection: Celery's Django fixup sees to it.)"""
    recovery.fail_jobs_of_lost_workers(sender.hostname)


def recover_job_of_lost_child(sender=None, task_id=None, exception=None, **kwargs):
    """Celery reports a pool child lost mid-task in the main process: fail its job (an
    idempotent job's message is requeued instead, so Celery sends no failure for it)."""
    if getattr(sender, "name", None) in RUN_TASK_NAMES and isinstance(exception,
                                                                       WorkerLostError):
        recovery.fail_job_of_lost_child(task_id, str(exception))
