"""Fixtures for the automation tests: the fake Stash and a StashHog pointed at it."""

import pytest

from settings_app.registry import save_settings


@pytest.fixture
def stash(db, fake_stash):
    """A fake Stash (small generated library) that the settings point at."""
    save_settings({"stash_url": fake_stash.url, "stash_api_key": fake_stash.api_key})
    return fake_stash
