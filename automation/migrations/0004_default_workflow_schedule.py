"""A fresh install's nightly workflow schedule, created disabled like the sync schedule."""

from django.db import migrations

from automation.migrations import _defaults


def create_workflow_schedule(apps, schema_editor):
    _defaults.create_schedule(apps, "Nightly workflow", "workflow", {}, "0", "3")


class Migration(migrations.Migration):
    dependencies = [("automation", "0003_schedule_kind_workflow")]

    operations = [migrations.RunPython(create_workflow_schedule, migrations.RunPython.noop)]
