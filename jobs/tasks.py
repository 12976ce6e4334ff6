from celery import shared_task

from jobs import runner


@shared_task(name="jobs.run_job", bind=True, ignore_result=True)
def run_job_task(self, job_id: str) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "")
