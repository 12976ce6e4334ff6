"""Writes what Stash returned into the local tables, in bulk.

Every function takes plain dicts exactly as the Stash client returns them and issues a
fixed number of statements per call, whatever the number of rows: bulk upserts (see
``scenes.bulk``) and relation diffs computed as sets. Callers own the transaction.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from django.db import IntegrityError, models, transaction

from scenes import bulk
from scenes.batching import batched
from scenes.dates import stash_date
from scenes.entities import ENTITY_KINDS, SCENE_LISTS, EntityKind
from scenes.models import Scene, SceneFile
from scenes.signals import scenes_removed


def search_text(*parts: str | None) -> str:
    return "\n".join([part for part in parts if part]).lower()


# -- entities ------------------------------------------------------------------------------


def _entity_row(kind: EntityKind, item: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    aliases = list(item.get(kind.alias_key) or ())
    extra = tuple(item.get(field) or "" for field in kind.extra_fields)
    return (item["id"], item["name"], aliases, bool(item.get("ignore_auto_tag")),
            search_text(item["name"], *aliases), now, *extra)


def upsert_entities(kind: EntityKind, items: list[dict[str, Any]], now: datetime) -> None:
    bulk.upsert(
        kind.model, ["id", *kind.update_fields], [_entity_row(kind, item, now) for item in items]
    )


def add_missing_entities(kind: EntityKind, named: dict[str, str], now: datetime,
                         stored: set[str] | None = None) -> None:
    """Create stubs for entity ids a scene references but the local table lacks.

    ``named`` maps id -> the name embedded in the scene; the next entity sync fills in the
    rest (aliases, disambiguation). ``stored``: ids of this kind known to be in the table,
    not asked for again, and grown by the ids seen here (for one sync, whose failed page
    ends it: a rolled-back stub is never taken for stored).
    """
    unknown = [entity_id for entity_id in named if stored is None or entity_id not in stored]
    present = {row[0] for row in bulk.select_where_in(kind.model, ["id"], "id", unknown)}
    stubs = [
        _entity_row(kind, {"id": entity_id, "name": named[entity_id]}, now)
        for entity_id in unknown
        if entity_id not in present
    ]
    bulk.insert(kind.model, ["id", *kind.update_fields], stubs)
    if stored is not None:
        stored.update(unknown)


# -- scenes --------------------------------------------------------------------------------

Read = Callable[[dict[str, Any]], Any]


def _text(key: str) -> Read:
    return lambda item: item.get(key) or ""


def _number(key: str) -> Read:
    return lambda item: item.get(key) or 0


def _search_text(scene: dict[str, Any]) -> str:
    return search_text(scene.get("title"), scene.get("details"),
                       *(file["path"] for file in scene["files"]))


# What sync keeps of a scene: each field of the model with how it is read from the scene
# Stash sent. A new synced field is one entry here. Timestamps and dates stay Stash's ISO
# text and lists stay lists: ``scenes.bulk`` adapts them for the database.
SCENE_COLUMNS: dict[str, Read] = {
    "id": itemgetter("id"),
    "title": _text("title"),
    "details": _text("details"),
    "organized": lambda scene: bool(scene.get("organized")),
    "code": _text("code"),
    "urls": lambda scene: scene.get("urls") or [],
    "rating": lambda scene: scene.get("rating100"),
    "stash_ids": lambda scene: [{"endpoint": item["endpoint"], "stash_id": item["stash_id"]}
                                for item in scene.get("stash_ids") or ()],
    "created_date": itemgetter("created_at"),
    "scene_date": lambda scene: stash_date(scene.get("date")),
    "stash_updated_at": itemgetter("updated_at"),
    "studio_id": lambda scene: (scene.get("studio") or {}).get("id"),
    "search_text": _search_text,
}
SCENE_FIELDS = [*SCENE_COLUMNS, "last_synced"]

# A file's fields as Stash sends them; ``primary`` (Stash lists it first) and ``scene_id``
# come from the scene.
FILE_COLUMNS: dict[str, Read] = {
    "id": itemgetter("id"),
    "path": itemgetter("path"),
    "size": _number("size"),
    "duration": _number("duration"),
    "width": _number("width"),
    "height": _number("height"),
    "frame_rate": _number("frame_rate"),
    "video_codec": _text("video_codec"),
}
FILE_FIELDS_WRITTEN = [*FILE_COLUMNS, "primary", "scene_id"]


def _scene_rows(scenes: Sequence[dict[str, Any]], now: datetime) -> list[tuple[Any, ...]]:
    reads = list(SCENE_COLUMNS.values())
    return [(*[read(scene) for read in reads], now) for scene in scenes]


def _file_rows(scenes: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows in ``FILE_FIELDS_WRITTEN`` order. Stash lists a scene's primary file first."""
    reads = list(FILE_COLUMNS.values())
    return [
        (*[read(file) for read in reads], position == 0, scene["id"])
        for scene in scenes
        for position, file in enumerate(scene["files"])
    ]


def save_scenes(scenes: Sequence[dict[str, Any]], now: datetime,
                stored_entities: dict[EntityKind, set[str]] | None = None,
                expect_new: bool = False) -> int:
    """Upsert a page of scenes with their files and relations; returns how many were new.

    A fixed number of statements per page: entity stubs, the scenes, the files (and the
    removal of files the scenes no longer have), then a diff of each relation.
    ``stored_entities``: the entity ids per kind a sync knows are stored (see
    ``add_missing_entities``); without it every referenced entity is looked up.
    ``expect_new``: the scenes are most likely not stored (a first load), so they are
    appended as they are, with no look-up and no merge; if another process stored one of
    them meanwhile, the page is written the usual way instead.
    """
    if not scenes:
        return 0
    links = {kind: [(scene["id"], item) for scene in scenes for item in kind.items_of(scene)]
             for kind in ENTITY_KINDS}
    for kind in ENTITY_KINDS:
        add_missing_entities(kind, {item["id"]: item["name"] for _, item in links[kind]}, now,
                             None if stored_entities is None else stored_entities[kind])
    rows = _scene_rows(scenes, now)
    files = _file_rows(scenes)
    wanted = {kind: {(scene_id, item["id"]) for scene_id, item in links[kind]}
              for kind in SCENE_LISTS}
    if expect_new:
        try:
            with transaction.atomic():
                bulk.append(Scene, SCENE_FIELDS, rows)
                bulk.append(SceneFile, FILE_FIELDS_WRITTEN, files)
                for kind in SCENE_LISTS:
                    bulk.append(kind.link, ["scene_id", kind.column], sorted(wanted[kind]))
            return len(rows)
        except IntegrityError:
            pass  # some were stored after all: the look-ups and merges below
    ids = [row[0] for row in rows]
    existing = {row[0] for row in bulk.select_where_in(Scene, ["id"], "id", ids)}
    # Only scenes stored before can have files or relation rows to drop.
    known = [scene_id for scene_id in ids if scene_id in existing]
    # New scenes go in without an update clause: SQLite writes them about a third faster.
    bulk.insert(Scene, SCENE_FIELDS, [row for row in rows if row[0] not in existing])
    bulk.upsert(Scene, SCENE_FIELDS, [row for row in rows if row[0] in existing])
    kept = {row[0] for row in files}
    stale = [row[0] for row in bulk.select_where_in(SceneFile, ["id"], "scene_id", known)
             if row[0] not in kept]
    bulk.delete_where_in(SceneFile, "id", stale)
    bulk.upsert(SceneFile, FILE_FIELDS_WRITTEN, files)
    for kind in SCENE_LISTS:
        _set_relation(kind.link, kind.column, known, wanted[kind])
    return len(ids) - len(existing)


def _set_relation(
    through: type[models.Model], column: str, known_ids: list[str], wanted: set[tuple[str, str]]
) -> None:
    """Make the page's through rows exactly ``wanted`` ((scene id, entity id)); only the
    ``known_ids`` scenes (stored before this page) can have rows already."""
    current = {
        (scene_id, entity_id): pk
        for pk, scene_id, entity_id in bulk.select_where_in(
            through, ["id", "scene_id", column], "scene_id", known_ids
        )
    }
    bulk.delete_where_in(through, "id", [pk for pair, pk in current.items() if pair not in wanted])
    bulk.insert(through, ["scene_id", column], sorted(wanted - current.keys()))


def remove_scenes(scene_ids: Iterable[str]) -> list[str]:
    """Delete local scenes (files and relations go with them); returns the ids removed.

    ``scenes_removed`` is sent inside each deleting transaction, so what other apps hang off
    a scene disappears atomically with it.
    """
    wanted = list(dict.fromkeys(scene_ids))
    removed: list[str] = []
    for chunk in batched(wanted):
        with transaction.atomic():
            present = list(Scene.objects.filter(id__in=chunk).values_list("id", flat=True))
            if not present:
                continue
            scenes_removed.send(sender=Scene, scene_ids=present)
            Scene.objects.filter(id__in=present).delete()
        removed.extend(present)
    return removed
