"""JSON answers too large to build in one go, written a part at a time.

A whole plan of 16,000 changes is a 5 MB answer: built in one call, it held every request
queued behind it in its web process (they are served one after another in one thread,
stashhog/request_threads.py) and all of it in memory at once. Streamed, each part is read
and encoded in a call of its own, and the requests queued meanwhile take their turn between
two parts.
"""

from collections.abc import AsyncIterator, Generator, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from stashhog.api.renderers import FastJSONRenderer


def streams(request: Any) -> bool:
    """Whether the answer to this DRF request may be streamed: JSON was negotiated (the
    browsable API renders a whole page of HTML)."""
    return request.accepted_renderer.format == "json"


def json_object_stream(request: HttpRequest, head: dict[str, Any], key: str,
                       parts: Iterable[list[Any]]) -> StreamingHttpResponse:
    """``{**head, key: [every item of every part]}``, bytes for bytes as the JSON renderer
    writes it whole, encoded a part at a time as ``parts`` yields them."""
    renderer = FastJSONRenderer()

    def body() -> Generator[bytes, None, None]:
        # Rendered with an empty list, the object ends in "[]}": the list opens there.
        yield renderer.render({**head, key: []})[:-2]
        separator = b""
        for part in parts:
            if part:
                yield separator + renderer.render(part)[1:-1]
                separator = b","
        yield b"]}"

    chunks = body()
    content = _in_request_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    return StreamingHttpResponse(content, content_type="application/json")


def _next_or_none(chunks: Generator[bytes, None, None]) -> bytes | None:
    return next(chunks, None)


async def _in_request_thread(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Each chunk made by a call of its own in the process's request thread (where the
    database connection and every other request's view are), queued behind whatever
    requests arrived meanwhile."""
    next_chunk = sync_to_async(_next_or_none, thread_sensitive=True)
    try:
        while (chunk := await next_chunk(chunks)) is not None:
            yield chunk
    finally:  # a client that left mid-way: end the reading where it stands
        await sync_to_async(chunks.close, thread_sensitive=True)()
