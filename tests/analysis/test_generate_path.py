"""Plan generation with the path detectors (no AI) over a small, tricky local library."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError

from analysis.fields import SCENE_FIELDS
from analysis.generate import refresh_change_statistics, run_analysis
from analysis.models import AnalysisPlan, ChangeSource, ChangeStatus, PlanStatus
from analysis.selection import SceneSelection
from jobs.models import Job, JobStatus
from jobs.runner import JobCancelled, Progress
from settings_app.registry import save_settings
from stashhog.api.exceptions import InvalidInput
from tests.analysis.conftest import changes_by_field, names


@pytest.fixture
def catalogue(library):
    return {
        "harbor": library.studio(10, "Blue Harbor Films", ["BHF"]),
        "vixen": library.studio(11, "Vixen"),
        "brazzers": library.studio(12, "Brazzers", ["BZ"]),
        "jane": library.performer(20, "Jane Doe", ["Janie D"]),
        "anna": library.performer(21, "Anna Bell"),
        "jade_uk": library.performer(22, "Jade", disambiguation="UK"),
        "jade_us": library.performer(23, "Jade", disambiguation="US"),
        "outdoor": library.tag(30, "Outdoor", ["Outside"]),
        "pov": library.tag(31, "POV"),
    }


def test_each_detector_is_wired_with_the_documented_value_shapes(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe & Anna Bell - Golden Hour.mp4",
                  title="Golden Hour", details="<p>Golden Hour &amp; more</p>")
    library.scene(2, "/media/misc/clip.mp4", title="Outside POV")

    job, plan = analyse()

    assert job.status == JobStatus.COMPLETED
    changes = changes_by_field(plan)
    studio = changes["1", "studio"]
    assert (studio.action, studio.current_value) == ("set", None)
    assert studio.proposed_value == {"id": "10", "name": "Blue Harbor Films"}
    assert studio.source == ChangeSource.PATH
    assert "folder" in studio.reason
    performers = changes["1", "performers"]
    assert performers.action == "add"
    assert performers.current_value == []
    assert sorted(names(performers.proposed_value)) == ["Anna Bell", "Jane Doe"]
    assert {item["id"] for item in performers.proposed_value} == {"20", "21"}
    details = changes["1", "details"]
    assert (details.action, details.proposed_value) == ("set", "Golden Hour & more")
    assert details.current_value == "<p>Golden Hour &amp; more</p>"
    tags = changes["2", "tags"]
    assert sorted(names(tags.proposed_value)) == ["Outdoor", "POV"]
    assert all(c.scene_title == {"1": "Golden Hour", "2": "Outside POV"}[c.scene_id]
               for c in plan.changes.all())
    assert all(c.status == ChangeStatus.PENDING for c in plan.changes.all())
    assert plan.status == PlanStatus.DRAFT


def test_values_the_scene_already_has_are_never_proposed(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe & Anna Bell - Golden Hour.mp4",
                  studio=catalogue["harbor"], performers=[catalogue["jane"]],
                  details="Plain text already")
    library.scene(2, "/media/BHF/Jane Doe - Outside.mp4", studio=catalogue["harbor"],
                  performers=[catalogue["jane"]], tags=[catalogue["outdoor"]])

    _, plan = analyse()

    changes = changes_by_field(plan)
    assert set(changes) == {("1", "performers")}
    performers = changes["1", "performers"]
    assert performers.proposed_value == [{"id": "21", "name": "Anna Bell"}]
    assert performers.current_value == [{"id": "20", "name": "Jane Doe"}]


def test_ambiguous_names_and_other_files_propose_nothing(library, catalogue, analyse):
    # Two performers are called Jade; the second file is in another studio's folder.
    library.scene(1, "/media/Vixen/Jade - Sunset.mp4",
                  extra_paths=["/media/Brazzers/Jade - Sunset.mp4"])

    _, plan = analyse()

    changes = changes_by_field(plan)
    assert set(changes) == {("1", "studio")}
    assert changes["1", "studio"].proposed_value == {"id": "11", "name": "Vixen"}


def test_confidence_threshold_drops_weak_proposals_and_counts_them(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/clip.mp4", title="Outside POV")

    _, plan = analyse(options={"confidence_threshold": 0.9})

    changes = changes_by_field(plan)
    assert set(changes) == {("1", "studio")}  # the folder name (0.95) clears 0.9, title tags do not
    assert changes["1", "studio"].confidence >= 0.9
    assert plan.metadata["counts"]["dropped_below_threshold"] == 2


def test_auto_accept_takes_only_changes_at_or_above_its_threshold(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe - Golden Hour.mp4", title="Outside")

    _, plan = analyse(options={"auto_accept_threshold": 0.9})

    changes = changes_by_field(plan)
    assert changes["1", "studio"].status == ChangeStatus.ACCEPTED
    assert changes["1", "performers"].confidence < 0.9
    assert changes["1", "performers"].status == ChangeStatus.PENDING
    assert changes["1", "tags"].status == ChangeStatus.PENDING
    assert plan.metadata["counts"]["auto_accepted"] == 1
    assert plan.status == PlanStatus.REVIEWING  # an accepted change is a reviewed plan


def test_auto_accept_is_off_by_default(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/clip.mp4")

    _, plan = analyse()

    assert plan.metadata["options"]["auto_accept_threshold"] is None
    assert [c.status for c in plan.changes.all()] == [ChangeStatus.PENDING]


def test_disabled_detectors_propose_nothing(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe - Outside.mp4",
                  details="<b>bold</b>")

    _, plan = analyse(options={"detect_studios": False, "detect_details": False,
                               "detect_tags": False})

    assert set(changes_by_field(plan)) == {("1", "performers")}


def test_details_cleaning_proposes_plain_text_only_for_markup(library, analyse):
    library.scene(1, "/media/a.mp4", details="Line one<br>Line two &nbsp;<script></script>")
    library.scene(2, "/media/b.mp4", details="Already plain & fine")
    library.scene(3, "/media/c.mp4", details="")

    _, plan = analyse()

    changes = changes_by_field(plan)
    assert set(changes) == {("1", "details")}
    assert changes["1", "details"].proposed_value == "Line one\nLine two"


def test_a_run_that_finds_nothing_still_leaves_a_draft_plan(library, catalogue, analyse):
    library.scene(1, "/media/downloads/0a1b2c3d4e5f.mp4")

    job, plan = analyse(plan_name="Nothing here")

    assert plan.name == "Nothing here"
    assert plan.status == PlanStatus.DRAFT
    assert plan.changes.count() == 0
    assert plan.metadata["outcome"] == "completed"
    assert plan.metadata["counts"]["scenes_analysed"] == 1
    assert job.result["plan_id"] == plan.id


def test_metadata_records_options_counts_tokens_cost_and_duration(library, catalogue, analyse):
    library.scene(1, "/media/Blue Harbor Films/Jane Doe - x.mp4")
    library.scene(2, "/media/nothing.mp4")

    job, plan = analyse()

    metadata = plan.metadata
    assert metadata["job_id"] == str(job.id)
    assert metadata["options"]["use_ai"] is False
    assert metadata["model"] is None
    assert metadata["counts"] == {
        "scenes_selected": 2, "scenes_analysed": 2, "scenes_with_changes": 1, "changes": 2,
        "changes_by_field": {"studio": 1, "performers": 1}, "auto_accepted": 0,
        "dropped_below_threshold": 0, "suppressed": {"rejected": 0, "in_open_plan": 0},
    }
    assert metadata["tokens"] == {"prompt": 0, "cached_prompt": 0, "completion": 0}
    assert metadata["cost_usd"] == 0
    assert metadata["duration_seconds"] >= 0
    assert job.message.startswith("Analysed 2 scenes")


def test_options_default_from_the_settings(library, catalogue, analyse):
    save_settings({"analysis_confidence_threshold": 0.97, "analysis_auto_accept_threshold": 0.5})
    library.scene(1, "/media/Blue Harbor Films/Jane Doe - x.mp4")

    _, plan = analyse()

    assert plan.metadata["options"]["confidence_threshold"] == 0.97
    assert plan.changes.count() == 0  # nothing is that certain


@pytest.mark.parametrize(("options", "problem"), [
    ({"confidence_threshold": 1.5}, "confidence_threshold"),
    ({"use_ai": "yes"}, "use_ai"),
    ({"max_cost_usd": -1}, "max_cost_usd"),
    ({"detect_everything": True}, "detect_everything"),
    ({field.option: False for field in SCENE_FIELDS.values()}, "detectors"),
])
def test_invalid_options_are_rejected_before_any_job(library, analyse, options, problem):
    with pytest.raises(ValidationError) as raised:
        analyse(options=options)
    assert problem in raised.value.detail["options"]
    assert not Job.objects.exists()


def test_selection_by_ids_filters_or_both(library, catalogue, analyse):
    library.scene(1, "/media/Vixen/a.mp4", organized=True)
    library.scene(2, "/media/Vixen/b.mp4")
    library.scene(3, "/media/Brazzers/c.mp4")

    def analysed(**request):
        _, plan = analyse(**request)
        return sorted(c.scene_id for c in plan.changes.all())

    assert analysed() == ["1", "2", "3"]
    assert analysed(scene_ids=["3", "1"]) == ["1", "3"]
    assert analysed(filters={"search": "vixen"}) == ["1", "2"]
    assert analysed(filters={"organized": False, "studio_id": None}) == ["2", "3"]
    assert analysed(scene_ids=["1", "3"], filters={"organized": False}) == ["3"]


def test_unknown_scene_ids_are_listed(library):
    library.scene(1, "/media/a.mp4")

    with pytest.raises(InvalidInput) as raised:
        SceneSelection.of(["1", "404", "405"]).check_ids()

    assert raised.value.detail == {"scene_ids": ["404", "405"]}


def test_invalid_filters_are_rejected(library, analyse):
    with pytest.raises(ValidationError) as raised:
        analyse(filters={"date_from": "yesterday"})
    assert "date_from" in raised.value.detail["filters"]


class CancelAfterChecks(Progress):
    """A progress reporter whose cancel check fires on its n-th call."""

    def __init__(self, job, checks_before_cancel):
        super().__init__(job)
        self.remaining = checks_before_cancel

    def check_cancelled(self):
        self.remaining -= 1
        if self.remaining < 0:
            raise JobCancelled()


def test_cancel_keeps_the_plan_with_what_was_found_so_far(library, catalogue, monkeypatch):
    monkeypatch.setattr("analysis.sources.path.PathRun.chunk_size", 2)
    for number in range(1, 6):
        library.scene(number, f"/media/Vixen/{number}.mp4")
    job = Job.objects.create(type="analysis")
    parameters = {"scene_ids": None, "filters": None, "plan_name": "Partial",
                  "options": {"detect_studios": True, "detect_performers": True,
                              "detect_tags": True, "detect_details": True, "use_ai": False,
                              "create_missing": False, "confidence_threshold": 0.5,
                              "auto_accept_threshold": None, "max_cost_usd": 1.0}}
    progress = CancelAfterChecks(job, checks_before_cancel=1)

    with pytest.raises(JobCancelled):
        run_analysis(progress, parameters)

    plan = AnalysisPlan.objects.get()
    assert sorted(c.scene_id for c in plan.changes.all()) == ["1", "2"]
    assert plan.metadata["outcome"] == "cancelled"
    assert "Cancelled after 2 of 5 scenes" in plan.metadata["message"]
    assert progress.partial_result["plan_id"] == plan.id
    assert progress.partial_result["outcome"] == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_written_plan_gets_fresh_change_statistics_on_postgresql():
    """VACUUM (ANALYZE) of the changes and PlanScene once a plan is written (not inside a
    transaction, where PostgreSQL refuses it; nothing to do on SQLite)."""
    with CaptureQueriesContext(connection) as captured:
        refresh_change_statistics()
        with transaction.atomic():
            refresh_change_statistics()
    expected = (['VACUUM (ANALYZE) "analysis_planchange", "analysis_planscene"']
                if connection.vendor == "postgresql" else [])
    assert [query["sql"] for query in captured if "ANALYZE" in query["sql"]] == expected
