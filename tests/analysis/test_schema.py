"""The analysis endpoints' OpenAPI contract: valid, no generator warnings, an example for
every operation and every response with a body, and the change value shapes documented."""

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

OPERATIONS = {
    ("/api/analysis/generate", "post"),
    ("/api/analysis/plans", "get"),
    ("/api/analysis/plans/{plan_id}", "get"),
    ("/api/analysis/plans/{plan_id}", "delete"),
    ("/api/analysis/plans/{plan_id}/bulk-review", "post"),
    ("/api/analysis/plans/{plan_id}/apply", "post"),
    ("/api/analysis/changes/{change_id}", "patch"),
}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/", include("analysis.urls"))])
    generated = generator.get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    return generated, warnings


def test_schema_is_valid_and_without_warnings(schema):
    generated, warnings = schema

    validate_schema(generated)
    assert warnings == {}
    assert {(p, m) for p, methods in generated["paths"].items() for m in methods} == OPERATIONS


@pytest.mark.parametrize(("path_", "method"), sorted(OPERATIONS))
def test_every_operation_and_response_body_has_an_example(schema, path_, method):
    operation = schema[0]["paths"][path_][method]
    request_media = operation.get("requestBody", {}).get("content", {}).values()
    for media in request_media:
        assert media.get("examples"), (path_, method, "request")
    for status, response in operation["responses"].items():
        for media in response.get("content", {}).values():
            assert media.get("examples"), (path_, method, status)


def test_change_values_document_their_shapes(schema):
    change = schema[0]["components"]["schemas"]["PlanChange"]["properties"]

    shapes = [option.get("type") for option in change["proposed_value"]["oneOf"]]
    assert shapes == ["object", "array", "string"]
    assert "studio" in change["proposed_value"]["description"]
