"""The in-memory "database" behind the fake Stash server, and a deterministic generator.

``FakeLibrary`` holds scenes, files, tags, performers and studios the way Stash stores them:
integer ids, timestamps as RFC3339 text in the server's local offset (compared as text, like
Stash's SQLite does), name filters with SQL LIKE semantics, all-or-nothing bulk edits.
Tags, performers and studios draw ids from one sequence, so an id of the wrong kind fails
loudly instead of naming some other entity. Tests edit the library directly
(``update_scene``, ``delete_scene``, ``update_file`` ...) and move its clock with
``library.clock.advance(seconds)``.

``generate_library`` builds realistic libraries (up to 100,000+ scenes in a few seconds) and
records in ``library.truth`` which studio and performers each scene really has, whether or not
Stash knows them yet, so detectors can be scored against it. Its stash-boxes (and what they
know, ``truth[scene]["stashbox"]``) are in ``stash_box``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from tests.fakes.stash_box import FakeStashBox, add_stash_box

DEFAULT_START = datetime(2026, 1, 10, 1, 0, 0, tzinfo=UTC)
SCENE_SORTS = ("id", "title", "updated_at", "created_at")
ENTITY_SORTS = ("id", "name", "updated_at", "created_at")
_UNSET = object()


class FakeStashError(Exception):
    """What real Stash reports in the GraphQL ``errors`` array (HTTP 200, data null)."""


class FakeClock:
    """The server's clock; tests move it. Timestamps are rendered in a fixed local offset."""

    def __init__(self, start: datetime = DEFAULT_START, offset: str = "+11:00"):
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = offset.lstrip("+-").split(":")
        self.tz = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def format(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).isoformat(timespec="seconds")

    def stamp(self) -> str:
        return self.format(self._now)


@dataclass(slots=True)
class FakeFile:
    id: int
    scene_id: int
    path: str
    size: int = 734_003_200
    duration: float = 1800.0
    width: int = 1920
    height: int = 1080
    frame_rate: float = 29.97
    video_codec: str = "h264"
    audio_codec: str = "aac"
    bit_rate: int = 3_262_236
    mod_time: str = ""
    oshash: str = ""  # the fingerprint stash-boxes are asked about (set from id and path)

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(slots=True)
class FakeScene:
    id: int
    created_at: str
    updated_at: str
    title: str | None = None
    code: str | None = None
    details: str | None = None
    date: str | None = None
    urls: list[str] = field(default_factory=list)
    rating100: int | None = None
    organized: bool = False
    studio_id: int | None = None
    performer_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)
    file_ids: list[int] = field(default_factory=list)
    # [{"endpoint", "stash_id", "updated_at"}], at most one per endpoint.
    stash_ids: list[dict] = field(default_factory=list)


@dataclass(slots=True)
class FakeTag:
    id: int
    name: str
    created_at: str
    updated_at: str
    aliases: list[str] = field(default_factory=list)
    stash_ids: list[dict] = field(default_factory=list)
    ignore_auto_tag: bool = False


@dataclass(slots=True)
class FakePerformer:
    id: int
    name: str
    created_at: str
    updated_at: str
    disambiguation: str | None = None
    alias_list: list[str] = field(default_factory=list)
    stash_ids: list[dict] = field(default_factory=list)
    ignore_auto_tag: bool = False

    @property
    def aliases(self) -> list[str]:
        return self.alias_list


@dataclass(slots=True)
class FakeStudio:
    id: int
    name: str
    created_at: str
    updated_at: str
    aliases: list[str] = field(default_factory=list)
    stash_ids: list[dict] = field(default_factory=list)
    ignore_auto_tag: bool = False


# -- filters ------------------------------------------------------------------------------

Predicate = Callable[[object], bool]


def _like(pattern: str) -> re.Pattern:
    """SQLite LIKE: ``%`` and ``_`` are wildcards, case-insensitive for ASCII letters only."""
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.ASCII | re.IGNORECASE | re.DOTALL)


def _compare(criterion: dict, value, upper_default) -> bool:
    modifier = criterion["modifier"]
    low, high = criterion["value"], criterion.get("value2")
    match modifier:
        case "EQUALS":
            return value == low
        case "NOT_EQUALS":
            return value != low
        case "GREATER_THAN":
            return value > low
        case "LESS_THAN":
            return value < low
        case "BETWEEN" | "NOT_BETWEEN":
            inside = low <= value <= (upper_default() if high is None else high)
            return inside == (modifier == "BETWEEN")
        case "IS_NULL":
            return value is None
        case "NOT_NULL":
            return value is not None
    raise FakeStashError(f"modifier {modifier} is not supported for this criterion")


def _string_criterion(criterion: dict) -> Callable[[list[str]], bool]:
    """Whether any of a record's strings (its name, or each alias) meets the criterion."""
    modifier, wanted = criterion["modifier"], criterion["value"]
    if modifier in ("EQUALS", "NOT_EQUALS", "INCLUDES", "EXCLUDES"):
        like = _like(wanted if modifier in ("EQUALS", "NOT_EQUALS") else f"%{wanted}%")
        positive = modifier in ("EQUALS", "INCLUDES")
        return lambda values: any(like.fullmatch(v) for v in values) == positive
    if modifier in ("MATCHES_REGEX", "NOT_MATCHES_REGEX"):
        regex = re.compile(wanted)
        positive = modifier == "MATCHES_REGEX"
        return lambda values: any(regex.search(v) for v in values) == positive
    if modifier in ("IS_NULL", "NOT_NULL"):
        return lambda values: bool(values) == (modifier == "NOT_NULL")
    raise FakeStashError(f"modifier {modifier} is not supported for string criteria")


# -- the library --------------------------------------------------------------------------


class FakeLibrary:
    def __init__(self, clock: FakeClock | None = None, *, offset: str = "+11:00"):
        self.clock = clock or FakeClock(offset=offset)
        self.scenes: dict[int, FakeScene] = {}
        self.files: dict[int, FakeFile] = {}
        self.tags: dict[int, FakeTag] = {}
        self.performers: dict[int, FakePerformer] = {}
        self.studios: dict[int, FakeStudio] = {}
        # scene id (str) -> {"studio_id": str | None, "performer_ids": [str], "path_has_names"}
        self.truth: dict[str, dict] = {}
        # The stash-boxes Stash is configured for, by endpoint, in configuration order.
        self.stash_boxes: dict[str, FakeStashBox] = {}
        self.lock = threading.RLock()
        self._scene_order: list[int] = []  # sorted ids, so keyset pages start with a bisect
        self._next_id = {kind: itertools.count(1) for kind in ("scene", "file", "entity")}
        # kind -> {(casefolded name or alias, casefolded disambiguation): id}
        self._names: dict[str, dict[tuple[str, str], int]] = {
            "tag": {},
            "performer": {},
            "studio": {},
        }

    # -- tags, performers, studios ----------------------------------------------------

    def add_tag(self, name: str, aliases: Iterable[str] = (),
                stash_ids: Iterable[dict] = ()) -> FakeTag:
        now = self.clock.stamp()
        tag = FakeTag(next(self._next_id["entity"]), name, now, now, list(aliases),
                      stash_ids=self._entity_stash_ids(stash_ids))
        return self._register("tag", self.tags, tag, [name, *tag.aliases])

    def add_performer(
        self, name: str, disambiguation: str | None = None, alias_list: Iterable[str] = (),
        stash_ids: Iterable[dict] = (),
    ) -> FakePerformer:
        now = self.clock.stamp()
        performer = FakePerformer(
            next(self._next_id["entity"]), name, now, now, disambiguation, list(alias_list),
            stash_ids=self._entity_stash_ids(stash_ids),
        )
        names = [name, *performer.alias_list]
        return self._register("performer", self.performers, performer, names, disambiguation)

    def add_studio(self, name: str, aliases: Iterable[str] = (),
                   stash_ids: Iterable[dict] = ()) -> FakeStudio:
        now = self.clock.stamp()
        studio = FakeStudio(next(self._next_id["entity"]), name, now, now, list(aliases),
                            stash_ids=self._entity_stash_ids(stash_ids))
        return self._register("studio", self.studios, studio, [name, *studio.aliases])

    def _entity_stash_ids(self, entries: Iterable[dict]) -> list[dict]:
        """StashIDInput entries as Stash stores them (``updated_at`` now when not sent)."""
        return [{**entry, "updated_at": entry.get("updated_at") or self.clock.stamp()}
                for entry in entries]

    def update_tag(self, tag_id: int | str, **fields) -> FakeTag:
        return self._update_entity("tag", self.tags, tag_id, fields)

    def update_performer(self, performer_id: int | str, **fields) -> FakePerformer:
        return self._update_entity("performer", self.performers, performer_id, fields)

    def update_studio(self, studio_id: int | str, **fields) -> FakeStudio:
        return self._update_entity("studio", self.studios, studio_id, fields)

    def delete_tag(self, tag_id: int | str) -> None:
        """Like Stash: scenes lose the tag but their ``updated_at`` does not move."""
        with self.lock:
            tag = self._get("tag", self.tags, tag_id)
            self._unindex("tag", tag.id)
            del self.tags[tag.id]
            for scene in self.scenes.values():
                if tag.id in scene.tag_ids:
                    scene.tag_ids.remove(tag.id)

    def _register(self, kind, table, entity, names, disambiguation=None):
        with self.lock:
            self._check_names_free(kind, names, disambiguation)
            table[entity.id] = entity
            for name in names:
                self._names[kind][(name.casefold(), (disambiguation or "").casefold())] = entity.id
            return entity

    def _check_names_free(self, kind, names, disambiguation, ignore_id=None) -> None:
        index = self._names[kind]
        for name in names:
            owner = index.get((name.casefold(), (disambiguation or "").casefold()))
            if owner is not None and owner != ignore_id:
                raise FakeStashError(f"{kind} with name '{name}' already exists")

    def _unindex(self, kind: str, entity_id: int) -> None:
        index = self._names[kind]
        for key in [key for key, owner in index.items() if owner == entity_id]:
            del index[key]

    def _update_entity(self, kind, table, entity_id, fields):
        with self.lock:
            entity = self._get(kind, table, entity_id)
            alias_field = "alias_list" if kind == "performer" else "aliases"
            names = [fields.get("name", entity.name), *fields.get(alias_field, entity.aliases)]
            disambiguation = fields.get("disambiguation", getattr(entity, "disambiguation", None))
            self._check_names_free(kind, names, disambiguation, ignore_id=entity.id)
            self._unindex(kind, entity.id)
            for key, value in fields.items():
                setattr(entity, key, list(value) if key == alias_field else value)
            entity.updated_at = self.clock.stamp()
            for name in names:
                self._names[kind][(name.casefold(), (disambiguation or "").casefold())] = entity.id
            return entity

    # -- scenes and files --------------------------------------------------------------

    def add_scene(
        self,
        *,
        files: Iterable[str | dict] = (),
        truth: dict | None = None,
        **fields,
    ) -> FakeScene:
        """A new scene; ``files`` are paths or FakeFile field dicts (primary first)."""
        with self.lock:
            self._check_refs(fields)
            now = self.clock.stamp()
            scene = FakeScene(next(self._next_id["scene"]), now, now)
            self._set_scene_fields(scene, fields)
            self.scenes[scene.id] = scene
            self._scene_order.append(scene.id)
            for spec in files:
                self._attach_file(scene, {"path": spec} if isinstance(spec, str) else spec)
            if truth is not None:
                self.truth[str(scene.id)] = truth
            return scene

    def update_scene(self, scene_id: int | str, **fields) -> FakeScene:
        """Partial update; list fields replace, ``studio_id=None`` clears. Bumps updated_at."""
        with self.lock:
            scene = self._get("scene", self.scenes, scene_id)
            self._check_refs(fields)
            self._set_scene_fields(scene, fields)
            scene.updated_at = self.clock.stamp()
            return scene

    def delete_scene(self, scene_id: int | str) -> None:
        with self.lock:
            scene = self._get("scene", self.scenes, scene_id)
            del self.scenes[scene.id]
            del self._scene_order[bisect.bisect_left(self._scene_order, scene.id)]
            for file_id in scene.file_ids:
                del self.files[file_id]

    def add_file(self, scene_id: int | str, path: str, **fields) -> FakeFile:
        """A scan attaching a new file: this does bump the scene's updated_at."""
        with self.lock:
            scene = self._get("scene", self.scenes, scene_id)
            file = self._attach_file(scene, {"path": path, **fields})
            scene.updated_at = self.clock.stamp()
            return file

    def update_file(self, file_id: int | str, **fields) -> FakeFile:
        """A rescan changing a known file: the scene's updated_at does NOT move (as in Stash)."""
        with self.lock:
            file = self._get("file", self.files, file_id)
            for key, value in fields.items():
                setattr(file, key, value)
            return file

    def bulk_update_scenes(self, scene_ids: Iterable[int | str], **fields) -> list[FakeScene]:
        """``bulkSceneUpdate``: all-or-nothing. ``tag_ids``/``performer_ids`` are
        ``{"ids": [...], "mode": "ADD" | "REMOVE" | "SET"}``; other fields are set as given."""
        with self.lock:
            scenes = [self._get("scene", self.scenes, scene_id) for scene_id in scene_ids]
            self._check_refs(fields)
            now = self.clock.stamp()
            for scene in scenes:
                plain = {}
                for key, value in fields.items():
                    if key in ("tag_ids", "performer_ids", "urls") and value is not None:
                        plain[key] = _apply_mode(getattr(scene, key), value)
                    elif key not in ("tag_ids", "performer_ids", "urls"):
                        plain[key] = value
                self._set_scene_fields(scene, plain)
                scene.updated_at = now
            return scenes

    def _attach_file(self, scene: FakeScene, spec: dict) -> FakeFile:
        file_id = next(self._next_id["file"])
        oshash = hashlib.sha256(f"{file_id}:{spec['path']}".encode()).hexdigest()[:16]
        spec = {"mod_time": scene.created_at, "oshash": oshash, **spec}
        file = FakeFile(file_id, scene.id, **spec)
        self.files[file.id] = file
        scene.file_ids.append(file.id)
        return file

    def _set_scene_fields(self, scene: FakeScene, fields: dict) -> None:
        for key, value in fields.items():
            if key not in FakeScene.__dataclass_fields__ or key in ("id", "file_ids"):
                raise FakeStashError(f"unknown scene field {key}")
            if key == "studio_id":
                value = None if value is None else int(value)
            elif key in ("performer_ids", "tag_ids"):
                value = list(dict.fromkeys(int(i) for i in value or ()))
            elif key == "urls":
                value = list(dict.fromkeys(value or ()))
            elif key == "stash_ids":
                value = self._stash_ids(value)
            setattr(scene, key, value)

    def _stash_ids(self, entries) -> list[dict]:
        """A scene's stash ids: one per endpoint, as Stash keeps them."""
        entries = self._entity_stash_ids(entries or ())
        endpoints = [entry["endpoint"] for entry in entries]
        if len(set(endpoints)) != len(endpoints):
            raise FakeStashError("a scene has at most one stash id per endpoint")
        return entries

    def _check_refs(self, fields: dict) -> None:
        studio_id = fields.get("studio_id")
        if studio_id is not None:
            self._get("studio", self.studios, studio_id)
        for key, kind, table in (
            ("tag_ids", "tag", self.tags),
            ("performer_ids", "performer", self.performers),
        ):
            value = fields.get(key)
            ids = value.get("ids") if isinstance(value, dict) else value
            for entity_id in ids or ():
                self._get(kind, table, entity_id)

    @staticmethod
    def _get(kind: str, table: dict, entity_id: int | str):
        try:
            return table[int(entity_id)]
        except (KeyError, ValueError):
            raise FakeStashError(f"{kind} with id {entity_id} not found") from None

    # -- queries (the server's resolvers call these) -----------------------------------

    def scenes_by_ids(self, ids: Iterable[int | str]) -> list[FakeScene]:
        """In the given order; like Stash, one missing id fails the whole lookup."""
        return [self._get("scene", self.scenes, scene_id) for scene_id in ids]

    def entities_by_ids(self, kind: str, ids: Iterable[int | str]) -> list:
        return [self._get(kind, self._table(kind), entity_id) for entity_id in ids]

    def query_scenes(
        self, scene_filter: dict | None, find_filter: dict | None
    ) -> tuple[list[FakeScene], Callable[[], int]]:
        """One page of scenes and a function counting the whole filtered set."""
        scene_filter, find_filter = scene_filter or {}, find_filter or {}
        matches = self._predicate(scene_filter, self._scene_criterion)
        sort = find_filter.get("sort")
        if sort and sort not in SCENE_SORTS:
            raise FakeStashError(f"invalid sort: {sort}")
        descending = find_filter.get("direction") == "DESC"
        candidates = self._scene_candidates(scene_filter, sort, descending)

        def count() -> int:
            return sum(1 for scene in self._scene_candidates(scene_filter, "id", False)
                       if matches(scene))

        ordered = (scene for scene in candidates if matches(scene))
        if sort in ("title", "updated_at", "created_at"):
            ordered = sorted(ordered, key=_sort_key(sort), reverse=descending)
        elif not sort:
            # Stash adds no ORDER BY at all: the order is undefined, so clients must not rely on it.
            ordered = list(ordered)
            random.shuffle(ordered)
        return _page(ordered, find_filter), count

    def query_entities(
        self, kind: str, entity_filter: dict | None, find_filter: dict | None
    ) -> tuple[list, Callable[[], int]]:
        find_filter = find_filter or {}
        matches = self._predicate(entity_filter or {}, self._entity_criterion)
        sort = find_filter.get("sort") or "id"
        if sort not in ENTITY_SORTS:
            raise FakeStashError(f"invalid sort: {sort}")
        found = [e for e in self._table(kind).values() if matches(e)]
        key = (lambda e: (e.name.casefold(), e.id)) if sort == "name" else _sort_key(sort)
        found.sort(key=key, reverse=find_filter.get("direction") == "DESC")
        return _page(iter(found), find_filter), lambda: len(found)

    def _table(self, kind: str) -> dict:
        return {"tag": self.tags, "performer": self.performers, "studio": self.studios}[kind]

    def _scene_candidates(self, scene_filter: dict, sort, descending: bool) -> Iterator[FakeScene]:
        """Scenes in id order, starting after the keyset bound when the filter has one."""
        start = 0
        id_criterion = scene_filter.get("id")
        keyset = sort == "id" and not descending and "OR" not in scene_filter
        if keyset and id_criterion and id_criterion["modifier"] == "GREATER_THAN":
            start = bisect.bisect_right(self._scene_order, id_criterion["value"])
        ids = self._scene_order
        order = reversed(ids) if sort == "id" and descending else itertools.islice(ids, start, None)
        return (self.scenes[scene_id] for scene_id in order)

    def _scene_criterion(self, name: str, criterion: dict) -> Predicate:
        if name == "id":
            return lambda scene: _compare(criterion, scene.id, lambda: sys.maxsize)
        return self._timestamp_criterion(name, criterion)

    def _entity_criterion(self, name: str, criterion: dict) -> Predicate:
        if name == "name":
            name_matches = _string_criterion(criterion)
            return lambda entity: name_matches([entity.name])
        if name == "aliases":
            alias_matches = _string_criterion(criterion)
            return lambda entity: alias_matches(entity.aliases)
        return self._timestamp_criterion(name, criterion)

    def _timestamp_criterion(self, name: str, criterion: dict) -> Predicate:
        def a_day_from_now() -> str:
            return self.clock.format(self.clock.now() + timedelta(days=1))

        # Stash binds the value as text and compares it with the stored text.
        return lambda record: _compare(criterion, getattr(record, name), a_day_from_now)

    def _predicate(self, level: dict, criterion_for) -> Predicate:
        combinators = [key for key in ("AND", "OR", "NOT") if level.get(key) is not None]
        if len(combinators) > 1:
            raise FakeStashError("only one of AND, OR or NOT may be used per filter level")
        checks = [
            criterion_for(name, criterion)
            for name, criterion in level.items()
            if name not in ("AND", "OR", "NOT") and criterion is not None
        ]

        def here(record) -> bool:
            return all(check(record) for check in checks)

        if not combinators:
            return here
        combinator = combinators[0]
        sub = self._predicate(level[combinator], criterion_for)
        if combinator == "AND":
            return lambda record: here(record) and sub(record)
        if combinator == "OR":
            return lambda record: here(record) or sub(record)
        return lambda record: here(record) and not sub(record)


def _apply_mode(current: list, change: dict) -> list:
    """A ``BulkUpdateIds`` (entity ids) or ``BulkUpdateStrings`` (``values``) edit."""
    if "values" in change:
        ids = list(change.get("values") or ())
    else:
        ids = [int(i) for i in change.get("ids") or ()]
    mode = change["mode"]
    if mode == "SET":
        return ids
    if mode == "ADD":
        return list(dict.fromkeys([*current, *ids]))
    return [i for i in current if i not in set(ids)]


def _sort_key(sort: str):
    if sort == "title":
        return lambda record: ((record.title or str(record.id)).casefold(), record.id)
    return lambda record: (getattr(record, sort), record.id)


def _page(ordered: Iterable, find_filter: dict) -> list:
    """Stash paging: page < 1 is 1, per_page defaults to 25, negative means all, 0 none."""
    per_page = find_filter.get("per_page")
    per_page = 25 if per_page is None else per_page
    if per_page < 0:
        return list(ordered)
    page = max(find_filter.get("page") or 1, 1)
    start = (page - 1) * per_page
    return list(itertools.islice(ordered, start, start + per_page))


# -- the generator ------------------------------------------------------------------------

FIRST_NAMES = (
    "Anna Ann Mia Emma Zoë Chloé Renée Anaïs Lena Lina Sofia Sophie Isabella Bella Eva Nina "
    "Lily Ruby Jade Amber Hazel Ivy Maya Aria Nora Clara Elena Julia Lucía Marta Paula Sara "
    "Tara Vera Alice Helena Ingrid Astrid Freja Sílvia Noémie Åsa Joaquín José André Lukas "
    "Jonas Max Leo Noah Liam Marco Matteo Oscar Felix Hugo Erik Björn Søren Dmitri Kai Ravi "
    "Yuki Hana Mei Akira Inès Léa Maëlle Zoe"
).split()
LAST_NAMES = (
    "Rivera Novak Berg Lindqvist Moreau Dubois Rossi Bianchi Kowalski Nowak Müller Schmidt "
    "Fischer Weber Jansen Silva Santos Costa Ferreira García López Martín Núñez Sørensen "
    "Hansen Nielsen Kim Park Tanaka Sato Khan Patel Reyes Cruz Stone Wood Fox Hart Lake Rose "
    "Gold Black Knight Snow Winter Summers Day Love Young King Blue West Hill Banks Steele "
    "Wilde Grace Monroe"
).split()
# Stage names that are ordinary words, so detectors meet them inside titles too.
WORD_NAMES = (
    "Angel Summer Honey Candy Destiny Harmony Paris Star Storm Raven Bliss Sky Jazz Diamond "
    "Autumn River Dawn Faith Hope Jade"
).split()
STUDIO_ADJECTIVES = (
    "Blue Golden Silver Red Velvet Crystal Sunset Midnight Northern Wild Urban Royal Lucky "
    "Pure Bright Neon Coastal Iron Secret Crème"
).split()
STUDIO_NOUNS = (
    "Harbor Lotus Falcon Orchid Canyon Meadow River Summit Garden Horizon Pixel Ember Willow "
    "Cedar Comet Lantern Prism Atlas Haven Écho"
).split()
STUDIO_SUFFIXES = ("Films", "Pictures", "Media", "Studios", "Productions", "Video", "Digital", "")
TAG_NAMES = (
    "Outdoor", "Indoor", "Interview", "Behind the Scenes", "Compilation", "POV", "4K", "Solo",
    "Duo", "Group", "Kitchen", "Beach", "Pool", "Hotel", "Office", "Car", "Forest", "Garden",
    "Bedroom", "Shower", "Massage", "Dance", "Cosplay", "Lingerie", "Blonde", "Brunette",
    "Redhead", "Tattoo", "Romantic", "Amateur", "Vintage", "Black and White", "Slow Motion",
    "Music Video", "Documentary", "Workout", "Yoga", "Cooking", "Travel", "Night", "Sunset",
    "Rain", "Snow", "Handheld", "Drone", "Live", "Remastered", "Uncut", "Director's Cut",
    "Trailer", "Café", "Fête", "Sauna", "Rooftop", "Road Trip", "Holiday", "Summer", "Winter",
)
TAG_ALIASES = {
    "POV": ["Point of View"],
    "4K": ["2160p", "UHD"],
    "Behind the Scenes": ["BTS"],
    "Black and White": ["B&W"],
    "Outdoor": ["Outdoors"],
}
TITLE_ADJECTIVES = (
    "Golden Quiet Lazy Secret Sweet First Last Late Early Perfect Lost Hidden Summer Winter "
    "Midnight Morning Sunday Private Wild Gentle Rainy Électrique"
).split()
TITLE_NOUNS = (
    "Hour Afternoon Escape Meeting Session Getaway Weekend Visit Encounter Lesson Dream Story "
    "Affair Moment Surprise Holiday Evening Journey Game Rendezvous"
).split()
RESOLUTIONS = ((1920, 1080), (3840, 2160), (1280, 720), (854, 480))
HTML_DETAILS = (
    "<p>{title} with <b>{who}</b>.</p><p>Filmed on location.</p>",
    "<div>{who} in <i>{title}</i><br/>Part of the {studio} collection.</div>",
)


def _performer_names(rng: random.Random) -> Iterator[str]:
    """Word names, then single first names, then 'First Last', then double-barrelled."""
    yield from WORD_NAMES[:-1]  # "Jade" also appears as a first name below
    singles = list(FIRST_NAMES)
    rng.shuffle(singles)
    yield from singles[:12]
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(pairs)
    yield from pairs
    for first, last_a, last_b in itertools.product(FIRST_NAMES, LAST_NAMES, LAST_NAMES):
        if last_a != last_b:
            yield f"{first} {last_a}-{last_b}"


def _studio_names(rng: random.Random) -> Iterator[str]:
    names = [
        f"{adjective} {noun} {suffix}".strip()
        for adjective in STUDIO_ADJECTIVES
        for noun in STUDIO_NOUNS
        for suffix in STUDIO_SUFFIXES
    ]
    rng.shuffle(names)
    return iter(names)


def _tag_names() -> Iterator[str]:
    yield from TAG_NAMES
    for number in itertools.count(2):
        for name in TAG_NAMES:
            yield f"{name} {number}"


def _dotted(text: str) -> str:
    return ".".join(text.lower().split())


def _snake(text: str) -> str:
    return "_".join(text.lower().split())


def _take_unique(library: FakeLibrary, kind: str, names: Iterator[str], count: int, make):
    created = []
    while len(created) < count:
        name = next(names)
        if (name.casefold(), "") not in library._names[kind]:
            created.append(make(name))
    return created


def generate_library(
    scenes: int,
    performers: int | None = None,
    studios: int | None = None,
    tags: int | None = None,
    seed: int = 0,
    *,
    offset: str = "+11:00",
) -> FakeLibrary:
    """A deterministic, realistic library; ``library.truth`` says who is really in each scene.
    Stash is configured for one stash-box (StashDB) that knows most of it (``stash_box``).

    Needs at least one studio; the other counts may be zero.
    """
    rng = random.Random(seed)
    library = FakeLibrary(offset=offset)
    performers = max(12, scenes // 40) if performers is None else performers
    studios = max(5, min(300, scenes // 200)) if studios is None else studios
    tags = max(20, min(len(TAG_NAMES), scenes // 10)) if tags is None else tags

    # Entities are created a year before the scenes, so later edits are easy to tell apart.
    library.clock = FakeClock(DEFAULT_START - timedelta(days=365), offset)
    all_tags = _take_unique(
        library, "tag", _tag_names(), tags,
        lambda name: library.add_tag(name, TAG_ALIASES.get(name, ())),
    )
    all_studios = _take_unique(library, "studio", _studio_names(rng), studios, library.add_studio)
    for studio in all_studios:
        initials = _initials(studio.name)
        if rng.random() < 0.4 and len(initials) > 1 and (initials.casefold(), "") not in (
            library._names["studio"]
        ):
            library.update_studio(studio.id, aliases=[initials])
    all_performers = _take_unique(
        library, "performer", _performer_names(rng), performers - 1, library.add_performer
    )
    for performer in rng.sample(all_performers, len(all_performers) // 6):
        alias = f"{performer.name.split()[0]} {rng.choice(LAST_NAMES)[0]}."
        if (alias.casefold(), "") not in library._names["performer"]:
            library.update_performer(performer.id, alias_list=[alias])
    if performers > 0:  # a name two performers share, told apart by Stash's disambiguation
        all_performers.append(library.add_performer("Jade", disambiguation="UK"))

    # Scenes: created one minute apart, ending shortly before the clock's start.
    library.clock = FakeClock(DEFAULT_START - timedelta(minutes=scenes + 60), offset)
    used_paths: set[str] = set()
    for number in range(scenes):
        _generate_scene(library, rng, number, all_studios, all_performers, all_tags, used_paths)
        library.clock.advance(60)
    library.clock = FakeClock(DEFAULT_START, offset)
    add_stash_box(library, seed)
    return library


def _generate_scene(library, rng, number, studios, performers, tags, used_paths) -> None:
    studio = rng.choice(studios)
    cast = rng.sample(performers, min(len(performers), rng.choice((0, 1, 1, 1, 2, 2, 3))))
    title = None if rng.random() < 0.1 else (
        f"{rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}"
        + (f" Part {rng.randint(2, 4)}" if rng.random() < 0.15 else "")
    )
    path, has_names = _scene_path(rng, number, studio, cast, title)
    stem, _, extension = path.rpartition(".")
    suffix = 2
    while path in used_paths:
        path = f"{stem} ({suffix}).{extension}"
        suffix += 1
    used_paths.add(path)

    width, height = rng.choice(RESOLUTIONS)
    duration = round(rng.uniform(60, 3600), 2)
    size = rng.randint(50_000_000, 5_000_000_000)
    file_spec = {
        "path": path, "size": size, "duration": duration, "width": width, "height": height,
        "frame_rate": rng.choice((29.97, 30.0, 25.0, 59.94)),
        "video_codec": rng.choice(("h264", "hevc", "av1")),
        "audio_codec": rng.choice(("aac", "opus")), "bit_rate": int(size * 8 / duration),
    }
    files = [file_spec]
    if rng.random() < 0.03:  # a few scenes hold the same video in other encodes
        for extra in range(rng.randint(1, 2)):
            files.append({**file_spec, "path": f"{stem}.alt{extra + 1}.{extension}",
                          "width": 1280, "height": 720, "size": size // 3})

    who = " & ".join(p.name for p in cast) or studio.name
    roll = rng.random()
    details = (
        None if roll < 0.3
        else rng.choice(HTML_DETAILS).format(title=title or "Untitled", who=who, studio=studio.name)
        if roll < 0.5
        else f"{title or 'A scene'} featuring {who}."
    )
    known = rng.random()  # how much of the truth Stash already has
    known_cast = cast if known < 0.2 else cast[:1] if known < 0.3 else []
    stash_tags = rng.sample(tags, min(len(tags), rng.randint(1, 4))) if rng.random() < 0.4 else []
    date = None
    if rng.random() < 0.7:
        year, month, day = rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28)
        # Stash's date precision: some dates are known to the month or the year only.
        date = (f"{year}" if day == 1 else f"{year}-{month:02d}" if day == 2
                else f"{year}-{month:02d}-{day:02d}")
    stash_fields = {
        "title": title,
        "details": details,
        "date": date,
        "code": f"{_initials(studio.name)}-{number + 100}" if rng.random() < 0.2 else None,
        "urls": [f"https://example.com/scenes/{number + 1}"] if rng.random() < 0.3 else [],
        "rating100": rng.choice((None, None, 20, 60, 80, 100)),
        "organized": known < 0.1,
        "studio_id": studio.id if known < 0.35 else None,
        "performer_ids": [p.id for p in known_cast],
        "tag_ids": [t.id for t in stash_tags],
    }
    library.add_scene(
        files=files,
        truth={
            "studio_id": str(studio.id),
            "performer_ids": [str(p.id) for p in cast],
            "path_has_names": has_names,
        },
        **stash_fields,
    )


def _initials(name: str) -> str:
    return "".join(word[0] for word in name.split()).upper()


def _scene_path(rng, number, studio, cast, title) -> tuple[str, bool]:
    title = title or f"Scene {number + 1}"
    names = [p.name for p in cast]
    style = rng.random()
    if style < 0.25:
        people = " & ".join(names)
        return f"/media/{studio.name}/{people + ' - ' if people else ''}{title}.mp4", True
    if style < 0.45:
        people = "_and_".join(_snake(n) for n in names)
        stem = f"{people}_{_snake(title)}" if people else _snake(title)
        return f"/media/{_dotted(studio.name)}/{stem}_1080p.mkv", True
    if style < 0.6:
        label = studio.aliases[0] if studio.aliases else studio.name
        people = " feat. ".join(names)
        return f"/media/{label} - {people + ' - ' if people else ''}{title}.mp4", True
    if style < 0.75 and names:
        return f"/media/performers/{names[0]}/{title}.mp4", True
    day = DEFAULT_START - timedelta(days=rng.randint(0, 3000))
    if rng.random() < 0.5:
        return f"/media/unsorted/VID_{day:%Y%m%d}_{rng.randint(0, 235959):06d}.mp4", False
    return f"/media/downloads/{rng.getrandbits(48):012x}.mp4", False
