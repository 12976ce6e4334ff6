import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus
from stashhog import embedded_redis, health
from stashhog.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker_seen(settings):
    """Each test starts without a remembered worker reply."""
    health.redis_client(settings.REDIS_URL).delete(health.WORKER_SEEN_KEY,
                                                   health.QUEUES_SEEN_KEY)


@pytest.fixture
def worker_answers(monkeypatch):
    """A Celery worker that answers pings; the list records each ping's arguments."""
    pings = []

    def ping(**kwargs):
        pings.append(kwargs)
        return [{"celery@host": {"ok": "pong"}}]

    monkeypatch.setattr(celery_app.control, "ping", ping)
    consumes(monkeypatch, "default", "ai")
    return pings


def consumes(monkeypatch, *queues: str) -> None:
    """The running worker consumes ``queues`` (what ``inspect().active_queues()`` says)."""

    class Inspect:
        def active_queues(self):
            return {"celery@host": [{"name": queue} for queue in queues]}

    monkeypatch.setattr(celery_app.control, "inspect", lambda **kwargs: Inspect())


@pytest.fixture
def stopped_redis(settings):
    """A Redis that existed and was stopped: the socket path is dead."""
    socket_path = Path(tempfile.mkdtemp(prefix="stashhog-h-")) / "redis.sock"
    embedded_redis.stop(embedded_redis.start(socket_path))
    settings.REDIS_URL = f"unix://{socket_path}"


def test_health_needs_no_authentication_and_reports_each_part(anon_client, worker_answers):
    response = anon_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "components": {
        "database": "ok", "redis": "ok", "workers": "ok", "jobs": "ok", "queues": "ok"}}


def test_the_worker_ping_stops_at_the_first_reply_and_is_shared_for_a_while(
        anon_client, worker_answers, settings):
    anon_client.get("/api/health")
    assert len(worker_answers) == 1
    assert worker_answers[0]["limit"] == 1
    assert worker_answers[0]["timeout"] <= 0.05
    # Another web process (its own Redis pool) relies on the reply this one saw.
    health.redis_client.cache_clear()
    assert anon_client.get("/api/health").json()["components"]["workers"] == "ok"
    assert len(worker_answers) == 1
    ttl = health.redis_client(settings.REDIS_URL).ttl(health.WORKER_SEEN_KEY)
    assert 0 < ttl <= health.WORKER_SEEN_SECONDS


def test_jobs_no_worker_picked_up_make_health_degraded(anon_client, worker_answers):
    stuck = Job.objects.create(type="sync")
    Job.objects.filter(id=stuck.id).update(created_at=timezone.now() - timedelta(minutes=3))
    Job.objects.create(type="sync")  # just queued: not stuck
    Job.objects.create(type="sync", status=JobStatus.RUNNING)
    response = anon_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "components": {
        "database": "ok", "redis": "ok", "workers": "ok",
        "jobs": "1 pending for over 2 minutes", "queues": "ok"}}


def test_a_queue_with_waiting_jobs_and_no_consumer_makes_health_degraded(
        anon_client, worker_answers, monkeypatch):
    consumes(monkeypatch, "default")  # a worker started with -Q default
    Job.objects.create(type="analysis")
    Job.objects.create(type="analysis")
    Job.objects.create(type="sync")
    response = anon_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["components"]["queues"] == (
        "no worker consumes the 'ai' queue (2 job(s) waiting)")


def test_a_worker_started_without_q_consumes_every_queue_jobs_use():
    from jobs.runner import JOB_TYPES

    # What `celery -A stashhog worker` consumes when no -Q is given.
    declared = set(celery_app.amqp.queues)
    assert {spec.queue for spec in JOB_TYPES.values()} <= declared
    assert {"default", "ai"} <= declared


def test_a_queued_job_says_what_it_waits_for():
    from unittest import mock

    from jobs.runner import start_job

    with mock.patch("jobs.tasks.run_job_task.apply_async"):
        job = start_job("analysis", {})
    assert job.message == "Waiting for a worker on the 'ai' queue"


def test_health_is_503_without_a_worker(anon_client):
    # Redis is up (the suite's), but no Celery worker consumes from it in unit tests.
    response = anon_client.get("/api/health/")
    assert response.status_code == 503
    assert response.json()["components"] == {
        "database": "ok", "redis": "ok", "workers": "no worker answered", "jobs": "ok",
        "queues": "ok",
    }


def test_health_is_503_with_redis_stopped(anon_client, stopped_redis):
    response = anon_client.get("/api/health")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["database"] == "ok"
    assert components["redis"].startswith("unavailable")
    assert components["workers"] == "unreachable"


def test_health_reveals_no_configuration(anon_client, settings, worker_answers):
    text = anon_client.get("/api/health").content.decode()
    assert settings.REDIS_URL not in text
    assert "sqlite" not in text
