"""Notifications through Apprise to a loopback receiver (``json://``): one message per event,
only the wanted events, and no secret in any message or log line."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automation.workflow import request_workflow
from jobs import runner
from jobs.models import Job, JobStatus
from jobs.signals import job_finished
from settings_app.registry import save_settings

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVER_PASSWORD = "receiver-pass-8d1f"
STASH_KEY = "stash-key-3c9a7e"


class Receiver(ThreadingHTTPServer):
    def __init__(self):
        self.messages: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"json://hog:{RECEIVER_PASSWORD}@127.0.0.1:{self.server_address[1]}/notify"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_POST(self):
        self.server.messages.append(json.loads(self.rfile.read(
            int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()


@pytest.fixture
def receiver():
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def notified(receiver, caplog):
    """Notifications go to the receiver; every log line is kept to look for secrets."""
    save_settings({"notify_urls": receiver.url, "stash_api_key": STASH_KEY})
    caplog.set_level(logging.INFO)
    return receiver


def assert_no_secret(receiver, caplog):
    texts = [json.dumps(message) for message in receiver.messages] + [
        record.getMessage() for record in caplog.records]
    for secret in (RECEIVER_PASSWORD, STASH_KEY):
        assert not [text for text in texts if secret in text]


def titles(receiver) -> list[str]:
    return [message["title"] for message in receiver.messages]


def test_a_failed_job_is_told_once_without_secrets(notified, caplog):
    # nothing listens: the sync fails (a key moves with its URL)
    save_settings({"stash_url": "http://127.0.0.1:9", "stash_api_key": STASH_KEY})
    job = Job.objects.create(type="sync")
    runner.run_job(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert titles(notified) == ["StashHog: a sync job failed"]
    assert str(job.id) in notified.messages[0]["message"]
    assert_no_secret(notified, caplog)


def test_a_workflow_tells_its_plan_and_its_end_and_a_failed_step_only_once(
        notified, caplog, fake_stash_factory, monkeypatch):
    fake_stash = fake_stash_factory(api_key=STASH_KEY)
    save_settings({"stash_url": fake_stash.url, "stash_api_key": STASH_KEY})
    workflow = request_workflow({})
    workflow.refresh_from_db()
    assert workflow.status == JobStatus.COMPLETED, workflow.error
    plan_id = workflow.result["steps"]["analysis"]["counts"]["plan_id"]
    assert titles(notified) == [f"StashHog: plan {plan_id} is ready for review",
                                "StashHog: the workflow finished"]

    notified.messages.clear()
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)
    fake_stash.fail_next(50, status=500)
    request_workflow({})
    assert titles(notified) == ["StashHog: a workflow job failed"]  # not the step too
    assert_no_secret(notified, caplog)


def test_only_the_wanted_events_are_sent(notified):
    save_settings({"notify_events": ["workflow_finished"]})
    job = Job.objects.create(type="sync", status=JobStatus.FAILED, error="boom")
    job_finished.send(sender=Job, job=job)
    budget = Job.objects.create(type="analysis", status=JobStatus.COMPLETED, result={
        "plan_id": 3, "outcome": "budget_exceeded", "message": "Stopped before $1",
        "counts": {"changes": 0, "auto_accepted": 0, "scenes_with_changes": 0}})
    job_finished.send(sender=Job, job=budget)
    assert notified.messages == []
    save_settings({"notify_events": ["budget_reached"]})
    job_finished.send(sender=Job, job=budget)
    assert titles(notified) == ["StashHog: an analysis reached its AI budget"]


@pytest.fixture
def superuser_client(django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-password")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    return client


def test_test_notify_sends_to_the_saved_or_given_urls(notified, superuser_client, caplog):
    response = superuser_client.post("/api/settings/test-notify", {}, format="json")
    assert response.json() == {"success": True}
    assert titles(notified) == ["StashHog test notification"]
    response = superuser_client.post("/api/settings/test-notify", {
        "urls": f"json://hog:{RECEIVER_PASSWORD}@127.0.0.1:9/nobody"}, format="json")
    body = response.json()
    assert body["success"] is False
    assert "127.0.0.1" in body["error"]
    response = superuser_client.post("/api/settings/test-notify", {"urls": "bogus://x"},
                                     format="json")
    assert response.status_code == 400
    assert "urls" in response.json()["detail"]
    assert_no_secret(notified, caplog)
    assert RECEIVER_PASSWORD not in json.dumps(
        superuser_client.get("/api/settings").json())  # the setting is write-only


def test_test_notify_without_urls_says_so(superuser_client):
    response = superuser_client.post("/api/settings/test-notify", {}, format="json")
    assert response.json() == {"success": False,
                               "error": "No notification URL is set (setting notify_urls)"}


def test_test_notify_is_for_superusers(api_client):
    assert api_client.post("/api/settings/test-notify", {}, format="json").status_code == 403


def test_notify_settings_are_validated(superuser_client):
    response = superuser_client.put("/api/settings", {"notify_urls": "bogus://x",
                                                      "notify_events": ["job_done"]},
                                    format="json")
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"notify_urls", "notify_events"}
    assert User.objects.filter(is_superuser=True).count() == 1
