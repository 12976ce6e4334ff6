"""The settings endpoints' OpenAPI contract: no generator warnings, an example for each
operation, and no secret in any example."""

import json

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from settings_app.registry import REGISTRY, SECRET_MASK

OPERATIONS = {
    ("/api/settings", "get"),
    ("/api/settings", "put"),
    ("/api/settings/test-stash", "post"),
    ("/api/settings/test-openai", "post"),
}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/", include("settings_app.urls"))])
    generated = generator.get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    # Optional-slash routes are named with or without the slash: compare without.
    generated["paths"] = {p.rstrip("/"): ops for p, ops in generated["paths"].items()}
    return generated, warnings


def test_settings_schema_is_valid_and_without_warnings(schema):
    generated, warnings = schema

    validate_schema(generated)
    assert warnings == {}
    operations = {(p, m) for p, methods in generated["paths"].items() for m in methods}
    assert operations == OPERATIONS


@pytest.mark.parametrize(("path_", "method"), sorted(OPERATIONS))
def test_every_operation_has_an_example(schema, path_, method):
    operation = schema[0]["paths"][path_][method]
    contents = [operation.get("requestBody", {}).get("content", {})] + [
        response.get("content", {}) for response in operation["responses"].values()
    ]

    assert any(media.get("examples") for content in contents for media in content.values())


def test_settings_schema_lists_every_key_and_marks_secrets(schema):
    settings_schema = schema[0]["components"]["schemas"]["Settings"]

    assert set(settings_schema["properties"]) == set(REGISTRY)
    assert set(settings_schema["required"]) == set(REGISTRY)
    assert SECRET_MASK in settings_schema["properties"]["stash_api_key"]["description"]


def test_examples_show_only_the_mask_for_secrets(schema):
    examples = json.dumps(schema[0]["paths"]["/api/settings"]["get"])
    secret_keys = [key for key, spec in REGISTRY.items() if spec.secret]

    assert secret_keys
    for key in secret_keys:
        assert f'"{key}": "{SECRET_MASK}"' in examples
