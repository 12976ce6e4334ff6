"""What analysis reads from the local library: entity indexes and scenes, streamed in chunks.

Scenes are read as plain snapshots (a fixed four queries per chunk: scenes with their
studio, primary file paths, performers, tags), never as model instances, and never more
than one chunk at a time, so a 100k-scene library analyses in constant memory.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from analysis.detectors.catalogue import Entity, EntityIndex
from analysis.detectors.path import SceneText
from analysis.options import AnalysisOptions
from scenes.models import Performer, Scene, SceneFile, Studio, Tag

SCENE_CHUNK = 500


@dataclass(frozen=True)
class LibraryIndexes:
    studios: EntityIndex
    performers: EntityIndex
    tags: EntityIndex


def _index(model, *, person_names: bool = False, wanted: bool = True) -> EntityIndex:
    if not wanted:
        return EntityIndex([])
    rows = model.objects.order_by().values_list("id", "name", "aliases").iterator(chunk_size=5000)
    entities = (Entity(id_, name, tuple(aliases or ())) for id_, name, aliases in rows)
    return EntityIndex(entities, person_names=person_names)


def load_indexes(options: AnalysisOptions) -> LibraryIndexes:
    """Indexes of the entity kinds the options detect (built once per job)."""
    return LibraryIndexes(
        studios=_index(Studio, wanted=options.detect_studios),
        performers=_index(Performer, person_names=True, wanted=options.detect_performers),
        tags=_index(Tag, wanted=options.detect_tags),
    )


@dataclass(frozen=True, slots=True)
class SceneSnapshot:
    """One scene as analysis sees it; entities are ``{"id", "name"}`` dicts."""

    id: str
    title: str
    details: str
    path: str | None
    updated_at: str
    studio: dict | None
    performers: list[dict] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)

    def text(self) -> SceneText:
        return SceneText(
            path=self.path,
            title=self.title or None,
            current_studio_id=self.studio["id"] if self.studio else None,
            current_performer_ids=frozenset(p["id"] for p in self.performers),
            current_tag_ids=frozenset(t["id"] for t in self.tags),
        )


def _related(through, column: str, ids: list[str]) -> dict[str, list[dict]]:
    named = defaultdict(list)
    rows = (
        through.objects.filter(scene_id__in=ids)
        .order_by(f"{column}__name", column)
        .values_list("scene_id", column, f"{column}__name")
    )
    for scene_id, entity_id, name in rows:
        named[scene_id].append({"id": entity_id, "name": name})
    return named


def load_snapshots(ids: list[str]) -> list[SceneSnapshot]:
    """Snapshots of ``ids`` in that order (ids that no longer exist are skipped)."""
    rows = {
        row["id"]: row
        for row in Scene.objects.filter(id__in=ids).values(
            "id", "title", "details", "stash_updated_at", "studio_id", "studio__name"
        )
    }
    paths: dict[str, str] = {}
    files = SceneFile.objects.filter(scene_id__in=ids).order_by("scene_id", "-primary", "id")
    for scene_id, path in files.values_list("scene_id", "path"):
        paths.setdefault(scene_id, path)
    performers = _related(Scene.performers.through, "performer", ids)
    tags = _related(Scene.tags.through, "tag", ids)
    return [
        SceneSnapshot(
            id=scene_id,
            title=row["title"],
            details=row["details"],
            path=paths.get(scene_id),
            updated_at=row["stash_updated_at"].isoformat(),
            studio={"id": row["studio_id"], "name": row["studio__name"]}
            if row["studio_id"] else None,
            performers=performers.get(scene_id, []),
            tags=tags.get(scene_id, []),
        )
        for scene_id in ids
        if (row := rows.get(scene_id)) is not None
    ]


def iter_scene_chunks(scenes: QuerySet, chunk_size: int = SCENE_CHUNK) -> Iterator[
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
