"""GET/PUT /api/settings: effective values, masking, all-or-nothing validation."""

import pytest

from settings_app import get_setting
from settings_app.models import Setting
from settings_app.registry import REGISTRY, SECRET_MASK

pytestmark = pytest.mark.django_db

STASH_KEY = "stash-secret-key-for-the-api-tests"
OPENAI_KEY = "sk-openai-secret-key-for-the-api-tests"
PATHS = ["/api/settings", "/api/settings/"]


@pytest.mark.parametrize("path", PATHS)
def test_get_lists_every_key_with_its_effective_value(api_client, path):
    Setting.objects.create(key="sync_page_size", value=50)

    response = api_client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(REGISTRY)
    assert body["sync_page_size"] == 50
    assert body["openai_model"] == REGISTRY["openai_model"].default
    assert body["stash_api_key"] is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/settings", None),
        ("put", "/api/settings/", {"sync_page_size": 10}),
        ("post", "/api/settings/test-stash", {}),
        ("post", "/api/settings/test-openai/", {}),
    ],
)
def test_every_endpoint_requires_authentication(anon_client, method, path, body):
    response = getattr(anon_client, method)(path, body, format="json")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert not Setting.objects.exists()


def test_get_masks_stored_secrets(api_client):
    Setting.objects.create(key="stash_api_key", value=STASH_KEY)
    Setting.objects.create(key="openai_api_key", value=OPENAI_KEY)

    response = api_client.get("/api/settings")

    assert response.json()["stash_api_key"] == SECRET_MASK
    assert response.json()["openai_api_key"] == SECRET_MASK
    assert STASH_KEY not in response.content.decode()
    assert OPENAI_KEY not in response.content.decode()


def test_get_masks_secrets_from_the_environment(api_client, monkeypatch):
    monkeypatch.setenv("STASH_API_KEY", STASH_KEY)

    response = api_client.get("/api/settings/")

    assert response.json()["stash_api_key"] == SECRET_MASK
    assert STASH_KEY not in response.content.decode()


@pytest.mark.parametrize("path", PATHS)
def test_put_saves_and_answers_with_masked_settings(api_client, path):
    response = api_client.put(
        path,
        {"stash_url": "http://stash.lan:9999/", "stash_api_key": STASH_KEY,
         "openai_api_key": OPENAI_KEY, "analysis_confidence_threshold": 0.7},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == set(REGISTRY)
    assert body["stash_url"] == "http://stash.lan:9999"
    assert body["stash_api_key"] == body["openai_api_key"] == SECRET_MASK
    assert STASH_KEY not in response.content.decode()
    assert OPENAI_KEY not in response.content.decode()
    # The next reader (any process: it reads the database) sees the change.
    assert get_setting("stash_api_key") == STASH_KEY
    assert get_setting("analysis_confidence_threshold") == 0.7


def test_put_with_any_invalid_value_saves_nothing_and_lists_every_problem(api_client):
    response = api_client.put(
        "/api/settings",
        {
            "sync_page_size": 100,  # valid, but must not be saved alone
            "stash_url": "ftp://stash.lan",
            "analysis_confidence_threshold": -0.5,
            "openai_model": "  ",
            "ai_concurrency": "4",
            "no_such_setting": 1,
        },
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["request_id"] == response["X-Request-ID"]
    assert body["detail"] == {
        "stash_url": ["Must be an http(s) URL."],
        "analysis_confidence_threshold": ["Must be between 0 and 1."],
        "openai_model": ["Must not be empty."],
        "ai_concurrency": ["Must be of type int."],
        "no_such_setting": ["Unknown setting."],
    }
    assert not Setting.objects.exists()
    assert get_setting("sync_page_size") == REGISTRY["sync_page_size"].default


def test_put_rejects_a_body_that_is_not_an_object(api_client):
    response = api_client.put("/api/settings", [["sync_page_size", 5]], format="json")

    assert response.status_code == 400
    assert not Setting.objects.exists()


def test_sending_the_mask_back_keeps_the_stored_secret(api_client):
    api_client.put("/api/settings", {"stash_api_key": STASH_KEY}, format="json")
    settings = api_client.get("/api/settings").json()
    settings["stash_url"] = "http://localhost:9999/stash"  # same origin, another path

    response = api_client.put("/api/settings/", settings, format="json")

    assert response.status_code == 200, response.content
    assert get_setting("stash_api_key") == STASH_KEY
    assert get_setting("stash_url") == "http://localhost:9999/stash"


def test_null_clears_a_secret_even_when_the_environment_has_one(api_client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    api_client.put("/api/settings", {"openai_api_key": "sk-stored-in-the-database"},
                   format="json")

    response = api_client.put("/api/settings", {"openai_api_key": None}, format="json")

    assert response.status_code == 200
    assert response.json()["openai_api_key"] is None
    assert get_setting("openai_api_key") is None


def test_null_is_refused_for_a_setting_that_needs_a_value(api_client):
    response = api_client.put("/api/settings", {"stash_url": None}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {"stash_url": ["Must not be null."]}


def test_database_overrides_environment_overrides_default(api_client, monkeypatch):
    assert api_client.get("/api/settings").json()["stash_url"] == "http://localhost:9999"

    monkeypatch.setenv("STASH_URL", "http://from-env:9999")
    assert api_client.get("/api/settings").json()["stash_url"] == "http://from-env:9999"
    assert get_setting("stash_url") == "http://from-env:9999"

    api_client.put("/api/settings", {"stash_url": "http://from-db:9999"}, format="json")
    assert api_client.get("/api/settings").json()["stash_url"] == "http://from-db:9999"
    assert get_setting("stash_url") == "http://from-db:9999"


def test_an_invalid_environment_value_falls_back_to_the_default(monkeypatch):
    monkeypatch.setenv("STASHHOG_CONFIDENCE_THRESHOLD", "7")
    monkeypatch.setenv("STASHHOG_SYNC_PAGE_SIZE", "many")

    assert get_setting("analysis_confidence_threshold") == 0.5
    assert get_setting("sync_page_size") == 500


def test_typed_environment_values_are_parsed(monkeypatch):
    monkeypatch.setenv("STASHHOG_USE_AI", "yes")
    monkeypatch.setenv("STASHHOG_AI_PRICES", '{"m": {"prompt": 1, "completion": 2}}')

    assert get_setting("analysis_use_ai") is True
    assert get_setting("ai_prices") == {"m": {"prompt": 1, "completion": 2}}


def test_an_empty_secret_is_stored_as_no_secret(api_client):
    response = api_client.put("/api/settings", {"stash_api_key": "  "}, format="json")

    assert response.json()["stash_api_key"] is None
    assert get_setting("stash_api_key") is None


@pytest.mark.parametrize("key", ["ключ-for-stash", "two\nlines", "with space"])
def test_a_key_that_cannot_travel_in_a_header_is_refused(api_client, key):
    response = api_client.put("/api/settings", {"stash_api_key": key}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == {
        "stash_api_key": ["Must be printable ASCII without spaces."]
    }
    assert key not in response.content.decode()
    assert not Setting.objects.exists()


def test_prices_take_an_optional_cached_prompt_price(api_client):
    good = {"m": {"prompt": 1, "cached_prompt": 0.5, "completion": 2}}
    assert api_client.put("/api/settings", {"ai_prices": good},
                          format="json").status_code == 200
    assert get_setting("ai_prices") == good

    response = api_client.put("/api/settings", {"ai_prices": {"m": {
        "prompt": 1, "completion": 2, "cache": 0.5}}}, format="json")

    assert response.status_code == 400
    assert "cached_prompt" in response.json()["detail"]["ai_prices"][0]
    assert get_setting("ai_prices") == good
