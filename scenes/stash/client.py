"""A synchronous client for the Stash GraphQL API.

It turns Python calls into the named operations of ``operations/*.graphql`` and returns the
data as plain dicts, exactly as Stash sends it (ids are strings). One client holds one HTTP
connection pool; use it from one thread at a time.
"""

import functools
import logging
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import orjson
from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXTransport
from gql.transport.httpx import httpx as gql_httpx  # the httpx flavour gql drives

from scenes.batching import batched
from settings_app.secrets import redact

from .documents import operations
from .errors import (
    StashAuthError,
    StashNotStash,
    StashQueryError,
    StashUnreachable,
    safe_url,
)

logger = logging.getLogger("stashhog.stash")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BULK_MODES = ("ADD", "REMOVE", "SET")
# The single values ``bulkSceneUpdate`` sets on many scenes; ``sceneUpdate`` also takes the
# whole list of stash ids (Stash has no bulk edit of them).
BULK_SET_FIELDS = frozenset({"studio_id", "details", "title", "code", "date", "rating100",
                             "organized"})
SCENE_UPDATE_FIELDS = BULK_SET_FIELDS | {"stash_ids"}


@dataclass(frozen=True)
class ScenePage:
    scenes: list[dict[str, Any]]
    total: int | None  # the filtered count; only the first page of a scan carries it


def _since_filter(updated_since: str | None) -> dict[str, Any] | None:
    if updated_since is None:
        return None
    return {"updated_at": {"value": updated_since, "modifier": "GREATER_THAN"}}


def _named(items: list[dict[str, Any]], name: str, alias_key: str) -> list[dict[str, Any]]:
    """Keep the items whose name or an alias equals ``name`` ignoring case.

    Stash's EQUALS is SQL LIKE: ``_`` and ``%`` match anything, so its answer is a superset.
    """
    wanted = name.casefold()
    return [
        item
        for item in items
        if item["name"].casefold() == wanted
        or any(alias.casefold() == wanted for alias in item.get(alias_key) or ())
    ]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default certificate verification, built once per process: reading the CA
    bundle took longer than a no-op sync's requests, and every job opens new clients."""
    context: ssl.SSLContext = gql_httpx.create_ssl_context()
    return context


class StashClient:
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ):
        base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        base = base.removesuffix("/graphql")
        self.base_url = safe_url(base)
        self._api_key = api_key or None
        self._retries = retries
        self._backoff = backoff
        # Real Stash answers 401 to any non-empty wrong key, so no header without a key.
        headers = {"ApiKey": self._api_key} if self._api_key else {}
        # orjson: a full sync decodes the whole library, and json.loads was half its pull.
        transport = HTTPXTransport(url=f"{base}/graphql", headers=headers, timeout=timeout,
                                   verify=_tls_context(), json_deserialize=orjson.loads)
        self._gql = Client(transport=transport, fetch_schema_from_transport=False)
        self._session: SyncClientSession | None = None
        self.requests_sent = 0  # HTTP requests made, retries included: for job results

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            self._gql.close_sync()
            self._session = None

    # -- server ---------------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        data = self._execute("ServerInfo")
        return {"version": data["version"], "system_status": data["systemStatus"]}

    # -- scenes ---------------------------------------------------------------------------

    def iter_scene_pages(
        self, *, updated_since: str | None = None, per_page: int = 500, after_id: int = 0
    ) -> Iterator[ScenePage]:
        """Every scene with ``id > after_id`` (and ``updated_at > updated_since``), by id.

        Keyset paging: each page asks for ids above the last one seen, so scenes edited or
        deleted during the scan never shift a page boundary.
        """
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        last_id = after_id
        first = True
        while True:
            scene_filter = _since_filter(updated_since) or {}
            scene_filter["id"] = {"value": last_id, "modifier": "GREATER_THAN"}
            result = self._execute(
                "ScenePage", filter=scene_filter, perPage=per_page, withCount=first
            )["findScenes"]
            scenes = result["scenes"]
            yield ScenePage(scenes=scenes, total=result.get("count"))
            if len(scenes) < per_page:
                return
            last_id = int(scenes[-1]["id"])
            first = False

    def scene_ids(self) -> tuple[list[str], int]:
        """Every scene id Stash has, and the count it gave with them."""
        result = self._execute("SceneIds")["findScenes"]
        return [scene["id"] for scene in result["scenes"]], result["count"]

    def get_scene(self, scene_id: str | int) -> dict[str, Any] | None:
        scene: dict[str, Any] | None = self._execute("FindScene", id=str(scene_id))["findScene"]
        return scene

    def get_scenes(self, ids: Iterable[str | int]) -> dict[str, dict[str, Any] | None]:
        """Scenes by id; a scene missing from Stash maps to None."""
        wanted = list(dict.fromkeys(str(scene_id) for scene_id in ids))
        found: dict[str, dict[str, Any] | None] = {}
        for chunk in batched(wanted):
            try:
                scenes = self._execute("FindScenesByIds", ids=chunk)["findScenes"]["scenes"]
            except StashQueryError:
                # Stash fails the whole batch when one id is gone; ask one by one to learn which.
                found.update((scene_id, self.get_scene(scene_id)) for scene_id in chunk)
            else:
                found.update((scene["id"], scene) for scene in scenes)
        return {scene_id: found.get(scene_id) for scene_id in wanted}

    def bulk_update_scenes(
        self,
        scene_ids: Iterable[str | int],
        *,
        tag_ids: Iterable[str | int] | None = None,
        tag_mode: str = "ADD",
        performer_ids: Iterable[str | int] | None = None,
        performer_mode: str = "ADD",
        urls: Iterable[str] | None = None,
        url_mode: str = "ADD",
    ) -> list[str]:
        """Add, remove or set tags/performers/URLs on many scenes; returns the updated ids.

        Stash applies each request all-or-nothing; ids are sent in batches of SCENE_BATCH,
        so an error in a later chunk leaves earlier chunks applied.
        """
        for mode in (tag_mode, performer_mode, url_mode):
            if mode not in BULK_MODES:
                raise ValueError(f"unknown bulk mode {mode!r}; expected one of {BULK_MODES}")
        changes: dict[str, Any] = {}
        if tag_ids is not None:
            changes["tag_ids"] = {"ids": [str(i) for i in tag_ids], "mode": tag_mode}
        if performer_ids is not None:
            changes["performer_ids"] = {
                "ids": [str(i) for i in performer_ids],
                "mode": performer_mode,
            }
        if urls is not None:
            changes["urls"] = {"values": list(urls), "mode": url_mode}
        updated: list[str] = []
        for chunk in batched([str(i) for i in scene_ids]):
            result = self._execute("BulkSceneUpdate", input={"ids": chunk, **changes})
            updated.extend(scene["id"] for scene in result["bulkSceneUpdate"] or ())
        return updated

    def update_scene(self, scene_id: str | int, **fields: Any) -> dict[str, Any]:
        """Set any of ``SCENE_UPDATE_FIELDS`` on one scene (None clears a value;
        ``stash_ids`` replaces the scene's whole list)."""
        unknown = set(fields) - SCENE_UPDATE_FIELDS
        if unknown:
            raise TypeError(f"update_scene does not set {sorted(unknown)}")
        data = self._execute("SceneUpdate", input={"id": str(scene_id), **fields})
        scene: dict[str, Any] = data["sceneUpdate"]
        return scene

    def bulk_set_fields(self, scene_ids: Iterable[str | int], **fields: Any) -> list[str]:
        """Set any of ``BULK_SET_FIELDS`` (None clears a value) on many scenes at once;
        returns the updated ids. All-or-nothing per request, in batches of SCENE_BATCH."""
        unknown = set(fields) - BULK_SET_FIELDS
        if unknown:
            raise TypeError(f"bulk_set_fields does not set {sorted(unknown)}")
        updated: list[str] = []
        for chunk in batched([str(i) for i in scene_ids]):
            result = self._execute("BulkSceneUpdate", input={"ids": chunk, **fields})
            updated.extend(scene["id"] for scene in result["bulkSceneUpdate"] or ())
        return updated

    # -- tags, performers, studios --------------------------------------------------------

    def all_tags(self, updated_since: str | None = None) -> list[dict[str, Any]]:
        data = self._execute("AllTags", filter=_since_filter(updated_since))
        tags: list[dict[str, Any]] = data["findTags"]["tags"]
        return tags

    def all_performers(self, updated_since: str | None = None) -> list[dict[str, Any]]:
        data = self._execute("AllPerformers", filter=_since_filter(updated_since))
        performers: list[dict[str, Any]] = data["findPerformers"]["performers"]
        return performers

    def all_studios(self, updated_since: str | None = None) -> list[dict[str, Any]]:
        data = self._execute("AllStudios", filter=_since_filter(updated_since))
        studios: list[dict[str, Any]] = data["findStudios"]["studios"]
        return studios

    def find_tags_by_name(self, name: str) -> list[dict[str, Any]]:
        tags = self._execute("FindTagsByName", name=name)["findTags"]["tags"]
        return _named(tags, name, "aliases")

    def find_performers_by_name(self, name: str) -> list[dict[str, Any]]:
        data = self._execute("FindPerformersByName", name=name)
        return _named(data["findPerformers"]["performers"], name, "alias_list")

    def find_studios_by_name(self, name: str) -> list[dict[str, Any]]:
        studios = self._execute("FindStudiosByName", name=name)["findStudios"]["studios"]
        return _named(studios, name, "aliases")

    # ``stash_ids``: ``[{"endpoint", "stash_id"}]``, the entity's ids on stash-boxes.

    def create_tag(self, name: str, stash_ids: list[dict[str, str]] | None = None
                   ) -> dict[str, Any]:
        data = self._execute("TagCreate", name=name, stashIds=stash_ids)
        created: dict[str, Any] = data["tagCreate"]
        return created

    def create_performer(self, name: str, stash_ids: list[dict[str, str]] | None = None
                         ) -> dict[str, Any]:
        data = self._execute("PerformerCreate", name=name, stashIds=stash_ids)
        created: dict[str, Any] = data["performerCreate"]
        return created

    def create_studio(self, name: str, stash_ids: list[dict[str, str]] | None = None
                      ) -> dict[str, Any]:
        data = self._execute("StudioCreate", name=name, stashIds=stash_ids)
        created: dict[str, Any] = data["studioCreate"]
        return created

    # -- stash-box identification (Stash scrapes the box) ------------------------------

    def stash_boxes(self) -> list[dict[str, Any]]:
        """The stash-boxes Stash is configured for: ``endpoint``, ``name`` and
        ``max_requests_per_minute`` (never their keys)."""
        boxes: list[dict[str, Any]] = self._execute("StashBoxes")["configuration"]["general"][
            "stashBoxes"]
        return boxes

    def scrape_scenes(self, endpoint: str, scene_ids: list[str]) -> list[list[dict[str, Any]]]:
        """What the box at ``endpoint`` has for each scene's fingerprints: one list of
        scraped scenes per id, in order (empty: no match; several: ambiguous)."""
        data = self._execute("ScrapeScenes", endpoint=endpoint, sceneIds=scene_ids)
        matches: list[list[dict[str, Any]]] = data["scrapeMultiScenes"]
        return matches

    # -- transport ------------------------------------------------------------------------

    def _execute(self, operation: str, **variables: Any) -> dict[str, Any]:
        """Run one named operation, retrying connection failures and 5xx answers.

        Mutations are retried too: the bulk modes and sceneUpdate are idempotent, and a create
        whose answer was lost comes back as an "already exists" StashQueryError.
        """
        request = GraphQLRequest(
            operations()[operation], variable_values=variables or None, operation_name=operation
        )
        attempt = 0
        while True:
            started = time.monotonic()
            self.requests_sent += 1
            try:
                data = self._connected().execute(request)
            except TransportQueryError as exc:
                raise self._query_error(operation, exc) from exc
            except TransportServerError as exc:
                if exc.code in (401, 403):
                    raise self._auth_error() from exc
                if exc.code not in RETRY_STATUSES:
                    raise self._not_stash(f"HTTP {exc.code}") from exc
                failure = f"HTTP {exc.code}"
            except TransportProtocolError as exc:
                raise self._not_stash("no GraphQL answer") from exc
            except TransportConnectionFailed as exc:
                failure = f"connection failed ({type(exc.__cause__).__name__})"
            else:
                logger.debug(
                    "stash %s took %.1f ms", operation, (time.monotonic() - started) * 1000
                )
                return data
            if attempt == self._retries:
                raise StashUnreachable(
                    f"Could not reach Stash at {self.base_url}: {failure} "
                    f"after {attempt + 1} attempts"
                )
            delay = self._backoff * 2**attempt
            attempt += 1
            logger.warning(
                "stash %s failed: %s; retry %d/%d in %.1f s",
                operation, failure, attempt, self._retries, delay,
            )
            time.sleep(delay)

    def _connected(self) -> SyncClientSession:
        if self._session is None:
            self._session = self._gql.connect_sync()
        return self._session

    def _query_error(self, operation: str, exc: TransportQueryError) -> StashQueryError:
        messages = "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error)
            for error in exc.errors or [str(exc)]
        )
        messages = redact(messages, (self._api_key,))
        return StashQueryError(f"Stash rejected {operation}: {messages}")

    def _auth_error(self) -> StashAuthError:
        if self._api_key:
            return StashAuthError(f"Stash refused the API key ({self.base_url})")
        return StashAuthError(f"Stash at {self.base_url} requires an API key")

    def _not_stash(self, reason: str) -> StashNotStash:
        return StashNotStash(
            f"{self.base_url} answered, but not as a Stash GraphQL endpoint ({reason})"
        )
