"""What the analysis endpoints' OpenAPI documents beyond the shared contract
(tests/stashhog/test_schema.py): the shapes of a change's values."""


def test_change_values_document_their_shapes(openapi_schema):
    change = openapi_schema["components"]["schemas"]["PlanChange"]["properties"]

    shapes = [option.get("type") for option in change["proposed_value"]["oneOf"]]
    assert shapes == ["object", "array", "string"]
    assert "studio" in change["proposed_value"]["description"]
