"""The analysis API: generate, plans, review (PATCH, bulk-review), cancel and apply."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
from analysis.plan_queries import plans_with_counts
from jobs.models import Job, JobStatus
from jobs.runner import cancel_job
from settings_app.registry import save_settings


@pytest.fixture
def scenes(library):
    harbor = library.studio(10, "Blue Harbor Films")
    library.studio(11, "Vixen")
    jane = library.performer(20, "Jane Doe")
    library.performer(21, "Anna Bell")
    library.tag(30, "Outdoor")
    library.scene(1, "/media/Blue Harbor Films/Jane Doe & Anna Bell - Golden Hour.mp4",
                  title="Golden Hour")
    library.scene(2, "/media/Vixen/Jane Doe - Sunset.mp4", title="Sunset", studio=harbor,
                  performers=[jane])
    library.scene(3, "/media/misc/nothing.mp4")


@pytest.fixture
def plan(scenes, plan_factory):
    """Scene 1: studio, performers and details changes; scene 2: a tags change."""
    return plan_factory(
        {"scene_id": "1", "field": "studio", "proposed_value": {"id": "10",
                                                               "name": "Blue Harbor Films"},
         "confidence": 0.95},
        {"scene_id": "1", "field": "performers", "action": "add", "current_value": [],
         "proposed_value": [{"id": "20", "name": "Jane Doe"}, {"id": "21", "name": "Anna Bell"}],
         "confidence": 0.85},
        {"scene_id": "1", "field": "details", "current_value": "<b>x</b>", "proposed_value": "x",
         "confidence": 0.9},
        {"scene_id": "2", "field": "tags", "action": "add", "current_value": [],
         "proposed_value": [{"id": "30", "name": "Outdoor"}], "confidence": 0.6},
    )


def change(plan, scene_id, field) -> PlanChange:
    return plan.changes.get(scene_id=scene_id, field=field)


# -- generate --------------------------------------------------------------------------------


def test_generate_in_the_background_answers_202_with_the_job(api_client, scenes):
    response = api_client.post("/api/analysis/generate?background=true",
                               {"scene_ids": ["1", "2"], "plan_name": "Two"}, format="json")

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job_id"])
    assert (job.type, response.json()["status"]) == ("analysis", "pending")
    assert job.parameters["scene_ids"] == ["1", "2"]
    assert job.parameters["options"]["confidence_threshold"] == 0.5  # resolved at request time


def test_generate_without_background_answers_the_plan_detail(api_client, scenes):
    response = api_client.post("/api/analysis/generate/?background=false",
                               {"filters": {"search": "golden"}}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "draft"
    assert (body["total_scenes"], body["total_changes"]) == (1, 2)
    assert [s["scene_id"] for s in body["scenes"]] == ["1"]
    fields = {c["field"]: c for c in body["scenes"][0]["changes"]}
    assert fields["studio"]["proposed_value"] == {"id": "10", "name": "Blue Harbor Films"}
    assert set(fields["studio"]) == {"id", "scene_id", "scene_title", "scene_path", "field",
                                     "action", "current_value", "proposed_value", "confidence",
                                     "source", "reason", "status", "error", "conflict"}


def test_generate_rejects_unknown_scene_ids_listing_them(api_client, scenes):
    response = api_client.post("/api/analysis/generate", {"scene_ids": ["1", "77", "78"]},
                               format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["detail"] == {"scene_ids": ["77", "78"]}
    assert not Job.objects.exists()


@pytest.mark.parametrize(("body", "key"), [
    ({"options": {"confidence_threshold": 2}}, "options"),
    ({"options": {"colour": True}}, "options"),
    ({"filters": {"organized": "maybe"}}, "filters"),
    ({"filters": {"studio": "10"}}, "filters"),
    ({"scene_id": ["1"]}, "scene_id"),
])
def test_generate_validates_its_body(api_client, scenes, body, key):
    response = api_client.post("/api/analysis/generate?background=false", body, format="json")

    assert response.status_code == 400
    assert key in response.json()["detail"]


def test_generate_with_ai_needs_a_key_or_a_local_server(api_client, scenes):
    response = api_client.post("/api/analysis/generate", {"options": {"use_ai": True}},
                               format="json")

    assert response.status_code == 400
    assert "openai_api_key" in response.json()["error"]


def test_a_request_may_lower_the_cost_ceiling_but_never_raise_it(api_client, scenes):
    save_settings({"analysis_max_cost_usd": 2.5})

    above = api_client.post("/api/analysis/generate",
                            {"options": {"max_cost_usd": 2.51}}, format="json")
    below = api_client.post("/api/analysis/generate",
                            {"options": {"max_cost_usd": 1.0}}, format="json")
    default = api_client.post("/api/analysis/generate", {}, format="json")

    assert above.status_code == 400
    assert above.json()["detail"] == {"options": {"max_cost_usd": [
        "Must not exceed the analysis_max_cost_usd setting (2.5)."]}}
    assert below.status_code == default.status_code == 202
    budgets = [Job.objects.get(pk=r.json()["job_id"]).parameters["options"]["max_cost_usd"]
               for r in (below, default)]
    assert budgets == [1.0, 2.5]


def test_analyses_beyond_the_concurrency_setting_are_refused_until_one_finishes(api_client,
                                                                                scenes):
    save_settings({"analysis_max_concurrent_jobs": 2})

    def generate():
        return api_client.post("/api/analysis/generate", {}, format="json")

    first, second = generate(), generate()  # queued: nothing runs them in this test
    refused = generate()

    assert (first.status_code, second.status_code, refused.status_code) == (202, 202, 409)
    body = refused.json()
    assert sorted(body["detail"]["job_ids"]) == sorted(
        r.json()["job_id"] for r in (first, second))
    assert "2 analysis job(s) are already active" in body["error"]
    assert Job.objects.filter(type="analysis").count() == 2
    cancel_job(first.json()["job_id"])
    assert generate().status_code == 202


def test_endpoints_need_authentication(anon_client, db):
    assert anon_client.get("/api/analysis/plans").status_code == 401
    assert anon_client.post("/api/analysis/generate", {}, format="json").status_code == 401
    assert anon_client.patch("/api/analysis/changes/1", {}, format="json").status_code == 401


# -- plans -----------------------------------------------------------------------------------


def test_plan_list_is_paginated_with_counts_and_a_status_filter(api_client, plan, plan_factory):
    plan_factory(name="Cancelled one", status=PlanStatus.CANCELLED)

    response = api_client.get("/api/analysis/plans?sort_by=id")

    body = response.json()
    assert (body["total"], body["page"], body["pages"]) == (2, 1, 1)
    first = body["items"][0]
    assert set(first) == {"id", "name", "description", "status", "created_at",
                          "total_scenes", "total_changes", "review_counts", "metadata"}
    assert (first["id"], first["total_scenes"], first["total_changes"]) == (plan.id, 2, 4)
    assert body["items"][1]["total_changes"] == 0

    cancelled = api_client.get("/api/analysis/plans/?status=cancelled").json()
    assert [p["name"] for p in cancelled["items"]] == ["Cancelled one"]
    assert api_client.get("/api/analysis/plans?status=nope").status_code == 400


def test_plan_list_query_count_does_not_grow_with_page_size(api_client, scenes, plan_factory):
    for number in range(12):
        plan_factory({"scene_id": "1", "field": "details", "proposed_value": "x"},
                     {"scene_id": "2", "field": "details", "proposed_value": "y"},
                     name=f"Plan {number}")

    def queries(per_page: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(f"/api/analysis/plans?per_page={per_page}")
        assert len(response.json()["items"]) == per_page
        assert all(item["total_scenes"] == 2 for item in response.json()["items"])
        return len(captured)

    assert queries(2) == queries(12)


def test_plan_list_reads_counts_from_one_row_per_plan_and_never_the_changes(api_client, plan):
    with CaptureQueriesContext(connection) as captured:
        body = api_client.get("/api/analysis/plans").json()
    assert (body["total"], body["items"][0]["total_changes"]) == (1, 4)
    plan_queries = [query["sql"] for query in captured if "analysis_analysisplan" in query["sql"]]
    # The page's counts are its plans' PlanCounts rows (joined on their key), kept by
    # triggers: no count over the changes, however many a plan has.
    assert plan_queries
    assert not any("analysis_planchange" in sql for sql in plan_queries)
    joined = re.findall(r' JOIN "(\w+)"', " ".join(plan_queries))
    assert set(joined) == {"analysis_plancounts"}


def test_plans_with_counts_resolves_its_subqueries_once_and_hands_out_copies(plan,
                                                                             plan_factory):
    plan_factory(name="Cancelled one", status=PlanStatus.CANCELLED)
    first, second = plans_with_counts(), plans_with_counts()
    # Resolving the seven count annotations is done once per process.
    assert first.query.annotations["total_scenes"] is second.query.annotations["total_scenes"]
    assert [p.name for p in first.filter(status=PlanStatus.CANCELLED)] == ["Cancelled one"]
    assert sorted((p.name, p.total_changes) for p in second) == [
        ("Cancelled one", 0), (plan.name, 4)]


def test_plan_detail_groups_changes_by_scene(api_client, plan):
    response = api_client.get(f"/api/analysis/plans/{plan.id}")

    body = response.json()
    assert response.status_code == 200
    assert (body["total_scenes"], body["total_changes"]) == (2, 4)
    assert [(s["scene_id"], s["scene_title"], len(s["changes"])) for s in body["scenes"]] == [
        ("1", "Scene 1", 3), ("2", "Scene 2", 1)]
    assert api_client.get("/api/analysis/plans/999/").status_code == 404
    assert api_client.get("/api/analysis/plans/999").json()["error"] == "Plan not found"


# -- PATCH /changes ---------------------------------------------------------------------------


def test_patch_accepts_a_change_and_moves_the_plan_to_reviewing(api_client, plan):
    studio = change(plan, "1", "studio")

    response = api_client.patch(f"/api/analysis/changes/{studio.id}", {"status": "accepted"},
                                format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWING


def test_patch_edits_values_normalised_against_the_library(api_client, plan):
    performers = change(plan, "1", "performers")
    studio = change(plan, "1", "studio")
    details = change(plan, "1", "details")

    edited = api_client.patch(f"/api/analysis/changes/{performers.id}/",
                              {"proposed_value": [{"id": "21", "name": "whatever"},
                                                  {"id": None, "name": " New  Person "}]},
                              format="json")
    assert edited.status_code == 200
    assert edited.json()["proposed_value"] == [{"id": "21", "name": "Anna Bell"},
                                               {"id": None, "name": "New Person"}]
    assert edited.json()["source"] == "user"
    assert edited.json()["status"] == "pending"

    new_studio = api_client.patch(f"/api/analysis/changes/{studio.id}",
                                  {"proposed_value": {"id": None, "name": "Harbor Lights"},
                                   "status": "accepted"}, format="json")
    assert new_studio.json()["proposed_value"] == {"id": None, "name": "Harbor Lights"}
    assert new_studio.json()["status"] == "accepted"

    text = api_client.patch(f"/api/analysis/changes/{details.id}",
                            {"proposed_value": "Edited text"}, format="json")
    assert text.json()["proposed_value"] == "Edited text"


@pytest.mark.parametrize(("field", "scene_id", "value", "message"), [
    ("studio", "1", [{"id": "10"}], "A studio is"),
    ("studio", "1", {"id": "999"}, "Unknown studio"),
    ("studio", "1", {"id": None, "name": "vixen"}, "already exists (id 11)"),
    ("performers", "1", {"id": "20"}, "non-empty list"),
    ("performers", "1", [], "non-empty list"),
    ("performers", "1", ["Jane Doe"], "Each entity is"),
    ("performers", "1", [{"id": "20"}, {"id": "20"}], "listed twice"),
    ("performers", "1", [{"id": None, "name": ""}], "non-empty name"),
    ("tags", "2", [{"id": "20"}], "Unknown tag"),
    ("details", "1", ["x"], "Details are a string"),
])
def test_patch_rejects_values_that_do_not_fit_the_field(api_client, plan, field, scene_id,
                                                        value, message):
    target = change(plan, scene_id, field)

    response = api_client.patch(f"/api/analysis/changes/{target.id}",
                                {"proposed_value": value}, format="json")

    assert response.status_code == 400
    assert message in response.json()["detail"]["proposed_value"][0]
    target.refresh_from_db()
    assert target.source == "path"  # untouched


def test_patch_refuses_proposing_what_the_scene_has(api_client, scenes, plan_factory):
    plan = plan_factory(
        {"scene_id": "2", "field": "performers", "action": "add",
         "proposed_value": [{"id": "21", "name": "Anna Bell"}]},
        {"scene_id": "2", "field": "performers", "action": "remove",
         "proposed_value": [{"id": "20", "name": "Jane Doe"}]},
        {"scene_id": "2", "field": "studio", "proposed_value": {"id": "11", "name": "Vixen"}},
    )
    add, remove, studio = plan.changes.order_by("id")

    def problem(target, value) -> str:
        response = api_client.patch(f"/api/analysis/changes/{target.id}",
                                    {"proposed_value": value}, format="json")
        assert response.status_code == 400
        return response.json()["detail"]["proposed_value"][0]

    assert "already has: Jane Doe" in problem(add, [{"id": "20"}])
    assert "does not have: Anna Bell" in problem(remove, [{"id": "21"}])
    assert "Only existing entities can be removed" in problem(remove, [{"id": None, "name": "X"}])
    assert "already has this studio" in problem(studio, {"id": "10"})


@pytest.mark.parametrize("body", [{"status": "applied"}, {"status": "failed"}, {},
                                  {"status": "accepted", "colour": "red"}])
def test_patch_allows_only_review_statuses(api_client, plan, body):
    target = change(plan, "1", "studio")

    response = api_client.patch(f"/api/analysis/changes/{target.id}", body, format="json")

    assert response.status_code == 400


def test_patch_of_an_applied_change_is_a_conflict(api_client, plan):
    target = change(plan, "1", "studio")
    PlanChange.objects.filter(pk=target.pk).update(status=ChangeStatus.APPLIED)

    response = api_client.patch(f"/api/analysis/changes/{target.id}", {"status": "rejected"},
                                format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == {"change_id": target.id}


def test_patch_unknown_change_is_404_and_put_is_not_allowed(api_client, plan):
    assert api_client.patch("/api/analysis/changes/99999", {"status": "accepted"},
                            format="json").status_code == 404
    target = change(plan, "1", "studio")
    assert api_client.put(f"/api/analysis/changes/{target.id}", {"status": "accepted"},
                          format="json").status_code == 405


# -- bulk review -----------------------------------------------------------------------------


def bulk(api_client, plan, **body):
    return api_client.post(f"/api/analysis/plans/{plan.id}/bulk-review", body, format="json")


def statuses(plan) -> dict:
    return {(c.scene_id, c.field): c.status for c in plan.changes.all()}


def test_bulk_review_by_change_ids(api_client, plan):
    ids = [change(plan, "1", "studio").id, change(plan, "2", "tags").id]

    response = bulk(api_client, plan, status="rejected", change_ids=ids)

    assert response.json() == {"plan_id": plan.id, "status": "rejected", "matched": 2,
                               "updated": 2, "unchanged": 0, "skipped_applied": 0,
                               "skipped_conflicts": 0, "plan_status": "reviewing"}
    assert statuses(plan) == {("1", "studio"): "rejected", ("1", "performers"): "pending",
                              ("1", "details"): "pending", ("2", "tags"): "rejected"}


def test_bulk_review_by_field(api_client, plan):
    bulk(api_client, plan, status="accepted", field="details")
    assert [k for k, v in statuses(plan).items() if v == "accepted"] == [("1", "details")]


def test_bulk_review_by_min_confidence(api_client, plan):
    response = bulk(api_client, plan, status="accepted", min_confidence=0.9)
    assert response.json()["updated"] == 2
    assert {k for k, v in statuses(plan).items() if v == "accepted"} == {
        ("1", "studio"), ("1", "details")}


def test_bulk_review_by_scene_ids(api_client, plan):
    bulk(api_client, plan, status="accepted", scene_ids=["2"])
    assert {k for k, v in statuses(plan).items() if v == "accepted"} == {("2", "tags")}


def test_bulk_review_leaves_applied_changes_alone_and_counts_them(api_client, plan):
    applied = change(plan, "1", "studio")
    PlanChange.objects.filter(pk=applied.pk).update(status=ChangeStatus.APPLIED)
    bulk(api_client, plan, status="accepted", field="tags")

    response = bulk(api_client, plan, status="accepted")

    assert response.json() == {"plan_id": plan.id, "status": "accepted", "matched": 4,
                               "updated": 2, "unchanged": 1, "skipped_applied": 1,
                               "skipped_conflicts": 0, "plan_status": "reviewing"}
    assert statuses(plan)[("1", "studio")] == "applied"


def test_bulk_review_validates_its_body(api_client, plan, plan_factory):
    other = plan_factory({"scene_id": "3", "field": "details", "proposed_value": "z"})
    foreign = other.changes.get().id

    assert bulk(api_client, plan, status="pending").status_code == 400
    assert bulk(api_client, plan, status="accepted", field="bogus").status_code == 400
    response = bulk(api_client, plan, status="accepted", change_ids=[foreign])
    assert response.status_code == 400
    assert response.json()["detail"] == {"change_ids": [foreign]}
    assert api_client.post("/api/analysis/plans/999/bulk-review", {"status": "accepted"},
                           format="json").status_code == 404


# -- cancel ----------------------------------------------------------------------------------


def test_delete_cancels_the_plan_and_answers_it(api_client, plan):
    response = api_client.delete(f"/api/analysis/plans/{plan.id}")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["total_changes"] == 4
    assert api_client.patch(f"/api/analysis/changes/{change(plan, '1', 'studio').id}",
                            {"status": "accepted"}, format="json").status_code == 409
    assert bulk(api_client, plan, status="accepted").status_code == 409
    assert api_client.delete(f"/api/analysis/plans/{plan.id}/").status_code == 200


@pytest.mark.parametrize("status", [PlanStatus.APPLIED, PlanStatus.APPLYING])
def test_an_applied_or_applying_plan_cannot_be_cancelled(api_client, plan, status):
    AnalysisPlan.objects.filter(pk=plan.pk).update(status=status)

    response = api_client.delete(f"/api/analysis/plans/{plan.id}")

    assert response.status_code == 409
    plan.refresh_from_db()
    assert plan.status == status


# -- apply -----------------------------------------------------------------------------------


def test_apply_is_a_thin_call_of_the_apply_service(api_client, plan, monkeypatch):
    calls = []

    def fake_request_apply(plan_id, scene_ids, *, background, user):
        calls.append((plan_id, scene_ids, background, user.username))
        status = JobStatus.PENDING if background else JobStatus.COMPLETED
        return Job.objects.create(type="apply", status=status, result={"applied": 3})

    monkeypatch.setattr("analysis.views.request_apply", fake_request_apply)

    queued = api_client.post(f"/api/analysis/plans/{plan.id}/apply?background=true",
                             {"scene_ids": ["1"]}, format="json")
    finished = api_client.post(f"/api/analysis/plans/{plan.id}/apply/?background=false",
                               {}, format="json")

    assert queued.status_code == 202
    assert queued.json()["status"] == "pending"
    assert finished.status_code == 200
    assert finished.json() == {"applied": 3}
    assert calls == [(plan.id, ["1"], True, "tester"), (plan.id, None, False, "tester")]


def test_apply_of_a_plan_without_accepted_changes_is_a_conflict(api_client, plan):
    response = api_client.post(f"/api/analysis/plans/{plan.id}/apply", {}, format="json")
    assert response.status_code == 409
