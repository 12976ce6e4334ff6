"""A schedule fires under a real Celery beat and worker, and its job completes. The
schedule is created while beat runs: beat must pick it up without a restart."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from automation.models import Schedule
from automation.schedules import save_schedule
from jobs.models import Job
from settings_app.registry import save_settings
from tests.e2e_support import running, start_beat, wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def beat(e2e_env):
    with running(start_beat(e2e_env)) as process:
        yield process


def test_a_schedule_created_while_beat_runs_fires_and_its_job_completes(
        celery_worker, beat, fake_stash):
    save_settings({"stash_url": fake_stash.url, "stash_api_key": fake_stash.api_key})
    with transaction.atomic():
        schedule = save_schedule(None, {
            "name": "Every minute", "kind": "sync", "parameters": {"incremental": True},
            "crontab": None, "interval_seconds": 60, "enabled": True})
        # Last run two minutes ago: due at beat's next look, not a minute from now.
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
            last_run_at=timezone.now() - timedelta(minutes=2))

    started = None
    deadline = time.monotonic() + 30  # beat looks for changes every 5 s
    while started is None and time.monotonic() < deadline:
        started = Job.objects.filter(parameters__schedule_id=schedule.pk).first()
        time.sleep(0.1)
    assert started is not None, beat.log_tail()
    assert "DatabaseScheduler: Schedule changed." in beat.log_tail(2000)
    job = wait_for_job(started.id, {"completed", "failed"}, timeout=60)
    assert job.status == "completed", job.error
    assert job.type == "sync"
    assert job.result["scenes"]["created"] == len(
        fake_stash.library.scenes)
    schedule = Schedule.objects.get(pk=schedule.pk)
    assert schedule.last_outcome == "started"
    assert schedule.last_job_id == job.id
