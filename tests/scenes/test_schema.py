"""The scene and entity endpoints' OpenAPI contract: valid, no generator warnings, an
example for every operation and every response that has a body."""

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

OPERATIONS = {
    ("/api/scenes", "get"),
    ("/api/scenes/{scene_id}", "get"),
    ("/api/scenes/sync", "post"),
    ("/api/scenes/{scene_id}/resync", "post"),
    ("/api/performers", "get"),
    ("/api/tags", "get"),
    ("/api/studios", "get"),
}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/", include("scenes.urls"))])
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
def test_every_response_with_a_body_has_an_example(schema, path_, method):
    responses = schema[0]["paths"][path_][method]["responses"]

    assert "200" in responses or "202" in responses
    for status, response in responses.items():
        for media in response.get("content", {}).values():
            assert media.get("examples"), (path_, method, status)


def test_scene_list_documents_every_filter_and_sort(schema):
    parameters = {p["name"]: p for p in schema[0]["paths"]["/api/scenes"]["get"]["parameters"]}

    assert {"search", "studio_id", "performer_ids", "tag_ids", "organized", "date_from",
            "date_to", "sort_by", "sort_order", "page", "per_page"} <= set(parameters)
    assert set(parameters["sort_by"]["schema"]["enum"]) == {
        "title", "scene_date", "created_date", "last_synced", "id"
    }
