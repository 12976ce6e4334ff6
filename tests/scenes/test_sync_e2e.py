"""Sync through the real stack: daphne serves the API, a Celery worker runs the job, both
on loopback against the test database and the fake Stash."""

import httpx
import pytest

from jobs.models import JobStatus
from settings_app.registry import save_settings
from tests.e2e_support import wait_for_job
from tests.fakes.stash_library import generate_library
from tests.scenes.library_match import assert_matches

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api(daphne_server, api_token):
    with httpx.Client(base_url=daphne_server.base_url, timeout=30,
                      headers={"Authorization": f"Token {api_token.key}"}) as client:
        yield client


def test_a_queued_sync_runs_on_the_worker(api, celery_worker, live_celery, fake_stash_factory,
                                          use_stash):
    stash = fake_stash_factory(generate_library(150, seed=5))
    use_stash(stash)
    save_settings({"sync_page_size": 40})

    response = api.post("/api/scenes/sync")

    assert response.status_code == 202, response.text
    job = wait_for_job(response.json()["job_id"], {JobStatus.COMPLETED, JobStatus.FAILED})
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.result["scenes"]["created"] == 150
    assert_matches(stash.library)
    assert api.get("/api/scenes", params={"per_page": 1}).json()["total"] == 150


def test_one_sync_at_a_time_and_a_cancelled_one_is_finished_by_the_next(
    api, celery_worker, live_celery, fake_stash_factory, use_stash
):
    stash = fake_stash_factory(generate_library(120, seed=6))
    stash.latency = 0.1  # keeps the first sync running while the test acts
    use_stash(stash)
    save_settings({"sync_page_size": 10})

    first = api.post("/api/scenes/sync", params={"incremental": "false"}).json()
    wait_for_job(first["job_id"], {JobStatus.RUNNING})
    second = api.post("/api/scenes/sync")

    assert second.status_code == 409
    assert second.json()["detail"] == {"job_id": first["job_id"]}

    assert api.delete(f"/api/jobs/{first['job_id']}").status_code == 200
    cancelled = wait_for_job(first["job_id"], {JobStatus.CANCELLED, JobStatus.COMPLETED})
    assert cancelled.status == JobStatus.CANCELLED
    stash.latency = 0
    library = stash.library
    library.delete_scene(sorted(library.scenes)[0])

    rerun = api.post("/api/scenes/sync").json()

    job = wait_for_job(rerun["job_id"], {JobStatus.COMPLETED, JobStatus.FAILED})
    assert job.status == JobStatus.COMPLETED, job.error
    assert_matches(library)
