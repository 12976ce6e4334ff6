"""The ``stashbox`` source: scenes identified by their files' fingerprints on a stash-box
(StashDB, ThePornDB, FansDB ...), through Stash.

StashHog never talks to a stash-box: Stash does, with the endpoints and keys configured in
it (``scrapeMultiScenes``). This source reads the endpoints (never their keys), asks in
batches of ``SCRAPE_BATCH`` scenes, paced to the endpoint's ``max_requests_per_minute`` across
all of StashHog's processes (Stash makes callers wait rather than refusing them: pacing keeps
each request short), and only for
scenes not linked to that endpoint yet unless ``reidentify`` is set.

- One match: its title, date, code, details, URLs, studio, performers and tags are
  proposed, and the scene's stash id for the endpoint; entities as Stash matched them
  (``stored_id``), else by
  their exact name or alias in the library, else as new entities (kept only with
  create-missing; apply creates them linked to the box).
- Several matches: nothing is proposed for the scene (as Identify's "skip multiple
  matches"); the plan notes how many and which scenes.
- No match: counted in the plan's metadata.
"""

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from analysis.budget import SharedBudget
from analysis.fields import (
    CODE,
    DATE,
    DETAILS,
    PERFORMERS_FIELD,
    STASH_IDS,
    STUDIO,
    TAGS_FIELD,
    TITLE,
    URLS,
    SceneField,
)
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import ChangeSource
from analysis.options import AnalysisOptions
from analysis.proposals import Finding
from analysis.sources import ChunkOutcome, ProposalSource
from scenes.batching import batched
from scenes.stash import StashClient
from scenes.sync import client_from_settings
from stashhog.api.exceptions import InvalidInput

SCRAPE_BATCH = 40  # scenes per scrapeMultiScenes: what Stash sends a box in one request
CHUNK = 200  # scenes per analysis chunk: five requests between progress updates
# Stash's own default for a box configured without a limit.
DEFAULT_REQUESTS_PER_MINUTE = 240
# A fingerprint match is the strongest evidence there is, short of a person's review.
MATCH_CONFIDENCE = 0.95
NAMED_CONFIDENCE = 0.9  # an entity Stash did not match, found here by its exact name or alias
NEW_CONFIDENCE = 0.9  # an entity the library lacks (proposed with create-missing)
NOTE_SCENE_IDS = 50  # scene ids a plan's description lists; the metadata keeps them all

# ScrapedScene key -> the scene field it fills with a plain value, or items of a list.
SCRAPED_VALUES: dict[str, SceneField] = {"title": TITLE, "date": DATE, "code": CODE,
                                         "details": DETAILS}
SCRAPED_LISTS: dict[str, SceneField] = {"urls": URLS}


class Pacer:
    """At most ``per_minute`` calls a minute to one endpoint, from every process together
    (two analyses, or the chunks of one on several workers): each call claims a slot of
    ``60 / per_minute`` seconds in the shared cache (Redis), waiting for a free one."""

    def __init__(self, endpoint: str, per_minute: int, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.key = f"stashbox-pace:{hashlib.sha256(endpoint.encode()).hexdigest()[:16]}"
        self.interval = 60 / per_minute
        self.clock = clock
        self.sleep = sleep

    def wait(self, check_cancelled: Callable[[], None]) -> None:
        while True:
            now = self.clock()
            slot = int(now // self.interval)
            if cache.add(f"{self.key}:{slot}", 1, timeout=math.ceil(self.interval) + 1):
                return
            check_cancelled()  # a slow box (a few calls a minute) stays cancellable
            self.sleep(min((slot + 1) * self.interval - now, 1.0))


def _box(client: StashClient, wanted: str | None) -> dict[str, Any]:
    boxes = client.stash_boxes()
    if not boxes:
        raise InvalidInput("Stash has no stash-box configured (Stash: Settings > Metadata "
                           "Providers > Stash-box Endpoints)")
    for box in boxes:
        if wanted is None or box["endpoint"] == wanted:
            return box
    configured = ", ".join(box["endpoint"] for box in boxes)
    raise InvalidInput(f"Stash has no stash-box {wanted}; it has {configured}")


class StashBoxRun:
    chunk_size = CHUNK

    def __init__(self, client: StashClient, box: dict[str, Any], indexes: LibraryIndexes,
                 options: AnalysisOptions) -> None:
        self.client = client
        self.endpoint: str = box["endpoint"]
        self.name: str = box["name"]
        self.per_minute = box.get("max_requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE
        self.pacer = Pacer(self.endpoint, self.per_minute)
        self.indexes = indexes
        self.options = options
        self.requests = 0
        self.asked = 0
        self.matched = 0
        self.no_match = 0
        self.already_linked = 0
        self.several: list[str] = []  # scenes several remote scenes matched

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome:
        findings: dict[str, list[Finding]] = {scene.id: [] for scene in scenes}
        wanted = [scene for scene in scenes if self.options.reidentify or not self._linked(scene)]
        self.already_linked += len(scenes) - len(wanted)
        for batch in batched(wanted, SCRAPE_BATCH):
            check_cancelled()
            self.pacer.wait(check_cancelled)
            self.requests += 1
            self.asked += len(batch)
            answers = self.client.scrape_scenes(self.endpoint, [scene.id for scene in batch])
            for scene, matches in zip(batch, answers, strict=True):
                if not matches:
                    self.no_match += 1
                elif len(matches) > 1:
                    self.several.append(scene.id)
                else:
                    self.matched += 1
                    findings[scene.id] = self.findings(matches[0])
        return ChunkOutcome(findings=findings)

    def _linked(self, scene: SceneSnapshot) -> bool:
        return any(item["endpoint"] == self.endpoint for item in scene.values[STASH_IDS.name])

    # -- one match -----------------------------------------------------------------------

    def findings(self, match: dict[str, Any]) -> list[Finding]:
        reason = f"matched by fingerprint on {self.name} (scene {match['remote_site_id']})"
        values = [(field, self._checked(field, match.get(key)))
                  for key, field in SCRAPED_VALUES.items()]
        values += [(field, self._checked(field, item))
                   for key, field in SCRAPED_LISTS.items() for item in match.get(key) or ()]
        values.append((STASH_IDS, self._checked(
            STASH_IDS, {"endpoint": self.endpoint, "stash_id": match.get("remote_site_id")})))
        found = [Finding(field.name, None, "", MATCH_CONFIDENCE, reason, ChangeSource.STASHBOX,
                         value=value)
                 for field, value in values if value is not None]
        entities = [(STUDIO, [match["studio"]] if match.get("studio") else []),
                    (PERFORMERS_FIELD, match.get("performers") or []),
                    (TAGS_FIELD, match.get("tags") or [])]
        for field, scraped in entities:
            for item in scraped:
                finding = self._entity(field, item, reason)
                if finding is not None:
                    found.append(finding)
        return found

    @staticmethod
    def _checked(field: SceneField, value: Any) -> Any:
        """The value (a list field: one item) as the field takes it; None for an empty one
        or one it refuses (a date that is not one, a URL that is not http)."""
        if value in (None, "", []):
            return None
        assert field.check is not None  # plain fields have one
        try:
            return field.check(value)
        except ValueError:
            return None

    def _entity(self, field: SceneField, item: dict[str, Any], reason: str) -> Finding | None:
        name = " ".join((item.get("name") or "").split())
        if not name:
            return None
        kind = field.entity_kind
        index = self.indexes[kind]
        if item.get("stored_id"):
            stored = str(item["stored_id"])
            local = index.get(stored).name if index.has(stored) else name  # the library's name
            return Finding(field.name, stored, local, MATCH_CONFIDENCE,
                           f"{reason}; matched in Stash", ChangeSource.STASHBOX)
        ids = index.named(name)
        if len(ids) == 1:
            entity = index.get(ids[0])
            return Finding(field.name, entity.id, entity.name, NAMED_CONFIDENCE,
                           f"{reason}; found by name", ChangeSource.STASHBOX)
        if ids:
            return None  # two of that name: a person must choose
        remote_id = item.get("remote_site_id")
        return Finding(field.name, None, name, NEW_CONFIDENCE,
                       f"{reason}; new {kind.singular}", ChangeSource.STASHBOX,
                       stash_id=(self.endpoint, remote_id) if remote_id else None)

    # -- the plan's record ---------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "name": self.name,
            "max_requests_per_minute": self.per_minute, "requests": self.requests,
            "scenes_asked": self.asked, "matched": self.matched, "no_match": self.no_match,
            "already_linked": self.already_linked,
            "multiple_matches": {"count": len(self.several), "scene_ids": self.several},
        }

    def notes(self) -> list[str]:
        if not self.several:
            return []
        listed = ", ".join(self.several[:NOTE_SCENE_IDS])
        more = len(self.several) - NOTE_SCENE_IDS
        return [f"{len(self.several)} scene(s) matched several {self.name} scenes and got no "
                f"proposal from it: {listed}" + (f" and {more} more" if more > 0 else "")]

    def close(self) -> None:
        self.client.close()


def open_stashbox(indexes: LibraryIndexes, options: AnalysisOptions,
                  _budget: SharedBudget) -> StashBoxRun:
    client = client_from_settings()
    try:
        box = _box(client, options.stashbox_endpoint)
    except BaseException:
        client.close()
        raise
    return StashBoxRun(client, box, indexes, options)


STASHBOX_SOURCE = ProposalSource(
    name=ChangeSource.STASHBOX, open=open_stashbox, setting="analysis_use_stashbox",
    option_help="Identify scenes by their fingerprints on a stash-box Stash is configured for "
    "(stashbox_endpoint; reidentify). Default: analysis_use_stashbox.",
)
