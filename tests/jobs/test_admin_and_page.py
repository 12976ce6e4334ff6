"""The jobs admin (read-only, filters, cancel action) and the /jobs/ monitor page."""

from unittest import mock

import pytest

from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="admin-password")
    client.force_login(admin)
    return client


def test_admin_lists_and_filters_jobs(staff_client):
    Job.objects.create(type="sync", status=JobStatus.RUNNING, message="syncing scenes")
    Job.objects.create(type="analysis", status=JobStatus.COMPLETED, message="analysed")
    page = staff_client.get("/admin/jobs/job/", {"type": "sync", "status": "running"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert b"By type" in page.content
    assert b"By status" in page.content


def test_admin_is_read_only(staff_client):
    job = Job.objects.create(type="sync")
    assert staff_client.get("/admin/jobs/job/add/").status_code == 403
    response = staff_client.post(f"/admin/jobs/job/{job.id}/change/", {"status": "completed"})
    assert response.status_code == 403
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING


def test_admin_cancel_action_goes_through_the_runner(staff_client):
    pending = Job.objects.create(type="sync")
    running = Job.objects.create(type="analysis", status=JobStatus.RUNNING)
    finished = Job.objects.create(type="apply", status=JobStatus.COMPLETED)
    with mock.patch("stashhog.celery.app.control.revoke"):
        response = staff_client.post("/admin/jobs/job/", {
            "action": "cancel_jobs", "_selected_action": [pending.id, running.id, finished.id],
        }, follow=True)
    assert response.status_code == 200
    statuses = dict(Job.objects.values_list("id", "status"))
    assert statuses == {pending.id: JobStatus.CANCELLED, running.id: JobStatus.CANCELLING,
                        finished.id: JobStatus.COMPLETED}
    shown = [str(message) for message in response.context["messages"]]
    assert "Asked 2 job(s) to cancel." in shown
    assert any("already completed" in message for message in shown)


@pytest.mark.parametrize("path", ["/jobs/", "/jobs"])
def test_monitor_requires_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/api-auth/login/?next={path}"


def test_monitor_page_renders_with_its_script_and_csrf_cookie(client, user):
    client.force_login(user)
    response = client.get("/jobs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="jobs"' in html
    assert "jobs/monitor.js" in html
    assert "jobs/monitor.css" in html
    assert "csrftoken" in response.cookies
    script = client.get("/static/jobs/monitor.js")
    assert script.status_code == 200
