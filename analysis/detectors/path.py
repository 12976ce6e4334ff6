"""Studio, performer and tag proposals from a scene's file path and title (no AI, no database).

Confidence scale (0..1): where the name was found, adjusted for how and how long it matched.

    where                      base     how / length                                adjust
    a whole folder name        0.95     exact name                                   0
    inside a folder name       0.90     alias                                       -0.05
    filename (no extension)    0.85     reordered name ("Doe, Jane")                -0.07
    title                      0.75     under 6 letters                             -0.05
                                        12 letters or more                          +0.03
                                        weak word, accepted only standing alone     -0.15
                                        tags (less certain than studios and people) -0.10

Length adjusts nothing for a whole folder name: that is already the strongest sign.
A weak word is a single-word name that is a common English word ("Summer") or, for studios
and performers, has at most three letters. It counts only as a whole folder name or a whole
segment between separators, or, for studios, as the first word of the filename, where scene
naming puts the studio ("BZ.23.01.05.Jane.Doe.mp4"; no weak penalty there).

So a studio folder is ~0.95, a studio name in the filename ~0.85 and one only in the title
~0.75; a performer's alias in the filename 0.80, "Summer" alone in a filename segment 0.70.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from analysis.detectors.catalogue import REORDERED, EntityIndex, Match
from analysis.detectors.normalize import tokenize

Field = Literal["studio", "performers", "tags"]

FOLDER = "folder"
FILENAME = "filename"
TITLE = "title"
_WHOLE_FOLDER = "folder name"
_BASE = {_WHOLE_FOLDER: 0.95, FOLDER: 0.90, FILENAME: 0.85, TITLE: 0.75}
_KIND_PENALTY = {"name": 0.0, "alias": 0.05, REORDERED: 0.07}
_SHORT_NAME_LETTERS = 6
_SHORT_NAME_PENALTY = 0.05
_LONG_NAME_LETTERS = 12
_LONG_NAME_BONUS = 0.03
_WEAK_PENALTY = 0.15
_TAG_PENALTY = 0.10
_MAX_CONFIDENCE = 0.99
_SHORT_WORD = 3

# Single-word names that are everyday words in titles and filenames.
COMMON_WORDS = frozenset(
    {
        "a", "amber", "an", "and", "angel", "april", "asia", "at", "august", "autumn", "baby",
        "berry", "best", "big", "black", "bliss", "blue", "brooklyn", "brown", "bunny", "by",
        "candy", "charity", "cherry", "china", "cinnamon", "clip", "crystal", "daisy", "dakota",
        "day", "desire", "destiny", "diamond", "dream", "episode", "faith", "fantasy", "fire",
        "first", "for", "from", "full", "gem", "ginger", "goddess", "gold", "green", "harmony",
        "hd", "heaven", "holly", "home", "honey", "hope", "hot", "ice", "in", "india", "ivy",
        "jade", "jewel", "joy", "july", "june", "kiss", "kitty", "last", "lily", "little", "london",
        "love", "lust", "march", "may", "melody", "morning", "my", "new", "night", "of", "olive",
        "on", "our", "paris", "part", "party", "passion", "peach", "pearl", "pink", "princess",
        "queen", "rain", "red", "rose", "ruby", "scene", "sexy", "sierra", "silk", "sky", "spice",
        "spring", "star", "stars", "storm", "sugar", "summer", "sunny", "sunshine", "sweet", "the",
        "to", "trinity", "vanilla", "velvet", "video", "violet", "white", "wild", "winter", "with",
        "your",
    }
)

_PATH_SEPARATOR = re.compile(r"[\\/]")
# Separators between names in one path component or title. Commas are kept apart because a
# reordered name spans one ("Doe, Jane").
_STRONG_SEPARATOR = re.compile(r"([&,+;|()\[\]{}]|[\s._]+-+[\s._]+)")
# Words that join names ("Jane Doe feat. Anna Bell") and so end a segment.
_CONNECTORS = frozenset({"and", "feat", "ft", "featuring", "x", "with", "vs"})
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{2,5})$")
_MEDIA_EXTENSIONS = frozenset(
    {
        "mp4", "m4v", "mkv", "avi", "wmv", "mov", "webm", "flv", "mpg", "mpeg", "ts", "m2ts", "mts",
        "vob", "3gp", "ogv", "divx", "rmvb", "asf", "f4v", "zip", "jpg", "jpeg", "png", "gif",
        "webp",
    }
)


@dataclass(frozen=True, slots=True)
class SceneText:
    path: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Proposal:
    field: Field
    entity_id: str
    name: str
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class _Part:
    """One folder, the filename or the title, tokenised, with its separator structure."""

    where: str
    depth: int  # root folder 0, increasing towards the filename
    tokens: tuple[str, ...]
    segments: frozenset[tuple[int, int]]  # token spans standing alone between separators
    breaks: frozenset[int]  # token positions a separator precedes; names never span them
    commas: frozenset[int]  # the breaks that are commas, which a reordered name may span

    def accepts(self, start: int, end: int, kind: str) -> bool:
        crossed = [position for position in self.breaks if start < position < end]
        if not crossed:
            return True
        # "Doe, Jane" but not "Kim Doe, Jane Smith": whole segments on both sides of the comma.
        return (
            kind == REORDERED
            and all(position in self.commas for position in crossed)
            and any(segment[0] == start for segment in self.segments)
            and any(segment[1] == end for segment in self.segments)
        )

    def is_whole_folder(self, match: Match) -> bool:
        return self.where == FOLDER and match.start == 0 and match.end == len(self.tokens)

    def stands_alone(self, match: Match) -> bool:
        return (match.start, match.end) in self.segments or self.is_whole_folder(match)


@dataclass(frozen=True, slots=True)
class _Found:
    entity_ids: tuple[str, ...]
    confidence: float
    folder_depth: int  # -1 outside folders
    reason: str

    @property
    def rank(self) -> tuple[float, int]:
        """Stronger first; between folders, the deeper (a sub-studio inside its network's)."""
        return (self.confidence, self.folder_depth)


def detect_studio(scene: SceneText, studio_index: EntityIndex) -> Proposal | None:
    """The single strongest studio named by the scene; None when unsure. Whether the scene
    has it already is the change builder's to judge, as for every field."""
    found = sorted(_scan(scene, studio_index, "studio"), key=lambda f: f.rank, reverse=True)
    if not found or len(found[0].entity_ids) != 1:
        return None
    best = found[0]
    rival = next((f for f in found[1:] if f.entity_ids != best.entity_ids), None)
    if rival is not None and rival.rank == best.rank:
        return None
    entity_id = best.entity_ids[0]
    return Proposal("studio", entity_id, studio_index.get(entity_id).name, best.confidence,
                    best.reason)


def detect_performers(scene: SceneText, performer_index: EntityIndex) -> list[Proposal]:
    """Performers named by the scene, most certain first."""
    return _propose_many(scene, performer_index, "performers")


def detect_tags(scene: SceneText, tag_index: EntityIndex) -> list[Proposal]:
    """Tags named by the scene, most certain first."""
    return _propose_many(scene, tag_index, "tags")


def _propose_many(scene: SceneText, index: EntityIndex, field: Field) -> list[Proposal]:
    best: dict[str, _Found] = {}
    for found in _scan(scene, index, field):
        if len(found.entity_ids) != 1:
            continue  # the words name several entities equally: no way to tell which
        entity_id = found.entity_ids[0]
        if entity_id not in best or found.confidence > best[entity_id].confidence:
            best[entity_id] = found
    proposals = [
        Proposal(field, entity_id, index.get(entity_id).name, found.confidence, found.reason)
        for entity_id, found in best.items()
    ]
    return sorted(proposals, key=lambda p: (-p.confidence, p.name))


def _scan(scene: SceneText, index: EntityIndex, field: Field) -> list[_Found]:
    found = []
    for part in _scene_parts(scene.path, scene.title):
        for match in index.find(part.tokens, part.accepts):
            weak = _is_weak(match, field)
            studio_lead = field == "studio" and part.where == FILENAME and match.start == 0
            if weak and not (part.stands_alone(match) or studio_lead):
                continue
            place = _WHOLE_FOLDER if part.is_whole_folder(match) else part.where
            confidence = _confidence(place, match, field, weak and not studio_lead)
            reason = f"{match.kind} '{' '.join(match.words)}' in {place}"
            folder_depth = part.depth if part.where == FOLDER else -1
            found.append(_Found(match.entity_ids, confidence, folder_depth, reason))
    return found


def _is_weak(match: Match, field: Field) -> bool:
    if len(match.words) != 1:
        return False
    word = match.words[0]
    return word in COMMON_WORDS or (field != "tags" and len(word) <= _SHORT_WORD)


def _confidence(place: str, match: Match, field: Field, weak_penalty: bool) -> float:
    value = _BASE[place] - _KIND_PENALTY[match.kind]
    if place != _WHOLE_FOLDER:
        letters = sum(len(word) for word in match.words)
        if letters < _SHORT_NAME_LETTERS:
            value -= _SHORT_NAME_PENALTY
        elif letters >= _LONG_NAME_LETTERS:
            value += _LONG_NAME_BONUS
    if weak_penalty:
        value -= _WEAK_PENALTY
    if field == "tags":
        value -= _TAG_PENALTY
    return round(min(value, _MAX_CONFIDENCE), 3)


# The three detectors run back to back on the same scene: parse its text once.
@lru_cache(maxsize=256)
def _scene_parts(path: str | None, title: str | None) -> tuple[_Part, ...]:
    components = [c for c in _PATH_SEPARATOR.split(path or "") if c and not c.endswith(":")]
    parts = []
    for depth, component in enumerate(components):
        if depth == len(components) - 1:
            parts.append(_parse(_strip_extension(component), FILENAME, depth))
        else:
            parts.append(_parse(component, FOLDER, depth))
    if title:
        parts.append(_parse(title, TITLE, len(components)))
    return tuple(parts)


def _strip_extension(filename: str) -> str:
    extension = _EXTENSION.search(filename)
    if extension and extension.group(1).lower() in _MEDIA_EXTENSIONS:
        return filename[: extension.start()]
    return filename


def _parse(text: str, where: str, depth: int) -> _Part:
    tokens: list[str] = []
    segments: set[tuple[int, int]] = set()
    breaks: set[int] = set()
    commas: set[int] = set()
    for position, piece in enumerate(_STRONG_SEPARATOR.split(text)):
        if position % 2:  # re.split puts the captured separators at odd positions
            if tokens:
                breaks.add(len(tokens))
                if piece == ",":
                    commas.add(len(tokens))
            continue
        segment_start = len(tokens)
        for word in tokenize(piece):
            if word in _CONNECTORS:
                if len(tokens) > segment_start:
                    segments.add((segment_start, len(tokens)))
                segment_start = len(tokens) + 1
            tokens.append(word)
        if len(tokens) > segment_start:
            segments.add((segment_start, len(tokens)))
    return _Part(where, depth, tuple(tokens), frozenset(segments), frozenset(breaks),
                 frozenset(commas))
