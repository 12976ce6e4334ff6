"""The one Celery task every schedule's periodic task points at."""

from celery import shared_task

from automation.schedules import RUN_SCHEDULE_TASK, run_scheduled


@shared_task(name=RUN_SCHEDULE_TASK, ignore_result=True)
def run_schedule_task(schedule_id: int) -> None:
    run_scheduled(schedule_id)
