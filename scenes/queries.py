"""The queries behind the scene and entity lists.

Scenes: the rows, then what SceneResponse needs beyond them, loaded for a whole page at
once: two flat queries (files, then the studio and every entity list in one UNION) keyed by
scene id.
``prefetch_related`` would issue more queries and build two related managers and querysets
per scene, which costs more than the queries themselves on a 100-scene page.
"""

from django.db.models import (
    BigIntegerField,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from scenes.entities import ENTITY_KINDS, LINK_ORDER, EntityKind
from scenes.models import FILE_FIELDS, Scene, SceneFile
from stashhog.lookups import AnyOf
from stashhog.statements import ReusedStatement

SCENE_COLUMNS = ("id", "title", "details", "organized", "code", "urls", "rating", "stash_ids",
                 "created_date", "scene_date", "last_synced")


def scene_queryset():
    """Scenes with ``id_number`` (their id as a number: the API's order)."""
    return Scene.objects.annotate(id_number=Cast("id", BigIntegerField()))


def scene_rows():
    """``scene_queryset`` as value rows of the columns SceneResponse shows;
    ``attach_related`` adds the rest for a page or one scene. Rows, not models: building 100
    model instances cost more CPU than the page's query."""
    return scene_queryset().values(*SCENE_COLUMNS)


def _files(scene_ids: list[str]) -> QuerySet:
    return (SceneFile.objects.filter(AnyOf(F("scene_id"), scene_ids)).order_by("-primary", "id")
            .values("scene_id", *FILE_FIELDS))


def _entity_links(scene_ids: list[str]) -> QuerySet:
    """The studio and every entity list of these scenes in one UNION."""
    kinds = [kind.link_rows(scene_ids).annotate(link_kind=Value(kind.field))
             for kind in ENTITY_KINDS]
    return kinds[0].union(*kinds[1:], all=True).order_by("link_kind", *LINK_ORDER)


# Only the page's scene ids change between two pages: composed once (stashhog/statements.py).
FILES = ReusedStatement(_files)
ENTITY_LINKS = ReusedStatement(_entity_links)


def attach_related(scenes: list[dict]) -> list[dict]:
    """Set ``file_rows`` (a list of dicts) and ``entity_refs`` (scene field -> a list of
    ``{"id", "name"}``, for the studio, performers and tags) in each row of ``scene_rows``.

    The studio comes with the lists rather than as a join in the page query: a page by
    offset computes its columns for every row it skips (20,000 at page 200)."""
    by_id = {scene["id"]: scene for scene in scenes}
    for scene in scenes:
        scene["file_rows"] = []
        scene["entity_refs"] = {kind.field: [] for kind in ENTITY_KINDS}
    if not by_id:
        return scenes
    for row in FILES.rows(list(by_id)):
        by_id[row.pop("scene_id")]["file_rows"].append(row)
    for link in ENTITY_LINKS.rows(list(by_id)):
        by_id[link["link_scene"]]["entity_refs"][link["link_kind"]].append(
            {"id": link["link_entity"], "name": link["link_name"]})
    return scenes


def entities_with_scene_counts(kind: EntityKind) -> QuerySet:
    """The kind's entities with ``scene_count``: a correlated subquery, which a count of the
    page can drop."""
    per_entity = (
        kind.link._default_manager.filter(**{kind.column: OuterRef("pk")})
        .values(kind.column)
        .annotate(count=Count("*"))
        .values("count")
    )
    return kind.model.objects.only("id", "name", "aliases").annotate(
        scene_count=Coalesce(Subquery(per_entity, output_field=IntegerField()), 0)
    )
