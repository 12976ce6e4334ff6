"""(entity, scene) indexes on the scene <-> tag and scene <-> performer tables.

"Scenes with ALL of these tags" groups the link rows of those tags by scene. Django's own
index on the tag column alone made that a read of a table page per link row (613 pages for
two tags of 1,800 scenes each at 100,000 scenes); holding the scene id too, the index
answers it alone (index-only). Plain SQL: the link tables are Django's automatic ones, with
no ``Meta.indexes`` to declare it in.
"""

from django.db import migrations

LINKS = (("scenes_scene_tags", "tag_id", "scene_tags_tag_scene"),
         ("scenes_scene_performers", "performer_id", "scene_performers_performer_scene"))


class Migration(migrations.Migration):

    dependencies = [
        ("scenes", "0009_scene_id_number_with_id_tiebreak"),
    ]

    operations = [
        migrations.RunSQL(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({column}, scene_id)",
                          f"DROP INDEX IF EXISTS {index}")
        for table, column, index in LINKS
    ]
