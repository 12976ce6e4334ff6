"""An OpenAI-compatible HTTP server on loopback, so tests exercise the real ``openai`` package.

Speaks the parts of the REST API StashHog uses: ``GET /v1/models``, ``GET /v1/models/{id}`` and
``POST /v1/chat/completions`` (with ``response_format`` json_schema), plus OpenAI's error
bodies for a bad key, an unknown model and scripted failures (429/5xx).

Tests script it through ``server.responder`` (request JSON -> assistant content),
``server.queue_error(...)`` and ``server.latency``; ``server.requests`` holds every chat
request body received. Run standalone with ``python -m tests.fakes.openai --port P``.

StashHog's scene requests (several scenes in ``<scene_data>``, a shared ``<candidates>``
list, an answer ``{"scenes": [{"id", ...}]}``) are answered scene by scene from each scene's
own data: ``scene_responder(answer)`` builds a responder from a per-scene function, and
``content_answer`` is one that proposes the candidates the scene's path or title names.
``server.fail_item(scene_id, "drop" | "malform")`` spoils one scene's item of the next
answer that holds it.

Usage reports ``prompt_tokens_details.cached_tokens`` as OpenAI's prompt cache would: the
longest prefix shared with an earlier request, in steps of ``cache_block_tokens``, counted
only from ``cache_min_tokens`` on (OpenAI: 128 and 1024; local servers cache any prefix).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano")
DEFAULT_TEST_KEY = "sk-test-fake-openai-0123456789abcdef"
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
SHUTDOWN_POLL_SECONDS = 0.05  # how quickly stop() returns; the default 0.5 s slows every test
# OpenAI's prompt cache: hits from 1024 tokens of shared prefix on, in 128-token steps.
OPENAI_CACHE_MIN_TOKENS = 1024
OPENAI_CACHE_BLOCK_TOKENS = 128
CONTENT_CONFIDENCE = 0.9

Responder = Callable[[dict], dict | str]
# (one scene's data as sent, the request's shared candidates) -> that scene's answer fields
SceneAnswer = Callable[[dict, dict], dict]


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate (~4 characters per token) so prompt sizes compare."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _message_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def prompt_tokens_for(messages: list[dict]) -> int:
    return sum(
        TOKENS_PER_MESSAGE + estimate_tokens(_message_text(m.get("content"))) for m in messages
    )


def mask_key(key: str) -> str:
    """Mask a key the way OpenAI does in its 401 message: a few leading chars and the last 4."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}...{key[-4:]}"


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def minimal_instance(schema: dict, root: dict | None = None):
    """Smallest value valid against ``schema``: required keys only, empty strings and lists."""
    root = root if root is not None else schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        return minimal_instance(target, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return minimal_instance(schema[combinator][0], root)
    type_ = schema.get("type", "object")
    if isinstance(type_, list):
        type_ = "null" if "null" in type_ else type_[0]
    if type_ == "object":
        properties = schema.get("properties", {})
        return {
            name: minimal_instance(properties.get(name, {}), root)
            for name in schema.get("required", [])
        }
    if type_ == "array":
        item_schema = schema.get("items", {})
        return [minimal_instance(item_schema, root) for _ in range(schema.get("minItems", 0))]
    if type_ == "string":
        return "x" * schema.get("minLength", 0)
    if type_ in ("integer", "number"):
        return schema.get("minimum", 0)
    if type_ == "boolean":
        return False
    return None


def strict_schema_problem(schema: dict, path: str = "schema") -> str | None:
    """What OpenAI would reject in a strict schema: open objects or optional properties."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or (
        isinstance(schema.get("type"), list) and "object" in schema["type"]
    ):
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={path}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        missing = set(schema.get("properties", {})) - set(schema.get("required", []))
        if missing:
            return f"In context={path}, 'required' is missing keys {sorted(missing)}."
    children = []
    for key in ("properties", "$defs", "definitions"):
        children += [(f"{path}.{key}.{k}", v) for k, v in schema.get(key, {}).items()]
    if "items" in schema:
        children.append((f"{path}.items", schema["items"]))
    for key in ("anyOf", "oneOf", "allOf"):
        children += [(f"{path}.{key}[{i}]", v) for i, v in enumerate(schema.get(key, []))]
    for child_path, child in children:
        problem = strict_schema_problem(child, child_path)
        if problem:
            return problem
    return None


def _tagged_json(text: str, tag: str):
    """The JSON between ``<tag>`` and ``</tag>`` in ``text``, or None."""
    found = re.search(f"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return json.loads(found.group(1)) if found else None


def scene_batch(request: dict) -> tuple[list[dict], dict, dict] | None:
    """(scenes, shared candidates, item schema) of a StashHog scene request, else None."""
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
    item = (schema or {}).get("$defs", {}).get("scene")
    user = next((m for m in request.get("messages", []) if m.get("role") == "user"), {})
    scenes = _tagged_json(_message_text(user.get("content")), "scene_data")
    if item is None or not isinstance(scenes, list):
        return None
    candidates = _tagged_json(_message_text(user.get("content")), "candidates") or {}
    return scenes, candidates, {**item, "$defs": schema["$defs"]}


def scene_responder(answer: SceneAnswer) -> Responder:
    """A responder answering each scene of a batch with ``answer(scene, candidates)`` over
    an empty item, keeping the fields the schema has (other requests get
    ``default_responder``'s answer)."""

    def respond(request: dict) -> dict | str:
        batch = scene_batch(request)
        if batch is None:
            return _plain_answer(request)
        scenes, candidates, item_schema = batch
        empty = minimal_instance(item_schema)
        return {"scenes": [
            {**empty, **{key: value for key, value in answer(scene, candidates).items()
                         if key in empty}, "id": scene["id"]}
            for scene in scenes
        ]}

    return respond


def _plain_answer(request: dict) -> dict | str:
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return minimal_instance(response_format["json_schema"].get("schema", {}))
    if response_format.get("type") == "json_object":
        return {}
    return "OK"


# A schema-valid, empty-ish answer for json_schema requests (per scene for scene requests);
# plain text otherwise.
default_responder = scene_responder(lambda scene, candidates: {})


def _words(text: str) -> str:
    """Lower-case words without accents, separated by single spaces (padded)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return f" {' '.join(re.findall(r'[a-z0-9]+', plain))} "


def content_answer(scene: dict, candidates: dict) -> dict:
    """Like a careful model: for each asked field, the candidates whose name or an alias
    the scene's own path or title spells out, unless inside a longer one found ("Anna" in
    "Anna Bell"); the longest one for the studio."""
    path = scene.get("path") or ""
    folders, _, filename = path.rpartition("/")
    places = {"folder": _words(folders), "filename": _words(filename),
              "title": _words(scene.get("title") or "")}
    answer: dict = {}
    for field in scene.get("ask", []):
        found = []
        for name, *aliases in candidates.get(field, []):
            for text in (name, *aliases):
                seen_in = next((where for where, words in places.items()
                                if _words(text) != "  " and _words(text) in words), None)
                if seen_in:
                    found.append((_words(text), {"name": name, "seen_in": seen_in,
                                                 "confidence": CONTENT_CONFIDENCE}))
                    break
        kept = [(words, proposal) for words, proposal in found
                if not any(words != other and words in other for other, _ in found)]
        if field == "studio":
            answer[field] = max(kept, key=lambda pair: len(pair[0]))[1] if kept else None
        else:
            answer[field] = [proposal for _, proposal in kept]
    return answer


@dataclass
class QueuedError:
    status: int
    body: dict
    headers: dict[str, str]
    remaining: int


def _default_error_body(status: int) -> dict:
    if status == 429:
        return error_body(
            "Rate limit reached for requests. Please try again later.",
            "requests",
            "rate_limit_exceeded",
        )
    if status >= 500:
        return error_body(
            "The server had an error while processing your request.", "server_error", None
        )
    return error_body(f"Scripted error {status}.", "invalid_request_error", None)


class _Handler(BaseHTTPRequestHandler):
    # Real servers set TCP_NODELAY; without it each answer waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format, *args):
        """Silence per-request logging."""

    def do_GET(self):
        self.server.fake.handle(self, "GET", None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            payload = None
        self.server.fake.handle(self, "POST", payload)

    def send_json(self, status: int, body: dict, headers: dict[str, str] | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer


class FakeOpenAIServer:
    """The fake server; ``start()`` binds 127.0.0.1 (port 0 picks a free port)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        responder: Responder | None = None,
        latency: float = 0.0,
        port: int = 0,
        cache_min_tokens: int = OPENAI_CACHE_MIN_TOKENS,
        cache_block_tokens: int = OPENAI_CACHE_BLOCK_TOKENS,
        context_tokens: int | None = None,
    ):
        self.api_key = api_key
        self.models = list(models)
        self.responder: Responder = responder or default_responder
        self.latency = latency
        self.cache_min_tokens = cache_min_tokens
        self.cache_block_tokens = cache_block_tokens
        self.context_tokens = context_tokens  # the model's context; None: unlimited
        self.requests: list[dict] = []
        self._request_count = 0
        self._errors: deque[QueuedError] = deque()
        self._item_faults: dict[str, list] = {}  # scene id -> [mode, times left]
        self._cached_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def request_count(self) -> int:
        """Every HTTP request received, including ones answered with an error."""
        with self._lock:
            return self._request_count

    def queue_error(
        self,
        status: int,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (any endpoint) with this error."""
        with self._lock:
            self._errors.append(
                QueuedError(status, body or _default_error_body(status), headers or {}, times)
            )

    def fail_item(self, scene_id: str, mode: str = "drop", times: int = 1) -> None:
        """Spoil scene ``scene_id``'s item in the next ``times`` answers that hold it:
        ``drop`` leaves it out, ``malform`` breaks its schema."""
        if mode not in ("drop", "malform"):
            raise ValueError(f"unknown item fault {mode!r}")
        with self._lock:
            self._item_faults[str(scene_id)] = [mode, times]

    def _spoil_items(self, answer: dict | str) -> dict | str:
        if not isinstance(answer, dict) or not isinstance(answer.get("scenes"), list):
            return answer
        items = []
        with self._lock:
            for item in answer["scenes"]:
                fault = self._item_faults.get(str(item.get("id")))
                if fault is None:
                    items.append(item)
                    continue
                fault[1] -= 1
                if fault[1] <= 0:
                    del self._item_faults[str(item["id"])]
                if fault[0] == "malform":
                    items.append({"id": item["id"], "confidence": "high"})
        return {**answer, "scenes": items}

    def _cached_tokens(self, messages: list[dict]) -> int:
        """Tokens of the longest prefix an earlier request shared, in cache blocks."""
        text = "".join(_message_text(m.get("content")) for m in messages)
        block = self.cache_block_tokens * CHARS_PER_TOKEN
        keys = [hashlib.sha256(text[:end].encode()).hexdigest()
                for end in range(block, len(text) + 1, block)]
        with self._lock:
            shared = next((len(keys) - position for position, key in enumerate(reversed(keys))
                           if key in self._cached_prefixes), 0)
            self._cached_prefixes.update(keys)
        cached = shared * self.cache_block_tokens
        return cached if cached >= max(1, self.cache_min_tokens) else 0

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread (the standalone command)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def handle(self, handler: _Handler, method: str, payload: dict | None) -> None:
        path = handler.path.split("?", 1)[0].rstrip("/")
        with self._lock:
            self._request_count += 1
            if method == "POST" and isinstance(payload, dict):
                self.requests.append(payload)
            queued = self._take_queued_error()
        if self.latency:
            time.sleep(self.latency)

        auth_error = self._auth_error(handler.headers.get("Authorization"))
        if auth_error:
            handler.send_json(401, auth_error)
        elif queued:
            handler.send_json(queued.status, queued.body, queued.headers)
        elif method == "GET" and path == "/v1/models":
            handler.send_json(
                200, {"object": "list", "data": [self._model(m) for m in self.models]}
            )
        elif method == "GET" and path.startswith("/v1/models/"):
            self._retrieve_model(handler, path.removeprefix("/v1/models/"))
        elif method == "POST" and path == "/v1/chat/completions":
            self._chat_completion(handler, payload)
        else:
            handler.send_json(
                404,
                error_body(f"Invalid URL ({method} {path})", "invalid_request_error", None),
            )

    def _take_queued_error(self) -> QueuedError | None:
        if not self._errors:
            return None
        queued = self._errors[0]
        queued.remaining -= 1
        if queued.remaining <= 0:
            self._errors.popleft()
        return queued

    def _auth_error(self, authorization: str | None) -> dict | None:
        if self.api_key is None:
            return None
        if not authorization or not authorization.startswith("Bearer "):
            return error_body(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        given = authorization.removeprefix("Bearer ")
        if given == self.api_key:
            return None
        return error_body(
            f"Incorrect API key provided: {mask_key(given)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    @staticmethod
    def _model(model_id: str) -> dict:
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    @staticmethod
    def _model_not_found(model_id: str) -> dict:
        return error_body(
            f"The model '{model_id}' does not exist", "invalid_request_error", "model_not_found"
        )

    def _retrieve_model(self, handler: _Handler, model_id: str) -> None:
        if model_id in self.models:
            handler.send_json(200, self._model(model_id))
        else:
            handler.send_json(404, self._model_not_found(model_id))

    def _chat_completion(self, handler: _Handler, request: dict | None) -> None:
        problem = self._chat_request_problem(request)
        if problem:
            handler.send_json(
                400, error_body(problem[1], "invalid_request_error", None, problem[0])
            )
            return
        if request["model"] not in self.models:
            handler.send_json(404, self._model_not_found(request["model"]))
            return
        prompt_tokens = prompt_tokens_for(request["messages"])
        if self.context_tokens is not None and prompt_tokens > self.context_tokens:
            handler.send_json(400, error_body(
                f"This model's maximum context length is {self.context_tokens} tokens. "
                f"However, your messages resulted in {prompt_tokens} tokens. Please reduce "
                "the length of the messages.",
                "invalid_request_error", "context_length_exceeded", "messages"))
            return
        answer = self._spoil_items(self.responder(request))
        content = answer if isinstance(answer, str) else json.dumps(answer)
        cached_tokens = min(prompt_tokens, self._cached_tokens(request["messages"]))
        completion_tokens = estimate_tokens(content)
        handler.send_json(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": cached_tokens},
                },
            },
        )

    @staticmethod
    def _chat_request_problem(request: dict | None) -> tuple[str | None, str] | None:
        """(param, message) for a request OpenAI would answer with 400, else None."""
        if not isinstance(request, dict):
            return None, "We could not parse the JSON body of your request."
        if not request.get("model"):
            return "model", "you must provide a model parameter"
        if not isinstance(request.get("messages"), list) or not request["messages"]:
            return "messages", "'messages' must be a non-empty array."
        response_format = request.get("response_format") or {}
        if response_format.get("type") != "json_schema":
            return None
        json_schema = response_format.get("json_schema") or {}
        if not json_schema.get("name"):
            return "response_format.json_schema.name", "Missing required parameter: 'name'."
        if json_schema.get("strict"):
            problem = strict_schema_problem(json_schema.get("schema") or {})
            if problem:
                return "response_format", f"Invalid schema for response_format: {problem}"
        return None


@pytest.fixture
def fake_openai_factory():
    """Start fake servers with ``FakeOpenAIServer`` keyword arguments; all stop at teardown."""
    servers: list[FakeOpenAIServer] = []

    def start(**kwargs) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_openai(fake_openai_factory) -> FakeOpenAIServer:
    """A running fake that requires ``DEFAULT_TEST_KEY`` (``.api_key``) and knows DEFAULT_MODELS."""
    return fake_openai_factory(api_key=DEFAULT_TEST_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI-compatible server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="require this Bearer key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--content", action="store_true",
                        help="answer scenes from their paths (content_answer), not empty")
    args = parser.parse_args()
    server = FakeOpenAIServer(api_key=args.api_key, latency=args.latency, port=args.port,
                              responder=scene_responder(content_answer) if args.content
                              else None)
    print(f"fake OpenAI listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
