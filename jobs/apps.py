from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from celery.signals import task_failure, worker_ready, worker_shutting_down

        from jobs.tasks import (
            recover_job_of_lost_child,
            recover_jobs_on_worker_start,
            stop_running_jobs_on_shutdown,
        )

        worker_ready.connect(recover_jobs_on_worker_start, dispatch_uid="jobs.recover_workers")
        task_failure.connect(recover_job_of_lost_child, dispatch_uid="jobs.recover_child")
        worker_shutting_down.connect(stop_running_jobs_on_shutdown,
                                     dispatch_uid="jobs.stop_on_shutdown")
