"""What the scene endpoints' OpenAPI documents beyond the shared contract
(tests/stashhog/test_schema.py): every filter and sort of the scene list."""


def test_scene_list_documents_every_filter_and_sort(openapi_schema):
    operation = openapi_schema["paths"]["/api/scenes"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}

    assert {"search", "studio_id", "performer_ids", "tag_ids", "organized", "date_from",
            "date_to", "sort_by", "sort_order", "page", "per_page"} <= set(parameters)
    assert set(parameters["sort_by"]["schema"]["enum"]) == {
        "title", "scene_date", "created_date", "last_synced", "id"
    }
