"""``only``: all, unanalyzed, changed; the fingerprint each analysis records per scene."""

import pytest
from django.utils import timezone

from analysis.models import SceneAnalysis
from scenes.models import Scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenes(library):
    studio = library.studio(1, "Golden Harbor")
    return [library.scene(i, f"/media/Golden Harbor/scene {i}.mp4", title=f"Scene {i}",
                          studio=None if i % 2 else studio) for i in range(1, 7)]


def resynced(scene_id: str, **fields) -> None:
    """What sync does to a scene it rewrites: new fields, a new last_synced."""
    Scene.objects.filter(pk=scene_id).update(last_synced=timezone.now(), **fields)


def test_each_analysed_scene_records_when_and_what(scenes, analyse):
    job, plan = analyse(scene_ids=["1", "2"])
    records = SceneAnalysis.objects.order_by("scene_id")
    assert [record.scene_id for record in records] == ["1", "2"]
    assert all(record.analyzed_at >= job.created_at for record in records)
    assert records[0].fingerprint != records[1].fingerprint  # different titles and paths
    assert records[0].settings_fingerprint == records[1].settings_fingerprint


def test_unanalyzed_selects_the_scenes_never_analysed(scenes, analyse):
    analyse(scene_ids=["1", "2"])
    job, plan = analyse(only="unanalyzed")
    assert job.result["counts"]["scenes_analysed"] == 4
    assert plan.metadata["selection"]["only"] == "unanalyzed"
    assert SceneAnalysis.objects.count() == 6


def test_changed_selects_new_and_changed_scenes_only(scenes, library, analyse):
    analyse()
    job, _ = analyse(only="changed")
    assert job.result["counts"]["scenes_analysed"] == 0
    resynced("3", title="Scene 3, retitled")
    resynced("4")  # rewritten by sync but the same: not analysed again
    library.scene(7, "/media/new.mp4", title="New")
    job, _ = analyse(only="changed")
    assert job.result["counts"]["scenes_analysed"] == 2
    assert set(SceneAnalysis.objects.filter(checked_at__gt=SceneAnalysis.objects.get(
        scene_id="1").checked_at).values_list("scene_id", flat=True)) == {"3", "4", "7"}


def test_other_options_make_every_scene_changed(scenes, analyse):
    analyse()
    job, _ = analyse(only="changed", options={"confidence_threshold": 0.9})
    assert job.result["counts"]["scenes_analysed"] == 6
    job, _ = analyse(only="changed", options={"confidence_threshold": 0.9,
                                              "max_cost_usd": 1.0})
    assert job.result["counts"]["scenes_analysed"] == 0  # the budget proposes nothing else


def test_only_combines_with_scene_ids_and_filters(scenes, analyse):
    analyse(scene_ids=["1"])
    job, _ = analyse(only="unanalyzed", scene_ids=["1", "2", "3"])
    assert job.result["counts"]["scenes_analysed"] == 2
    job, _ = analyse(only="unanalyzed", filters={"studio_id": "1"})
    assert job.result["counts"]["scenes_analysed"] == 2  # scenes 4 and 6


def test_a_bad_only_is_a_400(api_client, scenes):
    response = api_client.post("/api/analysis/generate?background=false",
                               {"only": "recent"}, format="json")
    assert response.status_code == 400
    assert "only" in response.json()["detail"]
    response = api_client.post("/api/analysis/generate?background=false",
                               {"only": "unanalyzed"}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"]["counts"]["scenes_analysed"] == 6
