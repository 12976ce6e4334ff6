"""The OpenAPI contract, for every endpoint at once: it validates, the generator warns about
nothing, and every operation documents an example for its request and response bodies."""

import yaml
from django.core.management import call_command

EXPECTED_OPERATIONS = {
    ("/api/health", "get"),
    ("/api/scenes", "get"),
    ("/api/scenes/{scene_id}", "get"),
    ("/api/scenes/sync", "post"),
    ("/api/scenes/{scene_id}/resync", "post"),
    ("/api/performers", "get"),
    ("/api/tags", "get"),
    ("/api/studios", "get"),
    ("/api/analysis/generate", "post"),
    ("/api/analysis/plans", "get"),
    ("/api/analysis/plans/{plan_id}", "get"),
    ("/api/analysis/plans/{plan_id}", "delete"),
    ("/api/analysis/plans/{plan_id}/changes", "get"),
    ("/api/analysis/plans/{plan_id}/bulk-review", "post"),
    ("/api/analysis/plans/{plan_id}/apply", "post"),
    ("/api/analysis/plans/{plan_id}/revert", "post"),
    ("/api/scenes/{scene_id}/history", "get"),
    ("/api/analysis/changes/{change_id}", "patch"),
    ("/api/jobs", "get"),
    ("/api/jobs/{job_id}", "get"),
    ("/api/jobs/{job_id}", "delete"),
    ("/api/settings", "get"),
    ("/api/settings", "put"),
    ("/api/settings/test-stash", "post"),
    ("/api/settings/test-openai", "post"),
}


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_spectacular_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert {(path, method) for path, method, _ in operations(schema)} == EXPECTED_OPERATIONS


def test_every_body_has_an_example(openapi_schema):
    missing = []
    for path, method, operation in operations(openapi_schema):
        bodies = {"request": operation.get("requestBody", {})} | operation["responses"]
        for name, body in bodies.items():
            for media in body.get("content", {}).values():
                if not media.get("examples"):
                    missing.append(f"{method.upper()} {path} {name}")
    assert missing == []


def test_every_operation_requires_authentication_except_health(openapi_schema):
    anonymous = {path for path, _, operation in operations(openapi_schema)
                 if {} in operation.get("security", [])}
    assert anonymous == {"/api/health"}
