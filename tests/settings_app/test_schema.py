"""What the settings endpoints' OpenAPI documents beyond the shared contract
(tests/stashhog/test_schema.py): every key, and no secret in any example."""

import json

from settings_app.registry import REGISTRY, SECRET_MASK


def test_settings_schema_lists_every_key_and_marks_secrets(openapi_schema):
    settings_schema = openapi_schema["components"]["schemas"]["Settings"]

    assert set(settings_schema["properties"]) == set(REGISTRY)
    assert set(settings_schema["required"]) == set(REGISTRY)
    assert SECRET_MASK in settings_schema["properties"]["stash_api_key"]["description"]


def test_examples_show_only_the_mask_for_secrets(openapi_schema):
    examples = json.dumps(openapi_schema["paths"]["/api/settings"]["get"])
    secret_keys = [key for key, spec in REGISTRY.items() if spec.secret]

    assert secret_keys
    for key in secret_keys:
        assert f'"{key}": "{SECRET_MASK}"' in examples
