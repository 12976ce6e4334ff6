"""The library's known studios, performers or tags, indexed once per analysis run.

`EntityIndex.find` scans a token list for whole-word names in O(tokens x longest name), no
matter how large the catalogue is; `EntityIndex.candidates` gives a short fuzzy shortlist via
an inverted index (token -> entities), never by walking the catalogue.
"""

import heapq
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from analysis.detectors.normalize import name_variants, tokenize

NAME = "name"
ALIAS = "alias"
REORDERED = "reordered"
# Lower rank wins when the same words name several entities in different ways.
_KIND_RANK = {NAME: 0, ALIAS: 1, REORDERED: 2}

# Fuzzy shortlist: words count as similar when they share at least this many leading letters
# and the shared part covers at least this share of the longer word.
_MIN_PREFIX = 4
_MIN_PREFIX_SHARE = 0.6
# Words naming more entities than this do not widen the shortlist once rarer words matched.
_BROAD_POSTING = 200


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    ignore_auto_tag: bool = False  # Stash's flag: never matched by name in a path


@dataclass(frozen=True, slots=True)
class Match:
    """Tokens [start, end) spell a known name; several ids when the words name several entities."""

    start: int
    end: int
    entity_ids: tuple[str, ...]
    kind: str
    words: tuple[str, ...]


@dataclass(slots=True)
class _Key:
    kind: str
    entity_ids: list[str]


class EntityIndex:
    """Normalised names and aliases of one entity type, mapped to entity ids.

    person_names: also register 2-3 word names with the last word first ("Doe Jane").
    """

    def __init__(self, entities: Iterable[Entity], *, person_names: bool = False) -> None:
        self._entities: dict[str, Entity] = {}
        self._keys: dict[tuple[str, ...], _Key] = {}
        self._prefixes: set[tuple[str, ...]] = set()
        postings: dict[str, set[str]] = defaultdict(set)
        for entity in entities:
            self._entities[entity.id] = entity
            labelled = [(entity.name, NAME)] + [(alias, ALIAS) for alias in entity.aliases]
            for text, kind in labelled:
                for words in name_variants(text):
                    self._add(words, kind, entity.id)
                    if person_names and 2 <= len(words) <= 3:
                        self._add((words[-1], *words[:-1]), REORDERED, entity.id)
                    for word in words:
                        postings[word].add(entity.id)
        self._max_words = max((len(words) for words in self._keys), default=0)
        self._postings = {word: frozenset(ids) for word, ids in postings.items()}
        self._vocabulary = sorted(self._postings)
        self._idf = {
            word: math.log(1 + len(self._entities) / len(ids))
            for word, ids in self._postings.items()
        }

    def _add(self, words: tuple[str, ...], kind: str, entity_id: str) -> None:
        key = self._keys.get(words)
        if key is None or _KIND_RANK[kind] < _KIND_RANK[key.kind]:
            self._keys[words] = _Key(kind, [entity_id])
        elif kind == key.kind and entity_id not in key.entity_ids:
            key.entity_ids.append(entity_id)
        self._prefixes.update(words[:length] for length in range(1, len(words)))

    def __len__(self) -> int:
        return len(self._entities)

    def get(self, entity_id: str) -> Entity:
        return self._entities[entity_id]

    def has(self, entity_id: str) -> bool:
        return entity_id in self._entities

    def named(self, name: str) -> tuple[str, ...]:
        """The ids of the entities whose name is ``name`` (normalised), else of those with
        that alias: one id, several (ambiguous) or none."""
        key = self._keys.get(tuple(tokenize(name)))
        return tuple(key.entity_ids) if key is not None and key.kind != REORDERED else ()

    def find(
        self,
        tokens: Sequence[str],
        accept: Callable[[int, int, str], bool] | None = None,
    ) -> list[Match]:
        """Whole-word matches in tokens, longest at each position, none inside a longer one.

        accept(start, end, kind) may veto a span (e.g. one crossing a separator); a vetoed span
        lets a shorter name at the same position win.
        """
        found: list[Match] = []
        count = len(tokens)
        for start in range(count):
            best = None
            for end in range(start + 1, min(count, start + self._max_words) + 1):
                words = tuple(tokens[start:end])
                key = self._keys.get(words)
                if key is not None and (accept is None or accept(start, end, key.kind)):
                    best = Match(start, end, tuple(key.entity_ids), key.kind, words)
                if words not in self._prefixes:
                    break
            if best is not None:
                found.append(best)
        return [
            match
            for match in found
            if not any(
                other is not match and other.start <= match.start and match.end <= other.end
                for other in found
            )
        ]

    def candidates(self, text: str, limit: int = 10) -> list[Entity]:
        """Up to limit entities sharing words (or long word prefixes) with text, best first.

        Scored by the rarity (idf) of the shared words, so "Jane Doe" ranks above every "Jane".
        """
        similar = [pair for token in set(tokenize(text)) for pair in self._similar_words(token)]
        similar.sort(key=lambda pair: len(self._postings[pair[0]]))
        scores: dict[str, float] = defaultdict(float)
        for word, similarity in similar:
            weight = similarity * self._idf[word]
            posting: Collection[str] = self._postings[word]
            if scores and len(posting) > _BROAD_POSTING:
                # A first name shared by thousands only re-ranks what rarer words found.
                posting = [entity_id for entity_id in scores if entity_id in posting]
            for entity_id in posting:
                scores[entity_id] += weight
        best = heapq.nsmallest(limit, scores.items(), key=lambda item: (-item[1], item[0]))
        return [self._entities[entity_id] for entity_id, _ in best]

    def _similar_words(self, token: str) -> list[tuple[str, float]]:
        """token itself and catalogue words sharing most of their leading letters with it."""
        similar = [(token, 1.0)] if token in self._postings else []
        if len(token) < _MIN_PREFIX:
            return similar
        # Only words starting with this much of the token can reach the required share.
        prefix = token[: max(_MIN_PREFIX, math.ceil(len(token) * _MIN_PREFIX_SHARE))]
        for position in range(bisect_left(self._vocabulary, prefix), len(self._vocabulary)):
            word = self._vocabulary[position]
            if not word.startswith(prefix):
                break
            share = _shared_prefix_length(word, token) / max(len(word), len(token))
            if word != token and share >= _MIN_PREFIX_SHARE:
                similar.append((word, share))
        return similar


def _shared_prefix_length(first: str, second: str) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length
