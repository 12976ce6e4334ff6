"""A fake Stash: real GraphQL over HTTP on 127.0.0.1, so tests exercise the real ``gql`` client.

It serves the schema subset in ``stash_schema.graphql`` (graphql-core) over a
``ThreadingHTTPServer`` and behaves like Stash where clients can get it wrong:

- ``ApiKey`` auth: any non-empty wrong key is 401 with an empty body, even when the server has
  no key; a server with a key answers 401 without one. ``GET /healthz`` needs no auth.
- Parse/validation/variable errors are HTTP 422 with ``errors``; resolver errors are HTTP 200
  with ``errors`` and ``data`` null at that field.
- ``findScenes`` without ``sort`` returns scenes in a shuffled order; ``count`` is computed
  only when selected (``server.scene_counts`` counts how often); ``findScenes(ids:)`` fails
  when one id is missing; ``bulkSceneUpdate`` is all-or-nothing.
- ``paths { stream }`` embeds ``?apikey=<server key>``, so tests can prove it never leaks.
- ``configuration { general { stashBoxes } }`` lists the library's stash-boxes and
  ``scrapeMultiScenes`` identifies scenes by fingerprint against them (``stash_box``); an
  unknown endpoint is a resolver error, as in Stash.

Tests inspect ``server.request_log`` (operation name of every request),
``server.operation_counts``, ``server.mutation_log`` ((name, variables) of each executed
mutation), and inject faults with ``fail_next``, ``fail_operation``, ``fail_after`` and
``latency``. The data lives in ``server.library`` (see ``stash_library``).

Standalone: ``python -m tests.fakes.stash --scenes N --port P [--api-key K] [--seed S]``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pytest
from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    parse,
    validate,
)

from tests.fakes.stash_box import scrape_multi_scenes
from tests.fakes.stash_library import (
    FakeLibrary,
    FakeStashError,
    generate_library,
)

SCHEMA = build_schema((Path(__file__).with_name("stash_schema.graphql")).read_text())
VERSION = {"version": "v0.30.1", "hash": "b23b0267", "build_time": "2025-12-18 10:00:00"}
SYSTEM_STATUS = {"status": "OK", "databaseSchema": 75, "appSchema": 75}
SHUTDOWN_POLL_SECONDS = 0.05
DEFAULT_TEST_SCENES = 40


@dataclass
class _Fault:
    status: int | None = None  # an HTTP status with no GraphQL body...
    error_message: str | None = None  # ...or a GraphQL error (HTTP 200)


@dataclass
class _Context:
    library: FakeLibrary
    server: FakeStashServer


# -- resolvers ----------------------------------------------------------------------------


def _resolver(type_name: str, field_name: str):
    def register(function):
        SCHEMA.get_type(type_name).fields[field_name].resolve = function
        return function

    return register


@_resolver("Query", "findScenes")
def _find_scenes(_root, info, scene_filter=None, ids=None, filter=None):
    context: _Context = info.context
    if ids is not None:  # Stash ignores scene_filter and filter when ids are given
        scenes = context.library.scenes_by_ids(ids)
        return {"scenes": scenes, "count": lambda _info: len(scenes)}
    scenes, count = context.library.query_scenes(scene_filter, filter)

    def counted(_info) -> int:
        context.server.scene_counts += 1
        return count()

    return {"scenes": scenes, "count": counted}


@_resolver("Query", "findScene")
def _find_scene(_root, info, id=None):
    try:
        return info.context.library.scenes_by_ids([id])[0]
    except FakeStashError:
        return None


def _entity_finder(kind: str, plural: str, filter_arg: str):
    @_resolver("Query", f"find{plural.capitalize()}")
    def find(_root, info, filter=None, ids=None, **kwargs):
        library: FakeLibrary = info.context.library
        if ids is not None:
            found = library.entities_by_ids(kind, ids)
            return {plural: found, "count": lambda _info: len(found)}
        found, count = library.query_entities(kind, kwargs.get(filter_arg), filter)
        return {plural: found, "count": lambda _info: count()}


_entity_finder("tag", "tags", "tag_filter")
_entity_finder("performer", "performers", "performer_filter")
_entity_finder("studio", "studios", "studio_filter")
_resolver("Query", "version")(lambda _root, _info: VERSION)


@_resolver("Query", "configuration")
def _configuration(_root, info):
    boxes = info.context.library.stash_boxes.values()
    return {"general": {"stashBoxes": [
        {"endpoint": box.endpoint, "name": box.name,
         "max_requests_per_minute": box.max_requests_per_minute} for box in boxes]}}


@_resolver("Query", "scrapeMultiScenes")
def _scrape_multi_scenes(_root, info, source, input):
    if source.get("stash_box_endpoint") is None:
        raise FakeStashError("the fake scrapes stash-boxes only (stash_box_endpoint)")
    return scrape_multi_scenes(info.context.library, source["stash_box_endpoint"],
                               input.get("scene_ids") or [])


_resolver("Query", "systemStatus")(lambda _root, _info: SYSTEM_STATUS)


@_resolver("Scene", "files")
def _scene_files(scene, info):
    return [info.context.library.files[file_id] for file_id in scene.file_ids]


@_resolver("Scene", "studio")
def _scene_studio(scene, info):
    return info.context.library.studios.get(scene.studio_id)


@_resolver("Scene", "performers")
def _scene_performers(scene, info):
    return [info.context.library.performers[i] for i in scene.performer_ids]


@_resolver("Scene", "tags")
def _scene_tags(scene, info):
    return [info.context.library.tags[i] for i in scene.tag_ids]


@_resolver("Scene", "paths")
def _scene_paths(scene, info):
    server: FakeStashServer = info.context.server
    query = f"?apikey={server.api_key}" if server.api_key else ""
    return {"stream": f"{server.url}/scene/{scene.id}/stream{query}"}


@_resolver("Mutation", "sceneUpdate")
def _scene_update(_root, info, input):
    fields = dict(input)
    return info.context.library.update_scene(fields.pop("id"), **fields)


@_resolver("Mutation", "bulkSceneUpdate")
def _bulk_scene_update(_root, info, input):
    fields = dict(input)
    return info.context.library.bulk_update_scenes(fields.pop("ids", None) or (), **fields)


@_resolver("Mutation", "tagCreate")
def _tag_create(_root, info, input):
    return info.context.library.add_tag(input["name"], input.get("aliases") or (),
                                        input.get("stash_ids") or ())


@_resolver("Mutation", "performerCreate")
def _performer_create(_root, info, input):
    return info.context.library.add_performer(
        input["name"], input.get("disambiguation"), input.get("alias_list") or (),
        input.get("stash_ids") or (),
    )


@_resolver("Mutation", "studioCreate")
def _studio_create(_root, info, input):
    return info.context.library.add_studio(input["name"], input.get("aliases") or (),
                                           input.get("stash_ids") or ())


# -- HTTP -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # Real servers set TCP_NODELAY; without it each answer waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    server: _HTTPServer

    def log_message(self, format, *args):  # quiet: tests read request_log instead
        pass

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"<html><body>404 page not found</body></html>", "text/html")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != "/graphql":
            self._send(404, b"<html><body>404 page not found</body></html>", "text/html")
            return
        status, payload = self.server.fake.handle(self.headers.get("ApiKey"), body)
        if payload is None:
            extra = {"WWW-Authenticate": "FormBased"} if status == 401 else {}
            self._send(status, b"", "text/plain", extra)
        else:
            self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStashServer


class FakeStashServer:
    def __init__(
        self, library: FakeLibrary | None = None, *, api_key: str | None = None, port: int = 0
    ):
        self.library = library if library is not None else generate_library(DEFAULT_TEST_SCENES)
        self.api_key = api_key
        self.latency = 0.0
        self.request_log: list[str | None] = []
        self.operation_counts: Counter[str | None] = Counter()
        self.mutation_log: list[tuple[str | None, dict]] = []
        self.scene_counts = 0  # how often findScenes.count was computed
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._state_lock = threading.Lock()
        self._next_faults: deque[_Fault] = deque()
        self._operation_faults: dict[str, deque[_Fault]] = {}
        self._fail_after: tuple[int, _Fault, int | None] | None = None
        self._documents: dict[str, object] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        self._httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.fake = self
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="fake-stash",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 502) -> None:
        """The next ``n`` GraphQL requests get ``status`` with no body."""
        with self._state_lock:
            self._next_faults.extend(_Fault(status=status) for _ in range(n))

    def fail_operation(
        self,
        name: str,
        times: int = 1,
        status: int | None = None,
        error_message: str | None = None,
    ) -> None:
        """The next ``times`` requests for operation ``name`` fail: with a GraphQL error when
        ``error_message`` is given, else with HTTP ``status`` (default 500)."""
        fault = _Fault(status=None if error_message else status or 500, error_message=error_message)
        with self._state_lock:
            self._operation_faults.setdefault(name, deque()).extend([fault] * times)

    def fail_after(
        self,
        n_requests: int,
        status: int | None = 502,
        error_message: str | None = None,
        times: int | None = None,
    ) -> None:
        """Let ``n_requests`` more requests through, then fail ``times`` of them (None: every
        request until ``clear_faults``), e.g. to interrupt a sync on page k."""
        fault = _Fault(status=None if error_message else status, error_message=error_message)
        with self._state_lock:
            self._fail_after = (n_requests, fault, times)

    def clear_faults(self) -> None:
        with self._state_lock:
            self._next_faults.clear()
            self._operation_faults.clear()
            self._fail_after = None

    def _take_fault(self, operation: str | None) -> _Fault | None:
        with self._state_lock:
            if self._next_faults:
                return self._next_faults.popleft()
            if self._fail_after is not None:
                remaining, fault, times = self._fail_after
                if remaining > 0:
                    self._fail_after = (remaining - 1, fault, times)
                else:
                    if times is not None:
                        self._fail_after = (0, fault, times - 1) if times > 1 else None
                    return fault
            queued = self._operation_faults.get(operation)
            if queued:
                return queued.popleft()
            return None

    # -- request handling ------------------------------------------------------------------

    def handle(self, api_key: str | None, body: bytes) -> tuple[int, dict | None]:
        """One POST /graphql: (HTTP status, JSON payload or None for an empty body)."""
        try:
            request = json.loads(body)
            query = request["query"]
            variables = request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": [{"message": "json body could not be decoded"}]}
        try:
            document = self._parse(query)
        except GraphQLError as error:
            self._log(request.get("operationName"), None, variables)
            return 422, {"errors": [error.formatted]}
        operation_name = request.get("operationName") or _single_operation_name(document)
        operation = _find_operation(document, operation_name)
        self._log(operation_name, operation, variables)

        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(operation_name)
        if fault is not None and fault.status is not None:
            return fault.status, None
        if api_key and api_key != self.api_key or self.api_key and not api_key:
            return 401, None
        if fault is not None:
            return 200, {"errors": [{"message": fault.error_message}], "data": None}

        with self.library.lock:
            result = execute(
                SCHEMA,
                document,
                context_value=_Context(self.library, self),
                variable_values=variables,
                operation_name=operation_name,
            )
        errors = [error.formatted for error in result.errors or ()]
        if errors and all(error.get("path") is None for error in errors):
            return 422, {"errors": errors}  # variables or operation selection, like gqlgen
        payload = {"data": result.data}
        if errors:
            payload["errors"] = errors
        return 200, payload

    def _parse(self, query: str):
        """Parse and validate, caching by text: clients send the same operations again."""
        document = self._documents.get(query)
        if document is None:
            document = parse(query)
            errors = validate(SCHEMA, document)
            if errors:
                raise errors[0]
            self._documents[query] = document
        return document

    def _log(self, name: str | None, operation, variables: dict) -> None:
        with self._state_lock:
            self.request_log.append(name)
            self.operation_counts[name] += 1
            if operation is not None and operation.operation == OperationType.MUTATION:
                self.mutation_log.append((name, variables))


def _single_operation_name(document) -> str | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1 and operations[0].name:
        return operations[0].name.value
    return None


def _find_operation(document, name: str | None):
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition
    return None


# -- pytest fixtures --------------------------------------------------------------------------


@pytest.fixture
def fake_stash_factory():
    """``make(library=None, *, scenes=40, seed=0, api_key=None)`` -> a running server."""
    servers: list[FakeStashServer] = []

    def make(
        library: FakeLibrary | None = None,
        *,
        scenes: int = DEFAULT_TEST_SCENES,
        seed: int = 0,
        api_key: str | None = None,
    ) -> FakeStashServer:
        if library is None:
            library = generate_library(scenes, seed=seed)
        server = FakeStashServer(library, api_key=api_key).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fake_stash(fake_stash_factory) -> FakeStashServer:
    """A running fake Stash with a small generated library and no API key."""
    return fake_stash_factory()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a generated fake Stash library.")
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    library = generate_library(args.scenes, seed=args.seed)
    with FakeStashServer(library, api_key=args.api_key, port=args.port) as server:
        print(f"fake Stash with {args.scenes} scenes at {server.url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
