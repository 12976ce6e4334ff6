"""Newest-first date sorting on PostgreSQL.

The API sorts nulls last in both directions, so ``scene_date DESC NULLS LAST, id DESC``
cannot walk the ascending ``(scene_date, id)`` index backwards (that would put undated
scenes first) and sorted the whole table. This index serves it. SQLite has no NULLS clause
in index definitions.
"""

from django.db import migrations

INDEX = "scene_date_desc_id"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} "
            "ON scenes_scene (scene_date DESC NULLS LAST, id DESC)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ("scenes", "0005_sort_indexes_with_id_tiebreak"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
    ]
