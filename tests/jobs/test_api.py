"""``/api/jobs``: list, detail, cancel; errors in the envelope; the OpenAPI contract."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import Serializer

from jobs.models import Job, JobStatus
from jobs.serializers import JobDetailSerializer, JobSerializer
from tests.envelope import assert_envelope

pytestmark = pytest.mark.django_db

JOB_FIELDS = {"id", "type", "status", "progress", "total_items", "processed_items", "message",
              "created_at", "started_at", "completed_at", "error", "created_by", "parent_id"}
DETAIL_FIELDS = JOB_FIELDS | {"parameters", "result", "duration_seconds"}


def make_jobs(count: int, **fields) -> list[Job]:
    jobs = [Job.objects.create(type="demo.count", **fields) for _ in range(count)]
    base = timezone.now()
    for age, job in enumerate(jobs):  # jobs[0] oldest
        Job.objects.filter(id=job.id).update(created_at=base - timedelta(minutes=count - age))
    return jobs



@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/"])
def test_list_is_newest_first_with_the_job_response_fields(api_client, path):
    jobs = make_jobs(3)
    response = api_client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body] == [str(job.id) for job in reversed(jobs)]
    assert set(body[0]) == JOB_FIELDS


def test_list_filters_by_status_and_type_and_limits(api_client):
    make_jobs(3)
    running = make_jobs(2, status=JobStatus.RUNNING)
    Job.objects.create(type="sync", status=JobStatus.RUNNING)
    response = api_client.get("/api/jobs", {"status": "running", "job_type": "demo.count"})
    assert [item["id"] for item in response.json()] == [str(j.id) for j in reversed(running)]
    assert len(api_client.get("/api/jobs", {"limit": 2}).json()) == 2
    assert len(api_client.get("/api/jobs").json()) == 6


def test_list_limit_defaults_to_50(api_client):
    Job.objects.bulk_create(Job(type="demo.count") for _ in range(51))
    assert len(api_client.get("/api/jobs").json()) == 50


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
    ({"status": "done"}, "status"),
])
def test_bad_list_parameters_are_400_in_the_envelope(api_client, params, field):
    body = assert_envelope(api_client.get("/api/jobs", params), 400)
    assert field in body["detail"]


def test_list_query_count_does_not_grow_with_the_number_of_jobs(api_client,
                                                                 django_assert_num_queries):
    make_jobs(2)
    with django_assert_num_queries(2) as small:  # token auth (and lockout check), the list
        api_client.get("/api/jobs")
    make_jobs(40)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api_client.get("/api/jobs").json()) == 42


@pytest.mark.parametrize("slash", ["", "/"])
def test_detail_adds_parameters_result_and_duration(api_client, slash):
    job = Job.objects.create(type="demo.count", parameters={"n": 5}, status=JobStatus.COMPLETED,
                             result={"counted": 5}, started_at=timezone.now() - timedelta(
                                 seconds=3), completed_at=timezone.now())
    body = api_client.get(f"/api/jobs/{job.id}{slash}").json()
    assert set(body) == DETAIL_FIELDS
    assert body["parameters"] == {"n": 5}
    assert body["result"] == {"counted": 5}
    assert 2.9 < body["duration_seconds"] < 3.1


@pytest.mark.parametrize("job_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_unknown_or_malformed_job_id_is_404_in_the_envelope(api_client, job_id):
    assert_envelope(api_client.get(f"/api/jobs/{job_id}"), 404)
    assert_envelope(api_client.delete(f"/api/jobs/{job_id}"), 404)


def test_delete_cancels_a_pending_job_at_once(api_client):
    job = Job.objects.create(type="demo.count")
    with mock.patch("stashhog.celery.app.control.revoke"):
        response = api_client.delete(f"/api/jobs/{job.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert set(body) == DETAIL_FIELDS
    assert Job.objects.get(id=job.id).status == JobStatus.CANCELLED


def test_delete_asks_a_running_job_to_stop(api_client):
    job = Job.objects.create(type="demo.count", status=JobStatus.RUNNING)
    assert api_client.delete(f"/api/jobs/{job.id}").json()["status"] == "cancelling"
    row = Job.objects.get(id=job.id)
    assert row.status == JobStatus.CANCELLING
    assert row.cancel_requested


def test_delete_of_a_finished_job_is_409(api_client):
    job = Job.objects.create(type="demo.count", status=JobStatus.FAILED)
    body = assert_envelope(api_client.delete(f"/api/jobs/{job.id}"), 409)
    assert body["detail"] == {"job_id": str(job.id)}
    assert Job.objects.get(id=job.id).status == JobStatus.FAILED


def test_job_already_active_answers_409_with_the_active_job_id(rf):
    """What sync and apply views return when their exclusive job is already active."""
    from rest_framework.views import APIView

    from jobs.runner import JobAlreadyActive
    from stashhog.api.errors import exception_handler

    active = Job.objects.create(type="sync", status=JobStatus.RUNNING, exclusive_key="sync")
    request = APIView().initialize_request(rf.post("/api/sync"))
    response = exception_handler(JobAlreadyActive(active), {"request": request})
    assert response.status_code == 409
    assert response.data["error"] == "A sync job is already running"
    assert response.data["detail"] == {"job_id": str(active.id)}


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/jobs"), ("get", "/api/jobs/00000000-0000-0000-0000-000000000000"),
    ("delete", "/api/jobs/00000000-0000-0000-0000-000000000000"),
])
def test_endpoints_require_authentication(anon_client, method, path):
    assert_envelope(getattr(anon_client, method)(path), 401)


def test_openapi_schema_documents_the_jobs_endpoints_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    import yaml

    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    assert set(paths["/api/jobs"]) == {"get"}
    assert set(paths["/api/jobs/{job_id}"]) == {"get", "delete"}
    for operation in (paths["/api/jobs"]["get"], *paths["/api/jobs/{job_id}"].values()):
        for status, response in operation["responses"].items():
            content = response["content"]["application/json"]
            assert content.get("examples"), (operation["operationId"], status)
    params = {p["name"] for p in paths["/api/jobs"]["get"]["parameters"]}
    assert params == {"status", "job_type", "limit"}


def test_job_responses_are_what_drf_shows_field_by_field(user):
    """The serializers build their output directly; DRF's own walk over the declared fields
    (the schema's source) must give the same, for every kind of value."""
    started = timezone.now() - timedelta(minutes=3)
    parent = Job.objects.create(type="analysis", status=JobStatus.RUNNING, started_at=started,
                                parameters={"plan_name": "x"}, created_by=user)
    jobs = [
        parent,
        Job.objects.create(type="analysis.chunk", status=JobStatus.COMPLETED, parent=parent,
                           progress=100, total_items=7, processed_items=7, message="done",
                           started_at=started, completed_at=started + timedelta(seconds=1.5),
                           result={"changes": 3, "nested": [1, None]}),
        Job.objects.create(type="sync", error="Stash down"),
    ]
    with mock.patch("django.utils.timezone.now", return_value=started + timedelta(seconds=9)):
        for job in Job.objects.select_related("created_by").filter(pk__in=[j.pk for j in jobs]):
            for serializer in (JobSerializer(job), JobDetailSerializer(job)):
                drf = Serializer.to_representation(serializer, job)
                assert json.loads(JSONRenderer().render(serializer.data)) == json.loads(
                    JSONRenderer().render(drf))
                assert list(serializer.data) == list(drf)
