"""A fresh install's schedules, created disabled: the README says how to enable them."""

from django.db import migrations

from automation.migrations import _defaults


def create_sync_schedule(apps, schema_editor):
    _defaults.create_schedule(apps, "Incremental sync", "sync", {"incremental": True}, "*/30", "*")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_sync_schedule, migrations.RunPython.noop)]
