import socket

import pytest

from settings_app.registry import REGISTRY

STASH_KEY = "stash-key-0123456789-abcdef"


@pytest.fixture
def user(superuser):
    """Settings and the connection tests are for superusers: here the operator is one, so
    ``api_client`` is a superuser's (tests/stashhog/test_access.py checks that staff who
    are not superusers are refused)."""
    return superuser


@pytest.fixture(autouse=True)
def no_settings_environment(monkeypatch):
    """The host's STASH_URL, OPENAI_API_KEY... must not leak into the precedence tests."""
    for spec in REGISTRY.values():
        if spec.env:
            monkeypatch.delenv(spec.env, raising=False)


@pytest.fixture
def closed_port_url() -> str:
    """An http URL on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
