"""The OpenAPI contract, for every endpoint at once: it validates as OpenAPI 3.0.3, the
generator warns about nothing, the committed schema.yml is current, every operation
documents an example for its request and response bodies and every example matches its own
schema, request bodies refuse unknown keys, and every number a client sends is bounded."""

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

COMMITTED_SCHEMA = Path(__file__).resolve().parents[2] / "schema.yml"

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
    ("/api/schedules", "get"),
    ("/api/schedules", "post"),
    ("/api/schedules/{schedule_id}", "get"),
    ("/api/schedules/{schedule_id}", "patch"),
    ("/api/schedules/{schedule_id}", "delete"),
    ("/api/schedules/{schedule_id}/run", "post"),
    ("/api/workflow", "post"),
    ("/api/hooks/stash", "post"),
    ("/api/settings/test-notify", "post"),
}


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


@pytest.fixture(scope="session")
def generated_schema_text(tmp_path_factory) -> str:
    """schema.yml as ``make schema`` writes it; validating, and failing on any warning."""
    out = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return out.read_text()


def test_spectacular_validates_without_warnings(generated_schema_text):
    schema = yaml.safe_load(generated_schema_text)
    assert {(path, method) for path, method, _ in operations(schema)} >= EXPECTED_OPERATIONS


def test_committed_schema_is_current(generated_schema_text):
    """schema.yml is the contract clients build on: regenerate it with ``make schema``."""
    assert COMMITTED_SCHEMA.read_text() == generated_schema_text, (
        "schema.yml differs from the generated schema: run `make schema` and commit it")


def walk(node, where="#"):
    """Every (JSON pointer, schema-like dict) in the document."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def test_the_schema_is_openapi_3_0_3_throughout(openapi_schema):
    assert openapi_schema["openapi"] == "3.0.3"
    mixed = [where for where, node in walk(openapi_schema)
             if isinstance(node.get("type"), list) or node.get("type") == "null"]
    assert mixed == [], "3.1 type lists in a 3.0 document (use nullable: true)"


def resolve(schema, document):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def bodies(document):
    """(name, media schema, examples, validator class) for every request and response body."""
    for path, method, operation in operations(document):
        request = operation.get("requestBody", {}).get("content", {})
        for media in request.values():
            yield (f"{method.upper()} {path} request", media["schema"],
                   media.get("examples", {}), OAS30WriteValidator)
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                yield (f"{method.upper()} {path} {status}", media["schema"],
                       media.get("examples", {}), OAS30ReadValidator)


def test_every_example_matches_its_schema(openapi_schema):
    mismatches, count = [], 0
    for name, schema, examples, validator in bodies(openapi_schema):
        checker = validator({**schema, "components": openapi_schema["components"]})
        for title, example in examples.items():
            count += 1
            for error in checker.iter_errors(example["value"]):
                mismatches.append(f"{name} example {title!r} at {error.json_path}: "
                                  f"{error.message[:200]}")
    assert count > 50
    assert mismatches == []


def test_every_request_body_refuses_unknown_keys(openapi_schema):
    open_bodies = []
    for name, schema, _examples, validator in bodies(openapi_schema):
        schema = resolve(schema, openapi_schema)
        if validator is OAS30WriteValidator and schema.get("type") == "object" and (
                schema.get("additionalProperties") is not False):
            open_bodies.append(name)
    assert open_bodies == []


def number_schemas(schema, document, where, seen=frozenset()):
    """(pointer, schema) of every integer or number a request can carry."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
    schema = resolve(schema, document)
    if schema.get("type") in ("integer", "number"):
        yield where, schema
    for key in ("oneOf", "anyOf", "allOf"):
        for index, member in enumerate(schema.get(key, [])):
            yield from number_schemas(member, document, f"{where}/{key}/{index}", seen)
    if "items" in schema:
        yield from number_schemas(schema["items"], document, f"{where}[]", seen)
    for name, member in schema.get("properties", {}).items():
        if not member.get("readOnly"):
            yield from number_schemas(member, document, f"{where}.{name}", seen)


def test_every_number_a_client_sends_is_bounded(openapi_schema):
    unbounded = []
    for path, method, operation in operations(openapi_schema):
        inputs = [(f"{method.upper()} {path} ?{p['name']}", p["schema"])
                  for p in operation.get("parameters", []) if p["in"] == "query"]
        inputs += [(f"{method.upper()} {path} body", media["schema"])
                   for media in operation.get("requestBody", {}).get("content", {}).values()]
        for where, schema in inputs:
            unbounded += [pointer for pointer, number in number_schemas(
                schema, openapi_schema, where)
                if "minimum" not in number or "maximum" not in number]
    assert unbounded == []


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
