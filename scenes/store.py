"""Writes what Stash returned into the local tables, in bulk.

Every function takes plain dicts exactly as the Stash client returns them and issues a
fixed number of statements per call, whatever the number of rows: bulk upserts (see
``scenes.bulk``) and relation diffs computed as sets. Callers own the transaction.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import models, transaction

from scenes import bulk
from scenes.batching import batched
from scenes.entities import ENTITY_KINDS, SCENE_LISTS, EntityKind
from scenes.models import FILE_FIELDS, Scene, SceneFile
from scenes.signals import scenes_removed


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:  # Stash accepts partial dates in some versions; keep none over a guess
        return None


def search_text(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part).lower()


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


def add_missing_entities(kind: EntityKind, named: dict[str, str], now: datetime) -> None:
    """Create stubs for entity ids a scene references but the local table lacks.

    ``named`` maps id -> the name embedded in the scene; the next entity sync fills in the
    rest (aliases, disambiguation).
    """
    present = {row[0] for row in bulk.select_where_in(kind.model, ["id"], "id", list(named))}
    stubs = [
        _entity_row(kind, {"id": entity_id, "name": name}, now)
        for entity_id, name in named.items()
        if entity_id not in present
    ]
    bulk.insert(kind.model, ["id", *kind.update_fields], stubs)


# -- scenes --------------------------------------------------------------------------------

SCENE_FIELDS = ["id", "title", "details", "organized", "code", "urls", "rating", "stash_ids",
                "created_date", "scene_date", "stash_updated_at", "studio_id", "search_text",
                "last_synced"]


def _scene_row(scene: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    studio = scene.get("studio")
    return (
        scene["id"],
        scene.get("title") or "",
        scene.get("details") or "",
        bool(scene.get("organized")),
        scene.get("code") or "",
        list(scene.get("urls") or ()),
        scene.get("rating100"),
        [{"endpoint": item["endpoint"], "stash_id": item["stash_id"]}
         for item in scene.get("stash_ids") or ()],
        parse_timestamp(scene["created_at"]),
        parse_date(scene.get("date")),
        parse_timestamp(scene["updated_at"]),
        studio["id"] if studio else None,
        search_text(
            scene.get("title"), scene.get("details"), *(f["path"] for f in scene["files"])
        ),
        now,
    )


FILE_COLUMNS = [*FILE_FIELDS, "scene_id"]


def _file_rows(scene: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows in ``FILE_COLUMNS`` order. Stash lists a scene's primary file first."""
    return [
        (
            file["id"], file["path"], file.get("size") or 0,
            file.get("duration") or 0, file.get("width") or 0, file.get("height") or 0,
            file.get("frame_rate") or 0, file.get("video_codec") or "", position == 0,
            scene["id"],
        )
        for position, file in enumerate(scene["files"])
    ]


def save_scenes(scenes: Sequence[dict[str, Any]], now: datetime) -> int:
    """Upsert a page of scenes with their files and relations; returns how many were new.

    A fixed number of statements per page: entity stubs, the scenes, the files (and the
    removal of files the scenes no longer have), then a diff of each relation.
    """
    if not scenes:
        return 0
    ids = [scene["id"] for scene in scenes]
    existing = {row[0] for row in bulk.select_where_in(Scene, ["id"], "id", ids)}
    # Only scenes stored before can have files or relation rows to drop.
    known = [scene_id for scene_id in ids if scene_id in existing]

    for kind in ENTITY_KINDS:
        named = {item["id"]: item["name"] for scene in scenes for item in kind.items_of(scene)}
        add_missing_entities(kind, named, now)

    rows = [_scene_row(scene, now) for scene in scenes]
    # New scenes go in without an update clause: SQLite writes them about a third faster.
    bulk.insert(Scene, SCENE_FIELDS, [row for row in rows if row[0] not in existing])
    bulk.upsert(Scene, SCENE_FIELDS, [row for row in rows if row[0] in existing])
    files = [row for scene in scenes for row in _file_rows(scene)]
    kept = {row[0] for row in files}
    stale = [row[0] for row in bulk.select_where_in(SceneFile, ["id"], "scene_id", known)
             if row[0] not in kept]
    bulk.delete_where_in(SceneFile, "id", stale)
    bulk.upsert(SceneFile, FILE_COLUMNS, files)
    for kind in SCENE_LISTS:
        wanted = {(scene["id"], item["id"]) for scene in scenes for item in kind.items_of(scene)}
        _set_relation(kind.link, kind.column, known, wanted)
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
