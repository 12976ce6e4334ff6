"""The pagination envelope, the error envelope for every status, request ids."""

import sqlite3
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settings_app.models import Setting
from stashhog.api import pagination
from tests.envelope import assert_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.stashhog.urls")]



@pytest.fixture
def rows():
    for index in range(7):
        Setting.objects.create(key=f"key-{index:02}", value=index)


def test_pagination_envelope(api_client, rows):
    response = api_client.get("/test/paged", {"per_page": 3, "page": 3})
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"key": "key-06", "value": 6}], "total": 7, "total_exact": True, "page": 3,
        "per_page": 3, "pages": 3, "next_cursor": None,
    }


def test_pagination_sorts_descending(api_client, rows):
    response = api_client.get("/test/paged", {"sort_by": "key", "sort_order": "desc"})
    keys = [item["key"] for item in response.json()["items"]]
    assert keys == sorted(keys, reverse=True)
    assert len(keys) == 7


def test_pagination_defaults(api_client, rows):
    body = api_client.get("/test/paged").json()
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 50, 1, 7)


def test_page_past_the_end_is_empty(api_client, rows):
    body = api_client.get("/test/paged", {"page": 9}).json()
    assert body["items"] == []
    assert body["total"] == 7


def _keys(body) -> list[str]:
    return [item["key"] for item in body["items"]]


def _walk(api_client, params) -> list[dict]:
    """Every page of ``/test/paged``, the first by ``params``, then by ``next_cursor``."""
    bodies = [api_client.get("/test/paged", params).json()]
    while bodies[-1]["next_cursor"]:
        response = api_client.get("/test/paged", {**params, "cursor": bodies[-1]["next_cursor"]})
        assert response.status_code == 200, response.content
        bodies.append(response.json())
    return bodies


@pytest.mark.parametrize("sort", [{}, {"sort_order": "desc"}, {"sort_by": "updated_at"},
                                  {"sort_by": "updated_at", "sort_order": "desc"}])
def test_cursors_walk_the_list_as_the_page_numbers_do(api_client, rows, sort):
    Setting.objects.filter(key__in=["key-02", "key-05"]).update(value=-1)  # updated_at moves
    by_cursor = _walk(api_client, {**sort, "per_page": 2})
    by_page = [api_client.get("/test/paged", {**sort, "per_page": 2, "page": page}).json()
               for page in (1, 2, 3, 4)]

    assert [_keys(body) for body in by_cursor] == [_keys(body) for body in by_page]
    assert [body["page"] for body in by_cursor] == [1, 2, 3, 4]
    assert all((body["total"], body["total_exact"]) == (7, True) for body in by_cursor)
    assert by_page[2]["next_cursor"] == by_cursor[2]["next_cursor"]  # the same position


def test_a_cursor_sees_rows_that_changed_since_its_page(api_client, rows):
    first = api_client.get("/test/paged", {"per_page": 3}).json()
    Setting.objects.filter(key="key-00").delete()  # before the cursor: nothing shifts
    Setting.objects.create(key="key-03a", value=0)  # after it: seen
    body = api_client.get("/test/paged", {"per_page": 3, "cursor": first["next_cursor"]}).json()
    assert _keys(body) == ["key-03", "key-03a", "key-04"]
    assert (body["total"], body["total_exact"], body["page"]) == (7, True, 2)


def test_totals_past_the_count_limit_are_lower_bounds(api_client, rows, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 3)

    def envelope(params):
        body = api_client.get("/test/paged", {"per_page": 2, **params}).json()
        return body["total"], body["total_exact"], body["pages"]

    assert envelope({}) == (3, False, 2)  # counted up to the limit: at least 3
    assert envelope({"page": 2}) == (5, False, 3)  # the page itself shows 4 and one more
    assert envelope({"page": 4}) == (7, True, 4)  # the last page knows the end
    assert envelope({"page": 9}) == (3, False, 2)  # past the end: counted again
    assert envelope({"per_page": 100}) == (7, True, 1)


def test_a_page_and_its_count_are_one_statement(api_client, rows):
    def statements(params):
        with CaptureQueriesContext(connection) as captured:
            body = api_client.get("/test/paged", {"per_page": 3, **params}).json()
        assert body["total"] == 7
        return len(captured), body["next_cursor"]

    first, cursor = statements({})
    assert statements({"cursor": cursor})[0] == statements({"page": 3})[0] == first
    assert statements({"page": 9})[0] == first + 1  # past the end no row brings the count


@pytest.mark.parametrize(("first", "then"), [
    ({"per_page": 2}, {"per_page": 3}),
    ({"per_page": 2}, {"per_page": 2, "sort_order": "desc"}),
    ({"per_page": 2, "sort_by": "key"}, {"per_page": 2, "sort_by": "updated_at"}),
])
def test_a_cursor_of_another_query_is_400(api_client, rows, first, then):
    cursor = api_client.get("/test/paged", first).json()["next_cursor"]
    body = assert_envelope(api_client.get("/test/paged", {**then, "cursor": cursor}), 400)
    assert "cursor" in body["detail"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WzEsIngiLCJ5IiwieiJd", "%%"])
def test_a_malformed_cursor_is_400(api_client, rows, cursor):
    body = assert_envelope(api_client.get("/test/paged", {"cursor": cursor}), 400)
    assert "cursor" in body["detail"]


def test_page_and_cursor_together_are_400(api_client, rows):
    cursor = api_client.get("/test/paged", {"per_page": 2}).json()["next_cursor"]
    response = api_client.get("/test/paged", {"per_page": 2, "page": 2, "cursor": cursor})
    assert "cursor" in assert_envelope(response, 400)["detail"]


@pytest.mark.parametrize(("params", "field"), [
    ({"per_page": 0}, "per_page"),
    ({"per_page": 101}, "per_page"),
    ({"page": 0}, "page"),
    ({"page": "two"}, "page"),
    ({"sort_order": "up"}, "sort_order"),
    ({"sort_by": "value"}, "sort_by"),
])
def test_bad_paging_parameters(api_client, rows, params, field):
    body = assert_envelope(api_client.get("/test/paged", params), 400)
    assert field in body["detail"]


def test_401_without_credentials(anon_client):
    response = anon_client.get("/test/paged")
    body = assert_envelope(response, 401)
    assert "credentials" in body["error"].lower()
    assert response["WWW-Authenticate"] == "Token"


def test_401_with_a_wrong_token(anon_client, db):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_envelope(anon_client.get("/test/paged"), 401)


def test_403(api_client):
    assert_envelope(api_client.get("/test/forbidden"), 403)


def test_404_for_an_unknown_path(api_client):
    body = assert_envelope(api_client.get("/api/no-such-thing"), 404)
    assert body["error"] == "Not found"


def test_405(api_client):
    body = assert_envelope(api_client.delete("/test/paged"), 405)
    assert "DELETE" in body["error"]


def test_409(anon_client):
    body = assert_envelope(anon_client.get("/test/fail/conflict"), 409)
    assert body["error"] == "Plan is already applying"


def test_500_hides_the_exception(anon_client, caplog):
    response = anon_client.get("/test/fail/crash")
    body = assert_envelope(response, 500)
    assert body["error"] == "Internal server error"
    assert "secret" not in response.content.decode()
    assert body["request_id"] in caplog.text  # the log line can be found from the response


def test_502(anon_client):
    body = assert_envelope(anon_client.get("/test/fail/upstream"), 502)
    assert body["error"] == "Stash is unreachable"


def test_request_id_is_taken_from_the_request(anon_client):
    response = anon_client.get("/test/fail/conflict", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"


def test_an_unsafe_request_id_is_replaced(anon_client):
    response = anon_client.get("/test/fail/conflict", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>"
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_success_responses_carry_a_request_id(api_client):
    assert api_client.get("/test/paged")["X-Request-ID"]


def test_paths_work_with_and_without_trailing_slash(api_client):
    assert api_client.get("/api/schema").status_code == 200
    assert api_client.get("/api/schema/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_locked_sqlite_database_answers_503_with_retry_after_at_once(api_client):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 200")  # as a web process's short wait would
    locker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        response = api_client.post("/api/scenes/sync")
        waited = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        connection.close()
    body = assert_envelope(response, 503)
    assert body["error"] == "The database is busy; retry shortly"
    assert int(response["Retry-After"]) > 0
    assert waited < 10
