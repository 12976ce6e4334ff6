"""Fixtures for analysis tests: a small local library, the AI settings, a plan runner."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from analysis.generate import request_analysis
from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
from analysis.plan_queries import REVIEW_COUNTS
from analysis.serializers import GenerateRequestSerializer
from jobs.models import JobStatus
from jobs.runner import JobNotCompleted, start_job
from scenes.models import Performer, Scene, SceneFile, Studio, Tag
from settings_app.registry import save_settings
from stashhog.api.validation import validated
from tests.fakes.stash_library import generate_library

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
COUNTED = ", ".join(status.value for status in REVIEW_COUNTS)
# What the triggers keep (PlanCounts, PlanScene) against what the changes say, both ways,
# in one statement (one snapshot, while e2e workers may still write). Plans whose changes
# all went keep a row of zeros.
DRIFT_SQL = f"""
WITH expected_counts AS (
    SELECT plan_id, count(DISTINCT scene_id) AS scenes, count(*) AS changes,
           {", ".join(f"sum(CASE WHEN status = '{s.value}' THEN 1 ELSE 0 END) AS {s.value}"
                      for s in REVIEW_COUNTS)}
    FROM analysis_planchange GROUP BY plan_id
), kept_counts AS (
    SELECT plan_id, scenes, changes, {COUNTED} FROM analysis_plancounts
    WHERE scenes <> 0 OR changes <> 0 OR {" OR ".join(f"{s} <> 0" for s in REVIEW_COUNTS)}
), expected_scenes AS (
    SELECT plan_id, scene_id, count(*) AS changes FROM analysis_planchange
    GROUP BY plan_id, scene_id
), kept_scenes AS (
    SELECT plan_id, scene_id, changes FROM analysis_planscene
    WHERE scene_number = CAST(scene_id AS {{integer}})
)
SELECT 'missing counts', plan_id, '' FROM
    (SELECT * FROM expected_counts EXCEPT SELECT * FROM kept_counts) AS missing
UNION ALL SELECT 'wrong counts', plan_id, '' FROM
    (SELECT * FROM kept_counts EXCEPT SELECT * FROM expected_counts) AS wrong
UNION ALL SELECT 'missing scene', plan_id, scene_id FROM
    (SELECT * FROM expected_scenes EXCEPT SELECT * FROM kept_scenes) AS missing
UNION ALL SELECT 'wrong scene', plan_id, scene_id FROM
    (SELECT * FROM kept_scenes EXCEPT SELECT * FROM expected_scenes) AS wrong
"""


def plan_count_drift() -> list[tuple]:
    """Where PlanCounts or PlanScene disagree with the changes: (what, plan id, scene id)."""
    integer = "bigint" if connection.vendor == "postgresql" else "INTEGER"
    with connection.cursor() as cursor:
        cursor.execute(DRIFT_SQL.format(integer=integer))
        return cursor.fetchall()


@pytest.fixture(autouse=True)
def plan_counts_never_drift(request):
    """After every test that used the database, whatever wrote the changes (generation, AI
    chunks, review, edits, apply, revert, removed scenes, deleted plans): the counts and
    scenes that the triggers keep agree with the changes."""
    if ("_django_db_helper" not in request.fixturenames
            and not request.node.get_closest_marker("django_db")):
        yield
        return
    request.getfixturevalue("_django_db_helper")  # torn down after this fixture
    yield
    assert plan_count_drift() == []


class Library:
    """Writes library rows directly (ids are Stash-like integer strings)."""

    def __init__(self):
        self._file_id = 0

    def studio(self, id_, name, aliases=()):
        return Studio.objects.create(id=str(id_), name=name, aliases=list(aliases),
                                     last_synced=NOW)

    def performer(self, id_, name, aliases=(), disambiguation=""):
        return Performer.objects.create(id=str(id_), name=name, aliases=list(aliases),
                                        disambiguation=disambiguation, last_synced=NOW)

    def tag(self, id_, name, aliases=()):
        return Tag.objects.create(id=str(id_), name=name, aliases=list(aliases), last_synced=NOW)

    def scene(self, id_, path, title="", details="", studio=None, performers=(), tags=(),
              extra_paths=(), updated_at=NOW, organized=False):
        scene = Scene.objects.create(
            id=str(id_), title=title, details=details, studio=studio, organized=organized,
            created_date=NOW, stash_updated_at=updated_at, last_synced=NOW,
            search_text=f"{title}\n{details}\n{path}".lower(),
        )
        scene.performers.set(performers)
        scene.tags.set(tags)
        for position, file_path in enumerate((path, *extra_paths)):
            if file_path is None:
                continue
            self._file_id += 1
            SceneFile.objects.create(id=str(self._file_id), scene=scene, path=file_path,
                                     primary=position == 0)
        return scene


@pytest.fixture
def library(db) -> Library:
    return Library()


@pytest.fixture
def analyse(db):
    """``analyse(**request)``: run an analysis of a request body inline; returns (job, plan).
    Earlier plans are cancelled first, so that what they propose is not held back
    (tests/analysis/test_rejections covers that)."""

    def run(**request):
        AnalysisPlan.objects.exclude(status=PlanStatus.APPLIED).update(
            status=PlanStatus.CANCELLED)
        body = validated(GenerateRequestSerializer, request)  # as the API validates it
        try:
            job = request_analysis(**body, background=False)
        except JobNotCompleted as stopped:  # a failed or cancelled run: still look at it
            job = stopped.job
        plan = AnalysisPlan.objects.get(pk=job.result["plan_id"]) if job.result else None
        return job, plan

    return run


@pytest.fixture
def use_ai(db, fake_openai):
    """Point the AI settings at the fake OpenAI server (no retry delays unless a test asks)."""
    save_settings({"openai_base_url": fake_openai.base_url,
                   "openai_api_key": fake_openai.api_key, "openai_model": "gpt-4o-mini"})
    return fake_openai


def changes_by_field(plan) -> dict:
    """{(scene_id, field): change} of a plan."""
    return {(c.scene_id, c.field): c for c in plan.changes.all()}


def names(value) -> list[str]:
    return [item["name"] for item in value]


@pytest.fixture
def plan_factory(db):
    """``plan_factory(*changes)``: a plan whose changes are dicts of PlanChange fields."""

    def make(*changes, name="Plan", status="draft"):
        plan = AnalysisPlan.objects.create(name=name, status=status)
        for change in changes:
            PlanChange.objects.create(plan=plan, **{
                "scene_title": f"Scene {change['scene_id']}", "action": "set",
                "confidence": 0.8, "source": "path", "reason": "test",
                "current_value": None, **change,
            })
        return plan

    return make


# -- a synced fake Stash and plans against it (apply and revert tests) -----------------------

API_KEY = "apply-test-secret-key"


@pytest.fixture
def stash(fake_stash_factory):
    """A fake Stash (with an API key) that StashHog is configured for and synced with."""
    server = fake_stash_factory(generate_library(40, seed=5), api_key=API_KEY)
    save_settings({"stash_url": server.url, "stash_api_key": API_KEY})
    job = start_job("sync", {"incremental": False}, inline=True)
    assert job.status == JobStatus.COMPLETED, job.error
    server.request_log.clear()
    server.mutation_log.clear()
    return server


def named(table: dict, name: str):
    return next(entity for entity in table.values() if entity.name == name)


def entity(item) -> dict:
    return {"id": str(item.id), "name": item.name}


def scene_without(library, attribute: str, entity_id: int, *, skip=()) -> int:
    """A scene id whose ``attribute`` list lacks ``entity_id``."""
    return next(
        scene.id for scene in library.scenes.values()
        if entity_id not in getattr(scene, attribute) and scene.id not in skip
    )


def make_plan(status=PlanStatus.REVIEWING) -> AnalysisPlan:
    return AnalysisPlan.objects.create(name="plan", status=status)


def add_change(plan, scene_id, field, action, proposed, *, current=None,
               status=ChangeStatus.ACCEPTED) -> PlanChange:
    scene = Scene.objects.get(id=str(scene_id))
    if action == "set" and current is None:
        current = (
            {"id": scene.studio_id, "name": scene.studio.name} if field == "studio" and scene.studio
            else scene.details if field == "details" else None
        )
    return PlanChange.objects.create(
        plan=plan, scene=scene, field=field, action=action, proposed_value=proposed,
        current_value=current, confidence=0.9, source="path", status=status,
    )
