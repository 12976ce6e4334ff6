"""scenes.bulk: the set-based writes of sync, on whichever database the suite runs
(PostgreSQL's COPY-and-merge path when DATABASE_URL points to PostgreSQL)."""

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from scenes import bulk
from scenes.models import Scene, Tag

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ["id", "title", "urls", "created_date", "scene_date", "stash_updated_at",
          "last_synced", "details", "organized", "code", "search_text", "stash_ids"]
TAG_FIELDS = ["id", "name", "aliases", "search_text", "last_synced", "ignore_auto_tag"]
SYNCED = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


def row(scene_id: str, title: str, urls: list[str]) -> tuple:
    # Timestamps as Stash sends them (ISO text in its own offset), a month, a JSON list.
    return (scene_id, title, urls, "2026-01-11T18:07:53+11:00", "2025-12",
            "2026-01-11T18:07:54Z", SYNCED, "", False, "", title.lower(), [])


def stored() -> dict[str, tuple]:
    return {scene.id: (scene.title, scene.urls, scene.created_date, scene.scene_date,
                       scene.stash_updated_at, scene.last_synced)
            for scene in Scene.objects.all()}


def test_insert_then_upsert_stores_stash_values_as_the_orm_reads_them():
    with transaction.atomic():
        bulk.insert(Scene, FIELDS, [row("1", "One", ["https://a.example/1"]), row("2", "Two", [])])
        # A second write to the same table in the same transaction: nothing of the first
        # one's staging is merged twice.
        bulk.upsert(Scene, FIELDS, [row("2", "Two again", ["https://b.example/2"]),
                                    row("3", "Three", [])])

    created = datetime(2026, 1, 11, 7, 7, 53, tzinfo=UTC)  # +11:00 read back as UTC
    updated = datetime(2026, 1, 11, 18, 7, 54, tzinfo=UTC)
    assert stored() == {
        "1": ("One", ["https://a.example/1"], created, "2025-12", updated, SYNCED),
        "2": ("Two again", ["https://b.example/2"], created, "2025-12", updated, SYNCED),
        "3": ("Three", [], created, "2025-12", updated, SYNCED),
    }
    # Stored in sortable form: the API orders and filters on these columns in SQL.
    assert list(Scene.objects.filter(created_date__lt=updated).order_by("created_date")
                .values_list("id", flat=True)) == ["1", "2", "3"]


def test_insert_skips_rows_that_exist_and_leaves_them_as_they_were():
    with transaction.atomic():
        bulk.insert(Scene, FIELDS, [row("1", "One", [])])
    with transaction.atomic():
        bulk.insert(Scene, FIELDS, [row("1", "Changed", ["x"]), row("2", "Two", [])])

    assert {scene_id: value[0] for scene_id, value in stored().items()} == {
        "1": "One", "2": "Two"}


def test_a_write_after_a_rolled_back_one_still_lands():
    """On PostgreSQL the first write of a session makes its staging table; a rollback takes
    that table away, and the next write must not count on it."""
    def failed_page():
        with transaction.atomic():
            bulk.upsert(Tag, TAG_FIELDS,
                        [("1", "Rolled back", [], "rolled back", SYNCED, False)])
            raise RuntimeError("the page failed")

    with pytest.raises(RuntimeError):
        failed_page()
    assert not Tag.objects.exists()

    with transaction.atomic():
        bulk.upsert(Tag, TAG_FIELDS,
                    [("1", "Kept", ["Alias"], "kept\nalias", SYNCED, True)])
    bulk.upsert(Tag, TAG_FIELDS,
                [("2", "Outside a transaction", [], "outside", SYNCED, False)])

    assert sorted(Tag.objects.values_list("id", "name", "aliases", "ignore_auto_tag")) == [
        ("1", "Kept", ["Alias"], True), ("2", "Outside a transaction", [], False)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_on_postgresql_rows_go_through_copy_and_leave_the_staging_table_empty():
    with transaction.atomic(), connection.cursor() as cursor:
        bulk.insert(Scene, FIELDS, [row(str(n), f"Scene {n}", []) for n in range(1, 501)])
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'stage_scenes_scene_%%' "
                       "AND relpersistence = 't'")
        (stage,), = cursor.fetchall()
        cursor.execute(f'SELECT count(*) FROM "{stage}"')
        assert cursor.fetchone() == (0,)

    assert Scene.objects.count() == 500


@pytest.mark.skipif(connection.vendor != "postgresql", reason="temporary tables of PostgreSQL")
def test_rows_staged_by_a_write_that_rolled_back_never_reach_the_next_merge():
    def failing_page():
        with transaction.atomic():
            bulk.upsert(Tag, TAG_FIELDS, [("1", "Rolled back", [], "rolled back", SYNCED, False)])
            raise RuntimeError("the page failed after its merge")

    with pytest.raises(RuntimeError):
        failing_page()

    with transaction.atomic():
        bulk.upsert(Tag, TAG_FIELDS, [("2", "Next", [], "next", SYNCED, False)])

    assert list(Tag.objects.values_list("name", flat=True)) == ["Next"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="temporary tables of PostgreSQL")
def test_a_write_after_the_session_lost_its_temporary_tables_still_lands():
    """A pooled session is reset between uses (DISCARD), dropping its temporary tables while
    the driver's connection object lives on: the staging table is the server's to know."""
    with transaction.atomic():
        bulk.upsert(Tag, TAG_FIELDS, [("1", "First", [], "first", SYNCED, False)])
    with connection.cursor() as cursor:
        cursor.execute("DISCARD TEMP")

    with transaction.atomic():
        bulk.upsert(Tag, TAG_FIELDS, [("2", "After the reset", [], "after", SYNCED, False)])

    assert sorted(Tag.objects.values_list("name", flat=True)) == ["After the reset", "First"]
