"""The sync job against the fake Stash: exact copies, incremental changes, interruptions."""

import logging
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.runner import JobNotCompleted, cancel_job, start_job
from scenes import bulk, store
from scenes.models import Performer, Scene, SceneFile, Studio, SyncState, Tag
from scenes.signals import scenes_removed
from scenes.stash import ScenePage, StashClient
from scenes.sync import shift_stamp
from settings_app.registry import save_settings
from stashhog.api.errors import http_status
from tests.fakes.stash_library import generate_library
from tests.scenes.library_match import assert_matches

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 3600


def sync(incremental: bool = True) -> Job:
    """Run a sync job inline; returns its row whether it completed or not."""
    try:
        return start_job("sync", {"incremental": incremental}, inline=True)
    except JobNotCompleted as stopped:
        return stopped.job


def delete_performer(library, performer_id: int) -> None:
    """What Stash does (the fake has no helper): scenes lose the performer, unbumped."""
    with library.lock:
        library._unindex("performer", performer_id)
        del library.performers[performer_id]
        for scene in library.scenes.values():
            if performer_id in scene.performer_ids:
                scene.performer_ids.remove(performer_id)


@pytest.fixture
def stash(fake_stash_factory, use_stash):
    server = fake_stash_factory(generate_library(120, seed=3))
    use_stash(server)
    save_settings({"sync_page_size": 25})
    return server


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)


# -- full sync -------------------------------------------------------------------------------


def test_full_sync_copies_the_library_exactly(stash):
    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(stash.library)
    assert job.result["incremental"] is False
    assert job.result["scenes"] == {"created": 120, "updated": 0, "removed": 0}
    assert job.result["tags"]["created"] == len(stash.library.tags)
    assert job.result["performers"]["created"] == len(stash.library.performers)
    assert (job.processed_items, job.total_items) == (120, 120)
    # Keyset pages of the configured size, by id, with the count asked once.
    assert stash.operation_counts["ScenePage"] == 5
    assert stash.scene_counts == 1
    newest = max(s.updated_at for s in stash.library.scenes.values())
    assert SyncState.load().watermark == newest


def test_without_a_watermark_an_incremental_request_runs_full(stash):
    job = sync(incremental=True)

    assert job.result["incremental"] is False
    assert_matches(stash.library)


def test_a_second_full_sync_removes_what_stash_deleted(stash):
    sync(incremental=False)
    library = stash.library
    gone = sorted(library.scenes)[:3]
    for scene_id in gone:
        library.delete_scene(scene_id)

    job = sync(incremental=False)

    assert job.result["scenes"] == {"created": 0, "updated": 117, "removed": 3}
    assert_matches(library)


def test_a_full_scan_that_comes_back_short_removes_nothing_and_says_so(stash, monkeypatch):
    sync(incremental=False)
    watermark = SyncState.load().watermark
    scan = StashClient.iter_scene_pages

    def short_second_page(client, **kwargs):
        for number, page in enumerate(scan(client, **kwargs)):
            if number == 1:  # a page that came back short by mistake ends the keyset scan
                yield ScenePage(scenes=page.scenes[:10], total=page.total)
                return
            yield page

    monkeypatch.setattr(StashClient, "iter_scene_pages", short_second_page)
    job = sync(incremental=False)

    assert job.status == JobStatus.COMPLETED, job.error
    assert Scene.objects.count() == 120
    assert job.result["scenes"]["removed"] == 0
    assert job.result["deletions_skipped"].startswith(
        "Stash counted 120 scenes when the sync started but the scan saw 35")
    assert job.message == job.result["deletions_skipped"]
    assert SyncState.load().watermark == watermark  # the unseen scenes are read next time
    monkeypatch.setattr(StashClient, "iter_scene_pages", scan)
    assert sync(incremental=False).result["deletions_skipped"] is None


# -- incremental sync ------------------------------------------------------------------------


def test_incremental_sync_applies_edits_deletions_and_additions(stash):
    save_settings({"sync_watermark_overlap_seconds": 60})
    sync(incremental=False)
    library = stash.library
    library.clock.advance(DAY)
    ids = sorted(library.scenes)
    edited, deleted = ids[10], ids[20]
    some_tag, some_performer = sorted(library.tags)[:2]
    library.update_scene(edited, title="Renamed Scene", tag_ids=[some_tag], organized=True)
    library.delete_scene(deleted)
    added = library.add_scene(files=["/media/new/Fresh.mp4"], title="Fresh", tag_ids=[some_tag])
    library.update_tag(some_tag, name="Renamed Tag", aliases=["RT"])
    used_performer = next(p for s in library.scenes.values() for p in s.performer_ids)
    delete_performer(library, used_performer)
    stash.request_log.clear()

    job = sync(incremental=True)

    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(library)
    assert job.result["incremental"] is True
    assert job.result["scenes"]["created"] == 1
    assert job.result["scenes"]["removed"] == 1
    assert job.result["tags"] == {"created": 0, "updated": 1, "removed": 0}
    assert job.result["performers"]["removed"] == 1
    # Only what changed was read: the edited and the added scene (plus the scenes that used
    # the deleted performer, re-read because Stash does not bump them).
    assert job.result["scenes"]["updated"] < 20
    assert Scene.objects.get(id=str(added.id)).title == "Fresh"
    assert Tag.objects.get(id=str(some_tag)).aliases == ["RT"]
    assert not Performer.objects.filter(id=str(used_performer)).exists()
    assert "SceneIds" in stash.request_log
    assert SyncState.load().watermark == library.clock.stamp()


def test_an_id_list_that_comes_back_short_removes_nothing_and_says_so(stash, monkeypatch):
    """An incremental sync removes the local scenes missing from Stash's id list: a list
    short by mistake would remove most of the library."""
    save_settings({"sync_watermark_overlap_seconds": 0})
    sync(incremental=False)
    watermark = SyncState.load().watermark
    stash.library.delete_scene(sorted(stash.library.scenes)[0])
    listed = StashClient.scene_ids

    def short_list(client):
        ids, counted = listed(client)
        return ids[:10], counted

    monkeypatch.setattr(StashClient, "scene_ids", short_list)
    job = sync(incremental=True)

    assert job.status == JobStatus.COMPLETED, job.error
    assert Scene.objects.count() == 120
    assert job.result["deletions_skipped"] == (
        "Stash counted 119 scenes but listed 10 ids: no local scene was removed; the next "
        "sync removes the ones Stash deleted")
    assert SyncState.load().watermark == watermark
    monkeypatch.setattr(StashClient, "scene_ids", listed)
    job = sync(incremental=True)
    assert (job.result["deletions_skipped"], job.result["scenes"]["removed"]) == (None, 1)


def test_a_no_op_incremental_sync_reads_nothing_new(stash):
    save_settings({"sync_watermark_overlap_seconds": 0})
    sync(incremental=False)
    watermark = SyncState.load().watermark

    job = sync(incremental=True)

    total = {kind: sum(counts.values()) for kind, counts in job.result.items()
             if isinstance(counts, dict)}
    # Stash filters updated_at > watermark, so only nothing comes back.
    assert total == {"scenes": 0, "tags": 0, "performers": 0, "studios": 0}
    assert SyncState.load().watermark == watermark
    assert_matches(stash.library)


def test_a_scene_added_after_the_background_id_scan_is_kept(stash):
    save_settings({"sync_watermark_overlap_seconds": 60})
    sync(incremental=False)
    library = stash.library
    library.clock.advance(DAY)
    ids_answered = threading.Event()
    original = stash.handle

    def ordered(api_key, body):
        if b"SceneIds" in body:
            answer = original(api_key, body)
            library.add_scene(files=["/media/late.mp4"], title="Added after the id scan")
            ids_answered.set()
            return answer
        if b"ScenePage" in body:
            assert ids_answered.wait(10)
        return original(api_key, body)

    stash.handle = ordered
    job = sync(incremental=True)

    assert (job.result["scenes"]["created"], job.result["scenes"]["removed"]) == (1, 0)
    assert_matches(library)


def test_a_tag_merge_refreshes_the_scenes_that_used_the_vanished_tag(stash):
    save_settings({"sync_watermark_overlap_seconds": 60})
    sync(incremental=False)
    library = stash.library
    library.clock.advance(DAY)
    source, target = sorted(library.tags)[:2]
    users = [s for s in library.scenes.values() if source in s.tag_ids]
    assert users
    # tagsMerge rewrites scenes_tags directly: the scenes' updated_at does not move.
    with library.lock:
        for scene in users:
            scene.tag_ids = list(dict.fromkeys([*scene.tag_ids, target]))
        library.delete_tag(source)

    sync(incremental=True)

    assert_matches(library)


def test_the_overlap_is_subtracted_in_stash_format(stash):
    save_settings({"sync_watermark_overlap_seconds": 3600})
    sync(incremental=False)
    watermark = SyncState.load().watermark
    stash.request_log.clear()
    sent = []
    original = stash.handle

    def spy(api_key, body):
        sent.append(body)
        return original(api_key, body)

    stash.handle = spy
    sync(incremental=True)

    expected = shift_stamp(watermark, 3600)
    assert expected.endswith("+11:00")
    assert any(expected.encode() in body and b"ScenePage" in body for body in sent)


@pytest.mark.parametrize(("stamp", "seconds", "shifted"), [
    ("2026-01-11T18:07:53+11:00", 3600, "2026-01-11T17:07:53+11:00"),
    ("2026-01-11T00:30:00-05:00", 3600, "2026-01-10T23:30:00-05:00"),
    ("2026-01-11T18:07:53Z", 60, "2026-01-11T18:06:53Z"),
    ("2026-01-11T18:07:53.250000+00:00", 1, "2026-01-11T18:07:52.250000+00:00"),
    ("not a time", 60, None),
    ("2026-01-11T18:07:53", 60, None),
])
def test_shift_stamp(stamp, seconds, shifted):
    assert shift_stamp(stamp, seconds) == shifted


# -- interruptions ---------------------------------------------------------------------------


def test_a_fault_on_page_k_leaves_whole_pages_and_the_rerun_ends_exact(stash):
    save_settings({"sync_watermark_overlap_seconds": 60})
    sync(incremental=False)
    watermark = SyncState.load().watermark
    library = stash.library
    library.clock.advance(DAY)
    for scene_id in sorted(library.scenes)[::7]:
        library.update_scene(scene_id, title=f"Edited {scene_id}")
    library.delete_scene(sorted(library.scenes)[5])
    # Entities (3 requests), then scene pages: let two pages through, fail the third.
    stash.fail_after(3 + 2, error_message="database is locked", times=1)

    failed = sync(incremental=False)

    assert failed.status == JobStatus.FAILED
    assert "database is locked" in failed.error
    assert failed.result["scenes"]["updated"] + failed.result["scenes"]["created"] == 50
    assert SyncState.load().watermark == watermark  # a failed sync never moves it
    _assert_pages_are_whole(library)

    rerun = sync(incremental=True)

    assert rerun.status == JobStatus.COMPLETED, rerun.error
    assert_matches(library)


def test_a_cancelled_first_sync_is_finished_by_the_next(stash, monkeypatch):
    monkeypatch.setattr("jobs.runner.PROGRESS_WRITE_INTERVAL", 0)
    saved_pages = []
    save_scenes = store.save_scenes

    def save_then_cancel(scenes, now, **options):
        created = save_scenes(scenes, now, **options)
        saved_pages.append(len(scenes))
        if len(saved_pages) == 2:
            cancel_job(Job.objects.get(type="sync", status=JobStatus.RUNNING).id)
        return created

    monkeypatch.setattr(store, "save_scenes", save_then_cancel)

    cancelled = sync(incremental=False)

    assert cancelled.status == JobStatus.CANCELLED
    assert saved_pages == [25, 25]
    assert cancelled.result["scenes"]["created"] == 50
    assert Scene.objects.count() == 50
    assert SyncState.load().watermark == ""
    _assert_pages_are_whole(stash.library)

    monkeypatch.setattr(store, "save_scenes", save_scenes)
    finished = sync(incremental=True)

    assert finished.status == JobStatus.COMPLETED
    assert finished.result["incremental"] is False  # no watermark yet: it reads everything
    assert_matches(stash.library)


SCAN_SETTINGS = {
    "sqlite": ("PRAGMA {}", {"wal_autocheckpoint": "10000"}),
    "postgresql": ("SELECT current_setting('{}')",
                   {"synchronous_commit": "off", "gin_pending_list_limit": "256MB"}),
}


def _connection_settings() -> dict[str, str]:
    read, wanted = SCAN_SETTINGS[connection.vendor]
    with connection.cursor() as cursor:
        values = {}
        for name in wanted:
            cursor.execute(read.format(name))
            values[name] = str(cursor.fetchone()[0])
        return values


def test_scene_pages_are_written_with_the_scan_settings_which_are_restored_after(
        stash, monkeypatch):
    before = _connection_settings()
    seen = []
    save_scenes = store.save_scenes

    def save_and_look(scenes, now, **options):
        seen.append(_connection_settings())
        return save_scenes(scenes, now, **options)

    monkeypatch.setattr(store, "save_scenes", save_and_look)
    assert sync(incremental=False).status == JobStatus.COMPLETED

    assert seen == [SCAN_SETTINGS[connection.vendor][1]] * 5
    assert before != seen[0]
    assert _connection_settings() == before


def _assert_pages_are_whole(library) -> None:
    """Every stored scene is complete: its files and relations are Stash's, all or nothing."""
    for scene in Scene.objects.prefetch_related("files", "tags", "performers"):
        stash_scene = library.scenes.get(int(scene.id))
        if stash_scene is None:
            continue
        assert sorted(f.id for f in scene.files.all()) == sorted(
            str(i) for i in stash_scene.file_ids
        )
        assert sorted(t.id for t in scene.tags.all()) == sorted(
            str(i) for i in stash_scene.tag_ids
        )


def test_an_unreachable_stash_fails_the_job_with_a_clear_error(db, use_stash, fake_stash):
    use_stash(fake_stash)
    fake_stash.stop()

    with pytest.raises(JobNotCompleted) as stopped:
        start_job("sync", {"incremental": True}, inline=True)

    job = stopped.value.job
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("Could not reach Stash at http://127.0.0.1:")
    assert http_status(stopped.value) == 502


def test_the_next_job_uses_a_changed_stash_url(fake_stash_factory, use_stash):
    first, second = fake_stash_factory(scenes=5), fake_stash_factory(scenes=8, seed=2)
    use_stash(first)
    sync()
    use_stash(second)

    sync(incremental=False)

    assert second.request_log
    assert_matches(second.library)


# -- pieces ----------------------------------------------------------------------------------


def _stash_scene(scene_id: str, **fields) -> dict:
    return {
        "id": scene_id, "title": "T", "code": None, "details": None, "date": None, "urls": [],
        "organized": False, "rating100": None, "created_at": "2026-01-01T00:00:00+11:00",
        "updated_at": "2026-01-01T00:00:00+11:00", "studio": None, "performers": [],
        "tags": [], "files": [{"id": f"f{scene_id}", "path": f"/m/{scene_id}.mp4"}], **fields,
    }


def test_entities_a_scene_references_but_sync_never_saw_become_stubs(db):
    scene = _stash_scene(
        "1",
        studio={"id": "90", "name": "Nowhere Films"},
        performers=[{"id": "91", "name": "Ann Onymous"}],
        tags=[{"id": "92", "name": "Mystery"}],
    )
    with transaction.atomic():
        store.save_scenes([scene], timezone.now())

    stored = Scene.objects.get(id="1")
    assert stored.studio.name == "Nowhere Films"
    assert [p.name for p in stored.performers.all()] == ["Ann Onymous"]
    assert [t.name for t in stored.tags.all()] == ["Mystery"]


def test_scene_pages_look_up_only_the_entities_the_entity_pass_did_not_list(stash, monkeypatch):
    hidden = min(stash.library.tags)  # created in Stash after the entity pass, say
    execute = StashClient._execute

    def tags_without_hidden(client, operation, **variables):
        data = execute(client, operation, **variables)
        if operation == "AllTags":
            data["findTags"]["tags"] = [
                tag for tag in data["findTags"]["tags"] if tag["id"] != str(hidden)]
        return data

    monkeypatch.setattr(StashClient, "_execute", tags_without_hidden)
    looked_up = []
    select_where_in = bulk.select_where_in

    def recording(model, fields, key, values):
        if model in (Tag, Performer, Studio):
            looked_up.extend(values)
        return select_where_in(model, fields, key, values)

    monkeypatch.setattr(bulk, "select_where_in", recording)

    assert sync(incremental=False).status == JobStatus.COMPLETED

    assert looked_up == [str(hidden)]  # once, on the first page that references it
    assert Tag.objects.get(id=str(hidden)).name == stash.library.tags[hidden].name


def test_removing_scenes_sends_scenes_removed_inside_the_transaction(db):
    with transaction.atomic():
        store.save_scenes([_stash_scene("1"), _stash_scene("2")], timezone.now())
    received = []

    def receiver(sender, scene_ids, **kwargs):
        received.append((sorted(scene_ids), connection.in_atomic_block,
                         Scene.objects.filter(id__in=scene_ids).count()))

    scenes_removed.connect(receiver)
    try:
        removed = store.remove_scenes(["2", "404"])
    finally:
        scenes_removed.disconnect(receiver)

    assert removed == ["2"]
    assert received == [(["2"], True, 1)]  # in the transaction, before the rows go
    assert list(Scene.objects.values_list("id", flat=True)) == ["1"]
    assert list(SceneFile.objects.values_list("id", flat=True)) == ["f1"]


# -- secrets ---------------------------------------------------------------------------------

API_KEY = "eyJhbGciOiJIUzI1NiJ9.sync-secret-key-4242"


def test_neither_the_api_key_nor_stream_urls_reach_the_database_or_logs(
    fake_stash_factory, use_stash, caplog, api_client
):
    server = fake_stash_factory(scenes=30, api_key=API_KEY)
    use_stash(server)
    caplog.set_level(logging.DEBUG)

    assert sync(incremental=False).status == JobStatus.COMPLETED
    assert sync(incremental=True).status == JobStatus.COMPLETED
    listing = api_client.get("/api/scenes", {"per_page": 100})
    detail = api_client.post(f"/api/scenes/{Scene.objects.first().id}/resync")
    inline = api_client.post("/api/scenes/sync?background=false")

    assert listing.status_code == detail.status_code == inline.status_code == 200
    for response in (listing, detail, inline):
        assert API_KEY not in response.content.decode()
        assert "apikey" not in response.content.decode().lower()
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert "apikey=" not in record.getMessage().lower()
    stored = _every_text_value(exclude_tables={"settings_app_setting"})
    assert Scene.objects.count() == 30
    assert stored
    assert not [value for value in stored if API_KEY in value or "apikey=" in value.lower()]
    assert not [value for value in stored if "/stream" in value]


def _every_text_value(exclude_tables: set[str]) -> list[str]:
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in exclude_tables:
                continue
            cursor.execute(f'SELECT * FROM "{table}"')
            values.extend(
                str(value) for row in cursor.fetchall() for value in row
                if isinstance(value, str | bytes | memoryview)
            )
    return values
