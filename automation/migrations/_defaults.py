"""What the default-schedule data migrations share: a disabled crontab schedule
written with the migration's historical models (the service cannot be used there)."""

import json
from zoneinfo import ZoneInfo

RUN_SCHEDULE_TASK = "automation.run_schedule"  # automation.schedules.RUN_SCHEDULE_TASK


def create_schedule(apps, name, kind, parameters, minute, hour):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    Schedule = apps.get_model("automation", "Schedule")
    if Schedule.objects.filter(name=name).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month="*", month_of_year="*", day_of_week="*",
        timezone=ZoneInfo("UTC"))
    task = PeriodicTask.objects.create(name=f"StashHog schedule: {name}", task=RUN_SCHEDULE_TASK,
                                       crontab=crontab, enabled=False)
    schedule = Schedule.objects.create(name=name, kind=kind, parameters=parameters,
                                       periodic_task=task)
    task.args = json.dumps([schedule.id])
    task.save()
