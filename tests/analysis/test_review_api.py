"""Review at scale over the API: the changes list, paged plan detail, review counts, bulk
review by filters, and the users recorded on review."""

import json

import pytest
from django.core.signals import request_finished
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from analysis import views
from analysis.models import ChangeStatus, PlanChange
from analysis.plan_queries import change_rows, display, plan_scene_parts, plan_scenes
from analysis.serializers import PlanChangeSerializer, PlanSceneSerializer
from analysis.views import _plan_detail
from jobs.views import JobViewSet
from stashhog.api.renderers import FastJSONRenderer
from tests.stashhog.test_request_threads import communicator, run


@pytest.fixture
def plan(library, plan_factory):
    """Scene 2 titled, scene 10 untitled (its file name shows), scene 3 not in the library."""
    library.performer(20, "Jane Doe")
    library.tag(30, "Outdoor")
    library.scene(2, "/media/Vixen/Sunset.mp4", title="Sunset")
    library.scene(10, "/media/Blue Harbor/Jane Doe - Golden Hour.mp4",
                  extra_paths=["/media/other/copy.mp4"])
    return plan_factory(
        {"scene_id": "10", "scene_title": "", "field": "performers", "action": "add",
         "current_value": [], "proposed_value": [{"id": "20", "name": "Jane Doe"}],
         "confidence": 0.95, "source": "path"},
        {"scene_id": "10", "scene_title": "", "field": "tags", "action": "add",
         "current_value": [], "proposed_value": [{"id": "30", "name": "Outdoor"}],
         "confidence": 0.6, "source": "ai"},
        {"scene_id": "2", "scene_title": "Sunset", "field": "performers", "action": "add",
         "current_value": [], "proposed_value": [{"id": "20", "name": "Jane Doe"}],
         "confidence": 0.92, "source": "ai"},
        {"scene_id": "2", "scene_title": "Sunset", "field": "details", "current_value": "<b>x",
         "proposed_value": "x", "confidence": 0.9, "source": "path", "status": "rejected"},
        {"scene_id": "3", "scene_title": "", "field": "details", "current_value": "",
         "proposed_value": "y", "confidence": 0.5, "source": "path", "status": "applied"},
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["items"]]


def change_ids(plan, **lookups) -> list[int]:
    return list(plan.changes.filter(**lookups).order_by("id").values_list("id", flat=True))


# -- the changes list ------------------------------------------------------------------------


def test_changes_list_pages_changes_with_scene_title_and_primary_path(api_client, plan):
    response = api_client.get(f"/api/analysis/plans/{plan.id}/changes?per_page=2")

    body = response.json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, 1, 2, 3)
    first = body["items"][0]
    assert (first["scene_id"], first["scene_title"], first["scene_path"]) == (
        "2", "Sunset", "/media/Vixen/Sunset.mp4")
    page3 = api_client.get(f"/api/analysis/plans/{plan.id}/changes/?per_page=2&page=3").json()
    assert [(c["scene_id"], c["scene_title"], c["scene_path"]) for c in page3["items"]] == [
        ("10", "Jane Doe - Golden Hour.mp4", "/media/Blue Harbor/Jane Doe - Golden Hour.mp4")]
    # Sorted by scene as numbers (2 < 3 < 10), then id; scene 3 is gone from the library.
    all_items = api_client.get(f"/api/analysis/plans/{plan.id}/changes").json()["items"]
    assert [c["scene_id"] for c in all_items] == ["2", "2", "3", "10", "10"]
    assert all_items[2]["scene_path"] is None
    assert all_items[2]["scene_title"] == ""


@pytest.mark.parametrize(("query", "lookups"), [
    ("field=performers", {"field": "performers"}),
    ("action=set", {"action": "set"}),
    ("status=rejected", {"status": "rejected"}),
    ("source=ai", {"source": "ai"}),
    ("min_confidence=0.92", {"confidence__gte": 0.92}),
    ("max_confidence=0.6", {"confidence__lte": 0.6}),
    ("min_confidence=0.6&max_confidence=0.9", {"confidence__range": (0.6, 0.9)}),
    ("scene_id=10", {"scene_id": "10"}),
    ("search=sunSET", {"scene_id": "2"}),  # the title
    ("search=blue harbor", {"scene_id": "10"}),  # a file path
    ("search=other/copy", {"scene_id": "10"}),  # any of its files
    ("field=performers&source=path", {"field": "performers", "source": "path"}),
])
def test_changes_list_filters(api_client, plan, query, lookups):
    response = api_client.get(f"/api/analysis/plans/{plan.id}/changes?{query}&sort_by=id")
    assert ids(response) == change_ids(plan, **lookups)
    assert ids(response)  # every case selects something


@pytest.mark.parametrize(("sort", "expected"), [
    ("sort_by=confidence", [0.5, 0.6, 0.9, 0.92, 0.95]),
    ("sort_by=confidence&sort_order=desc", [0.95, 0.92, 0.9, 0.6, 0.5]),
])
def test_changes_list_sorts_by_confidence(api_client, plan, sort, expected):
    items = api_client.get(f"/api/analysis/plans/{plan.id}/changes?{sort}").json()["items"]
    assert [c["confidence"] for c in items] == expected


def test_changes_list_sorts_by_field_scene_and_id(api_client, plan):
    base = f"/api/analysis/plans/{plan.id}/changes"
    by_field = api_client.get(f"{base}?sort_by=field").json()["items"]
    assert [c["field"] for c in by_field] == ["details", "details", "performers",
                                              "performers", "tags"]
    assert ids(api_client.get(f"{base}?sort_by=id&sort_order=desc")) == change_ids(plan)[::-1]
    by_scene = api_client.get(f"{base}?sort_by=scene&sort_order=desc").json()["items"]
    assert [c["scene_id"] for c in by_scene] == ["10", "10", "3", "2", "2"]


@pytest.mark.parametrize(("query", "key"), [
    ("field=colour", "field"),
    ("min_confidence=2", "min_confidence"),
    ("max_confidence=x", "max_confidence"),
    ("status=done", "status"),
    ("sort_by=name", "sort_by"),
])
def test_changes_list_rejects_bad_filters(api_client, plan, query, key):
    response = api_client.get(f"/api/analysis/plans/{plan.id}/changes?{query}")
    assert response.status_code == 400
    assert key in response.json()["detail"]


def test_changes_list_of_an_unknown_plan_is_404(api_client, db):
    response = api_client.get("/api/analysis/plans/999/changes")
    assert response.status_code == 404
    assert response.json()["error"] == "Plan not found"


def test_changes_list_query_count_is_constant(api_client, library, plan_factory):
    for number in range(40):
        library.scene(100 + number, f"/m/scene {number}.mp4")
    plan = plan_factory(*({"scene_id": str(100 + n), "field": "details",
                           "proposed_value": "x"} for n in range(40)))

    def queries(per_page: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(f"/api/analysis/plans/{plan.id}/changes"
                                      f"?per_page={per_page}&search=scene")
        assert len(response.json()["items"]) == per_page
        return len(captured)

    # token (with the lockout check), plan, page (its count, titles and paths come with it)
    assert queries(2) == queries(40) == 3


# -- plan detail and counts ------------------------------------------------------------------


def test_plan_list_and_detail_carry_review_counts(api_client, plan):
    expected = {"pending": 3, "accepted": 0, "rejected": 1, "applied": 1, "failed": 0}
    listed = api_client.get("/api/analysis/plans").json()["items"][0]
    detail = api_client.get(f"/api/analysis/plans/{plan.id}").json()
    assert listed["review_counts"] == detail["review_counts"] == expected
    plan.changes.filter(scene_id="10", field="tags").update(status=ChangeStatus.FAILED)
    counts = api_client.get(f"/api/analysis/plans/{plan.id}").json()["review_counts"]
    assert counts == {**expected, "pending": 2, "failed": 1}


def test_plan_detail_without_paging_holds_every_scene(api_client, plan):
    body = api_client.get(f"/api/analysis/plans/{plan.id}").json()
    assert [s["scene_id"] for s in body["scenes"]] == ["2", "3", "10"]
    untitled = body["scenes"][2]
    assert untitled["scene_title"] == "Jane Doe - Golden Hour.mp4"
    assert untitled["scene_path"] == "/media/Blue Harbor/Jane Doe - Golden Hour.mp4"
    assert [c["field"] for c in untitled["changes"]] == ["performers", "tags"]


def test_whole_plan_detail_is_streamed_a_part_at_a_time_with_the_bytes_of_one_answer(
        api_client, plan, monkeypatch):
    whole = FastJSONRenderer().render(_plan_detail(plan.id))
    monkeypatch.setattr(views, "PLAN_PART_SCENES", 2)
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(f"/api/analysis/plans/{plan.id}")

    assert response["Content-Type"] == "application/json"
    assert response.content == whole
    # the plan, then scenes 2 and 3, then 10: each part read when it is written
    assert response.streamed_parts == 4
    scene_pages = [q for q in captured if "analysis_planscene" in q["sql"]]
    assert len(scene_pages) == 3  # two parts, and the one that finds no more scenes


def test_whole_plan_detail_of_the_browsable_api_is_one_page(api_client, plan):
    response = api_client.get(f"/api/analysis/plans/{plan.id}", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert not hasattr(response, "streamed_parts")
    assert b"Golden Hour" in response.content


@pytest.mark.parametrize(("query", "scenes"), [
    ("per_page=2", ["2", "3"]),
    ("per_page=2&page=2", ["10"]),
    ("page=1", ["2", "3", "10"]),  # page alone: 50 scenes a page
    ("page=3&per_page=2", []),
])
def test_plan_detail_pages_over_scenes(api_client, plan, query, scenes):
    body = api_client.get(f"/api/analysis/plans/{plan.id}?{query}").json()
    assert [s["scene_id"] for s in body["scenes"]] == scenes
    assert (body["total_scenes"], body["total_changes"]) == (3, 5)


def test_plan_detail_and_changes_answer_the_serializers_shape_without_running_them(
        api_client, plan, monkeypatch):
    plan.changes.filter(scene_id="3").update(error="Stash refused it", conflict="edited")
    as_json = lambda data: json.loads(JSONRenderer().render(data))  # noqa: E731
    scenes = as_json(PlanSceneSerializer(plan_scenes(plan.changes.all()), many=True).data)
    rows = change_rows(plan.changes.all()).order_by("scene_number", "id")
    changes = as_json(PlanChangeSerializer([display(row) for row in rows], many=True).data)
    change_id = changes[0]["id"]

    def field_by_field(*args):  # a page's rows are already what the API shows
        raise AssertionError("a change was serialized field by field")

    monkeypatch.setattr(PlanChangeSerializer, "to_representation", field_by_field)
    detail = api_client.get(f"/api/analysis/plans/{plan.id}?per_page=10").json()
    listed = api_client.get(f"/api/analysis/plans/{plan.id}/changes").json()["items"]
    patched = api_client.patch(f"/api/analysis/changes/{change_id}", {"status": "accepted"},
                               format="json").json()

    assert detail["scenes"] == scenes
    assert listed == changes
    assert patched == {**changes[0], "status": "accepted"}


def test_plan_detail_rejects_bad_paging(api_client, plan):
    response = api_client.get(f"/api/analysis/plans/{plan.id}?page=0")
    assert response.status_code == 400
    assert "page" in response.json()["detail"]


def test_plan_detail_page_query_count_is_constant(api_client, library, plan_factory):
    plan = plan_factory(*({"scene_id": str(n), "field": "details", "proposed_value": "x"}
                          for n in range(1, 31)))

    def queries(per_page: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            body = api_client.get(f"/api/analysis/plans/{plan.id}?per_page={per_page}").json()
        assert len(body["scenes"]) == per_page
        return len(captured)

    # token (with the lockout check), the plan with its counts, the page's scene ids, their
    # changes
    assert queries(3) == queries(30) == 4


# -- bulk review by filters, users recorded --------------------------------------------------


def test_bulk_review_takes_the_changes_filters(api_client, plan, user):
    response = api_client.post(
        f"/api/analysis/plans/{plan.id}/bulk-review",
        {"status": "accepted",
         "filters": {"field": "performers", "source": "path", "min_confidence": 0.9}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["matched"] == response.json()["updated"] == 1
    accepted = plan.changes.get(status=ChangeStatus.ACCEPTED)
    assert (accepted.scene_id, accepted.field, accepted.reviewed_by) == ("10", "performers", user)
    assert plan.changes.filter(reviewed_by__isnull=False).count() == 1


def test_bulk_review_filters_by_current_status_and_search(api_client, plan):
    response = api_client.post(
        f"/api/analysis/plans/{plan.id}/bulk-review",
        {"status": "rejected", "filters": {"status": "pending", "search": "golden"}},
        format="json",
    )
    assert response.json()["updated"] == 2
    assert set(plan.changes.filter(status="rejected").values_list("scene_id", "field")) == {
        ("10", "performers"), ("10", "tags"), ("2", "details")}


@pytest.mark.parametrize(("filters", "key"), [
    ({"min_confidence": 3}, "min_confidence"),
    ({"field": "colour"}, "field"),
    ({"colour": "red"}, "colour"),
])
def test_bulk_review_rejects_bad_filters_and_changes_nothing(api_client, plan, filters, key):
    response = api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review",
                               {"status": "accepted", "filters": filters}, format="json")
    assert response.status_code == 400
    assert key in response.json()["detail"]["filters"]
    assert not plan.changes.filter(status=ChangeStatus.ACCEPTED).exists()


def test_patch_records_the_reviewer(api_client, plan, user):
    change = plan.changes.get(scene_id="2", field="performers")
    response = api_client.patch(f"/api/analysis/changes/{change.id}", {"status": "accepted"},
                                format="json")
    assert response.status_code == 200
    assert response.json()["scene_path"] == "/media/Vixen/Sunset.mp4"
    assert PlanChange.objects.get(pk=change.pk).reviewed_by == user


def test_jobs_started_over_the_api_record_who_started_them(api_client, plan, user):
    plan.changes.filter(scene_id="2", field="performers").update(status=ChangeStatus.ACCEPTED)
    response = api_client.post(f"/api/analysis/plans/{plan.id}/apply", {}, format="json")

    job = api_client.get(f"/api/jobs/{response.json()['job_id']}").json()
    assert job["created_by"] == "tester"


@pytest.mark.django_db(transaction=True)
def test_requests_take_turns_with_a_streamed_whole_plan(plan, token, monkeypatch):
    """Through the real ASGI application: a request that arrives while a whole plan is
    being written is served between two of its parts, not after all of them; each request
    is finished (its database connection released) once, the plan's after its last part."""
    served = []  # in the order the process's request thread did the work

    def finished(**kwargs):
        served.append("finished")

    def parts(*args):
        for part in plan_scene_parts(*args):
            served.append("plan part")
            yield part

    def job_list(self, request):
        served.append("job list")
        return Response([])

    for scene_id in range(100, 110):  # 13 scenes in all: a part each
        PlanChange.objects.create(plan=plan, scene_id=str(scene_id), field="details",
                                  action="set", proposed_value="x", confidence=0.5)
    monkeypatch.setattr(views, "PLAN_PART_SCENES", 1)
    monkeypatch.setattr(views, "plan_scene_parts", parts)
    monkeypatch.setattr(JobViewSet, "list", job_list)

    async def scenario():
        whole = communicator("GET", f"/api/analysis/plans/{plan.id}", token)
        await whole.send_input({"type": "http.request", "body": b""})
        assert (await whole.receive_output(timeout=10))["status"] == 200
        body = [(await whole.receive_output(timeout=10))["body"]]  # the plan's own fields
        other = communicator("GET", "/api/jobs", token)
        assert (await other.get_response(timeout=10))["status"] == 200
        await other.wait(timeout=10)
        while True:
            event = await whole.receive_output(timeout=10)
            body.append(event.get("body", b""))
            if not event.get("more_body"):
                await whole.wait(timeout=10)
                return b"".join(body)

    request_finished.connect(finished)
    try:
        body = run(scenario)
    finally:
        request_finished.disconnect(finished)
    assert json.loads(body) == json.loads(FastJSONRenderer().render(_plan_detail(plan.id)))
    assert served.count("plan part") == 13
    assert served.count("finished") == 2
    assert served[-2:] == ["plan part", "finished"], served  # the job list came in between
    job_list_at = served.index("job list")
    assert served[job_list_at + 1] == "finished"
    assert "plan part" in served[job_list_at:-2]
