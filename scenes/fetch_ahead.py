"""Fetching ahead for sync: the next page comes from Stash while the current one is written."""

import queue
import threading
from collections.abc import Iterator
from typing import Generic, Self, TypeVar

T = TypeVar("T")
JOIN_TIMEOUT_SECONDS = 60.0  # a little over the Stash client's request timeout
PUT_POLL_SECONDS = 0.1


class FetchAhead(Generic[T]):
    """Iterates ``source`` in a background thread, at most ``depth`` items ahead.

    Only the background thread touches ``source`` (and so the Stash client) until the
    ``with`` block exits; it does no database work. An exception raised by ``source`` is
    re-raised in the consuming thread, in order. Leaving the block early (a cancel, a
    failed write) stops the thread after its current item.
    """

    def __init__(self, source: Iterator[T], depth: int = 2):
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-fetch-ahead", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_SECONDS)

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(("item", item)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(("error", exc))
        else:
            self._put(("done", None))

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
