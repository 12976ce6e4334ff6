"""Fixtures for the scenes tests: the fake Stash and a StashHog pointed at it."""

import pytest

from settings_app.registry import save_settings
from tests.fakes.stash import fake_stash, fake_stash_factory  # noqa: F401


@pytest.fixture
def use_stash(db):
    """``use_stash(server)`` points the Stash settings at a fake server."""

    def point(server) -> None:
        save_settings({"stash_url": server.url, "stash_api_key": server.api_key})

    return point
