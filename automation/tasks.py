"""Celery tasks of automation: the one task every schedule's periodic task points at, and
the sending of notifications (off the job's own worker process path)."""

import logging

from celery import shared_task

from automation import notifications
from automation.schedules import RUN_SCHEDULE_TASK, run_scheduled

logger = logging.getLogger("stashhog.notifications")


@shared_task(name=RUN_SCHEDULE_TASK, ignore_result=True)
def run_schedule_task(schedule_id: int) -> None:
    run_scheduled(schedule_id)


@shared_task(name="automation.send_notification", ignore_result=True)
def send_notification_task(event: str, title: str, body: str) -> None:
    if notifications.send(title, body)["success"]:
        logger.info("sent the %s notification", event)
