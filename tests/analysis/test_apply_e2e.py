"""A worker killed with SIGKILL mid-apply, then a rerun: the same Stash data as one clean run.

Two fake Stash servers start from identical generated libraries. The clean run applies a
plan to one; the other gets the same plan through a real Celery worker that is killed while
its (slowed) requests are in flight, and then a rerun on a fresh worker.
"""

import time

import pytest

from analysis.apply import request_apply
from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanStatus
from jobs.models import JobStatus
from jobs.runner import start_job
from settings_app.registry import save_settings
from stashhog.celery import app as celery_app
from tests.e2e_support import process_env, running, start_worker, wait_for_job
from tests.fakes.stash_library import generate_library

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SEED = 11
SCENES = 40
LATENCY = 0.15  # seconds per request to the slowed fake, so the kill lands mid-apply
KILL_AFTER_MUTATIONS = 12


@pytest.fixture(scope="module")
def worker_env(django_db_setup) -> dict[str, str]:
    """The environment of this module's workers (they register apply through the app)."""
    return process_env()


@pytest.fixture
def live_celery():
    """Dispatch to the real workers (the suite's default is eager)."""
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    monkeypatch.setattr("scenes.stash.client.time.sleep", lambda _seconds: None)


def plan_spec(library) -> list[dict]:
    """Changes for every scene, computed from the library as generated (the analysis)."""
    tags = list(library.tags.values())
    performers = list(library.performers.values())
    studios = list(library.studios.values())
    spec = []
    for number, scene in enumerate(library.scenes.values()):
        tag = tags[number % 5]
        if tag.id not in scene.tag_ids:
            spec.append(dict(scene=scene.id, field="tags", action="add",
                             proposed=[{"id": str(tag.id), "name": tag.name}]))
        if scene.tag_ids and number % 3 == 0:
            gone = library.tags[scene.tag_ids[0]]
            spec.append(dict(scene=scene.id, field="tags", action="remove",
                             proposed=[{"id": str(gone.id), "name": gone.name}]))
        if number % 4 == 0:
            spec.append(dict(scene=scene.id, field="tags", action="add",
                             proposed=[{"id": None, "name": "Killed Midway"}]))
        performer = performers[number % 6]
        if performer.id not in scene.performer_ids:
            spec.append(dict(scene=scene.id, field="performers", action="add",
                             proposed=[{"id": str(performer.id), "name": performer.name}]))
        studio = studios[number % 3]
        if scene.studio_id != studio.id:
            current = library.studios.get(scene.studio_id)
            spec.append(dict(scene=scene.id, field="studio", action="set",
                             proposed={"id": str(studio.id), "name": studio.name},
                             current=current and {"id": str(current.id), "name": current.name}))
        if number % 2 == 0:
            spec.append(dict(scene=scene.id, field="details", action="set",
                             proposed=f"Details {number}", current=scene.details))
        if number % 10 == 0:
            spec.append(dict(scene=scene.id, field="performers", action="add",
                             proposed=[{"id": None, "name": "New Face"}]))
    return spec


def make_plan(spec: list[dict]) -> AnalysisPlan:
    plan = AnalysisPlan.objects.create(name="e2e", status=PlanStatus.REVIEWING)
    PlanChange.objects.bulk_create(
        PlanChange(plan=plan, scene_id=str(item["scene"]), field=item["field"],
                   action=item["action"], proposed_value=item["proposed"],
                   current_value=item.get("current"), confidence=0.9, source="path",
                   status=ChangeStatus.ACCEPTED)
        for item in spec
    )
    return plan


def use(server) -> None:
    save_settings({"stash_url": server.url, "stash_api_key": None})
    job = start_job("sync", {"incremental": False}, inline=True)
    assert job.status == JobStatus.COMPLETED, job.error


def final_data(library) -> dict:
    """What a person sees in Stash, by names (ids of created entities may differ)."""
    def names(table, ids):
        return sorted(table[i].name for i in ids)

    return {
        "scenes": {
            scene.id: (names(library.tags, scene.tag_ids),
                       names(library.performers, scene.performer_ids),
                       library.studios[scene.studio_id].name if scene.studio_id else None,
                       scene.details)
            for scene in library.scenes.values()
        },
        "tags": sorted(t.name for t in library.tags.values()),
        "performers": sorted(p.name for p in library.performers.values()),
        "studios": sorted(s.name for s in library.studios.values()),
    }


def wait_for_mutations(server, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(server.mutation_log) < count:
        assert time.monotonic() < deadline, "the apply never reached Stash"
        time.sleep(0.01)


def test_sigkill_mid_apply_then_rerun_equals_one_clean_run(fake_stash_factory, worker_env,
                                                          live_celery):
    clean = fake_stash_factory(generate_library(SCENES, seed=SEED))
    crashed = fake_stash_factory(generate_library(SCENES, seed=SEED))
    spec = plan_spec(clean.library)

    use(clean)
    clean_plan = make_plan(spec)
    job = request_apply(clean_plan.pk, None, background=False)
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.result["failed"] == 0
    clean_mutations = len(clean.mutation_log)

    use(crashed)
    plan = make_plan(spec)
    crashed.latency = LATENCY
    # The solo pool runs the job in the worker's main process: SIGKILL stops it mid-request.
    with running(start_worker(worker_env, pool="solo", concurrency=1)) as worker:
        job = request_apply(plan.pk, None, background=True)
        wait_for_mutations(crashed, KILL_AFTER_MUTATIONS)
        worker.kill()
        worker.popen.wait(timeout=10)
    killed_at = len(crashed.mutation_log)
    assert KILL_AFTER_MUTATIONS <= killed_at < clean_mutations  # it really died halfway
    assert plan.changes.filter(status=ChangeStatus.ACCEPTED).exists()

    crashed.latency = 0
    with running(start_worker(worker_env, pool="solo", concurrency=1)):
        # The new worker's start-up fails the job its dead predecessor left running.
        wait_for_job(job.id, {JobStatus.FAILED})
        rerun = request_apply(plan.pk, None, background=True)
        rerun = wait_for_job(rerun.id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=60)
    assert rerun.status == JobStatus.COMPLETED, rerun.error
    assert rerun.result["created"] == {"studios": [], "performers": [], "tags": []}

    assert final_data(crashed.library) == final_data(clean.library)
    created = [op for op, _ in crashed.mutation_log if op.endswith("Create")]
    assert sorted(created) == ["PerformerCreate", "TagCreate"]  # each entity made once
    assert set(plan.changes.values_list("status", flat=True)) == {ChangeStatus.APPLIED}
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPLIED
