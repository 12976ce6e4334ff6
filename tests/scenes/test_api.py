"""The scene and entity endpoints: shapes, filters, validation, query counts, actions."""

import base64
import json
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Job, JobStatus
from scenes import store
from scenes.entities import TAGS
from scenes.models import Scene
from scenes.signals import scenes_removed
from tests.envelope import assert_envelope

pytestmark = pytest.mark.django_db

STUDIO = {"id": "50", "name": "Blue Harbor Films"}
ANNA = {"id": "60", "name": "Anna Berg"}
ZOE = {"id": "61", "name": "Zoë Lake"}
OUTDOOR = {"id": "70", "name": "Outdoor"}
POV = {"id": "71", "name": "POV"}


def stash_scene(scene_id: int, *, files=None, **fields) -> dict:
    """A scene as the Stash client returns it."""
    paths = files if files is not None else [f"/media/scene{scene_id}.mp4"]
    return {
        "id": str(scene_id), "title": f"Scene {scene_id}", "code": None, "details": None,
        "date": None, "urls": [], "organized": False, "rating100": None,
        "created_at": f"2025-01-{scene_id % 28 + 1:02d}T10:00:00+11:00",
        "updated_at": "2025-02-01T10:00:00+11:00",
        "studio": None, "performers": [], "tags": [],
        "files": [{"id": f"{scene_id}{n}", "path": path, "size": 1000 + n, "duration": 60.5,
                   "width": 1920, "height": 1080, "frame_rate": 29.97, "video_codec": "h264"}
                  for n, path in enumerate(paths)],
        **fields,
    }


def save(*scenes: dict) -> None:
    with transaction.atomic():
        store.save_scenes(list(scenes), timezone.now())


@pytest.fixture
def library(db):
    save(
        stash_scene(1, title="Golden Hour", details="Filmed in the Café.", date="2024-03-01",
                    organized=True, studio=STUDIO, performers=[ANNA, ZOE], tags=[OUTDOOR, POV],
                    code="BH-001", urls=["https://example.org/golden-hour"], rating100=80,
                    stash_ids=[{"endpoint": "https://stashdb.example/graphql",
                                "stash_id": "4f1c"}],
                    files=["/media/Blue Harbor/Golden Hour.mp4", "/media/alt/golden-720p.mp4"]),
        stash_scene(2, title="Rainy Afternoon", date="2023-07-15", studio=STUDIO,
                    performers=[ANNA], tags=[OUTDOOR]),
        stash_scene(3, title="Quiet Escape", date="2022-01-10", performers=[ZOE], tags=[POV],
                    files=["/media/unsorted/VID_20220110.mp4"]),
        stash_scene(10, title="ZOË'S DAY", details=None, tags=[OUTDOOR]),
    )
    # Aliases come from the entity sync.
    store.upsert_entities(TAGS, [{**POV, "aliases": ["Point of View"]},
                                       {**OUTDOOR, "aliases": ["Outdoors"]}], timezone.now())


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]



# -- shapes ----------------------------------------------------------------------------------


def test_scene_detail_is_a_scene_response(api_client, library):
    body = api_client.get("/api/scenes/1").json()

    assert body == {
        "id": "1",
        "title": "Golden Hour",
        "paths": ["/media/Blue Harbor/Golden Hour.mp4", "/media/alt/golden-720p.mp4"],
        "organized": True,
        "details": "Filmed in the Café.",
        "code": "BH-001",
        "urls": ["https://example.org/golden-hour"],
        "rating": 80,
        "stash_ids": [{"endpoint": "https://stashdb.example/graphql", "stash_id": "4f1c"}],
        "created_date": "2025-01-01T23:00:00Z",
        "scene_date": "2024-03-01",
        "studio": STUDIO,
        "performers": [ANNA, ZOE],
        "tags": [OUTDOOR, POV],
        "last_synced": body["last_synced"],
        "files": [
            {"id": "10", "path": "/media/Blue Harbor/Golden Hour.mp4", "size": 1000,
             "duration": 60.5, "width": 1920, "height": 1080, "frame_rate": 29.97,
             "video_codec": "h264", "primary": True},
            {"id": "11", "path": "/media/alt/golden-720p.mp4", "size": 1001, "duration": 60.5,
             "width": 1920, "height": 1080, "frame_rate": 29.97, "video_codec": "h264",
             "primary": False},
        ],
    }


def test_scene_list_is_the_page_envelope_of_scene_responses(api_client, library):
    body = api_client.get("/api/scenes", {"per_page": 2}).json()

    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (4, 1, 2, 2)
    assert body["items"][0] == api_client.get("/api/scenes/1").json()
    assert [item["id"] for item in body["items"]] == ["1", "2"]


@pytest.mark.parametrize("path", ["/api/scenes", "/api/scenes/", "/api/scenes/1",
                                  "/api/scenes/1/", "/api/tags", "/api/tags/",
                                  "/api/performers/", "/api/studios"])
def test_paths_work_with_and_without_a_trailing_slash(api_client, library, path):
    assert api_client.get(path).status_code == 200


def test_unknown_scene_is_404_in_the_envelope(api_client, library):
    assert_envelope(api_client.get("/api/scenes/999"), 404)


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/scenes"), ("get", "/api/scenes/1"), ("post", "/api/scenes/sync"),
    ("post", "/api/scenes/1/resync"), ("get", "/api/performers"), ("get", "/api/tags"),
    ("get", "/api/studios"),
])
def test_every_endpoint_needs_authentication(anon_client, library, method, path):
    assert_envelope(getattr(anon_client, method)(path), 401)


# -- filters and sorting ---------------------------------------------------------------------


@pytest.mark.parametrize(("params", "expected"), [
    ({"search": "golden"}, ["1"]),
    ({"search": "CAFÉ"}, ["1"]),  # details, case-insensitive beyond ASCII
    ({"search": "zoë's"}, ["10"]),
    ({"search": "vid_2022"}, ["3"]),  # file path
    ({"search": "golden-720p"}, ["1"]),  # a secondary file's path
    ({"studio_id": "50"}, ["1", "2"]),
    ({"performer_ids": "60"}, ["1", "2"]),
    ({"performer_ids": "60,61"}, ["1"]),  # ALL of them
    ({"performer_ids": ["60", "61"]}, ["1"]),  # repeated
    ({"tag_ids": ["70", "71"]}, ["1"]),
    ({"tag_ids": "71"}, ["1", "3"]),
    ({"organized": "true"}, ["1"]),
    ({"organized": "false"}, ["2", "3", "10"]),
    ({"date_from": "2023-01-01"}, ["1", "2"]),
    ({"date_to": "2023-07-15"}, ["2", "3"]),
    ({"date_from": "2023-01-01", "date_to": "2023-12-31", "studio_id": "50"}, ["2"]),
])
def test_scene_filters(api_client, library, params, expected):
    assert ids(api_client.get("/api/scenes", params)) == expected


def test_partial_dates_are_kept_and_count_as_their_first_day(api_client, db):
    save(stash_scene(1, date="2024"), stash_scene(2, date="2024-03"),
         stash_scene(3, date="2024-02-29"), stash_scene(4, date="2024-13"),
         stash_scene(5, date="2023-12-31"))

    shown = api_client.get("/api/scenes").json()["items"]
    assert {scene["id"]: scene["scene_date"] for scene in shown} == {
        "1": "2024", "2": "2024-03", "3": "2024-02-29", "4": None, "5": "2023-12-31"}
    assert ids(api_client.get("/api/scenes", {"date_from": "2024-01-01"})) == ["1", "2", "3"]
    assert ids(api_client.get("/api/scenes", {"date_from": "2024-03-01"})) == ["2"]
    assert ids(api_client.get("/api/scenes", {"date_from": "2024-01-02"})) == ["2", "3"]
    assert ids(api_client.get("/api/scenes", {"date_to": "2024-01-01"})) == ["1", "5"]
    assert ids(api_client.get("/api/scenes", {"date_to": "2024-02-29"})) == ["1", "3", "5"]
    assert ids(api_client.get("/api/scenes", {"sort_by": "scene_date"})) == [
        "5", "1", "3", "2", "4"]  # no date last


@pytest.mark.parametrize(("params", "field"), [
    ({"organized": "maybe"}, "organized"),
    ({"date_from": "2024-13-01"}, "date_from"),
    ({"date_to": "yesterday"}, "date_to"),
    ({"tag_ids": "7,x"}, "tag_ids"),
    ({"performer_ids": ["60", "1;DROP"]}, "performer_ids"),
    ({"sort_by": "rating"}, "sort_by"),
    ({"sort_order": "sideways"}, "sort_order"),
    ({"per_page": 101}, "per_page"),
    ({"page": 0}, "page"),
])
def test_invalid_scene_parameters_are_400_in_the_envelope(api_client, library, params, field):
    body = assert_envelope(api_client.get("/api/scenes", params), 400)
    assert field in body["detail"]


@pytest.mark.parametrize(("sort_by", "order", "expected"), [
    ("id", "asc", ["1", "2", "3", "10"]),  # numerically, not as text
    ("id", "desc", ["10", "3", "2", "1"]),
    ("title", "asc", ["1", "3", "2", "10"]),
    ("scene_date", "desc", ["1", "2", "3", "10"]),  # scenes without a date last
    ("created_date", "asc", ["1", "2", "3", "10"]),
])
def test_scene_sorting(api_client, library, sort_by, order, expected):
    response = api_client.get("/api/scenes", {"sort_by": sort_by, "sort_order": order})
    assert ids(response) == expected


@pytest.mark.parametrize("sort", [
    {}, {"sort_by": "id", "sort_order": "desc"}, {"sort_by": "title"},
    {"sort_by": "scene_date"}, {"sort_by": "scene_date", "sort_order": "desc"},
    {"sort_by": "created_date", "sort_order": "desc"},
    {"sort_by": "scene_date", "tag_ids": "70"},
])
def test_next_cursors_walk_every_sort_as_page_numbers_do(api_client, library, sort):
    # Ties and undated scenes on both sides of page boundaries: 2 and 11 share a date,
    # 10, 12 and 13 have none.
    save(stash_scene(11, title="Rainy Afternoon", date="2023-07-15", tags=[OUTDOOR]),
         stash_scene(12, title="Quiet Escape"), stash_scene(13, title="", tags=[OUTDOOR]))
    params = {**sort, "per_page": 2}
    first = api_client.get("/api/scenes", params).json()
    by_page, page = [ids_of(first)], 2
    while len(by_page[-1]) == 2:
        by_page.append(ids(api_client.get("/api/scenes", {**params, "page": page})))
        page += 1
    by_cursor, body = [ids_of(first)], first
    while body["next_cursor"]:
        body = api_client.get("/api/scenes", {**params, "cursor": body["next_cursor"]}).json()
        by_cursor.append(ids_of(body))

    assert [scene for page in by_cursor for scene in page] == [
        scene for page in by_page for scene in page]
    # Pages after the first pick their rows by an id subquery; the order is the same.
    assert [scene for page in by_page for scene in page] == ids(
        api_client.get("/api/scenes", {**sort, "per_page": 100}))


def test_a_forged_cursor_with_a_number_no_column_holds_is_400(api_client, library):
    cursor = api_client.get("/api/scenes", {"per_page": 1}).json()["next_cursor"]
    padded = cursor + "=" * (-len(cursor) % 4)
    position, _, pk, bound_to = json.loads(base64.urlsafe_b64decode(padded))
    forged = base64.urlsafe_b64encode(
        json.dumps([position, 10**30, pk, bound_to]).encode()).decode()
    response = api_client.get("/api/scenes", {"per_page": 1, "cursor": forged})
    assert "cursor" in assert_envelope(response, 400)["detail"]


def ids_of(body) -> list[str]:
    return [item["id"] for item in body["items"]]


def test_last_synced_sorting(api_client, library):
    save(stash_scene(2, title="Resynced"))
    assert ids(api_client.get("/api/scenes", {"sort_by": "last_synced"}))[-1] == "2"


def test_entity_lists_count_scenes_and_search_names_and_aliases(api_client, library):
    tags = api_client.get("/api/tags", {"sort_by": "scene_count", "sort_order": "desc"}).json()
    assert tags["items"] == [
        {"id": "70", "name": "Outdoor", "aliases": ["Outdoors"], "scene_count": 3},
        {"id": "71", "name": "POV", "aliases": ["Point of View"], "scene_count": 2},
    ]
    assert ids(api_client.get("/api/tags", {"search": "point of"})) == ["71"]
    assert ids(api_client.get("/api/performers", {"search": "ZOË"})) == ["61"]
    performers = api_client.get("/api/performers", {"sort_by": "name"}).json()["items"]
    assert [(p["name"], p["scene_count"]) for p in performers] == [
        ("Anna Berg", 2), ("Zoë Lake", 2)
    ]
    studios = api_client.get("/api/studios").json()
    assert studios["items"] == [{**STUDIO, "aliases": [], "scene_count": 2}]
    assert_envelope(api_client.get("/api/studios", {"sort_by": "id"}), 400)


# -- query counts ----------------------------------------------------------------------------


def _many_scenes(count: int) -> None:
    tags = [{"id": str(700 + n), "name": f"Tag {n}"} for n in range(5)]
    performers = [{"id": str(600 + n), "name": f"Performer {n}"} for n in range(5)]
    save(*(
        stash_scene(100 + n, studio=STUDIO if n % 2 else None,
                    performers=performers[n % 5:n % 5 + 2], tags=tags[: n % 4 + 1],
                    files=[f"/m/{n}.mp4", f"/m/{n}-alt.mp4"])
        for n in range(count)
    ))


def _queries(api_client, path: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(path, params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(("path", "params"), [
    ("/api/scenes", {}),
    ("/api/scenes", {"tag_ids": "700", "search": "scene"}),
    ("/api/performers", {}),
    ("/api/tags", {"sort_by": "scene_count"}),
    ("/api/studios", {}),
])
def test_list_query_count_does_not_grow_with_page_size(api_client, path, params):
    _many_scenes(60)
    small = _queries(api_client, path, {**params, "per_page": 5})
    large = _queries(api_client, path, {**params, "per_page": 50})
    assert small == large


def test_the_scene_count_is_over_scene_ids_only(api_client):
    _many_scenes(10)
    with CaptureQueriesContext(connection) as captured:
        body = api_client.get("/api/scenes",
                              {"tag_ids": "700,701", "search": "scene", "per_page": 2}).json()
    assert body["total"] == 7  # more than a page: counted
    page = next(q["sql"] for q in captured if "(SELECT COUNT(*) FROM (" in q["sql"])
    count = page.split("(SELECT COUNT(*) FROM (")[1].split(") capped)")[0]
    assert "SCENE_ID" in count.upper()  # the filters are in it
    assert "JOIN" not in count.upper()


# -- sync and resync -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_background_sync_answers_202_and_the_job_runs(api_client, fake_stash, use_stash):
    use_stash(fake_stash)

    response = api_client.post("/api/scenes/sync")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job_id", "status"}
    job = Job.objects.get(id=body["job_id"])
    assert (job.type, job.status, job.parameters) == ("sync", JobStatus.COMPLETED,
                                                       {"incremental": True})
    assert Scene.objects.count() == len(fake_stash.library.scenes)


@pytest.mark.django_db(transaction=True)
def test_inline_full_sync_returns_the_result(api_client, fake_stash, use_stash):
    use_stash(fake_stash)

    response = api_client.post("/api/scenes/sync/?background=false&incremental=false")

    assert response.status_code == 200
    body = response.json()
    assert body["incremental"] is False
    assert body["scenes"] == {"created": 40, "updated": 0, "removed": 0}
    assert set(body) == {"incremental", "scenes", "tags", "performers", "studios",
                         "deletions_skipped", "duration_seconds"}
    assert body["deletions_skipped"] is None


def test_a_second_sync_request_is_409_with_the_running_job(api_client, db):
    running = Job.objects.create(type="sync", status=JobStatus.RUNNING, exclusive_key="sync")

    response = api_client.post("/api/scenes/sync?background=false")

    body = assert_envelope(response, 409)
    assert body["detail"] == {"job_id": str(running.id)}


@pytest.mark.django_db(transaction=True)
def test_a_sync_the_job_queue_refuses_is_503_not_a_pending_202(api_client):
    with mock.patch("jobs.tasks.run_job_task.apply_async",
                    side_effect=ConnectionRefusedError("broker down")):
        response = api_client.post("/api/scenes/sync")
    body = assert_envelope(response, 503)
    assert int(response["Retry-After"]) > 0
    job = Job.objects.get(id=body["detail"]["job_id"])
    assert job.status == JobStatus.FAILED
    assert job.exclusive_key is None
    # the failed job does not block the next sync
    with mock.patch("jobs.tasks.run_job_task.apply_async"):
        assert api_client.post("/api/scenes/sync").status_code == 202


def test_bad_sync_parameters_are_400(api_client, db):
    body = assert_envelope(api_client.post("/api/scenes/sync?background=perhaps"), 400)
    assert "background" in body["detail"]


@pytest.mark.django_db(transaction=True)
def test_inline_sync_with_stash_down_is_502(api_client, fake_stash, use_stash, monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)
    use_stash(fake_stash)
    fake_stash.stop()

    body = assert_envelope(api_client.post("/api/scenes/sync?background=false"), 502,
                           "stash_unavailable")

    assert body["error"].startswith("Could not reach Stash at http://127.0.0.1:")
    assert Job.objects.get(id=body["detail"]["job_id"]).status == JobStatus.FAILED


def test_resync_reads_the_scene_from_stash_now(api_client, fake_stash, use_stash):
    use_stash(fake_stash)
    library = fake_stash.library
    scene_id = sorted(library.scenes)[0]
    save(stash_scene(scene_id, title="Stale title"))
    library.update_scene(scene_id, title="Fresh title", organized=True)

    response = api_client.post(f"/api/scenes/{scene_id}/resync")

    assert response.status_code == 200
    assert response.json()["title"] == "Fresh title"
    assert response.json()["organized"] is True
    assert response.json() == api_client.get(f"/api/scenes/{scene_id}").json()
    assert fake_stash.request_log[-1] == "FindScenesByIds"


def test_resync_of_a_scene_stash_deleted_is_404_and_removes_it(api_client, fake_stash,
                                                               use_stash):
    use_stash(fake_stash)
    save(stash_scene(9999))
    removed = []
    receiver = lambda sender, scene_ids, **kwargs: removed.extend(scene_ids)  # noqa: E731
    scenes_removed.connect(receiver)
    try:
        response = api_client.post("/api/scenes/9999/resync")
    finally:
        scenes_removed.disconnect(receiver)

    assert_envelope(response, 404)
    assert not Scene.objects.filter(id="9999").exists()
    assert removed == ["9999"]


def test_resync_with_stash_down_is_502(api_client, fake_stash, use_stash, library, monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)
    use_stash(fake_stash)
    fake_stash.stop()

    assert_envelope(api_client.post("/api/scenes/1/resync"), 502)
    assert Scene.objects.filter(id="1").exists()
