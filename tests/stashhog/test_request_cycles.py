"""API requests leave no cyclic garbage behind (stashhog/api/request_cycles.py): what a
request allocated is freed by reference counting when its response is done, not by a full
garbage collection that holds the GIL while queued requests wait."""

import gc

import pytest
from django.utils import timezone

from analysis.models import AnalysisPlan, PlanChange
from jobs.models import Job
from scenes.models import Performer, Scene, SceneFile, Tag

pytestmark = pytest.mark.django_db

SCENES = 30
# What the test client itself leaves per request (its request's environ and payload), and
# a few objects of Django's query compiler; one request's page once took 15 per scene.
MOST_PER_REQUEST = 60


@pytest.fixture
def library():
    now = timezone.now()
    performer = Performer.objects.create(id="1", name="Anna", last_synced=now)
    tag = Tag.objects.create(id="2", name="Outdoor", last_synced=now)
    plan = AnalysisPlan.objects.create(name="Plan")
    for number in range(1, SCENES + 1):
        scene = Scene.objects.create(id=str(number), title=f"Scene {number}",
                                     created_date=now, stash_updated_at=now, last_synced=now,
                                     urls=["https://x.org"])
        scene.performers.set([performer])
        scene.tags.set([tag])
        SceneFile.objects.create(id=str(number), scene=scene, path=f"/media/{number}.mp4",
                                 primary=True)
        PlanChange.objects.create(plan=plan, scene_id=scene.id, scene_title=scene.title,
                                  field="details", action="set", proposed_value="x",
                                  confidence=0.8, source="path", reason="test")
        Job.objects.create(type="demo.count")
    return plan


def cyclic_garbage_per_request(client, path: str, requests: int = 10) -> float:
    """Objects only the cycle collector would free, per GET of ``path``."""
    client.get(path)  # caches and lazy imports of the first request are not garbage
    gc.collect()
    gc.disable()
    try:
        for _ in range(requests):
            response = client.get(path)
            assert response.status_code == 200, response.content
            del response.json  # the test client's own cycle: a partial of the response
        del response
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
    finally:
        gc.set_debug(0)
        gc.enable()
    found = len(gc.garbage)
    gc.garbage.clear()
    return found / requests


@pytest.mark.parametrize("path", [
    f"/api/scenes?per_page={SCENES}",
    "/api/scenes/1",
    "/api/analysis/plans",
    "/api/analysis/plans/{plan}?per_page=" + str(SCENES),
    "/api/jobs",
])
def test_api_requests_leave_no_cyclic_garbage(api_client, library, path):
    assert cyclic_garbage_per_request(api_client, path.format(plan=library.id)) \
        <= MOST_PER_REQUEST
