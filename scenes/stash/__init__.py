"""The Stash GraphQL client: Python calls in, Stash operations out, plain dicts back."""

from .client import ScenePage, StashClient
from .errors import (
    StashAuthError,
    StashError,
    StashNotStash,
    StashQueryError,
    StashUnreachable,
)

__all__ = [
    "ScenePage",
    "StashAuthError",
    "StashClient",
    "StashError",
    "StashNotStash",
    "StashQueryError",
    "StashUnreachable",
]
