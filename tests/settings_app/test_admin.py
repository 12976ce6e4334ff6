"""The Django admin for settings: secrets never rendered, values checked by the registry."""

import pytest

from settings_app import get_setting
from settings_app.models import Setting
from settings_app.registry import SECRET_MASK

pytestmark = pytest.mark.django_db

STASH_KEY = "stash-secret-key-for-the-admin-tests"
OPENAI_KEY = "openai-secret-key-for-the-admin-tests"
CHANGELIST = "/admin/settings_app/setting/"
ADD = "/admin/settings_app/setting/add/"


def change_url(setting: Setting) -> str:
    return f"/admin/settings_app/setting/{setting.pk}/change/"


@pytest.fixture
def secrets_stored():
    return (
        Setting.objects.create(key="stash_api_key", value=STASH_KEY),
        Setting.objects.create(key="openai_api_key", value=OPENAI_KEY),
    )


def test_change_list_masks_secrets(admin_client, secrets_stored):
    Setting.objects.create(key="stash_url", value="http://stash.lan:9999")

    html = admin_client.get(CHANGELIST).content.decode()

    assert "http://stash.lan:9999" in html
    assert SECRET_MASK in html
    assert STASH_KEY not in html
    assert OPENAI_KEY not in html


def test_change_form_never_renders_a_secret(admin_client, secrets_stored):
    for setting in secrets_stored:
        response = admin_client.get(change_url(setting))

        assert response.status_code == 200
        html = response.content.decode()
        assert 'type="password"' in html
        assert STASH_KEY not in html
        assert OPENAI_KEY not in html


def test_change_form_shows_a_plain_value(admin_client):
    setting = Setting.objects.create(key="openai_model", value="gpt-4.1-mini")

    assert "gpt-4.1-mini" in admin_client.get(change_url(setting)).content.decode()


def test_empty_password_keeps_the_secret(admin_client, secrets_stored):
    stash_key = secrets_stored[0]

    response = admin_client.post(change_url(stash_key), {"value": ""})

    assert response.status_code == 302
    assert get_setting("stash_api_key") == STASH_KEY


def test_typed_password_replaces_the_secret_and_history_stays_masked(
    admin_client, secrets_stored
):
    stash_key = secrets_stored[0]

    response = admin_client.post(change_url(stash_key), {"value": "a-brand-new-stash-key"})

    assert response.status_code == 302
    assert get_setting("stash_api_key") == "a-brand-new-stash-key"
    history = admin_client.get(change_url(stash_key).replace("change", "history"))
    assert "a-brand-new-stash-key" not in history.content.decode()


def test_clear_removes_the_secret(admin_client, secrets_stored):
    response = admin_client.post(change_url(secrets_stored[1]), {"value": "", "clear_secret": "on"})

    assert response.status_code == 302
    assert get_setting("openai_api_key") is None


def test_the_mask_typed_in_keeps_the_secret(admin_client, secrets_stored):
    admin_client.post(change_url(secrets_stored[0]), {"value": SECRET_MASK})

    assert get_setting("stash_api_key") == STASH_KEY


def test_invalid_value_is_refused_by_the_registry(admin_client):
    setting = Setting.objects.create(key="stash_url", value="http://stash.lan:9999")

    response = admin_client.post(change_url(setting), {"value": "ftp://stash.lan"})

    assert response.status_code == 200
    assert "Must be an http(s) URL." in response.content.decode()
    assert get_setting("stash_url") == "http://stash.lan:9999"


def test_add_types_the_value_by_the_chosen_key(admin_client):
    response = admin_client.post(ADD, {"key": "analysis_confidence_threshold", "value": "0.7"})

    assert response.status_code == 302
    assert get_setting("analysis_confidence_threshold") == 0.7


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("analysis_confidence_threshold", "1.5", "Must be between 0 and 1."),
        ("sync_page_size", "-3", "Must be between 1 and 5000."),
        ("openai_model", "  ", "Must not be null."),
        ("ai_prices", '{"gpt-x": 1}', "Price of gpt-x: expected"),
    ],
)
def test_add_refuses_what_the_api_refuses(admin_client, key, value, message):
    response = admin_client.post(ADD, {"key": key, "value": value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Setting.objects.exists()


def test_add_a_secret_then_it_is_never_shown(admin_client):
    admin_client.post(ADD, {"key": "stash_api_key", "value": STASH_KEY})

    assert get_setting("stash_api_key") == STASH_KEY
    setting = Setting.objects.get(key="stash_api_key")
    assert STASH_KEY not in admin_client.get(change_url(setting)).content.decode()
    assert STASH_KEY not in admin_client.get(CHANGELIST).content.decode()


def test_add_offers_only_registered_keys_not_stored_yet(admin_client):
    Setting.objects.create(key="stash_url", value="http://stash.lan:9999")

    html = admin_client.get(ADD).content.decode()

    assert 'value="openai_model"' in html
    assert 'value="stash_url"' not in html
    response = admin_client.post(ADD, {"key": "made_up", "value": "1"})
    assert response.status_code == 200
    assert not Setting.objects.filter(key="made_up").exists()
