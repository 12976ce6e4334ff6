"""A trigram index for scene search on PostgreSQL (SQLite has no equivalent; it scans).

Search is ``search_text LIKE '%term%'`` on the lower-cased column, which a
``gin_trgm_ops`` index serves.
"""

from django.db import migrations

INDEX = "scenes_scene_search_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON scenes_scene USING gin (search_text gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ("scenes", "0002_sync_state_and_search"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
    ]
