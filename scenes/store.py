"""Writes what Stash returned into the local tables, in bulk.

Every function takes plain dicts exactly as the Stash client returns them and issues a
fixed number of queries per call, whatever the number of rows: bulk upserts
(``bulk_create(update_conflicts=True)``) and relation diffs computed as sets. Callers own
the transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import models, transaction

from scenes.models import Performer, Scene, SceneFile, Studio, Tag
from scenes.signals import scenes_removed

REMOVE_CHUNK = 500
SCENE_UPDATE_FIELDS = [
    "title", "details", "organized", "code", "urls", "rating", "created_date", "scene_date",
    "stash_updated_at", "studio", "search_text", "last_synced",
]
FILE_UPDATE_FIELDS = [
    "scene", "path", "size", "duration", "width", "height", "frame_rate", "video_codec",
    "primary",
]


@dataclass(frozen=True)
class EntityKind:
    """How one of Stash's entity types maps onto a local model."""

    name: str  # "tags", "performers", "studios": also the key in sync results
    model: type[models.Model]
    alias_key: str  # where Stash keeps the aliases
    extra_fields: tuple[str, ...] = ()  # copied as-is, None -> ""

    @property
    def update_fields(self) -> list[str]:
        return ["name", "aliases", "search_text", "last_synced", *self.extra_fields]


TAGS = EntityKind("tags", Tag, "aliases")
PERFORMERS = EntityKind("performers", Performer, "alias_list", ("disambiguation",))
STUDIOS = EntityKind("studios", Studio, "aliases")
ENTITY_KINDS = (TAGS, PERFORMERS, STUDIOS)
SCENE_RELATIONS = ((PERFORMERS, "performers", "performer_id"), (TAGS, "tags", "tag_id"))


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


def upsert_entities(kind: EntityKind, items: list[dict], now: datetime) -> None:
    rows = []
    for item in items:
        aliases = list(item.get(kind.alias_key) or ())
        row = kind.model(
            id=item["id"], name=item["name"], aliases=aliases,
            search_text=search_text(item["name"], *aliases), last_synced=now,
        )
        for field in kind.extra_fields:
            setattr(row, field, item.get(field) or "")
        rows.append(row)
    if rows:
        kind.model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["id"], update_fields=kind.update_fields
        )


def add_missing_entities(kind: EntityKind, named: dict[str, str], now: datetime) -> None:
    """Create stubs for entity ids a scene references but the local table lacks.

    ``named`` maps id -> the name embedded in the scene; the next entity sync fills in the
    rest (aliases, disambiguation).
    """
    if not named:
        return
    present = set(kind.model.objects.filter(id__in=named).values_list("id", flat=True))
    stubs = [
        kind.model(id=entity_id, name=name, search_text=search_text(name), last_synced=now)
        for entity_id, name in named.items()
        if entity_id not in present
    ]
    if stubs:
        kind.model.objects.bulk_create(stubs, ignore_conflicts=True)


# -- scenes --------------------------------------------------------------------------------


def _scene_row(scene: dict, now: datetime) -> Scene:
    studio = scene.get("studio")
    return Scene(
        id=scene["id"],
        title=scene.get("title") or "",
        details=scene.get("details") or "",
        organized=bool(scene.get("organized")),
        code=scene.get("code") or "",
        urls=list(scene.get("urls") or ()),
        rating=scene.get("rating100"),
        created_date=parse_timestamp(scene["created_at"]),
        scene_date=parse_date(scene.get("date")),
        stash_updated_at=parse_timestamp(scene["updated_at"]),
        studio_id=studio["id"] if studio else None,
        search_text=search_text(
            scene.get("title"), scene.get("details"), *(f["path"] for f in scene["files"])
        ),
        last_synced=now,
    )


def _file_rows(scene: dict) -> list[SceneFile]:
    # Stash lists a scene's primary file first.
    return [
        SceneFile(
            id=file["id"],
            scene_id=scene["id"],
            path=file["path"],
            size=file.get("size") or 0,
            duration=file.get("duration") or 0,
            width=file.get("width") or 0,
            height=file.get("height") or 0,
            frame_rate=file.get("frame_rate") or 0,
            video_codec=file.get("video_codec") or "",
            primary=position == 0,
        )
        for position, file in enumerate(scene["files"])
    ]


def save_scenes(scenes: list[dict], now: datetime) -> int:
    """Upsert a page of scenes with their files and relations; returns how many were new."""
    if not scenes:
        return 0
    ids = [scene["id"] for scene in scenes]
    existing = set(Scene.objects.filter(id__in=ids).values_list("id", flat=True))

    studios = {s["studio"]["id"]: s["studio"]["name"] for s in scenes if s.get("studio")}
    add_missing_entities(STUDIOS, studios, now)
    for kind, key, _column in SCENE_RELATIONS:
        named = {item["id"]: item["name"] for scene in scenes for item in scene.get(key) or ()}
        add_missing_entities(kind, named, now)

    Scene.objects.bulk_create(
        [_scene_row(scene, now) for scene in scenes],
        update_conflicts=True, unique_fields=["id"], update_fields=SCENE_UPDATE_FIELDS,
    )
    files = [row for scene in scenes for row in _file_rows(scene)]
    SceneFile.objects.filter(scene_id__in=ids).exclude(id__in=[f.id for f in files]).delete()
    SceneFile.objects.bulk_create(
        files, update_conflicts=True, unique_fields=["id"], update_fields=FILE_UPDATE_FIELDS
    )
    for _kind, key, column in SCENE_RELATIONS:
        wanted = {
            (scene["id"], item["id"]) for scene in scenes for item in scene.get(key) or ()
        }
        _set_relation(getattr(Scene, key).through, column, ids, wanted)
    return len(ids) - len(existing)


def _set_relation(
    through: type[models.Model], column: str, scene_ids: list[str], wanted: set[tuple[str, str]]
) -> None:
    """Make the through rows of ``scene_ids`` exactly ``wanted`` ((scene id, entity id))."""
    current = {
        (scene_id, entity_id): pk
        for pk, scene_id, entity_id in through.objects.filter(scene_id__in=scene_ids)
        .values_list("pk", "scene_id", column)
    }
    stale = [pk for pair, pk in current.items() if pair not in wanted]
    if stale:
        through.objects.filter(pk__in=stale).delete()
    added = wanted - current.keys()
    if added:
        through.objects.bulk_create(
            [through(scene_id=scene_id, **{column: entity_id}) for scene_id, entity_id in added]
        )


def remove_scenes(scene_ids: Iterable[str]) -> list[str]:
    """Delete local scenes (files and relations go with them); returns the ids removed.

    ``scenes_removed`` is sent inside each deleting transaction, so what other apps hang off
    a scene disappears atomically with it.
    """
    wanted = list(dict.fromkeys(scene_ids))
    removed: list[str] = []
    for start in range(0, len(wanted), REMOVE_CHUNK):
        chunk = wanted[start:start + REMOVE_CHUNK]
        with transaction.atomic():
            present = list(Scene.objects.filter(id__in=chunk).values_list("id", flat=True))
            if not present:
                continue
            scenes_removed.send(sender=Scene, scene_ids=present)
            Scene.objects.filter(id__in=present).delete()
        removed.extend(present)
    return removed
