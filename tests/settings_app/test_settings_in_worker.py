"""A setting changed through the API reaches a worker that is already running: the next
sync job uses the new Stash URL without any restart."""

import pytest
from rest_framework.test import APIClient

from jobs.models import JobStatus
from jobs.runner import start_job
from scenes.models import Scene
from tests.e2e_support import wait_for_job
from tests.fakes.stash_library import generate_library

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def local_scenes() -> set:
    return set(Scene.objects.values_list("id", "title"))


def stash_scenes(server) -> set:
    return {(str(scene.id), scene.title or "") for scene in server.library.scenes.values()}


def full_sync():
    job = start_job("sync", {"incremental": False})
    return wait_for_job(job.id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=60)


def test_a_changed_stash_url_is_used_by_the_next_sync_in_a_running_worker(
    celery_worker, live_celery, fake_stash_factory, api_token
):
    first = fake_stash_factory(generate_library(12, seed=21), api_key="first-stash-key")
    second = fake_stash_factory(generate_library(30, seed=22), api_key="second-stash-key")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token.key}")

    saved = api.put("/api/settings", {"stash_url": first.url, "stash_api_key": first.api_key},
                    format="json")
    assert saved.status_code == 200, saved.content
    job = full_sync()
    assert job.status == JobStatus.COMPLETED, job.error
    assert local_scenes() == stash_scenes(first)
    worker = job.worker

    saved = api.put("/api/settings", {"stash_url": second.url,
                                      "stash_api_key": second.api_key}, format="json")
    assert saved.status_code == 200, saved.content
    job = full_sync()

    assert job.status == JobStatus.COMPLETED, job.error
    assert job.worker == worker
    assert celery_worker.alive()
    assert local_scenes() == stash_scenes(second) != stash_scenes(first)
    assert len(second.request_log) > 0
