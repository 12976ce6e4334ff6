"""Sync: keep StashHog's copy of the library equal to Stash.

- Entities (tags, performers, studios) first, so scenes find them; a full list of ids per
  kind finds the ones Stash deleted.
- Scenes by keyset pages (id order), one transaction per page, the next page fetched in a
  background thread while the current one is written.
- A full sync into an empty library loads the scenes without their secondary indexes and
  builds them at the end (``scenes.bulk_load``).
- Full sync stamps every scene it writes and, once the scan is complete, removes the local
  scenes it did not stamp. Complete means it saw exactly as many scenes as Stash counted at
  the start: a page that came back short by mistake must never delete most of the library,
  so otherwise nothing is removed (the result's ``deletions_skipped`` says why) and the
  watermark stays. Incremental sync reads only what changed since the watermark
  (less an overlap margin) and finds deletions with an id-only scan, run in a background
  thread meanwhile.
- The watermark (the largest ``updated_at`` Stash returned) moves only when a sync
  completes, so a failed or cancelled sync is simply finished by the next one.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from jobs.runner import Progress
from scenes import store
from scenes.batching import ROWS_PER_FETCH, batched
from scenes.bulk_load import bulk_load, restore_indexes
from scenes.entities import ENTITY_KINDS, SCENE_LISTS, EntityKind
from scenes.fetch_ahead import FetchAhead
from scenes.models import Scene, SceneFile, SyncState
from scenes.stash import StashClient
from settings_app import get_setting

logger = logging.getLogger("stashhog.sync")
SCAN_WAL_CHECKPOINT_PAGES = 10_000  # SQLite pages of 4 KiB: about 40 MB of WAL
GIN_PENDING_LIST_KB = 256 * 1024  # PostgreSQL: the trigram index's pending list during sync


def client_from_settings() -> StashClient:
    """A Stash client for the effective URL and key, read now (changes apply per job)."""
    return StashClient(get_setting("stash_url"), get_setting("stash_api_key"))


def shift_stamp(stamp: str, seconds: int) -> str | None:
    """``stamp`` moved back by ``seconds``, in Stash's own offset and format.

    Stash compares ``updated_at`` as text in its local offset, so the result must look
    exactly like what Stash stores. None when the stamp cannot be read.
    """
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    shifted = (moment - timedelta(seconds=seconds)).isoformat(
        timespec="microseconds" if moment.microsecond else "seconds"
    )
    return shifted.replace("+00:00", "Z") if stamp.endswith("Z") else shifted


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    removed: int = 0


class _Run:
    """One sync: its mode, counters and the newest ``updated_at`` seen."""

    def __init__(self, client: StashClient, progress: Progress, incremental: bool,
                 since: str | None) -> None:
        self.client = client
        self.progress = progress
        self.incremental = incremental
        self.since = since
        self.started = timezone.now()
        self.newest_seen = ""
        self.processed = 0
        self.reported_total: int | None = None  # Stash's count when the scan started
        self.deletions_skipped: str | None = None
        self.counts = {name: Counts() for name in ("scenes", *(k.plural for k in ENTITY_KINDS))}
        # The entity ids stored, per kind, once the entity pass is done: scene pages then
        # look up only the ids it did not see.
        self.stored_entities: dict[EntityKind, set[str]] = {}
        progress.partial_result = self.result()

    def result(self) -> dict[str, Any]:
        return {
            "incremental": self.incremental,
            **{name: asdict(counts) for name, counts in self.counts.items()},
            "deletions_skipped": self.deletions_skipped,
            "duration_seconds": round((timezone.now() - self.started).total_seconds(), 3),
        }

    def publish(self) -> None:
        """Keep the job's partial result current, for a cancel or failure mid-way."""
        self.progress.partial_result = self.result()

    def see(self, items: Iterable[dict[str, Any]]) -> None:
        newest = max((item["updated_at"] for item in items), default="")
        self.newest_seen = max(self.newest_seen, newest)

    # -- entities ----------------------------------------------------------------------

    def sync_entities(self) -> list[str]:
        """Upsert changed entities, delete vanished ones; returns the ids of local scenes
        that referenced a deleted entity (Stash rewrites those without bumping them)."""
        affected: set[str] = set()
        for kind in ENTITY_KINDS:
            everything = kind.list_all(self.client)
            # The whole list is needed anyway to find deletions; what changed is picked from
            # it with Stash's own comparison (its updated_at text, compared as text).
            changed = [item for item in everything
                       if self.since is None or item["updated_at"] > self.since]
            self.see(changed)
            local = set(kind.model.objects.values_list("id", flat=True))
            gone = local - {item["id"] for item in everything}
            with transaction.atomic():
                store.upsert_entities(kind, changed, self.started)
                if gone:
                    affected |= set(kind.scenes_using(gone))
                    kind.model.objects.filter(id__in=gone).delete()
            self.stored_entities[kind] = (local - gone) | {item["id"] for item in changed}
            counts = self.counts[kind.plural]
            counts.created += sum(1 for item in changed if item["id"] not in local)
            counts.updated += sum(1 for item in changed if item["id"] in local)
            counts.removed += len(gone)
        self.publish()
        return sorted(affected)

    # -- scenes ------------------------------------------------------------------------

    def sync_scenes(self, page_size: int, into_empty: bool = False) -> None:
        """``into_empty``: a load into an empty library, whose pages (keyset pages by id, so
        none repeats a scene) are new unless another process stored a scene meanwhile."""
        pages = self.client.iter_scene_pages(updated_since=self.since, per_page=page_size)
        total = None
        with FetchAhead(pages) as fetched, _scan_settings():
            for page in fetched:
                if page.total is not None:
                    total = page.total
                    if self.reported_total is None:
                        self.reported_total = total
                    self.progress.update(self.processed, total, "Syncing scenes", force=True)
                with transaction.atomic():
                    created = store.save_scenes(page.scenes, timezone.now(),
                                                stored_entities=self.stored_entities,
                                                expect_new=into_empty)
                self.see(page.scenes)
                self.processed += len(page.scenes)
                self.counts["scenes"].created += created
                self.counts["scenes"].updated += len(page.scenes) - created
                self.publish()
                self.progress.update(self.processed, total)
                self.progress.check_cancelled()

    def remove_deleted_scenes(self, id_scan: Future[tuple[set[str], int]] | None,
                              scan_started: datetime) -> None:
        if id_scan is not None:
            in_stash, counted = id_scan.result()
            if len(in_stash) != counted:
                self.skip_deletions(f"Stash counted {counted} scenes but listed "
                                    f"{len(in_stash)} ids")
                gone = []
            else:
                # Scenes written after the id scan began may be newer than it: they stay.
                gone = [scene_id for scene_id in _ids_synced_before(scan_started)
                        if scene_id not in in_stash]
        elif self.processed != self.reported_total:
            self.skip_deletions(f"Stash counted {self.reported_total} scenes when the sync "
                                f"started but the scan saw {self.processed}")
            gone = []
        else:
            # The full scan stamped every scene Stash has; the rest are gone.
            gone = list(_ids_synced_before(self.started))
        self.counts["scenes"].removed += len(store.remove_scenes(gone))
        self.publish()

    def skip_deletions(self, mismatch: str) -> None:
        """What Stash listed does not add up: removing the local scenes it did not list could
        remove most of the library. None is removed, and the next sync reads again."""
        self.deletions_skipped = (f"{mismatch}: no local scene was removed; the next sync "
                                  "removes the ones Stash deleted")
        logger.warning("%s sync: %s", "incremental" if self.incremental else "full",
                       self.deletions_skipped)
        self.progress.update(self.processed, None, self.deletions_skipped, force=True)

    def finish(self, previous_watermark: str) -> dict[str, Any]:
        if self.deletions_skipped:  # an incomplete scan: the next sync must read it all again
            watermark = previous_watermark
        elif self.incremental:
            watermark = max(previous_watermark, self.newest_seen)
        else:
            watermark = self.newest_seen
        now = timezone.now()
        fields = {"watermark": watermark, "last_sync_at": now}
        if not self.incremental and not self.deletions_skipped:
            fields["last_full_sync_at"] = now
        SyncState.objects.update_or_create(pk=1, defaults=fields)
        return self.result()


@contextmanager
def _scan_settings() -> Iterator[None]:
    """Connection settings while scene pages are written; the previous ones come back after.

    - SQLite: checkpoint the WAL about every 40 MB instead of every 4 MB: each checkpoint
      waits for both files to sync, and one every few pages cost about 40% of the commit time.
    - PostgreSQL: commit without waiting for the WAL flush (a crash can lose the last pages
      committed this way, never corrupt them, and the watermark only moves when the whole
      sync completes, so the next sync redoes them); and a larger pending list for the search
      trigram index (GIN), so each page's trigrams are appended there and merged into the
      index in bulk (by the VACUUM after a full sync, or by autovacuum) rather than a few
      pages at a time, which cost most of a page's write.
    """
    if connection.vendor == "sqlite":
        scan = {"wal_autocheckpoint": str(SCAN_WAL_CHECKPOINT_PAGES)}
        read, write = "PRAGMA {}", "PRAGMA {} = {}"
    elif connection.vendor == "postgresql":
        scan = {"synchronous_commit": "off", "gin_pending_list_limit": str(GIN_PENDING_LIST_KB)}
        read, write = "SELECT current_setting('{}')", "SELECT set_config('{}', '{}', false)"
    else:
        scan = {}
    with connection.cursor() as cursor:
        previous = {}
        for name, value in scan.items():
            cursor.execute(read.format(name))
            previous[name] = str(cursor.fetchone()[0])
            cursor.execute(write.format(name, value))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute(write.format(name, value))


def _ids_synced_before(moment: datetime) -> Iterator[str]:
    """Ids of the local scenes last synced before ``moment``, streamed as plain rows: the ORM
    cost more than the query for a library's worth of ids."""
    query = Scene.objects.filter(last_synced__lt=moment).order_by().values_list("id")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(ROWS_PER_FETCH):
            yield from (row[0] for row in rows)


def run_sync(connect: Callable[[], StashClient], progress: Progress, *,
             incremental: bool = True) -> dict[str, Any]:
    """Bring the local library up to date with Stash; returns the counts.

    ``connect()`` opens a Stash client (two are used: incremental sync scans Stash's scene
    ids in the background while it reads the changes). ``incremental`` is a request:
    without a usable watermark (no sync has completed yet) the sync is full. ``progress``
    is the job runner's reporter.
    """
    restore_indexes()  # a load whose worker died left them dropped
    state = SyncState.load()
    since = None
    if incremental and state.watermark:
        since = shift_stamp(state.watermark, get_setting("sync_watermark_overlap_seconds"))
    with connect() as client, ThreadPoolExecutor(1, thread_name_prefix="sync-ids") as background:
        run = _Run(client, progress, incremental=since is not None, since=since)
        logger.info("sync started (%s)", f"changes since {since}" if since else "full")
        scan_started = timezone.now()
        id_scan = background.submit(_scene_ids, connect) if run.incremental else None

        progress.update(0, None, "Syncing tags, performers and studios", force=True)
        affected = run.sync_entities()
        if run.incremental and affected:
            refreshed = refresh_scenes(client, affected)
            run.counts["scenes"].updated += refreshed["updated"]
            run.counts["scenes"].removed += len(refreshed["removed"])
        progress.check_cancelled()
        with bulk_load(enabled=not run.incremental) as loading:
            run.sync_scenes(get_setting("sync_page_size"), into_empty=loading)
            if loading:
                progress.update(run.processed, None, "Building indexes", force=True)
        progress.update(run.processed, None, "Removing deleted scenes", force=True)
        run.remove_deleted_scenes(id_scan, scan_started)
    if not run.incremental:
        refresh_planner_statistics()
    result = run.finish(state.watermark)
    logger.info("sync finished: %s", result)
    return result


def refresh_planner_statistics() -> None:
    """After a full sync, give PostgreSQL's planner fresh statistics and visibility maps at
    once (a first sync fills empty tables faster than autovacuum notices), so API queries
    get index plans and index-only counts from the first request."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    synced: list[type[Model]] = [Scene, SceneFile, *(kind.model for kind in ENTITY_KINDS),
                                 *(kind.link for kind in SCENE_LISTS)]
    tables = [model._meta.db_table for model in synced]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(map(connection.ops.quote_name, tables))}")


def _scene_ids(connect: Callable[[], StashClient]) -> tuple[set[str], int]:
    with connect() as client:
        ids, counted = client.scene_ids()
        return set(ids), counted


def refresh_scenes(client: StashClient, scene_ids: Iterable[str | int]) -> dict[str, Any]:
    """Re-read these scenes from Stash now and store them; scenes Stash no longer has are
    removed locally (with ``scenes_removed``). For code that changed scenes in Stash.

    Returns ``{"updated": <scenes stored>, "removed": [<ids removed>]}``.
    """
    found = client.get_scenes(scene_ids)
    scenes = [scene for scene in found.values() if scene is not None]
    for batch in batched(scenes):
        with transaction.atomic():
            store.save_scenes(batch, timezone.now())
    removed = store.remove_scenes(scene_id for scene_id, scene in found.items() if scene is None)
    return {"updated": len(scenes), "removed": removed}


def refresh_scene(client: StashClient, scene_id: str) -> Scene | None:
    """Re-read one scene from Stash; None (and the local copy removed) when Stash lacks it."""
    refresh_scenes(client, [scene_id])
    return Scene.objects.filter(id=scene_id).first()
