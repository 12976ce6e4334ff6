"""The scene fields analysis proposes and apply writes: the one definition of each.

A field has a shape, which decides how it is proposed, validated and applied:

- ``VALUE``: one plain value (title, details, date, code, rating, organized), set; Stash's
  copy is compared before writing. One scene: ``sceneUpdate``; several scenes getting the same
  value: one ``bulkSceneUpdate``.
- ``VALUE_LIST``: plain items (urls, stash ids), added or removed one by one, so edits made
  in Stash meanwhile survive.
- ``ENTITY``: one entity of a kind (studio), set as ``{"id", "name"}``; a null id names an
  entity Stash does not have yet, which apply looks up by name or creates.
- ``ENTITY_LIST``: entities of a kind (performers, tags), added or removed one by one.

Proposal sources, review, apply and the AI prompt all go through ``SCENE_FIELDS``. Adding a
field is one ``ChangeField`` member and one entry here (for a plain value: where Stash keeps
it, how a proposed value is checked, and the ``SceneUpdateInput`` key that sets it).
"""

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from analysis.models import ChangeAction, ChangeField, PlanChange
from scenes.dates import stash_date
from scenes.entities import PERFORMERS, STUDIOS, TAGS, EntityKind
from scenes.models import Scene
from scenes.stash import StashClient, StashQueryError
from stashhog.api.exceptions import InvalidInput

NAME_LIMIT = 255
CODE_LIMIT = 255  # Scene.code
TEXT_LIMIT = 65_536  # titles and details: far beyond any real one, short of abuse
URL_LIMIT = 2048


class Shape(StrEnum):
    VALUE = "value"
    VALUE_LIST = "value_list"
    ENTITY = "entity"
    ENTITY_LIST = "entity_list"

    @property
    def is_list(self) -> bool:
        """Changed item by item (add / remove), never set as a whole."""
        return self in (Shape.VALUE_LIST, Shape.ENTITY_LIST)


class Strategy(StrEnum):
    """How a found value may replace what Stash holds (``AnalysisOptions.strategies``)."""

    FILL_BLANK = "fill_blank"  # only where Stash has no value (a list: an empty one; a
    # date: a year or a month, which a date within it makes precise)
    OVERWRITE = "overwrite"  # single values: also replace a different value
    MERGE = "merge"  # lists: add what is missing, remove nothing
    REPLACE = "replace"  # lists: add what is missing, remove what no source found


SINGLE_STRATEGIES = (Strategy.FILL_BLANK, Strategy.OVERWRITE)
LIST_STRATEGIES = (Strategy.FILL_BLANK, Strategy.MERGE, Strategy.REPLACE)


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


def _edit_urls(client: StashClient, scene_ids: list[str], mode: str, url: Any) -> None:
    client.bulk_update_scenes(scene_ids, urls=[url], url_mode=mode)


def _edit_stash_ids(client: StashClient, scene_ids: list[str], mode: str, key: Any) -> None:
    """Stash has no bulk edit of stash ids and ``sceneUpdate`` replaces the whole list: read
    each scene's list now and write it back with the one entry added (replacing the
    endpoint's previous id: one per endpoint) or removed."""
    endpoint, stash_id = key
    for scene_id, scene in client.get_scenes(scene_ids).items():
        if scene is None:
            raise StashQueryError(f"scene with id {scene_id} not found")
        held = scene.get("stash_ids") or []
        if mode == "ADD":
            kept = [entry for entry in held if entry["endpoint"] != endpoint]
            kept.append({"endpoint": endpoint, "stash_id": stash_id})
        else:
            kept = [entry for entry in held
                    if (entry["endpoint"], entry["stash_id"]) != (endpoint, stash_id)]
        client.update_scene(scene_id, stash_ids=kept)


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


def text(problem: str, limit: int = TEXT_LIMIT) -> Callable[[Any], str]:
    """A check for a text value; ``problem`` is the message for anything else."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(problem)
        if len(value) > limit:
            raise ValueError(f"At most {limit} characters.")
        return value

    return check


def _date(value: Any) -> str | None:
    """A date as Stash keeps it (``scenes.dates``); null clears it."""
    if value is None:
        return None
    if (checked := stash_date(value)) is not None:
        return checked
    raise ValueError('A date is "YYYY-MM-DD", or "YYYY-MM" / "YYYY" when only the month or '
                     'the year is known (a real one), or null.')


def _refines_date(proposed: Any, held: Any) -> bool:
    """"2024-03-15" refines "2024" and "2024-03": the same year or month, with more known."""
    return (isinstance(proposed, str) and isinstance(held, str) and held != ""
            and proposed.startswith(f"{held}-"))


def _rating(value: Any) -> int | None:
    """Stash's rating100; null clears it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError("A rating is a whole number from 0 to 100, or null.")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Organized is true or false.")
    return value


def _url(value: Any) -> str:
    if isinstance(value, str) and len(value) <= URL_LIMIT and value == value.strip():
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value
    raise ValueError(f"Each URL is an http(s) URL of at most {URL_LIMIT} characters.")


def _stash_id(value: Any) -> dict[str, str]:
    """``{"endpoint": <the stash-box GraphQL URL>, "stash_id": <its id there>}``."""
    if isinstance(value, dict) and set(value) == {"endpoint", "stash_id"}:
        stash_id = value["stash_id"]
        try:
            endpoint = _url(value["endpoint"])
        except ValueError:
            endpoint = None
        if endpoint and isinstance(stash_id, str) and 0 < len(stash_id) <= NAME_LIMIT \
                and stash_id == stash_id.strip():
            return {"endpoint": endpoint, "stash_id": stash_id}
    raise ValueError('Each stash id is {"endpoint": "https://stashdb.org/graphql", '
                     '"stash_id": "..."} (an http(s) endpoint and a non-empty id).')


def _stash_id_key(item: dict[str, Any]) -> Hashable:
    return (item["endpoint"], item["stash_id"])


def _stash_id_label(item: dict[str, Any]) -> str:
    return f"{item['stash_id']} ({item['endpoint']})"


def _stash_ids_held(items: Any) -> list[dict[str, str]]:
    """Stash's entries without their ``updated_at``, as changes carry them."""
    return [{"endpoint": item["endpoint"], "stash_id": item["stash_id"]} for item in items or ()]


def _same(value: Any) -> Any:
    return value


def _never(*values: Any) -> bool:
    return False


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
    # VALUE and VALUE_LIST fields: the local Scene column, where Stash keeps it, what
    # Stash's null means, and the check of a value (of one item, for a list), which returns
    # it cleaned or raises ValueError with the message for the user.
    column: str = ""
    stash_key: str = ""
    blank: Any = None
    check: Callable[[Any], Any] | None = None
    from_column: Callable[[Any], Any] = _same  # the column's value as changes carry it
    from_stash: Callable[[Any], Any] = _same  # Stash's value as changes carry it
    # VALUE_LIST fields: what tells two items apart (also what apply writes), and how a
    # person reads one.
    item_key_of: Callable[[Any], Hashable] = _same
    item_label_of: Callable[[Any], str] = str
    is_text: bool = False  # a plain string: edited as text, not JSON (the admin)
    value_hint: str = ""  # what a proposed value looks like, for people
    # Whether a proposed value only adds precision to the held one (a full date for a year):
    # it fills what is blank in the value, so fill_blank allows it.
    refines: Callable[[Any, Any], bool] = _never

    @property
    def plain(self) -> bool:
        """Holds plain values (not entities)."""
        return self.kind is None

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        return LIST_STRATEGIES if self.shape.is_list else SINGLE_STRATEGIES

    @property
    def default_strategy(self) -> Strategy:
        """Single values fill blanks; lists merge (filling only empty lists would stop every
        new tag or performer of a scene that has one)."""
        return Strategy.MERGE if self.shape.is_list else Strategy.FILL_BLANK

    def is_blank(self, value: Any) -> bool:
        """Whether Stash holds no value (an empty list, no studio, ``""``, no rating, ...)."""
        return value in (None, "", [], self.blank)

    def proposal_items(self, value: Any) -> list[Any]:
        """What a change proposes, value by value: a list change's items, or the set value."""
        return list(value or ()) if self.shape.is_list else [value]

    def proposal_key(self, item: Any) -> str:
        """A short, stable key of one proposed value (``proposal_items``), whatever change
        carries it: what rejections and other open plans are matched by."""
        if self.shape.is_list or (self.kind is not None and item):
            key: Any = self.item_key(item)
        else:
            key = self.set_value(item)
        text = json.dumps(key, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def proposal_keys(self, item: Any) -> list[str]:
        """The keys ``item`` is matched by: its own and, for an entity Stash has, the key
        of its name as a new entity, so that what was rejected (or proposed) before the
        entity existed still holds once it does."""
        keys = [self.proposal_key(item)]
        if self.kind is not None and item and item.get("id") is not None and item.get("name"):
            keys.append(self.proposal_key({"id": None, "name": item["name"]}))
        return keys

    @property
    def entity_kind(self) -> EntityKind:
        """The kind an ENTITY or ENTITY_LIST field holds; asking a VALUE field is a bug."""
        if self.kind is None:
            raise TypeError(f"{self.name} holds a plain value, not entities")
        return self.kind

    def entity_items(self, value: Any) -> list[dict[str, Any]]:
        """The ``{"id", "name"}`` items a change's value names (none for plain values)."""
        if self.plain:
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
        return self.set_value(self.from_stash(stash_scene.get(self.stash_key)))

    def stash_value(self, stash_scene: dict[str, Any]) -> Any:
        """The field as a Stash scene holds it, in the shape of ``PlanChange.current_value``
        (what apply records before writing, and what a revert restores)."""
        if self.shape == Shape.VALUE:
            return self.set_value(self.from_stash(stash_scene.get(self.stash_key)))
        if self.shape == Shape.VALUE_LIST:
            return list(self.from_stash(stash_scene.get(self.stash_key) or []))
        items = [{"id": item["id"], "name": item["name"]}
                 for item in self.entity_kind.items_of(stash_scene)]
        if self.shape == Shape.ENTITY:
            return items[0] if items else None
        return items

    def same_set_value(self, one: Any, other: Any) -> bool:
        """Whether two values of a set field are the same to Stash (an entity by its id)."""
        return bool(self.set_value(one) == self.set_value(other))

    def item_key(self, item: Any) -> Hashable:
        """What tells a list field's items apart: an entity's id (``new:<name>`` for one
        Stash lacks), or the plain item's key."""
        if self.shape == Shape.VALUE_LIST:
            return self.item_key_of(item)
        if item.get("id") is not None:
            return str(item["id"])
        return f"new:{' '.join(str(item.get('name')).casefold().split())}"

    def item_label(self, item: Any) -> str:
        return item["name"] if self.kind is not None else self.item_label_of(item)

    def held_keys(self, stash_scene: dict[str, Any]) -> set[Hashable]:
        """The item keys a list field holds in Stash now."""
        return {self.item_key(item) for item in self.stash_value(stash_scene)}

    def write_keys(self, value: Any) -> list[Hashable]:
        """What an add or remove of ``value`` writes, item by item: entity ids (a name still
        without an id is written by no one: only a removal keeps one, of an entity Stash
        lacks), or the plain items' keys."""
        items = list(value or ())
        if self.kind is not None:
            items = [item for item in items if item.get("id") is not None]
        return list(dict.fromkeys(self.item_key(item) for item in items))

    def local_value(self, scene_id: str) -> Any:
        """What the local copy of the scene holds for a plain field."""
        row = Scene.objects.filter(id=scene_id).values_list(self.column, flat=True).first()
        return self.from_column(row)

    def validate(self, change: PlanChange, value: Any) -> Any:
        """``value`` cleaned for a change of this field, or InvalidInput."""
        if self.shape == Shape.VALUE:
            return self._checked(value)
        if self.shape == Shape.VALUE_LIST:
            return self._validate_items(change, value)
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

    def _checked(self, value: Any) -> Any:
        assert self.check is not None  # every plain field has one
        try:
            return self.check(value)
        except ValueError as exc:
            raise invalid(str(exc)) from None

    def _validate_items(self, change: PlanChange, value: Any) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise invalid(f"{self.label} are a non-empty list.")
        items = [self._checked(item) for item in value]
        keys = [self.item_key(item) for item in items]
        if len(set(keys)) != len(keys):
            raise invalid("An item is listed twice.")
        adding = change.action == ChangeAction.ADD
        current = {self.item_key(item) for item in self.local_value(change.scene_id) or ()}
        clash = [self.item_label(item) for item in items if (self.item_key(item) in current)
                 == adding]
        if clash:
            state = "already has" if adding else "does not have"
            raise invalid(f"The scene {state}: {', '.join(clash)}.")
        return items


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
    write=set_input("details"), is_text=True, value_hint="plain text",
)

TITLE = SceneField(
    name=ChangeField.TITLE, label="A title", shape=Shape.VALUE, option="detect_title",
    option_help="Default true.", column="title", stash_key="title", blank="",
    check=text("A title is a string."), write=set_input("title"), is_text=True,
    value_hint="plain text",
)
DATE = SceneField(
    name=ChangeField.DATE, label="A date", shape=Shape.VALUE, option="detect_date",
    option_help="Default true.", column="scene_date", stash_key="date", check=_date,
    write=set_input("date"), refines=_refines_date,
    value_hint='"YYYY-MM-DD" (or "YYYY-MM" / "YYYY") or null',
)
CODE = SceneField(
    name=ChangeField.CODE, label="A studio code", shape=Shape.VALUE, option="detect_code",
    option_help="Default true.", column="code", stash_key="code", blank="",
    check=text("A code is a string.", CODE_LIMIT), write=set_input("code"), is_text=True,
    value_hint="plain text",
)
URLS = SceneField(
    name=ChangeField.URLS, label="URLs", shape=Shape.VALUE_LIST, option="detect_urls",
    option_help="Default true.", column="urls", stash_key="urls", check=_url,
    write=_edit_urls, value_hint='a list of http(s) URLs: ["https://..."]',
)
RATING = SceneField(
    name=ChangeField.RATING, label="A rating", shape=Shape.VALUE, option="detect_rating",
    option_help="Stash's rating100 (0-100). Default true.", column="rating",
    stash_key="rating100", check=_rating, write=set_input("rating100"),
    value_hint="a whole number 0-100, or null",
)
ORGANIZED = SceneField(
    name=ChangeField.ORGANIZED, label="Organized", shape=Shape.VALUE,
    option="detect_organized", option_help="Default true.", column="organized",
    stash_key="organized", blank=False, check=_flag, write=set_input("organized"),
    value_hint="true or false",
)
STASH_IDS = SceneField(
    name=ChangeField.STASH_IDS, label="Stash ids", shape=Shape.VALUE_LIST,
    option="detect_stash_ids", option_help="Links to stash-box scenes. Default true.",
    column="stash_ids", stash_key="stash_ids", check=_stash_id, from_stash=_stash_ids_held,
    item_key_of=_stash_id_key, item_label_of=_stash_id_label, write=_edit_stash_ids,
    value_hint='a list of {"endpoint": "https://stashdb.org/graphql", "stash_id": "..."}',
)

# In the order a scene's changes are built and shown.
SCENE_FIELDS = {field.name: field for field in (
    STUDIO, PERFORMERS_FIELD, TAGS_FIELD, DETAILS, TITLE, DATE, CODE, URLS, RATING, ORGANIZED,
    STASH_IDS,
)}
ENTITY_FIELDS = tuple(field for field in SCENE_FIELDS.values() if field.kind is not None)
