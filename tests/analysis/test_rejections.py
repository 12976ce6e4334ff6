"""Rejections that stick, and open plans that are not proposed twice: through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.models import AnalysisPlan, Rejection
from tests.analysis.conftest import changes_by_field, names

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenes(library):
    library.studio(10, "Blue Harbor Films")
    library.performer(20, "Jane Doe")
    library.performer(21, "Anna Bell")
    library.tag(30, "Outdoor")
    library.scene(1, "/media/Blue Harbor Films/Jane Doe & Anna Bell - Outdoor.mp4")
    library.scene(2, "/media/Blue Harbor Films/Anna Bell - Sunset.mp4")


def generate(api_client, **options):
    response = api_client.post("/api/analysis/generate?background=false",
                               {"options": {"use_ai": False, **options}}, format="json")
    assert response.status_code == 200, response.json()
    return AnalysisPlan.objects.get(pk=response.json()["id"])


def reject(api_client, change):
    response = api_client.patch(f"/api/analysis/changes/{change.id}", {"status": "rejected"},
                                format="json")
    assert response.status_code == 200, response.json()


def cancel(api_client, plan):
    assert api_client.delete(f"/api/analysis/plans/{plan.id}").status_code == 200


def test_a_rejected_value_is_not_proposed_again(api_client, scenes, user):
    first = generate(api_client)
    changes = changes_by_field(first)
    reject(api_client, changes["1", "performers"])  # Jane Doe and Anna Bell for scene 1
    reject(api_client, changes["2", "studio"])
    cancel(api_client, first)  # nothing of it is open any more

    second = generate(api_client)

    found = changes_by_field(second)
    assert ("1", "performers") not in found
    assert ("2", "studio") not in found
    assert ("1", "studio") in found
    assert ("2", "performers") in found
    assert second.metadata["counts"]["suppressed"] == {"rejected": 3, "in_open_plan": 0}
    rejections = api_client.get("/api/analysis/rejections?scene_id=1").json()
    assert rejections["total"] == 2
    item = rejections["items"][0]
    assert {item["field"], item["action"], item["plan_id"], item["rejected_by"]} == {
        "performers", "add", first.id, user.username}
    assert sorted(names(i["value"][0] for i in rejections["items"])) == [
        "Anna Bell", "Jane Doe"]  # one item each, in the shape of the change's value

    again = changes_by_field(generate(api_client, include_rejected=True))
    assert ("1", "performers") in again
    assert ("2", "studio") in again


def test_only_the_rejected_items_of_a_list_are_held_back(api_client, library, scenes):
    plan = generate(api_client)
    change = changes_by_field(plan)["1", "performers"]
    edit = api_client.patch(f"/api/analysis/changes/{change.id}", {
        "proposed_value": [{"id": "20"}], "status": "rejected"}, format="json")
    assert edit.status_code == 200, edit.json()
    cancel(api_client, plan)
    library.performer(22, "Mia Rivera")

    found = changes_by_field(generate(api_client))

    assert names(found["1", "performers"].proposed_value) == ["Anna Bell"]


def test_taking_a_rejection_back(api_client, scenes):
    plan = generate(api_client)
    reject(api_client, changes_by_field(plan)["2", "studio"])
    cancel(api_client, plan)
    rejection = api_client.get("/api/analysis/rejections").json()["items"][0]

    response = api_client.delete(f"/api/analysis/rejections/{rejection['id']}")

    assert response.status_code == 204
    assert ("2", "studio") in changes_by_field(generate(api_client))
    assert api_client.delete(f"/api/analysis/rejections/{rejection['id']}").status_code == 404


def test_accepting_a_rejected_change_withdraws_its_rejection(api_client, scenes):
    plan = generate(api_client)
    bulk = api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review",
                           {"status": "rejected"}, format="json")
    assert bulk.status_code == 200
    # One per value: scene 1 a studio, two performers and a tag; scene 2 a studio and one
    # performer.
    assert Rejection.objects.count() == 6
    api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review",
                    {"status": "accepted", "field": "studio"}, format="json")

    assert set(Rejection.objects.values_list("field", flat=True)) == {"performers", "tags"}


def test_what_another_open_plan_proposes_is_not_proposed_twice(api_client, scenes):
    first = generate(api_client)
    count = first.changes.count()

    second = generate(api_client)

    assert second.changes.count() == 0
    suppressed = second.metadata["counts"]["suppressed"]
    assert suppressed["in_open_plan"] >= count
    assert suppressed["rejected"] == 0
    cancel(api_client, first)
    assert generate(api_client).changes.count() == count


def test_the_rejections_list_pages_filters_and_refuses_unknown_parameters(
        api_client, plain_client, scenes):
    plan = generate(api_client)
    api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review", {"status": "rejected"},
                    format="json")

    page = api_client.get("/api/analysis/rejections?per_page=2").json()
    assert (page["total"], page["per_page"], len(page["items"])) == (
        Rejection.objects.count(), 2, 2)
    assert {i["scene_id"] for i in api_client.get(
        "/api/analysis/rejections/?scene_id=2").json()["items"]} == {"2"}
    assert api_client.get("/api/analysis/rejections?scene=2").status_code == 400
    assert api_client.get("/api/analysis/rejections?field=bogus").status_code == 400
    assert plain_client.get("/api/analysis/rejections").status_code == 403
    some = Rejection.objects.first()
    assert plain_client.delete(f"/api/analysis/rejections/{some.id}").status_code == 403
    assert Rejection.objects.filter(pk=some.pk).exists()


def test_rejections_list_query_count_is_constant(api_client, scenes):
    plan = generate(api_client)
    api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review", {"status": "rejected"},
                    format="json")

    def queries(per_page: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(f"/api/analysis/rejections?per_page={per_page}")
        assert len(response.json()["items"]) == per_page
        return len(captured)

    assert queries(1) == queries(4)


def test_removed_scenes_take_their_rejections_with_them(api_client, scenes):
    from scenes.store import remove_scenes

    plan = generate(api_client)
    api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review", {"status": "rejected"},
                    format="json")
    remove_scenes(["1"])

    assert not Rejection.objects.filter(scene_id="1").exists()
    assert Rejection.objects.filter(scene_id="2").exists()


@pytest.mark.parametrize("scene_count", [3, 30])
def test_rejecting_a_whole_plan_costs_the_same_queries_however_many_changes(
        api_client, plan_factory, scene_count):
    plan = plan_factory(*(
        change for scene in range(scene_count) for change in (
            {"scene_id": str(scene), "field": "studio", "proposed_value": {"name": "Studio"}},
            {"scene_id": str(scene), "field": "tags", "action": "add",
             "proposed_value": [{"name": "A"}, {"name": "B"}]})))
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review",
                                   {"status": "rejected"}, format="json")
    assert response.json()["updated"] == 2 * scene_count
    assert Rejection.objects.count() == 3 * scene_count  # the studio, and A and B
    assert len(queries) == 10  # was one more per change (its plan_id, read for the plan)
