"""Bulk-load mode: a first sync loads without secondary indexes, and they always come back."""

import logging
from contextlib import nullcontext

import pytest
from celery.signals import worker_ready
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from jobs.models import JobStatus
from scenes import bulk, store
from scenes.bulk_load import LOADED, drop_indexes, restore_indexes
from scenes.models import DroppedIndex, Scene
from scenes.stash import StashClient, StashUnreachable
from settings_app.registry import save_settings
from tests.fakes.stash_library import generate_library
from tests.scenes.library_match import assert_matches
from tests.scenes.test_sync import sync

pytestmark = pytest.mark.django_db(transaction=True)
POSTGRESQL = connection.vendor == "postgresql"


def schema() -> set[str]:
    """Every index and constraint of the loaded tables, as the database describes them."""
    tables = [model._meta.db_table for model in LOADED]
    with connection.cursor() as cursor:
        if POSTGRESQL:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [tables])
            found = cursor.fetchall()
            cursor.execute("SELECT conname || ' ' || pg_get_constraintdef(oid) "  # NOT VALID too
                           "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s)",
                           [tables])
            found += cursor.fetchall()
        else:
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute("SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master "
                           f"WHERE type = 'index' AND tbl_name IN ({placeholders})", tables)
            found = cursor.fetchall()
    return {row[0] for row in found}


def named(definitions: set[str], name: str) -> bool:
    return any(name in definition for definition in definitions)


@pytest.fixture
def stash(fake_stash_factory, use_stash):
    server = fake_stash_factory(generate_library(60, seed=5))
    use_stash(server)
    save_settings({"sync_page_size": 20})
    return server


@pytest.fixture
def schema_while_saving(monkeypatch):
    """The schema as each page of scenes was written."""
    seen: list[set[str]] = []
    save = store.save_scenes

    def saving(scenes, now, **options):
        seen.append(schema())
        return save(scenes, now, **options)

    monkeypatch.setattr(store, "save_scenes", saving)
    return seen


def test_a_first_full_sync_loads_without_secondary_indexes_then_builds_them(
        stash, schema_while_saving):
    before = schema()

    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(stash.library)
    during = schema_while_saving[0]
    assert during < before
    assert not named(during, "scene_title_id")  # a model's index
    assert named(during, "scenes_scene_pkey" if POSTGRESQL else "sqlite_autoindex_scenes_scene")
    assert named(during, "scenes_scene_tags_scene_id_tag_id")  # ON CONFLICT needs the pair
    if POSTGRESQL:
        assert not named(during, "scenes_scene_search_trgm")  # made by raw SQL in a migration
        assert not named(during, "FOREIGN KEY")
    assert schema() == before
    assert not DroppedIndex.objects.exists()


def test_a_first_load_appends_its_pages_without_looking_up_stored_scenes(stash, monkeypatch):
    looked_up = []
    select_where_in = bulk.select_where_in

    def recording(model, fields, key, values):
        looked_up.append(model)
        return select_where_in(model, fields, key, values)

    monkeypatch.setattr(bulk, "select_where_in", recording)

    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(stash.library)
    assert job.result["scenes"] == {"created": 60, "updated": 0, "removed": 0}
    assert not set(looked_up) & set(LOADED)


def test_a_scene_another_process_stored_during_a_load_is_merged(stash, monkeypatch):
    save = store.save_scenes
    pages = []

    def storing_one_first(scenes, now, **options):
        pages.append(scenes)
        if len(pages) == 2:  # a hook refreshed the page's first scene, from an older read
            stale = {**scenes[0], "title": "Stale", "tags": [],
                     "files": [{"id": "stale", "path": "/stale.mp4"}]}
            save([stale], now)
        return save(scenes, now, **options)

    monkeypatch.setattr(store, "save_scenes", storing_one_first)

    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(stash.library)
    assert job.result["scenes"] == {"created": 59, "updated": 1, "removed": 0}


def test_a_full_sync_of_a_stored_library_keeps_its_indexes(stash, schema_while_saving):
    sync(incremental=False)
    before = schema()
    schema_while_saving.clear()

    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert schema_while_saving
    assert all(seen == before for seen in schema_while_saving)


def test_a_load_that_fails_builds_the_indexes_again(stash, monkeypatch):
    before = schema()
    scan = StashClient.iter_scene_pages

    def failing_after_one_page(client, **kwargs):
        pages = scan(client, **kwargs)
        yield next(pages)
        raise StashUnreachable("gone mid-scan")

    monkeypatch.setattr(StashClient, "iter_scene_pages", failing_after_one_page)
    job = sync(incremental=False)

    assert job.status == JobStatus.FAILED
    assert Scene.objects.count() == 20
    assert schema() == before
    assert not DroppedIndex.objects.exists()


@pytest.mark.parametrize("restart", ["next sync", "migrate", "worker start"])
def test_indexes_a_dead_worker_left_dropped_come_back(stash, restart):
    sync(incremental=False)
    before = schema()
    drop_indexes()  # what a load had done when its worker died
    assert not named(schema(), "scene_title_id")

    if restart == "next sync":
        assert sync(incremental=True).status == JobStatus.COMPLETED
    elif restart == "migrate":
        call_command("migrate", verbosity=0)
    else:
        worker_ready.send(sender=type("Worker", (), {"hostname": "me@host"})())

    assert schema() == before
    assert not DroppedIndex.objects.exists()


@pytest.mark.skipif(not POSTGRESQL, reason="foreign keys are dropped on PostgreSQL only")
def test_a_foreign_key_that_no_longer_holds_comes_back_unvalidated(stash, caplog):
    sync(incremental=False)
    before = schema()
    drop_indexes()
    with connection.cursor() as cursor:  # another process wrote a file of no scene meanwhile
        cursor.execute("INSERT INTO scenes_scenefile (id, scene_id, path, size, duration, "
                       "width, height, frame_rate, video_codec, \"primary\") "
                       "VALUES ('orphan', 'nowhere', '/x', 0, 0, 0, 0, 0, '', false)")

    with caplog.at_level(logging.WARNING, logger="stashhog.sync"):
        restore_indexes()

    restored = schema()
    assert restored - before == {
        definition + " NOT VALID" for definition in before - restored}
    assert named(restored - before, "scenes_scenefile_scene_id")
    assert "restored as NOT VALID" in caplog.text
    assert not DroppedIndex.objects.exists()


@pytest.mark.skipif(not POSTGRESQL, reason="indexes are built in parallel on PostgreSQL")
@pytest.mark.parametrize("enclosed", [False, True])
def test_indexes_are_built_from_connections_of_their_own_unless_a_transaction_encloses(
        stash, enclosed):
    sync(incremental=False)
    before = schema()
    drop_indexes()

    with CaptureQueriesContext(connection) as restorer:
        with transaction.atomic() if enclosed else nullcontext():
            restore_indexes()

    assert schema() == before
    built_here = [query["sql"] for query in restorer.captured_queries
                  if query["sql"].startswith("CREATE INDEX")]
    assert bool(built_here) == enclosed
    assert any("FOREIGN KEY" in query["sql"] for query in restorer.captured_queries)
    assert not DroppedIndex.objects.exists()


@pytest.mark.skipif(not POSTGRESQL, reason="indexes are built in parallel on PostgreSQL")
def test_a_restorer_that_died_after_building_an_index_is_finished_by_the_next(stash):
    sync(incremental=False)
    before = schema()
    drop_indexes()
    built = DroppedIndex.objects.filter(sql__startswith="CREATE INDEX").first()
    with connection.cursor() as cursor:  # built and committed, its record not yet removed
        cursor.execute(built.sql)

    restore_indexes()

    assert schema() == before
    assert not DroppedIndex.objects.exists()
