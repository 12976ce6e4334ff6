"""Failed logins are throttled (django-axes): the admin login, and bad API tokens."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from stashhog.api.auth import LockoutTokenAuthentication

pytestmark = pytest.mark.django_db


def admin_login(client, password):
    return client.post("/admin/login/?next=/admin/",
                       {"username": "root", "password": password})


def assert_locked_out(response):
    assert response.status_code == 429
    assert response.json()["success"] is False
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_the_admin_login_locks_out_after_the_failure_limit(client, superuser):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert admin_login(client, "wrong-password").status_code == 200  # the form again
    assert_locked_out(admin_login(client, "wrong-password"))

    assert_locked_out(admin_login(client, "secret-password"))  # now even the right one
    assert "_auth_user_id" not in client.session


def test_a_successful_admin_login_below_the_limit_works(client, superuser):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login(client, "wrong-password")
    assert admin_login(client, "secret-password").status_code == 302


def test_bad_api_tokens_lock_the_address_out_of_token_auth(user, token):
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-real-token-0123456789")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert stranger.get("/api/jobs").status_code == 401
    assert_locked_out(stranger.get("/api/jobs"))

    good = APIClient()
    good.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert_locked_out(good.get("/api/jobs"))  # from this address, until the cool-off ends


def test_a_good_token_is_not_counted(api_client):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert api_client.get("/api/jobs").status_code == 200



def authenticate(key: str, address: str = "127.0.0.1"):
    request = Request(APIRequestFactory().get("/api/jobs", HTTP_AUTHORIZATION=f"Token {key}",
                                              REMOTE_ADDR=address))
    with CaptureQueriesContext(connection) as queries:
        user, _ = LockoutTokenAuthentication().authenticate(request)
    return user, len(queries)


def test_a_good_token_costs_one_query_from_an_address_without_failures(token):
    assert authenticate(token.key) == (token.user, 1)


def test_failures_below_the_limit_and_from_elsewhere_leave_a_good_token_working(token):
    stranger = APIClient(REMOTE_ADDR="10.0.0.9")
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-real-token-0123456789")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert stranger.get("/api/jobs").status_code == 401

    user, queries = authenticate(token.key, "10.0.0.9")
    assert user == token.user
    assert queries > 1  # failures on record: axes was asked
    assert authenticate(token.key, "10.0.0.10") == (token.user, 1)

    assert stranger.get("/api/jobs").status_code == 429  # the limit reached
    with pytest.raises(Throttled):
        authenticate(token.key, "10.0.0.9")
    assert authenticate(token.key, "10.0.0.10") == (token.user, 1)


def test_the_token_user_is_the_stored_user_with_every_field_as_the_orm_reads_it(token):
    user, _ = authenticate(token.key)
    stored = type(user).objects.get(pk=token.user.pk)
    assert (user.pk, user.username, user.is_active, user.is_staff, user.is_superuser) == (
        stored.pk, stored.username, True, stored.is_staff, stored.is_superuser)
    assert user.date_joined == stored.date_joined  # loaded on access: an aware datetime
    assert user.date_joined.tzinfo is not None


def test_the_token_of_an_inactive_user_is_refused(token, api_client):
    token.user.is_active = False
    token.user.save()
    response = api_client.get("/api/jobs")
    assert response.status_code == 401
    assert response.json()["error"] == "User inactive or deleted."
