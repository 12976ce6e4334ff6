"""The connection tests are rate-limited per user (DRF's scoped throttle): each one makes
StashHog call out to a URL of the caller's choosing."""

import pytest
from rest_framework.throttling import ScopedRateThrottle

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/settings/test-stash", "/api/settings/test-openai"])
def test_connection_tests_are_rate_limited(api_client, closed_port_url, monkeypatch, path):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "connection_test", "2/min")
    field = "url" if path.endswith("stash") else "base_url"
    for _ in range(2):
        assert api_client.post(path, {field: closed_port_url, "api_key": None},
                                     format="json").status_code == 200

    response = api_client.post(path, {field: closed_port_url}, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert api_client.get("/api/settings").status_code == 200  # reading is not limited


@pytest.mark.parametrize("path", ["/api/settings/test-stash", "/api/settings/test-openai"])
def test_connection_tests_answer_503_while_the_rate_counter_is_unreachable(
        api_client, closed_port_url, settings, path):
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": closed_port_url.replace("http://", "redis://"),  # nothing listens there
    }}
    field = "url" if path.endswith("stash") else "base_url"

    response = api_client.post(path, {field: closed_port_url}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "Redis" in response.json()["error"]
    assert int(response["Retry-After"]) > 0
    assert api_client.get("/api/settings").status_code == 200  # reading does not count
