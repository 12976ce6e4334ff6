"""An AI analysis split into chunk jobs (here run by the analysis job itself: the unit
tests' transaction never commits, so no chunk is sent to a worker), and the budget they
share. Several real workers: test_ai_workers_e2e.py."""

from collections import Counter

import pytest

from analysis.budget import SharedBudget
from analysis.generate import ANALYSIS_CHUNK_JOB, run_analysis_chunk
from analysis.models import AIBudget, AnalysisPlan
from jobs.models import Job, JobStatus
from jobs.runner import Progress
from settings_app.registry import save_settings

AI = {"use_ai": True}
SCENES = 25


@pytest.fixture
def scenes(library, use_ai):
    library.studio(11, "Vixen")
    library.performer(20, "Jane Doe")
    for number in range(1, SCENES + 1):
        library.scene(number, f"/media/Vixen/Jane Doe - scene {number}.mp4")
    # One scene per request: many requests, to share one budget between chunks.
    save_settings({"analysis_chunk_size": 10, "ai_batch_size": 1})


def chunks_of(job: Job) -> list[Job]:
    return list(Job.objects.filter(parent=job, type=ANALYSIS_CHUNK_JOB).order_by("created_at"))


def plan_rows(plan: AnalysisPlan) -> Counter:
    return Counter((c.scene_id, c.field, str(c.proposed_value)) for c in plan.changes.all())


def test_an_ai_analysis_is_split_into_chunks_that_make_one_plan(scenes, analyse):
    job, plan = analyse(options=AI)

    assert job.status == JobStatus.COMPLETED, job.error
    chunks = chunks_of(job)
    assert [len(chunk.parameters["scene_ids"]) for chunk in chunks] == [10, 10, 5]
    assert sorted(id_ for c in chunks for id_ in c.parameters["scene_ids"]) == sorted(
        str(n) for n in range(1, SCENES + 1))
    assert all(chunk.status == JobStatus.COMPLETED for chunk in chunks)
    assert sum(chunk.result["analysed"] for chunk in chunks) == SCENES
    assert plan.metadata["chunks"] == 3
    assert plan.metadata["counts"]["scenes_analysed"] == SCENES
    assert plan.metadata["counts"]["changes"] == plan.changes.count() == 2 * SCENES
    assert max(plan_rows(plan).values()) == 1
    assert plan.metadata["ai"]["requests"] == sum(c.result["ai"]["requests"] for c in chunks)
    assert (job.processed_items, job.total_items, job.progress) == (SCENES, SCENES, 100)


def test_a_chunk_run_again_replaces_what_it_wrote(scenes, analyse):
    job, plan = analyse(options=AI)
    before = plan_rows(plan)
    chunk = chunks_of(job)[1]

    # As after its worker was lost: the same body, from the start.
    result = run_analysis_chunk(Progress(chunk), chunk.parameters)

    assert result["analysed"] == 10
    assert plan_rows(plan) == before


def test_one_budget_for_all_chunks_stops_them_all(scenes, analyse, use_ai):
    save_settings({"ai_prices": {"gpt-4o-mini": {"prompt": 1000.0, "completion": 1000.0}}})
    budget = 1.5  # about three requests

    job, plan = analyse(options={**AI, "max_cost_usd": budget})

    assert job.status == JobStatus.COMPLETED
    assert plan.metadata["outcome"] == "budget_exceeded"
    assert 1 <= len(use_ai.requests) < 10
    shared = AIBudget.objects.get(plan=plan)
    assert shared.reached
    assert shared.spent_usd <= budget
    assert plan.metadata["cost_usd"] == pytest.approx(shared.spent_usd, abs=1e-5)
    first, *later = chunks_of(job)
    assert first.result["outcome"] == "budget"
    # the later chunks found the budget spent and asked nothing
    assert [(c.result["outcome"], c.result["analysed"]) for c in later] == [("budget", 0)] * 2
    assert "Stopped before exceeding the AI budget of $1.5000" in job.message


def test_the_shared_budget_reserves_only_what_fits_and_settles_to_the_real_cost(db):
    plan = AnalysisPlan.objects.create(name="p")
    budget = SharedBudget.create(plan.id, 1.0)

    assert budget.reserve(0.6)
    assert not budget.reserve(0.6)  # 1.2 would not fit: nothing reserved
    budget.settle(0.6, 0.3)
    row = AIBudget.objects.get(plan=plan)
    assert (row.spent_usd, row.reserved_usd, row.reached) == (0.3, 0.0, False)
    assert budget.reserve(0.6)  # 0.9 fits
    budget.mark_reached()
    assert budget.reached
    assert not budget.reserve(0.01)  # every chunk stops
