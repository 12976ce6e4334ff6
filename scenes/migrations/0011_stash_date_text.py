"""Scene dates as Stash's text ("YYYY-MM-DD", "YYYY-MM" or "YYYY"; ``scenes.dates``): a
date column had no room for a partial date, so sync stored none.

PostgreSQL formats the stored dates itself (``to_char``), whatever the server's DateStyle.
Back to a date column, partial dates become null.
"""

from django.db import migrations, models

TEXT = "varchar(10) USING to_char(scene_date, 'YYYY-MM-DD')"
DATE = "date USING scene_date::date"


def _retype(schema_editor, apps, to_text: bool) -> None:
    scene = apps.get_model("scenes", "Scene")
    if not to_text:
        scene.objects.exclude(scene_date__regex=r"^\d{4}-\d{2}-\d{2}$").update(scene_date=None)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE scenes_scene ALTER COLUMN scene_date TYPE "
                              + (TEXT if to_text else DATE))
        return
    text, day = (models.CharField(max_length=10, null=True, blank=True),
                 models.DateField(null=True, blank=True))
    old, new = (day, text) if to_text else (text, day)
    for field in (old, new):
        field.set_attributes_from_name("scene_date")
        field.model = scene
    schema_editor.alter_field(scene, old, new)


class Migration(migrations.Migration):

    dependencies = [
        ("scenes", "0010_link_entity_scene_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(
                lambda apps, schema_editor: _retype(schema_editor, apps, to_text=True),
                lambda apps, schema_editor: _retype(schema_editor, apps, to_text=False),
            )],
            state_operations=[migrations.AlterField(
                model_name="scene",
                name="scene_date",
                field=models.CharField(blank=True, max_length=10, null=True),
            )],
        ),
    ]
