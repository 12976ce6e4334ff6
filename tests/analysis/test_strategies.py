"""Per-field strategies, set_organized and Stash's ignore_auto_tag, through the API."""

import pytest

from analysis.library import load_snapshots
from analysis.models import AnalysisPlan, ChangeStatus, PlanStatus
from analysis.options import AnalysisOptions
from analysis.proposals import ChangeBuilder, Finding
from scenes.models import Performer, Scene
from tests.analysis.conftest import changes_by_field, make_plan, names

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(library):
    return {
        "harbor": library.studio(10, "Blue Harbor Films"),
        "vixen": library.studio(11, "Vixen"),
        "jane": library.performer(20, "Jane Doe"),
        "anna": library.performer(21, "Anna Bell"),
        "mia": library.performer(22, "Mia Rivera"),
        "outdoor": library.tag(30, "Outdoor"),
        "pov": library.tag(31, "POV"),
    }


def generate(api_client, **options):
    """A new plan; earlier ones are cancelled, so that they hold nothing back."""
    AnalysisPlan.objects.update(status=PlanStatus.CANCELLED)
    response = api_client.post("/api/analysis/generate?background=false",
                               {"options": {"use_ai": False, **options}}, format="json")
    assert response.status_code == 200, response.json()
    return AnalysisPlan.objects.get(pk=response.json()["id"])


# -- strategies ---------------------------------------------------------------------------------


def test_fill_blank_is_the_default_for_single_values_overwrite_replaces(
        api_client, library, catalogue):
    library.scene(1, "/media/Blue Harbor Films/Golden Hour.mp4", studio=catalogue["vixen"])
    library.scene(2, "/media/Blue Harbor Films/Sunset.mp4")

    plan = generate(api_client)
    assert set(changes_by_field(plan)) == {("2", "studio")}  # scene 1 has a studio
    assert plan.metadata["options"]["strategies"]["studio"] == "fill_blank"

    plan = generate(api_client, strategies={"studio": "overwrite"})
    studio = changes_by_field(plan)["1", "studio"]
    assert (studio.current_value, studio.proposed_value) == (
        {"id": "11", "name": "Vixen"}, {"id": "10", "name": "Blue Harbor Films"})


def test_cleaning_details_is_proposed_whatever_the_strategy(api_client, library, catalogue):
    library.scene(1, "/media/x/clip.mp4", details="<p>Golden &amp; hour</p>")

    plan = generate(api_client)

    assert changes_by_field(plan)["1", "details"].proposed_value == "Golden & hour"


def test_list_strategies_merge_fill_blank_and_replace(api_client, library, catalogue):
    path = "/media/misc/Jane Doe & Anna Bell - Outdoor.mp4"
    library.scene(1, path, performers=[catalogue["jane"], catalogue["mia"]])
    library.scene(2, path.replace("misc", "other"))

    merged = changes_by_field(generate(api_client))  # merge: the default for lists
    assert names(merged["1", "performers"].proposed_value) == ["Anna Bell"]
    assert merged["1", "performers"].action == "add"

    blank = changes_by_field(generate(api_client, strategies={"performers": "fill_blank"}))
    assert ("1", "performers") not in blank  # scene 1 has performers already
    assert sorted(names(blank["2", "performers"].proposed_value)) == ["Anna Bell", "Jane Doe"]

    plan = generate(api_client, strategies={"performers": "replace"})
    changes = {(c.scene_id, c.field, c.action): c for c in plan.changes.all()}
    assert names(changes["1", "performers", "add"].proposed_value) == ["Anna Bell"]
    removal = changes["1", "performers", "remove"]
    assert removal.proposed_value == [{"id": "22", "name": "Mia Rivera"}]  # not named
    assert "replace" in removal.reason
    assert ("2", "performers", "remove") not in changes


def test_single_value_strategies_for_plain_fields(library):
    """No built-in source proposes titles or ratings yet (stash-box will): the builder's
    rule, over a snapshot."""
    library.scene(1, "/m/a.mp4", title="Old")
    library.scene(2, "/m/b.mp4")
    Scene.objects.filter(id="1").update(rating=40)
    snapshots = load_snapshots(["1", "2"])

    def proposed(strategies):
        options = AnalysisOptions.resolve(strategies=strategies)
        builder = ChangeBuilder(options)
        found = {}
        for scene in snapshots:
            findings = [Finding("title", None, "", 0.9, "test", "path", value="New"),
                        Finding("rating", None, "", 0.9, "test", "path", value=80)]
            found[scene.id] = {(c.field, c.proposed_value)
                               for c in builder.changes_for(scene, findings)}
        return found

    assert proposed({}) == {"1": set(), "2": {("title", "New"), ("rating", 80)}}
    assert proposed({"title": "overwrite", "rating": "overwrite"})["1"] == {
        ("title", "New"), ("rating", 80)}


def test_fill_blank_allows_a_date_that_only_adds_precision(library):
    """A year or a month is a date with its day blank: a full date within it fills that in.
    Anything else is another date, which only overwrite proposes."""
    for scene_id, held in ((1, "2024"), (2, "2024-03"), (3, "2023"), (4, "2024-03-15"),
                           (5, "2024-04")):
        library.scene(scene_id, f"/m/{scene_id}.mp4")
        Scene.objects.filter(id=str(scene_id)).update(scene_date=held)
    builder = ChangeBuilder(AnalysisOptions.resolve())

    def proposed(scene, value):
        finding = Finding("date", None, "", 0.9, "test", "stashbox", value=value)
        return [(c.current_value, c.proposed_value) for c in builder.changes_for(scene, [finding])]

    one, two, three, four, five = load_snapshots(["1", "2", "3", "4", "5"])
    assert proposed(one, "2024-03-15") == [("2024", "2024-03-15")]
    assert proposed(one, "2024-03") == [("2024", "2024-03")]
    assert proposed(two, "2024-03-15") == [("2024-03", "2024-03-15")]
    assert proposed(three, "2024-03-15") == []  # another year
    assert proposed(four, "2024-03") == []  # less precise
    assert proposed(four, "2024-03-16") == []  # another day
    assert proposed(five, "2024-03-15") == []  # another month


@pytest.mark.parametrize("strategies", [
    {"tags": "overwrite"},  # lists merge or replace
    {"studio": "merge"},
    {"title": "replace"},
    {"nonsense": "fill_blank"},
    {"tags": None},
    ["tags"],
])
def test_bad_strategies_are_a_400(api_client, library, strategies):
    response = api_client.post("/api/analysis/generate?background=false",
                               {"options": {"strategies": strategies}}, format="json")
    assert response.status_code == 400
    assert "strategies" in response.json()["detail"]["options"]


@pytest.mark.parametrize("options", [
    {"include_rejected": "yes"}, {"include_rejected": 1}, {"set_organized": "true"},
    {"set_organized": None},
])
def test_new_flags_are_json_booleans(api_client, library, options):
    response = api_client.post("/api/analysis/generate?background=false",
                               {"options": options}, format="json")
    assert response.status_code == 400
    assert set(options) <= set(response.json()["detail"]["options"])


# -- ignore_auto_tag ----------------------------------------------------------------------------


def test_entities_stash_keeps_out_of_auto_tag_are_never_proposed_from_a_path(
        api_client, library, catalogue):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe & Anna Bell - Outdoor POV.mp4")
    Performer.objects.filter(id="20").update(ignore_auto_tag=True)
    catalogue["harbor"].__class__.objects.filter(id="10").update(ignore_auto_tag=True)
    catalogue["pov"].__class__.objects.filter(id="31").update(ignore_auto_tag=True)

    changes = changes_by_field(generate(api_client))

    assert names(changes["1", "performers"].proposed_value) == ["Anna Bell"]
    assert names(changes["1", "tags"].proposed_value) == ["Outdoor"]
    assert ("1", "studio") not in changes


# -- set_organized ------------------------------------------------------------------------------


def test_set_organized_marks_scenes_whose_changes_all_landed(stash, api_client):
    library = stash.library
    tag = next(iter(library.tags.values()))
    done, waiting, off = [s.id for s in library.scenes.values()
                          if not s.organized and tag.id not in s.tag_ids][:3]
    value = [{"id": str(tag.id), "name": tag.name}]
    plan = make_plan()
    plan.metadata = {"options": {"set_organized": True}}
    plan.save()
    from tests.analysis.conftest import add_change
    add_change(plan, done, "tags", "add", value)
    add_change(plan, done, "details", "set", "Rejected details", status=ChangeStatus.REJECTED)
    add_change(plan, waiting, "tags", "add", value)
    add_change(plan, waiting, "details", "set", "Not reviewed", status=ChangeStatus.PENDING)

    response = api_client.post(f"/api/analysis/plans/{plan.id}/apply?background=false")

    assert response.status_code == 200, response.json()
    assert library.scenes[done].organized is True
    assert library.scenes[waiting].organized is False  # a change still waits for review
    organized = plan.changes.get(field="organized")
    assert (organized.scene_id, organized.status, organized.source) == (
        str(done), ChangeStatus.APPLIED, "organize")
    assert Scene.objects.get(id=str(done)).organized

    other = make_plan()  # without the option nothing is organized
    add_change(other, off, "tags", "add", value)
    api_client.post(f"/api/analysis/plans/{other.id}/apply?background=false")
    assert library.scenes[off].organized is False
