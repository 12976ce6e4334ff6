"""The scene fields analysis proposes and apply writes: the one definition of each.

A field has a shape, which decides how it is proposed, validated and applied:

- ``VALUE``: one plain value (details), set; Stash's copy is compared before writing.
- ``ENTITY``: one entity of a kind (studio), set as ``{"id", "name"}``; a null id names an
  entity Stash does not have yet, which apply looks up by name or creates.
- ``ENTITY_LIST``: entities of a kind (performers, tags), added or removed one by one, so
  edits made in Stash meanwhile survive.

Proposal sources, review, apply and the AI prompt all go through ``SCENE_FIELDS``. Adding a
field is one ``ChangeField`` member and one entry here (for a plain value: where Stash keeps
it, how a proposed value is checked, and the ``SceneUpdateInput`` key that sets it).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from analysis.models import ChangeAction, ChangeField, PlanChange
from scenes.entities import PERFORMERS, STUDIOS, TAGS, EntityKind
from scenes.stash import StashClient
from stashhog.api.exceptions import InvalidInput

NAME_LIMIT = 255


class Shape(StrEnum):
    VALUE = "value"
    ENTITY = "entity"
    ENTITY_LIST = "entity_list"


def invalid(message: str) -> InvalidInput:
    return InvalidInput("Invalid proposed value", detail={"proposed_value": [message]})


# -- writes: how apply sends one value (or one entity id, with a mode) to many scenes ------


Writer = Callable[[StashClient, list[str], str, Any], None]


def set_input(parameter: str) -> Writer:
    """A write that sets ``parameter`` of ``SceneUpdateInput`` (one scene) or
    ``BulkSceneUpdateInput`` (several)."""

    def write(client: StashClient, scene_ids: list[str], _mode: str, value: Any) -> None:
        if len(scene_ids) == 1:
            client.update_scene(scene_ids[0], **{parameter: value})
        else:
            client.bulk_set_fields(scene_ids, **{parameter: value})

    return write


def _edit_tags(client: StashClient, scene_ids: list[str], mode: str, tag_id: Any) -> None:
    client.bulk_update_scenes(scene_ids, tag_ids=[tag_id], tag_mode=mode)


def _edit_performers(client: StashClient, scene_ids: list[str], mode: str,
                     performer_id: Any) -> None:
    client.bulk_update_scenes(scene_ids, performer_ids=[performer_id], performer_mode=mode)


# -- validation of a proposed value ----------------------------------------------------------


def _new_name(item: dict[str, Any], kind: EntityKind) -> str:
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("A new entity needs a non-empty name.")
    name = " ".join(name.split())
    if len(name) > NAME_LIMIT:
        raise invalid(f"Names are at most {NAME_LIMIT} characters.")
    existing = kind.model.objects.filter(name__iexact=name).values_list("id", flat=True).first()
    if existing is not None:
        raise invalid(f"'{name}' already exists (id {existing}): propose it by its id.")
    return name


def _entities(items: list[dict[str, Any]], kind: EntityKind, *,
              allow_new: bool) -> list[dict[str, Any]]:
    """Each item as {"id", "name"}: an existing id (name read from the library) or a new name."""
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            raise invalid('Each entity is {"id": "12"} or {"id": null, "name": "New name"}.')
    ids = [str(item["id"]) for item in items if item["id"] is not None]
    names = dict(kind.model.objects.filter(id__in=ids).values_list("id", "name"))
    unknown = [entity_id for entity_id in ids if entity_id not in names]
    if unknown:
        raise invalid(f"Unknown {kind.singular} id(s): {', '.join(unknown)}.")
    values: list[dict[str, Any]] = []
    for item in items:
        if item["id"] is not None:
            values.append({"id": str(item["id"]), "name": names[str(item["id"])]})
        elif allow_new:
            values.append({"id": None, "name": _new_name(item, kind)})
        else:
            raise invalid("Only existing entities can be removed.")
    keys = [value["id"] or f"new:{value['name'].casefold()}" for value in values]
    if len(set(keys)) != len(keys):
        raise invalid("An entity is listed twice.")
    return values


def _scene_entity_ids(kind: EntityKind, scene_id: str) -> set[str]:
    return {entity_id for _scene, entity_id, _name in kind.named_links([scene_id])}


def text(problem: str) -> Callable[[Any], str]:
    """A check for a text value; ``problem`` is the message for anything else."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(problem)
        return value

    return check


# -- the definitions -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SceneField:
    name: str  # a ChangeField value: PlanChange.field
    label: str  # "Details", "A studio": in messages
    shape: Shape
    option: str  # the analysis option that switches its proposals on and off
    option_help: str
    write: Writer  # apply's mutation: (client, scene ids, mode, value or entity id)
    kind: EntityKind | None = None  # ENTITY and ENTITY_LIST fields
    person_names: bool = False  # entity names are people's names ("Doe, Jane")
    # VALUE fields: the local Scene column, where Stash keeps it, what Stash's null means,
    # and the value check (raises ValueError with the message for the user).
    column: str = ""
    stash_key: str = ""
    blank: Any = None
    check: Callable[[Any], Any] | None = None

    @property
    def entity_kind(self) -> EntityKind:
        """The kind an ENTITY or ENTITY_LIST field holds; asking a VALUE field is a bug."""
        if self.kind is None:
            raise TypeError(f"{self.name} holds a plain value, not entities")
        return self.kind

    def entity_items(self, value: Any) -> list[dict[str, Any]]:
        """The ``{"id", "name"}`` items a change's value names (none for a plain value)."""
        if self.shape == Shape.VALUE:
            return []
        if self.shape == Shape.ENTITY:
            return [value] if value else []
        return list(value or ())

    def set_value(self, value: Any) -> Any:
        """A set change's value as Stash compares it: an entity id, or the plain value."""
        if self.shape == Shape.ENTITY:
            return str(value["id"]) if value and value.get("id") is not None else None
        return self.blank if value is None else value

    def held(self, stash_scene: dict[str, Any]) -> Any:
        """What Stash holds now for a set field, comparable with ``set_value``."""
        if self.kind is not None:
            items = self.kind.items_of(stash_scene)
            return items[0]["id"] if items else None
        return self.set_value(stash_scene.get(self.stash_key))

    def stash_value(self, stash_scene: dict[str, Any]) -> Any:
        """The field as a Stash scene holds it, in the shape of ``PlanChange.current_value``
        (what apply records before writing, and what a revert restores)."""
        if self.shape == Shape.VALUE:
            return self.set_value(stash_scene.get(self.stash_key))
        items = [{"id": item["id"], "name": item["name"]}
                 for item in self.entity_kind.items_of(stash_scene)]
        if self.shape == Shape.ENTITY:
            return items[0] if items else None
        return items

    def same_set_value(self, one: Any, other: Any) -> bool:
        """Whether two values of a set field are the same to Stash (an entity by its id)."""
        return bool(self.set_value(one) == self.set_value(other))

    def held_ids(self, stash_scene: dict[str, Any]) -> set[str]:
        """The entity ids a list field holds in Stash now."""
        return {item["id"] for item in self.entity_kind.items_of(stash_scene)}

    def validate(self, change: PlanChange, value: Any) -> Any:
        """``value`` cleaned for a change of this field, or InvalidInput."""
        if self.shape == Shape.VALUE:
            assert self.check is not None  # every VALUE field has one
            try:
                return self.check(value)
            except ValueError as exc:
                raise invalid(str(exc)) from None
        if self.shape == Shape.ENTITY:
            if not isinstance(value, dict):
                raise invalid(f'{self.label} is {{"id": "12"}} or {{"id": null, '
                              f'"name": "New {self.entity_kind.singular}"}}.')
            entity = _entities([value], self.entity_kind, allow_new=True)[0]
            if entity["id"] in _scene_entity_ids(self.entity_kind, change.scene_id):
                raise invalid(f"The scene already has this {self.entity_kind.singular}.")
            return entity
        if not isinstance(value, list) or not value:
            raise invalid(f"{self.label} are a non-empty list of entities.")
        adding = change.action == ChangeAction.ADD
        values = _entities(value, self.entity_kind, allow_new=adding)
        current = _scene_entity_ids(self.entity_kind, change.scene_id)
        clash = [v["name"] for v in values
                 if v["id"] is not None and (v["id"] in current) == adding]
        if clash:
            state = "already has" if adding else "does not have"
            raise invalid(f"The scene {state}: {', '.join(clash)}.")
        return values


STUDIO = SceneField(
    name=ChangeField.STUDIO, label="A studio", shape=Shape.ENTITY, option="detect_studios",
    option_help="Default true.", kind=STUDIOS, write=set_input("studio_id"),
)
PERFORMERS_FIELD = SceneField(
    name=ChangeField.PERFORMERS, label="Performers", shape=Shape.ENTITY_LIST,
    option="detect_performers", option_help="Default true.", kind=PERFORMERS,
    person_names=True, write=_edit_performers,
)
TAGS_FIELD = SceneField(
    name=ChangeField.TAGS, label="Tags", shape=Shape.ENTITY_LIST, option="detect_tags",
    option_help="Default true.", kind=TAGS, write=_edit_tags,
)
DETAILS = SceneField(
    name=ChangeField.DETAILS, label="Details", shape=Shape.VALUE, option="detect_details",
    option_help="Propose plain-text details for details carrying HTML. Default true.",
    column="details", stash_key="details", blank="", check=text("Details are a string."),
    write=set_input("details"),
)

# In the order a scene's changes are built and shown.
SCENE_FIELDS = {field.name: field for field in (STUDIO, PERFORMERS_FIELD, TAGS_FIELD, DETAILS)}
ENTITY_FIELDS = tuple(field for field in SCENE_FIELDS.values() if field.kind is not None)
