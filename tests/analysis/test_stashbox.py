"""stash-box identification through Stash: the ``stashbox`` source against the fake Stash's
``configuration`` and ``scrapeMultiScenes`` over its generated library, through the API."""

from pathlib import Path

import pytest
from graphql import FieldNode, parse, visit
from graphql.language import Visitor

from analysis.models import AnalysisPlan, PlanChange
from analysis.sources.stashbox import SCRAPE_BATCH, Pacer
from jobs.runner import JobCancelled
from tests.fakes.stash_box import STASHDB, FakeStashBox

pytestmark = pytest.mark.django_db
OPERATIONS = Path(__file__).resolve().parents[2] / "scenes" / "stash" / "operations"


@pytest.fixture(autouse=True)
def unpaced(stash):
    """The fake box allows many requests a minute: no test waits on the pacing."""
    stash.library.stash_boxes[STASHDB].max_requests_per_minute = 60_000
    return stash


def identify(api_client, **options):
    body = {"options": {"use_path": False, "use_stashbox": True, "create_missing": True,
                        **options}}
    response = api_client.post("/api/analysis/generate?background=false", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def kinds(library) -> dict[str, dict]:
    """Scene ids by what the box has for them."""
    box = library.stash_boxes[STASHDB]
    out = {"one": {}, "several": [], "none": []}
    for scene in library.scenes.values():
        matches = {r.remote_id: r for file_id in scene.file_ids
                   for r in box.by_fingerprint.get(library.files[file_id].oshash, ())}
        key = "none" if not matches else "one" if len(matches) == 1 else "several"
        if key == "one":
            out["one"][str(scene.id)] = next(iter(matches.values()))
        else:
            out[key].append(str(scene.id))
    return out


def linked(scene) -> bool:
    return any(entry["endpoint"] == STASHDB for entry in scene.stash_ids)


def test_one_match_proposes_its_fields_and_entities_several_a_note_none_a_count(api_client,
                                                                                 stash):
    library = stash.library
    expected = kinds(library)
    assert expected["several"]
    assert expected["none"]

    plan = identify(api_client)

    changes = {(c["scene_id"], c["field"]): c for s in plan["scenes"] for c in s["changes"]}
    assert {c["source"] for c in changes.values()} == {"stashbox"}
    scenes_with_changes = {scene_id for scene_id, _ in changes}
    assert scenes_with_changes <= set(expected["one"])
    assert not scenes_with_changes & set(expected["several"])
    identified = {scene_id: remote for scene_id, remote in expected["one"].items()
                  if not linked(library.scenes[int(scene_id)])}
    assert len(identified) < len(expected["one"])  # some scenes are linked already
    assert scenes_with_changes == set(identified)
    for scene_id, remote in identified.items():
        scene = library.scenes[int(scene_id)]
        assert changes[scene_id, "stash_ids"]["proposed_value"] == [
            {"endpoint": STASHDB, "stash_id": remote.remote_id}]
        assert changes[scene_id, "urls"]["proposed_value"] == remote.urls
        for field, held, value in (("title", scene.title, remote.title),
                                   ("date", scene.date, remote.date),
                                   ("code", scene.code, remote.code),
                                   ("details", scene.details, remote.details)):
            change = changes.get((scene_id, field))
            if change is not None:  # fill_blank, the default: never over a held value
                assert not held
                assert change["proposed_value"] == value
            elif not held:
                pytest.fail(f"scene {scene_id} lacks its {field}")
        studio = changes.get((scene_id, "studio"))
        if remote.studio and scene.studio_id is None:
            assert studio["proposed_value"]["name"] == remote.studio.name
        performers = changes.get((scene_id, "performers"))
        proposed = {p["name"] for p in performers["proposed_value"]} if performers else set()
        held = {library.performers[i].name for i in scene.performer_ids}
        # Each remote performer the scene lacks is proposed, by the library's own name.
        for performer in remote.performers:
            local = [p for p in library.performers.values()
                     if performer.name in (p.name, *p.alias_list)]
            if len(local) > 1 or (local and local[0].name in held):
                continue
            assert (local[0].name if local else performer.name) in proposed, scene_id
    found = plan["metadata"]["sources"]["stashbox"]
    assert found["endpoint"] == STASHDB
    assert found["matched"] == len(identified)
    assert found["already_linked"] == len(expected["one"]) - len(identified)
    assert found["no_match"] == len(expected["none"])
    assert found["multiple_matches"] == {"count": len(expected["several"]),
                                         "scene_ids": expected["several"]}
    assert found["requests"] == -(-found["scenes_asked"] // SCRAPE_BATCH)
    assert plan["description"].startswith(
        f"{len(expected['several'])} scene(s) matched several StashDB scenes")
    assert all(scene_id in plan["description"] for scene_id in expected["several"])


def test_reidentify_asks_again_for_scenes_already_linked(api_client, stash):
    library = stash.library
    linked_ids = [str(s.id) for s in library.scenes.values() if linked(s)]

    again = identify(api_client, reidentify=True)

    found = again["metadata"]["sources"]["stashbox"]
    assert found["already_linked"] == 0
    assert found["scenes_asked"] == len(library.scenes)
    changed = {s["scene_id"] for s in again["scenes"]}
    assert changed & set(linked_ids)
    # Their stash id is the one they hold: not proposed again.
    assert not [c for s in again["scenes"] if s["scene_id"] in linked_ids
                for c in s["changes"] if c["field"] == "stash_ids"]


def test_apply_writes_the_stash_id_and_fields_into_stash(api_client, stash):
    library = stash.library
    plan = identify(api_client, detect_performers=False, detect_tags=False,
                    detect_studios=False)
    scene_id = plan["scenes"][0]["scene_id"]
    api_client.post(f"/api/analysis/plans/{plan['id']}/bulk-review",
                    {"status": "accepted", "scene_ids": [scene_id]}, format="json")
    proposed = {c["field"]: c["proposed_value"] for c in plan["scenes"][0]["changes"]}

    response = api_client.post(f"/api/analysis/plans/{plan['id']}/apply?background=false",
                               {"scene_ids": [scene_id]}, format="json")

    assert response.status_code == 200, response.json()
    scene = library.scenes[int(scene_id)]
    assert [(s["endpoint"], s["stash_id"]) for s in scene.stash_ids] == [
        (STASHDB, proposed["stash_ids"][0]["stash_id"])]
    assert set(proposed["urls"]) <= set(scene.urls)
    for field in ("title", "date", "code", "details"):
        if field in proposed:
            assert getattr(scene, field) == proposed[field]


def test_entities_stash_matched_keep_its_id_and_others_are_new_with_their_stash_id(
        api_client, stash):
    plan = identify(api_client, detect_studios=False, detect_tags=False, detect_details=False)

    new = [item for change in PlanChange.objects.filter(plan_id=plan["id"], field="performers")
           for item in change.proposed_value if item["id"] is None]
    assert new
    box_names = {p.name: p.remote_id for r in stash.library.stash_boxes[STASHDB]
                 .by_fingerprint.values() for scene in r for p in scene.performers}
    for item in new:
        assert item["stash_ids"] == [{"endpoint": STASHDB, "stash_id": box_names[item["name"]]}]


def test_without_create_missing_no_new_entity_is_proposed(api_client, stash):
    plan = identify(api_client, create_missing=False)

    assert not [item for change in PlanChange.objects.filter(plan_id=plan["id"])
                if change.field in ("studio", "performers", "tags")
                for item in (change.proposed_value if isinstance(change.proposed_value, list)
                             else [change.proposed_value]) if item["id"] is None]


def test_apply_creates_a_missing_performer_linked_to_the_box(api_client, stash):
    library = stash.library
    plan = identify(api_client, detect_studios=False, detect_tags=False, detect_details=False)
    change = next(c for c in PlanChange.objects.filter(plan_id=plan["id"], field="performers")
                  if any(item["id"] is None for item in c.proposed_value))
    new = next(item for item in change.proposed_value if item["id"] is None)
    api_client.patch(f"/api/analysis/changes/{change.id}", {"status": "accepted"},
                     format="json")

    response = api_client.post(f"/api/analysis/plans/{plan['id']}/apply?background=false",
                               {"scene_ids": [change.scene_id]}, format="json")

    assert response.status_code == 200, response.json()
    created = [p for p in library.performers.values() if p.name == new["name"]]
    assert len(created) == 1
    assert [(s["endpoint"], s["stash_id"]) for s in created[0].stash_ids] == [
        (STASHDB, new["stash_ids"][0]["stash_id"])]
    assert created[0].id in library.scenes[int(change.scene_id)].performer_ids


def test_the_endpoint_is_chosen_and_an_unknown_one_fails_the_job_clearly(api_client, stash):
    stash.library.stash_boxes["https://fansdb.example/graphql"] = FakeStashBox(
        "https://fansdb.example/graphql", "FansDB", 60_000)

    plan = identify(api_client, stashbox_endpoint="https://fansdb.example/graphql")
    body = {"options": {"use_path": False, "use_stashbox": True,
                        "stashbox_endpoint": "https://nowhere.example/graphql"}}
    failed = api_client.post("/api/analysis/generate?background=false", body, format="json")

    assert plan["metadata"]["sources"]["stashbox"]["matched"] == 0
    assert stash.library.stash_boxes["https://fansdb.example/graphql"].scrapes > 0
    assert failed.status_code == 400
    assert failed.json()["error"] == (
        "Stash has no stash-box https://nowhere.example/graphql; it has "
        "https://stashdb.org/graphql, https://fansdb.example/graphql")
    assert AnalysisPlan.objects.latest("id").metadata["outcome"] == "failed"


def test_requests_are_paced_to_the_box_limit_across_processes():
    now = [1000.0]

    def sleep(seconds):
        now[0] += seconds

    # Two runs (two analyses, or two chunk workers) of one endpoint share its slots.
    one, other = (Pacer(STASHDB, 120, clock=lambda: now[0], sleep=sleep) for _ in range(2))
    elsewhere = Pacer("https://fansdb.example/graphql", 120, clock=lambda: now[0], sleep=sleep)
    calls = []
    for pacer in (one, other, one, elsewhere, other):
        pacer.wait(lambda: None)
        calls.append(now[0])

    assert calls == [1000.0, 1000.5, 1001.0, 1001.0, 1001.5]


def test_a_long_wait_for_the_box_stays_cancellable():
    now = [0.0]
    pacer = Pacer(STASHDB, 1, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    pacer.wait(lambda: None)
    checks = []

    def cancel_on_third_check():
        checks.append(now[0])
        if len(checks) == 3:
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        pacer.wait(cancel_on_third_check)
    assert checks == [0.0, 1.0, 2.0]  # checked every second of a 60 s wait


class _Selections(Visitor):
    def __init__(self):
        super().__init__()
        self.names = []

    def enter_field(self, node: FieldNode, *_args):
        self.names.append(node.name.value)


def selected_fields(text: str) -> list[str]:
    collector = _Selections()
    visit(parse(text), collector)
    return collector.names


def test_no_operation_selects_a_stash_box_api_key():
    documents = sorted(OPERATIONS.glob("*.graphql"))

    assert any("stashBoxes" in selected_fields(d.read_text()) for d in documents)
    for document in documents:
        assert "api_key" not in selected_fields(document.read_text()), document.name
    assert "api_key" in selected_fields(
        "query Q { configuration { general { stashBoxes { endpoint api_key } } } }")
