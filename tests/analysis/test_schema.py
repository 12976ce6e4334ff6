"""What the analysis endpoints' OpenAPI documents beyond the shared contract
(tests/stashhog/test_schema.py): the shapes of a change's values."""


def test_change_values_document_their_shapes(openapi_schema):
    change = openapi_schema["components"]["schemas"]["PlanChange"]["properties"]

    entity, items, text, number, flag = change["proposed_value"]["oneOf"]
    assert entity == {"$ref": "#/components/schemas/ChangeEntity"}
    assert items == {"type": "array", "items": {"anyOf": [
        entity, {"$ref": "#/components/schemas/StashId"}, {"type": "string"}]}}
    assert (text["type"], flag) == ("string", {"type": "boolean"})
    assert number == {"type": "integer", "minimum": 0, "maximum": 100}
    for field in ("studio", "tags", "rating", "urls", "stash_ids"):
        assert f"{field} ->" in change["proposed_value"]["description"]
    assert change["proposed_value"]["nullable"] is True
    entity_schema = openapi_schema["components"]["schemas"]["ChangeEntity"]
    assert entity_schema["required"] == ["id", "name"]


def test_a_review_may_propose_an_entity_by_id_alone(openapi_schema):
    patch = openapi_schema["components"]["schemas"]["PatchedChangeUpdateRequest"]
    value = patch["properties"]["proposed_value"]
    assert value["nullable"] is True  # null clears a date or a rating
    assert value["oneOf"][0] == {"$ref": "#/components/schemas/ProposedEntityRequest"}
    assert openapi_schema["components"]["schemas"]["ProposedEntityRequest"]["required"] == ["id"]
