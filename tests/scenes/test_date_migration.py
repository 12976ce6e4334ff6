"""The migration that made scene dates Stash's text keeps every date, both ways it runs."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("scenes", "0010_link_entity_scene_indexes")
AFTER = ("scenes", "0011_stash_date_text")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def scene(apps, scene_id, scene_date):
    return apps.get_model("scenes", "Scene").objects.create(
        id=scene_id, created_date="2024-01-01T00:00:00Z", stash_updated_at="2024-01-01T00:00:00Z",
        last_synced="2024-01-01T00:00:00Z", scene_date=scene_date)


def dates(apps):
    return dict(apps.get_model("scenes", "Scene").objects.values_list("id", "scene_date"))


@pytest.mark.django_db(transaction=True)
def test_dates_become_text_and_partial_ones_null_on_the_way_back():
    try:
        apps = migrate(BEFORE)
        scene(apps, "1", "2024-11-17")
        scene(apps, "2", None)

        apps = migrate(AFTER)
        assert dates(apps) == {"1": "2024-11-17", "2": None}
        scene(apps, "3", "2019")

        apps = migrate(BEFORE)
        assert {scene_id: str(day) if day else None
                for scene_id, day in dates(apps).items()} == {
            "1": "2024-11-17", "2": None, "3": None}
    finally:
        migrate(AFTER)
