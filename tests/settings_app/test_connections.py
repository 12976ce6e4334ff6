"""POST /api/settings/test-stash and /test-openai against the fake servers on loopback."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from analysis.ai.connection_check import check_openai
from scenes.stash.connection_check import check_stash
from settings_app import connections
from settings_app.registry import SECRET_MASK, save_settings
from tests.fakes.openai import DEFAULT_TEST_KEY, error_body
from tests.fakes.stash import SYSTEM_STATUS, VERSION

pytestmark = pytest.mark.django_db

STASH_KEY = "stash-key-for-the-connection-tests-0123"
WRONG_STASH_KEY = "wrong-stash-key-typed-by-a-user-4567"
# Not "sk-..." shaped: the log filter masks those by pattern, and these tests must show
# the connection tests never log a key of any shape.
OPENAI_KEY = "local-ai-server-key-0123456789"
WRONG_OPENAI_KEY = "wrong-ai-key-typed-by-a-user-89ab"
UPSTREAM_MARKER = "internal-detail-from-the-target-server"


@pytest.fixture
def verbose_logs(caplog):
    """Capture everything, including the HTTP and GraphQL client libraries' debug lines."""
    for name in (None, "httpx", "httpx2", "httpcore", "gql", "openai", "stashhog"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_logged_without(caplog, *secrets):
    assert any(r.name == "stashhog.settings" for r in caplog.records), "the failure was logged"
    for secret in secrets:
        assert secret not in caplog.text


def test_each_service_registers_one_connection_check():
    assert connections.CONNECTION_CHECKS == {
        connections.STASH: check_stash, connections.AI: check_openai,
    }
    with pytest.raises(ImproperlyConfigured, match="'stash' is already registered"):
        connections.register_connection_check(connections.STASH, check_openai)
    assert connections.CONNECTION_CHECKS[connections.STASH] is check_stash


# -- Stash ------------------------------------------------------------------------------


@pytest.fixture
def keyed_stash(fake_stash_factory):
    """A fake Stash requiring STASH_KEY, saved as the configured Stash."""
    server = fake_stash_factory(api_key=STASH_KEY)
    save_settings({"stash_url": server.url, "stash_api_key": STASH_KEY})
    return server


@pytest.mark.parametrize("path", ["/api/settings/test-stash", "/api/settings/test-stash/"])
def test_stash_with_the_saved_url_and_key(api_client, keyed_stash, path):
    response = api_client.post(path, {}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "url": keyed_stash.url,
        "version": VERSION["version"],
        "build_hash": VERSION["hash"],
        "status": "OK",
        "database_schema": 75,
    }
    assert keyed_stash.request_log == ["ServerInfo"]


def test_stash_the_mask_means_the_saved_key(api_client, keyed_stash):
    response = api_client.post(
        "/api/settings/test-stash", {"url": keyed_stash.url, "api_key": SECRET_MASK},
        format="json",
    )

    assert response.json()["success"] is True


def test_stash_given_values_override_the_saved_ones(api_client, fake_stash_factory):
    other = fake_stash_factory(api_key="the-other-servers-key")
    save_settings({"stash_url": "http://127.0.0.1:9", "stash_api_key": STASH_KEY})

    response = api_client.post(
        "/api/settings/test-stash", {"url": other.url, "api_key": "the-other-servers-key"},
        format="json",
    )

    assert response.json()["success"] is True


def test_stash_wrong_key_is_classified_and_never_logged(api_client, keyed_stash, verbose_logs):
    response = api_client.post(
        "/api/settings/test-stash", {"api_key": WRONG_STASH_KEY}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "auth"
    assert "refused the API key" in body["error"]
    assert WRONG_STASH_KEY not in response.content.decode()
    assert_logged_without(verbose_logs, WRONG_STASH_KEY, STASH_KEY)


def test_stash_without_a_key_when_one_is_required(api_client, keyed_stash):
    response = api_client.post("/api/settings/test-stash", {"api_key": None}, format="json")

    assert response.json()["reason"] == "auth"
    assert "requires an API key" in response.json()["error"]


def test_stash_closed_port_is_unreachable_and_the_key_never_logged(
    api_client, closed_port_url, verbose_logs
):
    save_settings({"stash_url": closed_port_url, "stash_api_key": STASH_KEY})

    response = api_client.post("/api/settings/test-stash", {}, format="json")

    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "unreachable"
    assert closed_port_url in body["error"]
    assert_logged_without(verbose_logs, STASH_KEY)


def test_stash_slow_server_times_out_as_unreachable(api_client, fake_stash, monkeypatch):
    monkeypatch.setattr(connections, "CONNECTION_TEST_TIMEOUT", 0.2)
    fake_stash.latency = 2

    response = api_client.post("/api/settings/test-stash", {"url": fake_stash.url}, format="json")

    assert response.json()["reason"] == "unreachable"


def test_stash_a_server_that_is_not_stash(api_client, fake_openai_factory):
    not_stash = fake_openai_factory()  # answers POST /graphql with a JSON 404

    response = api_client.post(
        "/api/settings/test-stash", {"url": not_stash.base_url}, format="json"
    )

    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "not_stash"
    # Only the classification comes back: the target's own answer is not relayed.
    assert "Invalid URL" not in response.content.decode()


def test_stash_graphql_errors_of_the_target_are_not_relayed(api_client, fake_stash):
    fake_stash.fail_operation("ServerInfo", error_message=UPSTREAM_MARKER)

    response = api_client.post("/api/settings/test-stash", {"url": fake_stash.url}, format="json")

    assert response.json()["reason"] == "rejected"
    assert UPSTREAM_MARKER not in response.content.decode()


def test_stash_that_is_not_set_up_yet_is_not_a_success(api_client, fake_stash, monkeypatch):
    monkeypatch.setitem(SYSTEM_STATUS, "status", "NEEDS_MIGRATION")

    body = api_client.post(
        "/api/settings/test-stash", {"url": fake_stash.url}, format="json"
    ).json()

    assert body["success"] is False
    assert body["reason"] == "not_ready"
    assert body["version"] == VERSION["version"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:6379/", "127.0.0.1:9999"]
)
def test_stash_only_http_urls(api_client, url):
    response = api_client.post("/api/settings/test-stash", {"url": url}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {"url": ["Must be an http(s) URL."]}


# -- OpenAI-compatible servers ------------------------------------------------------------


@pytest.fixture
def saved_openai(fake_openai_factory):
    server = fake_openai_factory(api_key=OPENAI_KEY)
    save_settings({
        "openai_base_url": server.base_url,
        "openai_api_key": OPENAI_KEY,
        "openai_model": "gpt-4o-mini",
    })
    return server


@pytest.mark.parametrize("path", ["/api/settings/test-openai", "/api/settings/test-openai/"])
def test_openai_with_the_saved_key_and_model(api_client, saved_openai, path):
    response = api_client.post(path, {}, format="json")

    assert response.status_code == 200
    assert response.json() == {"success": True, "model": "gpt-4o-mini", "owned_by": "fake-openai"}
    # The model was asked a minimal question, not only looked up.
    assert saved_openai.requests[-1]["model"] == "gpt-4o-mini"
    assert saved_openai.requests[-1]["max_tokens"] == 1


def test_openai_given_values_override_the_saved_ones(api_client, fake_openai):
    save_settings({"openai_base_url": "http://127.0.0.1:9/v1", "openai_model": "other"})

    response = api_client.post(
        "/api/settings/test-openai",
        {"base_url": fake_openai.base_url, "api_key": DEFAULT_TEST_KEY, "model": "gpt-4.1"},
        format="json",
    )

    assert response.json() == {"success": True, "model": "gpt-4.1", "owned_by": "fake-openai"}


def test_openai_wrong_key_is_classified_and_never_logged(api_client, saved_openai, verbose_logs):
    response = api_client.post(
        "/api/settings/test-openai", {"api_key": WRONG_OPENAI_KEY}, format="json"
    )

    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "auth"
    assert WRONG_OPENAI_KEY not in response.content.decode()
    assert OPENAI_KEY not in response.content.decode()
    assert_logged_without(verbose_logs, WRONG_OPENAI_KEY, OPENAI_KEY)


def test_openai_unknown_model(api_client, saved_openai):
    response = api_client.post(
        "/api/settings/test-openai", {"model": "gpt-does-not-exist"}, format="json"
    )

    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "unknown_model"
    assert "gpt-does-not-exist" in body["error"]


def test_openai_closed_port_is_unreachable_and_the_key_never_logged(
    api_client, closed_port_url, verbose_logs
):
    save_settings({"openai_base_url": f"{closed_port_url}/v1", "openai_api_key": OPENAI_KEY})

    response = api_client.post("/api/settings/test-openai", {}, format="json")

    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "unreachable"
    assert_logged_without(verbose_logs, OPENAI_KEY)


def test_openai_errors_of_the_target_are_not_relayed(api_client, saved_openai):
    saved_openai.queue_error(500, error_body(UPSTREAM_MARKER, "server_error", None))

    response = api_client.post("/api/settings/test-openai", {}, format="json")

    body = response.json()
    assert body["reason"] == "error"
    assert "HTTP 500" in body["error"]
    assert UPSTREAM_MARKER not in response.content.decode()


@pytest.mark.parametrize("field", ["base_url"])
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/v1"])
def test_openai_only_http_urls(api_client, field, url):
    response = api_client.post("/api/settings/test-openai", {field: url}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {field: ["Must be an http(s) URL."]}


@pytest.mark.parametrize("path", ["/api/settings/test-stash", "/api/settings/test-openai"])
def test_a_key_that_cannot_travel_in_a_header_is_refused(api_client, path):
    response = api_client.post(path, {"api_key": "ключ-secret"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {"api_key": ["Must be printable ASCII without spaces."]}
    assert "ключ-secret" not in response.content.decode()
