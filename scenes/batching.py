"""How many scenes StashHog handles at once, and the one way it cuts id lists into batches.

One number serves every batch of scenes: ids per Stash request (each bulk update is one
write transaction in Stash that re-reads every scene it touched), ids per ``IN (...)``
query, scenes per local transaction and per analysis chunk. Large enough that the fixed cost
per batch fades, small enough for SQLite's parameter limit and Stash's request timeout.
"""

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

SCENE_BATCH = 500
ROWS_PER_FETCH = 5000  # rows a streaming read (QuerySet.iterator) fetches at a time


def batched(items: Sequence[T], size: int = SCENE_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
