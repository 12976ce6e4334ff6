"""The proposal source registry: one registration gives a source its option, its ``source``
value on changes, and the rules every source shares (threshold, auto-accept, create-missing,
field switches)."""

import pytest

from analysis.models import ChangeSource
from analysis.options import AnalysisOptions
from analysis.proposals import Finding
from analysis.sources import SOURCES, ChunkOutcome, ProposalSource, register_source


class EchoRun:
    """A source that finds, for every scene, what the test hands it."""

    chunk_size = 7
    closed = 0

    def __init__(self, findings):
        self.findings = findings

    def analyse(self, scenes, check_cancelled):
        return ChunkOutcome(findings={
            scene.id: [Finding(**{**f, "source": "echo"}) for f in self.findings]
            for scene in scenes
        })

    def metadata(self):
        return {"echoed": len(self.findings)}

    def notes(self):
        return ["Echoed everything"]

    def close(self):
        EchoRun.closed += 1


ECHOED = [
    {"field": "studio", "entity_id": "11", "name": "Vixen", "confidence": 0.97, "reason": "r"},
    {"field": "performers", "entity_id": "21", "name": "Anna Bell", "confidence": 0.6,
     "reason": "r"},
    {"field": "performers", "entity_id": None, "name": "New Person", "confidence": 0.9,
     "reason": "r"},
    {"field": "tags", "entity_id": "30", "name": "Outdoor", "confidence": 0.3, "reason": "r"},
    {"field": "details", "entity_id": None, "name": "", "confidence": 0.95, "reason": "r",
     "value": "Plain"},
]


@pytest.fixture
def echo_source():
    source = ProposalSource(name="echo", option_help="Test source. Default true.",
                            open=lambda indexes, options, budget: EchoRun(ECHOED))
    register_source(source)
    EchoRun.closed = 0
    yield source
    del SOURCES["echo"]


@pytest.fixture
def scenes(library):
    library.studio(11, "Vixen")
    library.performer(21, "Anna Bell")
    library.tag(30, "Outdoor")
    library.scene(1, "/media/misc/one.mp4", details="old")
    library.scene(2, "/media/misc/two.mp4", details="old")


def generate(api_client, **options):
    return api_client.post("/api/analysis/generate?background=false",
                           {"options": {"use_path": False, **options}}, format="json")


def test_every_registered_source_has_a_documented_option(openapi_schema):
    options = openapi_schema["components"]["schemas"]["AnalysisOptionsRequest"]["properties"]

    assert {"use_path", "use_ai"} <= set(options)
    for source in SOURCES.values():
        assert options[source.option]["type"] == "boolean"


def test_one_registration_gives_a_source_its_option_and_source_value(api_client, scenes,
                                                                     echo_source):
    response = generate(api_client, use_echo=True, confidence_threshold=0.5,
                        auto_accept_threshold=0.95, create_missing=False,
                        strategies={"details": "overwrite"})  # the scenes have details

    assert response.status_code == 200, response.json()
    body = response.json()
    changes = {(c["scene_id"], c["field"]): c for s in body["scenes"] for c in s["changes"]}
    assert set(changes) == {(scene, field) for scene in ("1", "2")
                            for field in ("studio", "performers", "details")}
    assert {c["source"] for c in changes.values()} == {"echo"}
    # Below the threshold: the tag; without create-missing: the new performer.
    assert changes["1", "performers"]["proposed_value"] == [{"id": "21", "name": "Anna Bell"}]
    # Auto-accept at 0.95: the studio (0.97) and details (0.95), not the performer (0.6).
    assert {field: c["status"] for (scene, field), c in changes.items() if scene == "1"} == {
        "studio": "accepted", "details": "accepted", "performers": "pending"}
    assert body["metadata"]["options"]["use_echo"] is True
    assert body["metadata"]["sources"] == {"echo": {"echoed": len(ECHOED)}}
    assert body["description"] == "Echoed everything"
    assert body["metadata"]["counts"]["dropped_below_threshold"] == 2  # one tag per scene
    assert EchoRun.closed == 1


def test_create_missing_and_field_switches_hold_for_every_source(api_client, scenes,
                                                                 echo_source):
    response = generate(api_client, use_echo=True, create_missing=True, detect_studios=False,
                        detect_details=False)

    body = response.json()
    changes = {(c["scene_id"], c["field"]): c for s in body["scenes"] for c in s["changes"]}
    assert set(changes) == {("1", "performers"), ("2", "performers")}
    assert changes["1", "performers"]["proposed_value"] == [
        {"id": None, "name": "New Person"}, {"id": "21", "name": "Anna Bell"}]


def test_a_source_switched_off_is_not_opened(api_client, scenes, echo_source):
    response = generate(api_client, use_echo=False, use_ai=False, use_path=True)

    assert response.status_code == 200
    assert response.json()["metadata"]["sources"] == {"path": {}}
    assert EchoRun.closed == 0


def test_at_least_one_source_is_needed(api_client, scenes):
    response = generate(api_client, use_ai=False)

    assert response.status_code == 400
    assert response.json()["detail"]["options"]["sources"] == ["Enable at least one."]


def test_parameters_saved_before_a_source_existed_keep_its_built_in_default(db):
    saved = {"create_missing": False, "confidence_threshold": 0.5,
             "auto_accept_threshold": None, "max_cost_usd": 1.0, "use_ai": True}

    options = AnalysisOptions.from_dict(saved)

    assert options.uses(ChangeSource.PATH)
    assert options.uses(ChangeSource.AI)
    assert AnalysisOptions.from_dict(options.as_dict()) == options
