import tempfile
from pathlib import Path

import pytest

from stashhog import embedded_redis, health

pytestmark = pytest.mark.django_db


@pytest.fixture
def stopped_redis(settings):
    """A Redis that existed and was stopped: the socket path is dead."""
    socket_path = Path(tempfile.mkdtemp(prefix="stashhog-h-")) / "redis.sock"
    embedded_redis.stop(embedded_redis.start(socket_path))
    settings.REDIS_URL = f"unix://{socket_path}"


def test_health_needs_no_authentication_and_reports_each_part(anon_client, monkeypatch):
    monkeypatch.setattr(health, "check_workers", lambda: None)
    response = anon_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "components": {"database": "ok", "redis": "ok", "workers": "ok"},
    }


def test_health_is_503_without_a_worker(anon_client):
    # Redis is up (the suite's), but no Celery worker consumes from it in unit tests.
    response = anon_client.get("/api/health/")
    assert response.status_code == 503
    assert response.json()["components"] == {
        "database": "ok", "redis": "ok", "workers": "no worker answered",
    }


def test_health_is_503_with_redis_stopped(anon_client, stopped_redis):
    response = anon_client.get("/api/health")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["database"] == "ok"
    assert components["redis"].startswith("unavailable")
    assert components["workers"] == "unreachable"


def test_health_reveals_no_configuration(anon_client, settings, monkeypatch):
    monkeypatch.setattr(health, "check_workers", lambda: None)
    text = anon_client.get("/api/health").content.decode()
    assert settings.REDIS_URL not in text and "sqlite" not in text
