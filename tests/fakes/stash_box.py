"""The stash-box side of the fake Stash: boxes Stash is configured for, their scenes by
fingerprint, and ``scrapeMultiScenes`` as Stash answers it.

A ``FakeStashBox`` maps file fingerprints (the fake's ``oshash``) to remote scenes. Scraping a
scene sends its files' fingerprints and answers every remote scene they match: none, one, or
several (scenes sharing a fingerprint). Each scraped studio, performer and tag carries
``stored_id`` as Stash fills it: the local entity linked to that box's id (``stash_ids``),
else the one local entity of that name, else the one with that alias; null otherwise
(unknown, or two local entities share the name).

``add_stash_box`` gives a generated library a StashDB-like box over it, and records in
``library.truth[scene_id]["stashbox"]`` the remote scene that really is the scene (None when
the box does not know it), with its fields as local values, so proposals can be scored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.stash_library import FakeLibrary, FakeScene

STASHDB = "https://stashdb.org/graphql"
# Stash's default when a box is configured without a limit.
DEFAULT_REQUESTS_PER_MINUTE = 240


@dataclass(slots=True)
class FakeBoxEntity:
    remote_id: str
    name: str
    disambiguation: str | None = None
    aliases: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FakeBoxScene:
    remote_id: str
    title: str | None = None
    code: str | None = None
    details: str | None = None
    date: str | None = None
    urls: list[str] = field(default_factory=list)
    studio: FakeBoxEntity | None = None
    performers: list[FakeBoxEntity] = field(default_factory=list)
    tags: list[FakeBoxEntity] = field(default_factory=list)


@dataclass
class FakeStashBox:
    endpoint: str
    name: str
    max_requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    by_fingerprint: dict[str, list[FakeBoxScene]] = field(default_factory=dict)
    scrapes: int = 0  # scrapeMultiScenes calls that reached this box

    def add_scene(self, fingerprint: str, scene: FakeBoxScene) -> FakeBoxScene:
        self.by_fingerprint.setdefault(fingerprint, []).append(scene)
        return scene


# -- scrapeMultiScenes ------------------------------------------------------------------------


def scrape_multi_scenes(library: FakeLibrary, endpoint: str | None,
                        scene_ids: list[str]) -> list[list[dict]]:
    """One list of scraped scenes per scene id, in input order."""
    from tests.fakes.stash_library import FakeStashError

    box = library.stash_boxes.get(endpoint or "")
    if box is None:
        raise FakeStashError(f"stash-box endpoint {endpoint} not found")
    box.scrapes += 1
    scenes = library.scenes_by_ids(scene_ids)
    return [[_scraped_scene(library, box, remote) for remote in _matches(library, box, scene)]
            for scene in scenes]


def _matches(library: FakeLibrary, box: FakeStashBox, scene: FakeScene) -> list[FakeBoxScene]:
    found: dict[str, FakeBoxScene] = {}
    for file_id in scene.file_ids:
        for remote in box.by_fingerprint.get(library.files[file_id].oshash, ()):
            found.setdefault(remote.remote_id, remote)
    return list(found.values())


def _stored_id(table: dict, endpoint: str, remote: FakeBoxEntity) -> str | None:
    """Stash's match: the box's id first, then the one entity of that name, then of that
    alias; None when there is none or several."""
    linked = [e for e in table.values()
              if any(s["endpoint"] == endpoint and s["stash_id"] == remote.remote_id
                     for s in e.stash_ids)]
    if linked:
        return str(linked[0].id)
    folded = remote.name.casefold()
    for names_of in (lambda e: [e.name], lambda e: e.aliases):
        found = [e for e in table.values() if folded in (n.casefold() for n in names_of(e))]
        if found:
            return str(found[0].id) if len(found) == 1 else None
    return None


def _scraped_scene(library: FakeLibrary, box: FakeStashBox, remote: FakeBoxScene) -> dict:
    endpoint = box.endpoint
    studio = remote.studio
    return {
        "title": remote.title, "code": remote.code, "details": remote.details,
        "date": remote.date, "urls": list(remote.urls), "remote_site_id": remote.remote_id,
        "director": None,
        "studio": None if studio is None else {
            "stored_id": _stored_id(library.studios, endpoint, studio), "name": studio.name,
            "urls": list(studio.urls), "remote_site_id": studio.remote_id,
            "aliases": ", ".join(studio.aliases) or None,
        },
        "performers": [{
            "stored_id": _stored_id(library.performers, endpoint, p), "name": p.name,
            "disambiguation": p.disambiguation, "aliases": ", ".join(p.aliases) or None,
            "urls": list(p.urls), "remote_site_id": p.remote_id,
        } for p in remote.performers],
        "tags": [{"stored_id": _stored_id(library.tags, endpoint, t), "name": t.name,
                  "remote_site_id": t.remote_id} for t in remote.tags],
    }


# -- a generated box over a generated library ---------------------------------------------------

# Of the scenes, by one draw each: the box has the scene under its fingerprint (KNOWN), under
# it another scene only (a wrong single match, as a phash collision gives), both (several
# matches); above SEVERAL, the box does not know the scene.
KNOWN, WRONG, SEVERAL = 0.55, 0.59, 0.66
LINKED = 0.2  # of the KNOWN scenes: already linked to the box in Stash
NEW_PERFORMER = 0.1  # remote scenes with a performer Stash does not have
NEW_TAG = 0.05  # remote scenes with a tag Stash does not have
BOX_ALIAS = 0.15  # performers with an alias whom the box knows by the alias


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def add_stash_box(library: FakeLibrary, seed: int | str = 0, *, endpoint: str = STASHDB,
                  name: str = "StashDB",
                  requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE) -> FakeStashBox:
    """A box knowing most of the library's scenes (see the module docstring); the library's
    own random state is not touched, so adding it changes nothing else of a seed's library."""
    rng = random.Random(f"stash-box:{seed}:{endpoint}")
    box = FakeStashBox(endpoint, name, requests_per_minute)
    library.stash_boxes[endpoint] = box
    studios = {s.id: FakeBoxEntity(_uuid(rng), s.name) for s in library.studios.values()}
    for studio_id in rng.sample(sorted(studios), len(studios) // 3):
        library.studios[studio_id].stash_ids.append(
            {"endpoint": endpoint, "stash_id": studios[studio_id].remote_id,
             "updated_at": library.clock.stamp()})
    performers = {}
    for p in library.performers.values():
        known_as = p.alias_list[0] if p.alias_list and rng.random() < BOX_ALIAS else p.name
        performers[p.id] = FakeBoxEntity(_uuid(rng), known_as, p.disambiguation)
    tags = {t.id: FakeBoxEntity(_uuid(rng), t.name) for t in library.tags.values()}
    newcomers = [FakeBoxEntity(_uuid(rng), f"Nova {chr(65 + i % 26)}{i // 26 or ''} Starling")
                 for i in range(max(5, len(library.scenes) // 200))]
    new_tags = [FakeBoxEntity(_uuid(rng), f"Box Tag {i + 1}") for i in range(10)]

    # id(remote entity) -> local id, per kind: what the truth names
    local_ids = [{id(e): local_id for local_id, e in table.items()}
                 for table in (studios, performers, tags)]
    remotes: list[FakeBoxScene] = []
    for scene in library.scenes.values():
        truth = library.truth.setdefault(str(scene.id), {})
        draw = rng.random()
        if draw >= SEVERAL or not scene.file_ids:
            truth["stashbox"] = None
            continue
        remote = _remote_scene(rng, library, scene, truth, studios, performers, tags,
                               newcomers, new_tags)
        fingerprint = library.files[scene.file_ids[0]].oshash
        others = [r for r in remotes[-50:] if r is not remote]
        if draw < KNOWN or not others:
            box.add_scene(fingerprint, remote)
            if rng.random() < LINKED:
                scene.stash_ids.append({"endpoint": endpoint, "stash_id": remote.remote_id,
                                        "updated_at": scene.updated_at})
        elif draw < WRONG:
            box.add_scene(fingerprint, rng.choice(others))
        else:
            box.add_scene(fingerprint, remote)
            box.add_scene(fingerprint, rng.choice(others))
        remotes.append(remote)
        truth["stashbox"] = _truth_of(remote, *local_ids)
    return box


def _remote_scene(rng, library, scene, truth, studios, performers, tags, newcomers,
                  new_tags) -> FakeBoxScene:
    number = scene.id
    title = scene.title or f"Untitled Session {number}"
    studio_id = int(truth["studio_id"]) if truth.get("studio_id") else scene.studio_id
    cast = [performers[int(p)] for p in truth.get("performer_ids", [])]
    if rng.random() < NEW_PERFORMER:
        cast.append(rng.choice(newcomers))
    scene_tags = [tags[t] for t in rng.sample(sorted(tags), min(len(tags), rng.randint(1, 3)))]
    if rng.random() < NEW_TAG:
        scene_tags.append(rng.choice(new_tags))
    remote_id = _uuid(rng)
    return FakeBoxScene(
        remote_id=remote_id, title=title,
        code=scene.code or f"SB-{number:05d}",
        details=f"{title}, as the studio released it.",
        date=scene.date or f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-"
                           f"{rng.randint(1, 28):02d}",
        urls=[f"https://studio.example/scenes/{remote_id}"],
        studio=studios.get(studio_id), performers=cast, tags=scene_tags,
    )


def _truth_of(remote: FakeBoxScene, studios, performers, tags) -> dict:
    """The remote scene's fields as StashHog should propose them: local ids for entities
    Stash has, ``new:<name>`` for the others."""

    def local(table: dict, entity: FakeBoxEntity) -> str:
        local_id = table.get(id(entity))
        return str(local_id) if local_id is not None else f"new:{entity.name}"

    return {
        "remote_id": remote.remote_id, "title": remote.title, "code": remote.code,
        "details": remote.details, "date": remote.date, "urls": list(remote.urls),
        "studio": local(studios, remote.studio) if remote.studio else None,
        "performers": [local(performers, p) for p in remote.performers],
        "tags": [local(tags, t) for t in remote.tags],
    }
