"""Inputs that never crash: what answered 500 is a 400 in the envelope; unknown query
parameters are 400s naming them; every error carries a documented ``code``."""

import http.server
import threading
from pathlib import Path

import pytest
from django_filters import FilterSet

from analysis.models import AnalysisPlan
from jobs.models import Job, JobStatus
from scenes.filters import SceneFilterSet
from settings_app.registry import REGISTRY, get_setting
from stashhog.api.errors import error_codes
from stashhog.api.parsers import INT64_MAX, MAX_DEPTH
from tests.envelope import assert_envelope

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
NUMBER_SETTINGS = [spec for spec in REGISTRY.values() if spec.type in (int, float)]


def send_json(api_client, method: str, path: str, raw: str):
    return getattr(api_client, method)(path, data=raw, content_type="application/json")


# -- what crashed before ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/scenes", "/api/analysis/plans", "/api/tags"])
def test_a_page_number_past_any_offset_is_400(api_client, path):
    body = assert_envelope(api_client.get(path, {"page": "99999999999999999999"}), 400,
                           "validation_error")
    assert "page" in body["detail"]


@pytest.mark.parametrize("change_id", [INT64_MAX + 1, 99999999999999999999, -INT64_MAX - 2])
def test_a_change_id_past_int64_in_bulk_review_is_400(api_client, change_id):
    plan = AnalysisPlan.objects.create(name="Plan")
    response = send_json(api_client, "post", f"/api/analysis/plans/{plan.id}/bulk-review",
                         f'{{"status": "accepted", "change_ids": [{change_id}]}}')
    assert_envelope(response, 400, "parse_error")


def test_the_largest_change_id_is_merely_not_in_the_plan(api_client):
    plan = AnalysisPlan.objects.create(name="Plan")
    response = api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review",
                               {"status": "accepted", "change_ids": [INT64_MAX]}, format="json")
    assert assert_envelope(response, 400)["detail"] == {"change_ids": [INT64_MAX]}


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_float_that_is_not_finite_is_400(superuser_client, number):
    response = send_json(superuser_client, "put", "/api/settings",
                         f'{{"analysis_max_cost_usd": {number}}}')
    assert_envelope(response, 400, "parse_error")
    assert get_setting("analysis_max_cost_usd") == REGISTRY["analysis_max_cost_usd"].default


@pytest.mark.parametrize("raw", [
    "[" * 5000 + "]" * 5000,
    '{"ai_prices": ' + '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 2),
])
def test_json_nested_too_deep_is_400(superuser_client, raw):
    assert_envelope(send_json(superuser_client, "put", "/api/settings", raw), 400, "parse_error")


@pytest.mark.parametrize("spec", NUMBER_SETTINGS, ids=lambda spec: spec.key)
def test_every_number_setting_has_a_range(superuser_client, spec):
    above = spec.type(spec.maximum + 1)
    body = assert_envelope(superuser_client.put("/api/settings", {spec.key: above}, format="json"),
                           400, "validation_error")
    assert spec.key in body["detail"]
    response = superuser_client.put("/api/settings", {spec.key: spec.type(spec.maximum)},
                                    format="json")
    assert response.status_code == 200
    assert response.json()[spec.key] == spec.maximum


def test_a_heartbeat_timeout_of_1e12_is_refused_from_the_api_and_the_environment(
        superuser_client, monkeypatch):
    response = superuser_client.put("/api/settings", {"job_heartbeat_timeout_seconds": 10**12},
                              format="json")
    assert_envelope(response, 400, "validation_error")
    monkeypatch.setenv(REGISTRY["job_heartbeat_timeout_seconds"].env, str(10**12))
    assert get_setting("job_heartbeat_timeout_seconds") == 300


@pytest.fixture
def html_server():
    """A web server that answers every request 200 with an HTML page."""

    class Html(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self):
            page = b"<!doctype html><html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = answer  # noqa: N815 (http.server's method names)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_test_openai_against_a_server_answering_html_says_so(superuser_client, html_server):
    response = superuser_client.post("/api/settings/test-openai", {
        "base_url": f"{html_server}/v1", "api_key": "sk-test", "model": "gpt-4o-mini",
    }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is False
    assert body["reason"] == "not_openai"
    assert "OpenAI-compatible" in body["error"]


# -- unknown query parameters ----------------------------------------------------------------


def test_a_misspelt_filter_is_400_naming_it(api_client):
    body = assert_envelope(api_client.get("/api/scenes", {"studio": "5"}), 400,
                           "validation_error")
    assert list(body["detail"]) == ["studio"]
    assert "studio" in body["error"]


@pytest.mark.parametrize("value", ["01/02/2020", "2020-01-02T00:00", "2020-1-2x"])
def test_a_date_filter_takes_iso_dates_only(api_client, value):
    body = assert_envelope(api_client.get("/api/scenes", {"date_from": value}), 400)
    assert list(body["detail"]) == ["date_from"]
    assert api_client.get("/api/scenes", {"date_from": "2020-01-02", "date_to": ""}).status_code \
        == 200


def list_paths(schema) -> list[str]:
    """Every GET of the schema that takes query parameters and no path parameter."""
    return sorted(
        path for path, item in schema["paths"].items()
        if "{" not in path and any(p["in"] == "query" for p in item.get("get", {}).get(
            "parameters", []))
    )


def test_every_list_refuses_an_unknown_query_parameter(api_client, openapi_schema):
    paths = list_paths(openapi_schema)
    assert {"/api/scenes", "/api/jobs", "/api/analysis/plans"} <= set(paths)
    for path in paths:
        body = assert_envelope(api_client.get(path, {"no_such_parameter": "1"}), 400,
                               "validation_error")
        assert list(body["detail"]) == ["no_such_parameter"], path
        assert api_client.get(path, {"format": "json"}).status_code == 200, path


def test_a_list_without_filter_parameters_builds_no_filterset(api_client, monkeypatch):
    built = []
    original = FilterSet.__init__
    monkeypatch.setattr(FilterSet, "__init__", lambda self, *args, **kwargs: (
        built.append(type(self)), original(self, *args, **kwargs))[-1])
    for path in ("/api/scenes", "/api/jobs", "/api/analysis/plans"):
        params = {"limit": 5} if path == "/api/jobs" else {"per_page": 5}
        assert api_client.get(path, params).status_code == 200
    assert built == []
    assert api_client.get("/api/scenes", {"organized": "true"}).status_code == 200
    assert api_client.get("/api/scenes", {"organized": "maybe"}).status_code == 400
    assert built == [SceneFilterSet, SceneFilterSet]


def test_an_action_refuses_an_unknown_query_parameter(api_client):
    body = assert_envelope(api_client.post("/api/scenes/sync?backgroud=false"), 400)
    assert list(body["detail"]) == ["backgroud"]
    assert not Job.objects.exists()


def test_a_request_body_refuses_an_unknown_key(superuser_client):
    body = assert_envelope(superuser_client.post("/api/settings/test-stash", {"uri": "http://x"},
                                           format="json"), 400, "validation_error")
    assert list(body["detail"]) == ["uri"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/workflow", {"options": {"confidence_threshold": False}}, "confidence_threshold"),
    ("/api/workflow", {"options": {"max_cost_usd": "0.5"}}, "max_cost_usd"),
    ("/api/workflow", {"options": {"use_ai": 1}}, "use_ai"),
    ("/api/analysis/plans/1/bulk-review", {"status": "accepted", "change_ids": [True]},
     "change_ids"),
    ("/api/schedules", {"name": "n", "kind": "sync", "interval_seconds": True},
     "interval_seconds"),
])
def test_a_json_number_or_flag_of_another_json_type_is_400(superuser_client, path, body, field):
    """DRF would read true as 1 and "0.5" as 0.5: in a JSON body they are mistakes."""
    response = superuser_client.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert field in str(response.json()["detail"])
    assert not Job.objects.exists()


# -- codes -----------------------------------------------------------------------------------


def test_codes_name_what_went_wrong(api_client, anon_client):
    job = Job.objects.create(type="sync", status=JobStatus.COMPLETED)
    assert_envelope(api_client.delete(f"/api/jobs/{job.id}"), 409, "job_finished")
    assert_envelope(api_client.get("/api/analysis/plans/12345"), 404, "not_found")
    assert_envelope(api_client.get("/api/nowhere"), 404, "not_found")
    assert_envelope(send_json(api_client, "post", "/api/analysis/generate", "{"), 400,
                    "parse_error")
    assert_envelope(api_client.post("/api/analysis/generate", "a=1",
                                    content_type="text/plain"), 415, "unsupported_media_type")
    assert_envelope(api_client.post("/api/scenes"), 405, "method_not_allowed")
    assert_envelope(anon_client.get("/api/scenes"), 401, "not_authenticated")
    assert_envelope(api_client.get("/api/settings"), 403, "permission_denied")


def test_every_code_is_documented_in_the_readme_and_the_schema(openapi_schema):
    readme = README.read_text()
    described = openapi_schema["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]
    for code in error_codes():
        assert f"`{code}`" in readme, code
        assert f"``{code}``" in described["description"], code
    assert {"not_found", "job_active", "stash_unavailable", "validation_error"} <= set(
        error_codes())
