"""A fresh install's schedules, created disabled: the README says how to enable them."""

import json
from zoneinfo import ZoneInfo

from django.db import migrations

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


def create_sync_schedule(apps, schema_editor):
    create_schedule(apps, "Incremental sync", "sync", {"incremental": True}, "*/30", "*")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_sync_schedule, migrations.RunPython.noop)]
