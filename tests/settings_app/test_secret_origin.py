"""A saved key is bound to the origin (scheme, host, port) it was saved for: a connection
test or a URL change towards another origin never sends it there. The "other origin" is a
capture server on loopback that must never receive a saved key."""

import pytest

from scenes.stash import StashError
from scenes.sync import client_from_settings
from settings_app.models import Setting
from settings_app.registry import SECRET_MASK, get_setting, origin, save_settings, saved_key_for
from stashhog.api.exceptions import InvalidInput
from tests.fakes.capture import CaptureServer

pytestmark = pytest.mark.django_db

STASH_KEY = "saved-stash-key-0123456789abcdef"
OPENAI_KEY = "saved-ai-server-key-0123456789ab"


@pytest.fixture
def attacker():
    with CaptureServer(status=401, body={"error": "no"}) as server:
        yield server


@pytest.fixture
def saved_keys(fake_stash_factory, fake_openai):
    stash = fake_stash_factory(api_key=STASH_KEY)
    save_settings({"stash_url": stash.url, "stash_api_key": STASH_KEY,
                   "openai_base_url": fake_openai.base_url, "openai_api_key": OPENAI_KEY})
    return stash


def api_key_problem(response) -> str:
    assert response.status_code == 400, response.content
    return " ".join(response.json()["detail"]["api_key"])


@pytest.mark.parametrize("body", [{}, {"api_key": SECRET_MASK}])
def test_testing_stash_at_another_origin_needs_its_key(api_client, saved_keys, attacker, body):
    response = api_client.post("/api/settings/test-stash", {"url": attacker.url, **body},
                               format="json")

    assert origin(saved_keys.url) in api_key_problem(response)
    assert attacker.requests == []


@pytest.mark.parametrize("body", [{}, {"api_key": SECRET_MASK}])
def test_testing_openai_at_another_origin_needs_its_key(api_client, saved_keys, attacker,
                                                       body):
    response = api_client.post("/api/settings/test-openai",
                               {"base_url": attacker.url + "/v1", **body}, format="json")

    api_key_problem(response)
    assert attacker.requests == []


def test_the_saved_key_still_goes_to_its_own_origin(api_client, saved_keys):
    response = api_client.post("/api/settings/test-stash",
                               {"url": saved_keys.url + "/", "api_key": SECRET_MASK},
                               format="json")
    assert response.json()["success"] is True


def test_a_key_given_with_the_test_goes_where_it_is_told(api_client, saved_keys, attacker):
    api_client.post("/api/settings/test-stash",
                    {"url": attacker.url, "api_key": "typed-in-now-key-00"}, format="json")
    assert attacker.received("typed-in-now-key-00")
    assert not attacker.received(STASH_KEY)


@pytest.mark.parametrize(("url_key", "key"), [("stash_url", "stash_api_key"),
                                          ("openai_base_url", "openai_api_key")])
@pytest.mark.parametrize("sent", [{}, {"key": SECRET_MASK}])
def test_moving_a_url_to_another_origin_needs_the_key_again(api_client, saved_keys, attacker,
                                                            url_key, key, sent):
    before = {row.key: row.value for row in Setting.objects.all()}
    body = {url_key: attacker.url, **({key: sent["key"]} if sent else {})}

    response = api_client.put("/api/settings", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["detail"]) == [key]
    assert {row.key: row.value for row in Setting.objects.all()} == before


def test_moving_a_url_with_a_new_key_binds_the_new_key(api_client, saved_keys, attacker):
    response = api_client.put("/api/settings", {"stash_url": attacker.url,
                                                "stash_api_key": "key-for-the-new-server"},
                              format="json")
    assert response.status_code == 200
    assert get_setting("stash_api_key") == "key-for-the-new-server"
    assert Setting.objects.get(key="stash_api_key").origin == origin(attacker.url)


def test_moving_a_url_with_null_clears_the_key(api_client, saved_keys, attacker):
    response = api_client.put("/api/settings", {"stash_url": attacker.url,
                                                "stash_api_key": None}, format="json")
    assert response.status_code == 200
    assert response.json()["stash_api_key"] is None


def test_a_url_changed_any_other_way_leaves_the_key_behind(api_client, saved_keys, attacker):
    """The admin, a shell, a migration: the reader itself refuses to hand the key over."""
    Setting.objects.filter(key="stash_url").update(value=attacker.url)

    assert get_setting("stash_api_key") is None
    assert api_client.get("/api/settings").json()["stash_api_key"] is None
    with client_from_settings() as client, pytest.raises(StashError):
        client.server_info()
    assert attacker.requests
    assert not attacker.received(STASH_KEY)

    Setting.objects.filter(key="stash_url").update(value=saved_keys.url)
    assert get_setting("stash_api_key") == STASH_KEY  # back at its origin, it is usable


def test_resaving_the_same_key_never_rebinds_it(saved_keys, attacker):
    Setting.objects.filter(key="stash_url").update(value=attacker.url)
    row = Setting.objects.get(key="stash_api_key")
    row.save()  # the admin's "keep the stored key"
    assert get_setting("stash_api_key") is None


def test_an_environment_key_is_bound_to_the_environment_url(monkeypatch, api_client,
                                                           fake_stash_factory, attacker):
    monkeypatch.setenv("STASH_URL", fake_stash_factory(api_key=STASH_KEY).url)
    monkeypatch.setenv("STASH_API_KEY", STASH_KEY)

    response = api_client.put("/api/settings", {"stash_url": attacker.url}, format="json")

    assert list(response.json()["detail"]) == ["stash_api_key"]
    with pytest.raises(InvalidInput):
        saved_key_for("stash_api_key", attacker.url, "api_key")


@pytest.mark.parametrize("check", ["test-stash", "test-openai"])
def test_a_redirect_to_another_origin_never_carries_the_key(api_client, check):
    """httpx (under openai) drops Authorization on a cross-origin redirect; the Stash client
    follows no redirects, so its ApiKey header cannot be carried either."""
    url_field = "url" if check == "test-stash" else "base_url"
    with CaptureServer() as elsewhere:
        to_elsewhere = {"Location": elsewhere.url + "/v1/models/gpt-4o-mini"}
        with CaptureServer(status=307, headers=to_elsewhere) as redirector:
            api_client.post(f"/api/settings/{check}", {
                url_field: redirector.url + "/v1", "api_key": "key-for-the-first-hop",
            }, format="json")

    assert redirector.received("key-for-the-first-hop")
    assert bool(elsewhere.requests) is (check == "test-openai")  # openai follows redirects
    assert not elsewhere.received("key-for-the-first-hop")


@pytest.mark.parametrize("url", [
    "http://user:pass@stash.lan:9999", "http://apikey@stash.lan:9999",
    "http://stash.lan:9999/?apikey=abc", "http://stash.lan:9999/graphql?", "http://stash.lan:9999#x",
])
@pytest.mark.parametrize(("field", "path"), [
    ("stash_url", "/api/settings"), ("openai_base_url", "/api/settings"),
    ("url", "/api/settings/test-stash"), ("base_url", "/api/settings/test-openai"),
])
def test_url_settings_carry_no_credentials_or_query(api_client, url, field, path):
    send = api_client.put if path == "/api/settings" else api_client.post
    response = send(path, {field: url}, format="json")
    assert response.status_code == 400
    assert list(response.json()["detail"]) == [field]
    assert not Setting.objects.exists()
