"""Stash's entity kinds (tags, performers, studios): the one definition of each.

Sync, the store, the API and analysis all switch on a kind through these definitions, never
by spelling its names: the client calls are real method references (a search for
``create_tag`` finds its caller), and the scene relation is read from the model. Adding a
kind is one entry in ``ENTITY_KINDS`` (with its model, its client calls and its operations).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import F, QuerySet

from scenes.models import Entity, Performer, Scene, Studio, Tag
from scenes.stash import StashClient
from stashhog.lookups import AnyOf

LINK_ORDER = ("link_name", "link_entity")  # a scene's entities of a kind: by name, then id


@dataclass(frozen=True, eq=False)
class EntityKind:
    """How one of Stash's entity types maps onto a local model and onto scenes."""

    field: str  # the scene's field holding it, in Stash and here: "studio", "tags"
    plural: str  # "studios", "tags": the key in sync results
    singular: str  # "studio", "tag": in messages and logs
    model: type[Entity]
    many: bool  # a scene has a list of them (else at most one)
    # The model linking scenes to this kind (the through table, or Scene for a single one)
    # and its foreign key to the entity.
    link: type[models.Model]
    link_field: str
    alias_key: str  # where Stash keeps the aliases
    list_all: Callable[[StashClient], list[dict[str, Any]]]
    find_by_name: Callable[[StashClient, str], list[dict[str, Any]]]
    # (client, name, stash ids [{"endpoint", "stash_id"}] or None) -> the created entity
    create: Callable[[StashClient, str, list[dict[str, str]] | None], dict[str, Any]]
    extra_fields: tuple[str, ...] = ()  # copied as-is from Stash, None -> ""

    @property
    def column(self) -> str:
        """The link's column holding the entity id ("tag_id", "studio_id")."""
        field = self.link._meta.get_field(self.link_field)
        assert isinstance(field, models.ForeignKey)  # link_field names the link's foreign key
        return field.attname

    @property
    def name_lookup(self) -> str:
        """The entity's name, looked up from the link ("tag__name", "studio__name")."""
        return f"{self.link_field}__name"

    @property
    def update_fields(self) -> list[str]:
        return ["name", "aliases", "ignore_auto_tag", "search_text", "last_synced",
                *self.extra_fields]

    def items_of(self, stash_scene: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``{"id", "name", ...}`` entities of this kind that a Stash scene holds."""
        value = stash_scene.get(self.field)
        if self.many:
            return list(value or ())
        return [value] if value else []

    @property
    def _scene_column(self) -> str:
        """The link's column holding the scene id."""
        return "scene_id" if self.many else "id"

    def link_rows(self, scene_ids: Iterable[str]) -> QuerySet[Any, dict[str, Any]]:
        """``{"link_scene", "link_entity", "link_name"}`` for these local scenes, unordered:
        the same columns for every kind, so that kinds can be read in one UNION."""
        links = self.link._default_manager.filter(AnyOf(F(self._scene_column), list(scene_ids)))
        if not self.many:
            links = links.exclude(**{self.column: None})
        return links.order_by().values(  # not even the link model's default order
            link_scene=F(self._scene_column), link_entity=F(self.column),
            link_name=F(self.name_lookup))

    def named_links(self, scene_ids: Iterable[str]) -> Iterable[tuple[str, str, str]]:
        """``(scene id, entity id, entity name)`` for these local scenes, by name then id."""
        return self.link_rows(scene_ids).order_by(*LINK_ORDER).values_list(
            "link_scene", "link_entity", "link_name")

    def scenes_using(self, entity_ids: Iterable[str]) -> list[str]:
        """Ids of the local scenes that reference any of these entities."""
        return list(
            self.link._default_manager.filter(**{f"{self.column}__in": list(entity_ids)})
            .values_list(self._scene_column, flat=True).distinct()
        )


TAGS = EntityKind(
    field="tags", plural="tags", singular="tag", model=Tag, many=True,
    link=Scene.tags.through, link_field="tag", alias_key="aliases",
    list_all=StashClient.all_tags, find_by_name=StashClient.find_tags_by_name,
    create=StashClient.create_tag,
)
PERFORMERS = EntityKind(
    field="performers", plural="performers", singular="performer", model=Performer, many=True,
    link=Scene.performers.through, link_field="performer", alias_key="alias_list",
    list_all=StashClient.all_performers, find_by_name=StashClient.find_performers_by_name,
    create=StashClient.create_performer, extra_fields=("disambiguation",),
)
STUDIOS = EntityKind(
    field="studio", plural="studios", singular="studio", model=Studio, many=False,
    link=Scene, link_field="studio", alias_key="aliases",
    list_all=StashClient.all_studios, find_by_name=StashClient.find_studios_by_name,
    create=StashClient.create_studio,
)
# Sync order: every kind before the scenes that reference them.
ENTITY_KINDS = (TAGS, PERFORMERS, STUDIOS)
SCENE_LISTS = tuple(kind for kind in ENTITY_KINDS if kind.many)  # scene <-> entity tables
