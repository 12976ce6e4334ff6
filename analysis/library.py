"""What analysis reads from the local library: entity indexes and scenes, streamed in chunks.

Scenes are read as plain snapshots (a fixed number of queries per chunk: the scenes,
primary file paths, and each entity field's links), never as model instances, and never more
than one chunk at a time, so a 100k-scene library analyses in constant memory.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from analysis.detectors.catalogue import Entity, EntityIndex
from analysis.detectors.path import SceneText
from analysis.fields import (
    ENTITY_FIELDS,
    SCENE_FIELDS,
    SceneField,
    Shape,
)
from analysis.options import AnalysisOptions
from scenes.batching import ROWS_PER_FETCH, SCENE_BATCH
from scenes.entities import EntityKind
from scenes.models import Scene, SceneFile

# The library's entities by kind, indexed for matching names.
LibraryIndexes = dict[EntityKind, EntityIndex]


def _index(field: SceneField, wanted: bool) -> EntityIndex:
    if not wanted:
        return EntityIndex([])
    rows = (field.entity_kind.model.objects.order_by()
            .values_list("id", "name", "aliases", "ignore_auto_tag")
            .iterator(chunk_size=ROWS_PER_FETCH))
    entities = (Entity(id_, name, tuple(aliases or ()), ignored)
                for id_, name, aliases, ignored in rows)
    return EntityIndex(entities, person_names=field.person_names)


def load_indexes(options: AnalysisOptions) -> LibraryIndexes:
    """Indexes of the entity kinds the options detect (built once per job)."""
    return {field.entity_kind: _index(field, options.detects(field)) for field in ENTITY_FIELDS}


@dataclass(frozen=True, slots=True)
class SceneSnapshot:
    """One scene as analysis sees it: ``values`` holds the current value of each of
    ``SCENE_FIELDS`` (entities as ``{"id", "name"}`` dicts, None for no studio)."""

    id: str
    title: str
    path: str | None
    updated_at: str
    values: dict[str, Any]

    def text(self) -> SceneText:
        return SceneText(path=self.path, title=self.title or None)


def _linked(kind: EntityKind, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    named = defaultdict(list)
    for scene_id, entity_id, name in kind.named_links(ids):
        named[scene_id].append({"id": entity_id, "name": name})
    return named


def _value(field: SceneField, row: dict[str, Any],
           linked: dict[str, dict[str, list[dict[str, Any]]]]) -> Any:
    if field.plain:
        return field.from_column(row[field.column])
    if field.shape == Shape.ENTITY_LIST:
        return linked[field.name].get(row["id"], [])
    entity_id = row[field.entity_kind.column]  # a single entity: read with the scene row
    return {"id": entity_id, "name": row[field.entity_kind.name_lookup]} if entity_id else None


def load_snapshots(ids: Sequence[str]) -> list[SceneSnapshot]:
    """Snapshots of ``ids`` in that order (ids that no longer exist are skipped)."""
    columns = [column for field in SCENE_FIELDS.values() for column in (
        [field.column] if field.plain
        else [field.entity_kind.column, field.entity_kind.name_lookup]
        if field.shape == Shape.ENTITY
        else []
    )]
    rows = {
        row["id"]: row
        for row in Scene.objects.filter(id__in=ids).values(
            "id", "stash_updated_at", *dict.fromkeys(["title", *columns])
        )
    }
    paths: dict[str, str] = {}
    files = SceneFile.objects.filter(scene_id__in=ids).order_by("scene_id", "-primary", "id")
    for scene_id, path in files.values_list("scene_id", "path"):
        paths.setdefault(scene_id, path)
    linked = {field.name: _linked(field.entity_kind, ids)
              for field in SCENE_FIELDS.values() if field.shape == Shape.ENTITY_LIST}
    return [
        SceneSnapshot(
            id=scene_id,
            title=row["title"],
            path=paths.get(scene_id),
            updated_at=row["stash_updated_at"].isoformat(),
            values={name: _value(field, row, linked) for name, field in SCENE_FIELDS.items()},
        )
        for scene_id in ids
        if (row := rows.get(scene_id)) is not None
    ]


def iter_scene_chunks(scenes: QuerySet[Scene], chunk_size: int = SCENE_BATCH) -> Iterator[
    list[SceneSnapshot]
]:
    """Snapshots of the selected scenes, chunk by chunk in id order (keyset paging)."""
    ids_in_order = scenes.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = ids_in_order if last is None else ids_in_order.filter(pk__gt=last)
        ids = list(page[:chunk_size])
        if not ids:
            return
        yield load_snapshots(ids)
        last = ids[-1]
