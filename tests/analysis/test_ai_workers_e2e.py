"""End to end: one AI analysis split across two real Celery workers of the ``ai`` queue.

One plan without duplicates, one budget that stops every chunk on every worker, one cancel
that reaches every chunk, and a chunk whose worker process is killed runs again without
duplicating its changes. The fake OpenAI server (in this process) answers every request
with an empty, schema-valid answer after ``latency``; the changes come from the paths, so
a chunk that wrote twice would show as duplicate changes.
"""

import time
from collections import Counter

import psutil
import pytest
from django.utils import timezone

from analysis.generate import ANALYSIS_CHUNK_JOB, request_analysis
from analysis.models import AIBudget, AnalysisPlan
from analysis.options import AnalysisOptions
from analysis.selection import SceneSelection
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.runner import cancel_job
from settings_app.registry import save_settings
from tests.e2e_support import running, start_worker, wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCENES = 80
CHUNK = 10  # scenes per chunk: 8 chunks
PRICES = {"gpt-4o-mini": {"prompt": 1000.0, "completion": 1000.0}}  # ~$0.5 a request


@pytest.fixture(scope="module")
def workers(e2e_env):
    """Two workers consuming only the ``ai`` queue, two processes each."""
    with running(start_worker(e2e_env, queues="ai")) as first, \
            running(start_worker(e2e_env, queues="ai")) as second:
        yield first, second


@pytest.fixture
def scenes(library):
    library.studio(11, "Vixen")
    library.performer(20, "Jane Doe")
    for number in range(1, SCENES + 1):
        library.scene(number, f"/media/Vixen/Jane Doe - scene {number}.mp4")


@pytest.fixture
def ai_server(fake_openai_factory, scenes):
    def start(latency: float):
        server = fake_openai_factory(api_key="sk-e2e-test-key", latency=latency)
        save_settings({"openai_base_url": server.base_url, "openai_api_key": server.api_key,
                       "openai_model": "gpt-4o-mini", "analysis_chunk_size": CHUNK,
                       "ai_concurrency": 2, "ai_batch_size": 1})
        return server

    return start


def start_analysis(**options) -> Job:
    return request_analysis(SceneSelection.of(),
                            AnalysisOptions.resolve(use_ai=True, **options))


def chunks_of(job: Job) -> list[Job]:
    return list(Job.objects.filter(parent=job, type=ANALYSIS_CHUNK_JOB))


def assert_no_duplicates(plan: AnalysisPlan) -> None:
    per_scene_field = Counter(plan.changes.values_list("scene_id", "field"))
    assert per_scene_field
    assert max(per_scene_field.values()) == 1


def wait_for_chunk(job: Job, matches, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((chunk for chunk in chunks_of(job) if matches(chunk)), None)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no chunk of the analysis matched")


def wait_for_running_chunks(job: Job, count: int, timeout: float = 60.0) -> list[Job]:
    """Wait until ``count`` chunks run at once, on both workers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunks = [c for c in chunks_of(job) if c.status == JobStatus.RUNNING]
        if len(chunks) >= count and len({c.worker for c in chunks}) == 2:
            return chunks
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} chunks ran at once on both workers")


def test_one_analysis_runs_on_both_workers_into_one_plan(workers, ai_server, live_celery):
    ai_server(latency=0.2)

    job = wait_for_job(start_analysis().id, {JobStatus.COMPLETED, JobStatus.FAILED},
                       timeout=120)

    assert job.status == JobStatus.COMPLETED, job.error
    chunks = chunks_of(job)
    assert len(chunks) == SCENES // CHUNK
    assert all(chunk.status == JobStatus.COMPLETED for chunk in chunks)
    # every worker took chunks (the analysis job runs some itself, on its own worker)
    assert {chunk.worker for chunk in chunks} == {worker.node_name for worker in workers}
    plan = AnalysisPlan.objects.get(pk=job.result["plan_id"])
    assert plan.metadata["counts"]["scenes_analysed"] == SCENES
    assert plan.metadata["chunks"] == len(chunks)
    assert plan.metadata["ai"]["requests"] + plan.metadata["ai"]["cache_hits"] > 0
    assert_no_duplicates(plan)
    assert set(plan.changes.values_list("scene_id", flat=True)) == {
        str(n) for n in range(1, SCENES + 1)}
    assert (job.processed_items, job.total_items, job.progress) == (SCENES, SCENES, 100)


def test_a_budget_reached_on_one_worker_stops_the_chunks_on_both(workers, ai_server,
                                                                  live_celery):
    server = ai_server(latency=0.3)
    save_settings({"ai_prices": PRICES})
    budget = 3.0  # about six requests of eighty

    job = wait_for_job(start_analysis(max_cost_usd=budget).id,
                       {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=120)

    assert job.status == JobStatus.COMPLETED, job.error
    plan = AnalysisPlan.objects.get(pk=job.result["plan_id"])
    assert plan.metadata["outcome"] == "budget_exceeded"
    shared = AIBudget.objects.get(plan=plan)
    assert shared.reached
    assert shared.spent_usd <= budget
    assert shared.reserved_usd == pytest.approx(0, abs=1e-9)  # every request settled
    assert plan.metadata["cost_usd"] == pytest.approx(shared.spent_usd, abs=1e-5)
    assert 1 <= len(server.requests) < SCENES // 4
    chunks = chunks_of(job)
    assert all(chunk.status == JobStatus.COMPLETED for chunk in chunks)
    spenders = [chunk for chunk in chunks if chunk.result["ai"].get("requests")]
    assert len(spenders) >= 2  # several chunks drew on the one budget
    assert {chunk.result["outcome"] for chunk in chunks} <= {"budget", "completed"}
    assert plan.metadata["counts"]["scenes_analysed"] < SCENES


def test_cancel_reaches_every_chunk_on_both_workers(workers, ai_server, live_celery):
    ai_server(latency=1.0)
    job = start_analysis()
    wait_for_running_chunks(job, count=3)
    cancelled_at = timezone.now()

    cancel_job(job.id)

    job = wait_for_job(job.id, {JobStatus.CANCELLED, JobStatus.COMPLETED, JobStatus.FAILED},
                       timeout=60)
    assert job.status == JobStatus.CANCELLED
    chunks = chunks_of(job)
    assert not [chunk for chunk in chunks if chunk.status in ACTIVE_STATUSES]
    assert JobStatus.CANCELLED in {chunk.status for chunk in chunks}
    # queued chunks were cancelled too: never started, or (claimed as the cancel came)
    # stopped with what their first requests in flight found
    assert [chunk for chunk in chunks if chunk.started_at is None]
    late = [chunk for chunk in chunks if chunk.started_at and chunk.started_at > cancelled_at]
    assert all(chunk.status == JobStatus.CANCELLED for chunk in late)
    plan = AnalysisPlan.objects.get(pk=job.result["plan_id"])
    assert plan.metadata["outcome"] == "cancelled"
    assert plan.metadata["counts"]["scenes_analysed"] < SCENES


def test_a_chunk_whose_process_is_killed_runs_again_without_duplicates(
        workers, ai_server, library, live_celery):
    for number in range(SCENES + 1, 3 * SCENES + 1):
        library.scene(number, f"/media/Vixen/Jane Doe - scene {number}.mp4")
    ai_server(latency=0.2)
    # Chunks of 100 written 50 scenes at a time: the kill lands after a first write.
    save_settings({"analysis_chunk_size": 100, "ai_concurrency": 8})
    job = start_analysis()
    parent_pid = wait_for_job(job.id, {JobStatus.RUNNING}).worker_pid
    victim = wait_for_chunk(job, lambda chunk: chunk.status == JobStatus.RUNNING
                            and chunk.worker_pid != parent_pid
                            and 0 < chunk.processed_items < chunk.total_items)
    killed_pid, started_at = victim.worker_pid, victim.started_at
    assert AnalysisPlan.objects.get(metadata__job_id=str(job.id)).changes.filter(
        scene_id__in=victim.parameters["scene_ids"]).exists()  # it wrote some already
    psutil.Process(killed_pid).kill()  # the pool child: its worker lives on

    job = wait_for_job(job.id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=120)

    assert job.status == JobStatus.COMPLETED, job.error
    victim.refresh_from_db()
    assert victim.status == JobStatus.COMPLETED
    assert victim.worker_pid != killed_pid  # run again, from the start, by another process
    assert victim.started_at > started_at
    plan = AnalysisPlan.objects.get(pk=job.result["plan_id"])
    assert_no_duplicates(plan)
    assert plan.metadata["counts"]["scenes_analysed"] == 3 * SCENES
    assert all(worker.alive() for worker in workers)


def test_a_chunk_whose_whole_worker_is_killed_is_queued_again_by_the_next_worker(
        workers, ai_server, e2e_env, live_celery):
    # Last in the module: one of its two workers dies here.
    ai_server(latency=1.0)
    job = start_analysis()
    parent_worker = wait_for_job(job.id, {JobStatus.RUNNING}).worker
    lost = next(worker for worker in workers if worker.node_name != parent_worker)
    victim = wait_for_chunk(job, lambda chunk: chunk.status == JobStatus.RUNNING
                            and chunk.worker == lost.node_name)
    children = psutil.Process(lost.pid).children()
    lost.kill()  # SIGKILL to the main process; PDEATHSIG takes its pool children down
    lost.popen.wait(timeout=10)
    psutil.wait_procs(children, timeout=10)

    # The next worker to start finds the chunk's process gone and queues the chunk again.
    with running(start_worker(e2e_env, queues="ai")):
        job = wait_for_job(job.id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=120)

    assert job.status == JobStatus.COMPLETED, job.error
    victim.refresh_from_db()
    assert victim.status == JobStatus.COMPLETED
    assert victim.worker != lost.node_name
    plan = AnalysisPlan.objects.get(pk=job.result["plan_id"])
    assert_no_duplicates(plan)
    assert plan.metadata["counts"]["scenes_analysed"] == SCENES
