"""The plain scene fields (title, date, code, urls, rating, organized, stash ids): synced from
Stash, checked per field by review (over the API), applied to the fake Stash and undone."""

import pytest

from analysis.models import ChangeStatus, PlanChange
from scenes.models import Performer, Scene, Studio, Tag
from tests.analysis.conftest import make_plan

pytestmark = pytest.mark.django_db

STASHDB = "https://stashdb.org/graphql"
TPDB = "https://theporndb.net/graphql"


def plain_change(plan, scene_id, field, action, proposed, current=None) -> PlanChange:
    return PlanChange.objects.create(
        plan=plan, scene=Scene.objects.get(id=str(scene_id)), field=field, action=action,
        proposed_value=proposed, current_value=current, confidence=0.9, source="path",
        status=ChangeStatus.ACCEPTED,
    )


def apply_over_api(api_client, plan) -> dict:
    response = api_client.post(f"/api/analysis/plans/{plan.id}/apply?background=false")
    assert response.status_code == 200, response.json()
    return response.json()


def writes(server) -> list[tuple[str, dict]]:
    return [(name, variables["input"]) for name, variables in server.mutation_log]


# -- sync --------------------------------------------------------------------------------------


def test_sync_keeps_stash_ids_and_ignore_auto_tag(stash, api_client):
    library = stash.library
    scene = next(iter(library.scenes.values()))
    library.update_scene(scene.id, stash_ids=[{"endpoint": STASHDB, "stash_id": "abc-1"}])
    tag, performer, studio = (next(iter(table.values())) for table in (
        library.tags, library.performers, library.studios))
    library.update_tag(tag.id, ignore_auto_tag=True)
    library.update_performer(performer.id, ignore_auto_tag=True)
    library.update_studio(studio.id, ignore_auto_tag=True)

    response = api_client.post("/api/scenes/sync?background=false&incremental=false")

    assert response.status_code == 200, response.json()
    local = Scene.objects.get(id=str(scene.id))
    assert local.stash_ids == [{"endpoint": STASHDB, "stash_id": "abc-1"}]
    assert Tag.objects.get(id=str(tag.id)).ignore_auto_tag
    assert Performer.objects.get(id=str(performer.id)).ignore_auto_tag
    assert Studio.objects.get(id=str(studio.id)).ignore_auto_tag
    assert Tag.objects.filter(ignore_auto_tag=True).count() == 1


# -- review: each field checks its values ----------------------------------------------------


@pytest.fixture
def review_plan(library, plan_factory):
    scene = library.scene(5, "/media/x.mp4", title="Old title")
    Scene.objects.filter(pk=scene.pk).update(
        urls=["https://example.com/a"], stash_ids=[{"endpoint": STASHDB, "stash_id": "s1"}])
    return plan_factory(*(
        {"scene_id": "5", "field": field, "action": action, "proposed_value": proposed}
        for field, action, proposed in (
            ("title", "set", "New title"),
            ("date", "set", "2024-02-29"),
            ("code", "set", "ABC-1"),
            ("rating", "set", 80),
            ("organized", "set", True),
            ("urls", "add", ["https://example.com/b"]),
            ("urls", "remove", ["https://example.com/a"]),
            ("stash_ids", "add", [{"endpoint": TPDB, "stash_id": "t1"}]),
            ("stash_ids", "remove", [{"endpoint": STASHDB, "stash_id": "s1"}]),
        )
    ))


def _patch(api_client, plan, field, action, value):
    change = plan.changes.get(field=field, action=action)
    return api_client.patch(f"/api/analysis/changes/{change.id}",
                            {"proposed_value": value}, format="json")


@pytest.mark.parametrize(("field", "action", "value", "problem"), [
    ("title", "set", 12, "A title is a string."),
    ("title", "set", "x" * 70_000, "At most 65536 characters."),
    ("date", "set", "2023-02-29", "A date is"),
    ("date", "set", "2024-1-05", "A date is"),
    ("date", "set", "yesterday", "A date is"),
    ("date", "set", 20240101, "A date is"),
    ("date", "set", "2024-13", "A date is"),
    ("date", "set", "24", "A date is"),
    ("code", "set", None, "A code is a string."),
    ("title", "set", None, "A title is a string."),
    ("code", "set", "c" * 256, "At most 255 characters."),
    ("rating", "set", 101, "from 0 to 100"),
    ("rating", "set", -1, "from 0 to 100"),
    ("rating", "set", 50.5, "from 0 to 100"),
    ("rating", "set", True, "from 0 to 100"),
    ("rating", "set", "80", "from 0 to 100"),
    ("organized", "set", "yes", "true or false"),
    ("organized", "set", None, "true or false"),
    ("urls", "add", [], "non-empty list"),
    ("urls", "add", "https://example.com/c", "non-empty list"),
    ("urls", "add", ["ftp://example.com/c"], "http(s) URL"),
    ("urls", "add", ["javascript:alert(1)"], "http(s) URL"),
    ("urls", "add", ["https://"], "http(s) URL"),
    ("urls", "add", ["https://example.com/c", "https://example.com/c"], "listed twice"),
    ("urls", "add", ["https://example.com/a"], "already has: https://example.com/a"),
    ("urls", "remove", ["https://example.com/z"], "does not have"),
    ("stash_ids", "add", [{"endpoint": TPDB}], "Each stash id is"),
    ("stash_ids", "add", [{"endpoint": "stashdb", "stash_id": "x"}], "Each stash id is"),
    ("stash_ids", "add", [{"endpoint": TPDB, "stash_id": ""}], "Each stash id is"),
    ("stash_ids", "add", [{"endpoint": TPDB, "stash_id": "x", "extra": 1}], "Each stash id is"),
    ("stash_ids", "add", [{"endpoint": STASHDB, "stash_id": "s1"}], "already has"),
    ("stash_ids", "remove", [{"endpoint": STASHDB, "stash_id": "s2"}], "does not have"),
])
def test_review_refuses_values_that_do_not_fit_the_field(api_client, review_plan, field,
                                                         action, value, problem):
    change = review_plan.changes.get(field=field, action=action)
    before = change.proposed_value

    response = _patch(api_client, review_plan, field, action, value)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert problem in " ".join(body["detail"]["proposed_value"])
    change.refresh_from_db()
    assert change.proposed_value == before  # nothing half-written


@pytest.mark.parametrize(("field", "action", "value"), [
    ("title", "set", "Another title"),
    ("title", "set", ""),
    ("date", "set", "2025-12-31"),
    ("date", "set", "2025-12"),  # Stash's date precision: the month, or the year
    ("date", "set", "2025"),
    ("date", "set", None),
    ("code", "set", "XYZ-9"),
    ("rating", "set", 0),
    ("rating", "set", 100),
    ("rating", "set", None),
    ("organized", "set", False),
    ("urls", "add", ["http://example.com/c", "https://example.com/d?x=1"]),
    ("urls", "remove", ["https://example.com/a"]),
    ("stash_ids", "add", [{"endpoint": TPDB, "stash_id": "t2"}]),
    ("stash_ids", "remove", [{"endpoint": STASHDB, "stash_id": "s1"}]),
])
def test_review_takes_values_that_fit(api_client, review_plan, field, action, value):
    before = review_plan.changes.get(field=field, action=action).proposed_value

    response = _patch(api_client, review_plan, field, action, value)

    assert response.status_code == 200, response.json()
    assert response.json()["proposed_value"] == value
    assert response.json()["source"] == ("path" if value == before else "user")


# -- apply: every field lands in Stash --------------------------------------------------------


def test_single_values_land_one_request_per_value(stash, api_client):
    library = stash.library
    first, second, third = list(library.scenes)[:3]
    plan = make_plan()
    scenes = library.scenes
    for scene_id in (first, second):  # the same values for two scenes: one bulk update each
        plain_change(plan, scene_id, "rating", "set", 90, current=scenes[scene_id].rating100)
        plain_change(plan, scene_id, "organized", "set", True, current=False)
    plain_change(plan, third, "title", "set", "A New Title", current=scenes[third].title or "")
    plain_change(plan, third, "date", "set", "2021-06-15", current=scenes[third].date)
    plain_change(plan, third, "code", "set", "CODE-7", current=scenes[third].code or "")

    result = apply_over_api(api_client, plan)

    assert (result["applied"], result["failed"]) == (7, 0)
    for scene_id in (first, second):
        assert (scenes[scene_id].rating100, scenes[scene_id].organized) == (90, True)
    scene = library.scenes[third]
    assert (scene.title, scene.date, scene.code) == ("A New Title", "2021-06-15", "CODE-7")
    sent = writes(stash)
    bulk = [body for name, body in sent if name == "BulkSceneUpdate"]
    assert sorted(sorted(body) for body in bulk) == [["ids", "organized"], ["ids", "rating100"]]
    assert all(sorted(body["ids"]) == sorted([str(first), str(second)]) for body in bulk)
    single = [body for name, body in sent if name == "SceneUpdate"]
    assert sorted(key for body in single for key in body if key != "id") == [
        "code", "date", "title"]
    local = Scene.objects.get(id=str(third))
    assert (local.title, local.scene_date, local.code) == (
        "A New Title", "2021-06-15", "CODE-7")
    assert Scene.objects.get(id=str(first)).rating == 90


def test_clearing_a_rating_and_a_date(stash, api_client):
    library = stash.library
    scene = next(s for s in library.scenes.values() if s.rating100 is not None and s.date)
    plan = make_plan()
    plain_change(plan, scene.id, "rating", "set", None, current=scene.rating100)
    plain_change(plan, scene.id, "date", "set", None, current=scene.date)

    assert apply_over_api(api_client, plan)["applied"] == 2
    assert (scene.rating100, scene.date) == (None, None)
    local = Scene.objects.get(id=str(scene.id))
    assert (local.rating, local.scene_date) == (None, None)


def test_urls_are_added_and_removed_through_the_bulk_modes(stash, api_client):
    library = stash.library
    with_url = next(s for s in library.scenes.values() if s.urls)
    others = [s.id for s in library.scenes.values() if not s.urls][:2]
    kept, gone = "https://keep.example/1", with_url.urls[0]
    library.update_scene(with_url.id, urls=[gone, kept])
    plan = make_plan()
    plain_change(plan, with_url.id, "urls", "remove", [gone], current=[gone, kept])
    for scene_id in others:
        plain_change(plan, scene_id, "urls", "add", ["https://new.example/x"], current=[])

    assert apply_over_api(api_client, plan)["applied"] == 3
    assert library.scenes[with_url.id].urls == [kept]
    assert all(library.scenes[s].urls == ["https://new.example/x"] for s in others)
    modes = sorted((body["urls"]["mode"], len(body["ids"])) for _name, body in writes(stash))
    assert modes == [("ADD", 2), ("REMOVE", 1)]  # never SET: edits in Stash survive
    assert Scene.objects.get(id=str(with_url.id)).urls == [kept]


def test_stash_ids_keep_the_other_endpoints_and_one_id_per_endpoint(stash, api_client):
    library = stash.library
    first, second = list(library.scenes)[:2]
    library.update_scene(first, stash_ids=[{"endpoint": STASHDB, "stash_id": "old"},
                                           {"endpoint": TPDB, "stash_id": "tp-1"}])
    plan = make_plan()
    held = [{"endpoint": STASHDB, "stash_id": "old"}, {"endpoint": TPDB, "stash_id": "tp-1"}]
    plain_change(plan, first, "stash_ids", "add", [{"endpoint": STASHDB, "stash_id": "new"}],
                 current=held)
    plain_change(plan, second, "stash_ids", "add", [{"endpoint": STASHDB, "stash_id": "x2"}],
                 current=[])

    assert apply_over_api(api_client, plan)["applied"] == 2
    pairs = [(e["endpoint"], e["stash_id"]) for e in library.scenes[first].stash_ids]
    assert sorted(pairs) == [(STASHDB, "new"), (TPDB, "tp-1")]
    assert [e["stash_id"] for e in library.scenes[second].stash_ids] == ["x2"]
    assert {name for name, _body in writes(stash)} == {"SceneUpdate"}
    assert sorted(map(tuple, (e.values() for e in Scene.objects.get(id=str(first)).stash_ids))) \
        == [(STASHDB, "new"), (TPDB, "tp-1")]

    # Removing one leaves the rest.
    plan = make_plan()
    plain_change(plan, first, "stash_ids", "remove", [{"endpoint": TPDB, "stash_id": "tp-1"}],
                 current=[])
    assert apply_over_api(api_client, plan)["applied"] == 1
    assert [e["stash_id"] for e in library.scenes[first].stash_ids] == ["new"]


def test_a_value_stash_already_holds_is_skipped_and_one_moved_meanwhile_fails(stash,
                                                                              api_client):
    library = stash.library
    first, second = list(library.scenes)[:2]
    library.update_scene(first, code="SAME")
    library.update_scene(second, code="EDITED-IN-STASH")
    plan = make_plan()
    plain_change(plan, first, "code", "set", "SAME", current="")
    moved = plain_change(plan, second, "code", "set", "MINE", current="")

    result = apply_over_api(api_client, plan)

    assert (result["skipped"], result["failed"], result["applied"]) == (1, 1, 0)
    assert library.scenes[second].code == "EDITED-IN-STASH"
    moved.refresh_from_db()
    assert moved.status == ChangeStatus.FAILED
    assert stash.mutation_log == []


def test_a_revert_takes_back_new_fields(stash, api_client):
    library = stash.library
    scene = next(s for s in library.scenes.values() if s.rating100 is not None and not s.urls)
    rating = scene.rating100
    plan = make_plan()
    plain_change(plan, scene.id, "rating", "set", 5, current=rating)
    plain_change(plan, scene.id, "urls", "add", ["https://new.example/r"], current=[])
    apply_over_api(api_client, plan)

    response = api_client.post(f"/api/analysis/plans/{plan.id}/revert", {}, format="json")

    assert response.status_code == 201, response.json()
    revert = PlanChange.objects.filter(plan_id=response.json()["id"])
    assert {(c.field, c.action, repr(c.proposed_value)) for c in revert} == {
        ("rating", "set", repr(rating)), ("urls", "remove", "['https://new.example/r']")}
    revert.update(status=ChangeStatus.ACCEPTED)
    apply_over_api(api_client, revert.first().plan)
    assert (scene.rating100, scene.urls) == (rating, [])
