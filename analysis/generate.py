"""Plan generation: the "analysis" job turns a selection of scenes into one AnalysisPlan.

``request_analysis`` validates the request and starts the job; ``run_analysis`` is its
body. The plan is created when the run starts and its changes are written chunk by chunk,
so a cancelled, failed or over-budget run keeps what it found, and says so in the plan's
metadata (``outcome`` and ``message``). A run that finds nothing still leaves its plan
(draft, zero changes), so the user sees that it ran and over what.

With a remote source (the AI: ``ProposalSource.remote``) the job splits the selection into
``analysis_chunk`` steps of ``analysis_chunk_size`` scenes, queued on the ``ai`` queue so
every worker consuming it takes some (the job runs pending ones too), and gathers them:
one plan, one progress bar (the sum of the chunks'), one AI budget (``analysis.budget``,
shared in the database) and one cancel that reaches every chunk. A chunk is idempotent: a
rerun after its worker was lost first removes what the lost run wrote. Without one, the job
analyses every scene itself.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from analysis.ai_analysis import ERRORS_KEPT
from analysis.budget import SharedBudget
from analysis.fingerprints import record_analysed
from analysis.library import SceneSnapshot, load_indexes, load_snapshots
from analysis.models import AnalysisPlan, ChangeSource, ChangeStatus, PlanChange, PlanScene
from analysis.options import AnalysisOptions
from analysis.plan_status import refresh_plan_status
from analysis.proposals import ChangeBuilder
from analysis.rejections import Blocked
from analysis.selection import SceneSelection
from analysis.sources import SOURCES, ChunkOutcome, SourceRun, open_sources
from analysis.sources.ai import AIRun
from jobs.models import Job, JobStatus
from jobs.runner import JobCancelled, Progress, gather_steps, start_job, start_step
from scenes.batching import SCENE_BATCH, batched
from settings_app import get_setting
from stashhog.api.exceptions import InvalidInput, StashHogException, UpstreamUnavailable

ANALYSIS_JOB = "analysis"
ANALYSIS_CHUNK_JOB = "analysis_chunk"
# An analysis running as a step of another job (the workflow's, on the default queue)
# leaves its chunks to the ai queue's workers; only when none has taken one for this long
# does it run them itself (one worker with one process is then still enough).
CHUNKS_WAIT_FOR_AI_WORKERS = 30.0


def _check_ai_configured(options: AnalysisOptions) -> None:
    configured = get_setting("openai_api_key") or get_setting("openai_base_url")
    if options.uses(ChangeSource.AI) and not configured:
        raise InvalidInput(
            "AI analysis needs an OpenAI API key, or the base URL of a local "
            "OpenAI-compatible server (settings openai_api_key / openai_base_url)"
        )


def analysis_parameters(selection: SceneSelection, options: AnalysisOptions, *,
                        plan_name: str | None = None) -> dict[str, Any]:
    """The analysis job's parameters for this request. Raises InvalidInput for scene ids
    the library lacks, or AI asked for but not set up."""
    selection.check_ids()
    _check_ai_configured(options)
    return {
        **selection.as_parameters(),
        "options": options.as_dict(),
        "plan_name": plan_name or f"Analysis {timezone.now():%Y-%m-%d %H:%M}",
    }


def request_analysis(selection: SceneSelection, options: AnalysisOptions, *,
                     plan_name: str | None = None, background: bool = True,
                     user: Any = None, context: dict[str, Any] | None = None) -> Job:
    """Start the analysis job (run here and finished when not background); ``user``
    started it. Raises as ``analysis_parameters`` does. ``context`` (e.g. ``schedule_id``)
    is added to the job's parameters."""
    parameters = {**analysis_parameters(selection, options, plan_name=plan_name),
                  **(context or {})}
    return start_job(ANALYSIS_JOB, parameters, inline=not background, created_by=user)


def _safe_message(exc: Exception) -> str:
    """StashHog exceptions carry user-safe messages; anything else is named, not quoted."""
    if isinstance(exc, StashHogException):
        return exc.message
    return f"Unexpected error ({type(exc).__name__})"


def _spreads(options: AnalysisOptions) -> bool:
    """Whether the run asks a remote source, and so splits into chunks for every worker."""
    return any(SOURCES[name].remote for name in options.sources if name in SOURCES)


def _merge(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Two chunks' metadata of one source as one: counters add up, lists join, the rest
    (a model's name, an endpoint) is kept from the first."""
    merged = {**more, **total}
    for key, value in more.items():
        if key not in total:
            continue
        if isinstance(value, dict):
            merged[key] = _merge(total[key], value)
        elif isinstance(value, list):
            merged[key] = total[key] + value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = total[key] + value
    return merged


@dataclass
class Tally:
    """What (part of) a run analysed, found and spent; a chunk's job result carries it as
    JSON and the analysis job sums its chunks'."""

    analysed: int = 0
    with_changes: int = 0
    by_field: Counter[str] = field(default_factory=Counter)
    auto_accepted: int = 0
    dropped_below_threshold: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # run.metadata()
    ai: dict[str, Any] = field(default_factory=dict)  # AIUsage.as_dict()
    errors: list[dict[str, Any]] = field(default_factory=list)  # AI error samples
    notes: list[str] = field(default_factory=list)  # the sources' notes for a reviewer

    def as_dict(self) -> dict[str, Any]:
        return {"analysed": self.analysed, "with_changes": self.with_changes,
                "changes_by_field": dict(self.by_field), "auto_accepted": self.auto_accepted,
                "dropped_below_threshold": self.dropped_below_threshold,
                "suppressed": dict(self.suppressed),
                "sources": self.sources, "ai": self.ai, "errors": self.errors,
                "notes": self.notes}

    def add(self, other: dict[str, Any]) -> None:
        self.analysed += other["analysed"]
        self.with_changes += other["with_changes"]
        self.by_field.update(other["changes_by_field"])
        self.auto_accepted += other["auto_accepted"]
        self.dropped_below_threshold += other["dropped_below_threshold"]
        self.suppressed.update(other["suppressed"])
        for name, metadata in other["sources"].items():
            self.sources[name] = _merge(self.sources.get(name, {}), metadata)
        self.ai = _merge(self.ai, other["ai"])
        self.errors = (self.errors + other["errors"])[:ERRORS_KEPT]
        self.notes += other["notes"]

    @property
    def cost_usd(self) -> float:
        return float(self.ai.get("cost_usd", 0.0))


class _Pass:
    """Analyses scenes chunk by chunk into a plan: every source's findings, one
    transaction per chunk; ``tally`` says what it did so far."""

    def __init__(self, plan_id: int, options: AnalysisOptions, settings: str,
                 started_at: datetime, runs: dict[str, SourceRun]) -> None:
        self.plan_id = plan_id
        self.options = options
        self.settings = settings
        self.started_at = started_at
        self.runs = runs
        self.builder = ChangeBuilder(options)
        self.tally = Tally()

    @property
    def chunk_size(self) -> int:
        return min((run.chunk_size for run in self.runs.values()), default=SCENE_BATCH)

    def run(self, chunks: Iterable[list[SceneSnapshot]], progress: Progress, total: int,
            on_chunk: Callable[[], None]) -> bool:
        """Analyse ``chunks``; False when the AI budget stopped it. Raises JobCancelled when
        cancelled, and a source's error that every later request would meet too."""
        for chunk in chunks:
            progress.check_cancelled()
            outcomes = [run.analyse(chunk, progress.check_cancelled)
                        for run in self.runs.values()]
            # A scene one source did not reach (budget, cancel) waits for the next run.
            self._write([s for s in chunk if all(s.id in o.findings for o in outcomes)],
                        outcomes)
            on_chunk()
            progress.update(self.tally.analysed, total,
                            f"Analysed {self.tally.analysed} of {total} scenes")
            stops = {outcome.stop for outcome in outcomes}
            if fatal := next((o.fatal for o in outcomes if o.fatal), None):
                raise fatal
            if "cancelled" in stops:
                raise JobCancelled()
            if "budget" in stops:
                return False
        return True

    def _write(self, scenes: list[SceneSnapshot], outcomes: list[ChunkOutcome]) -> None:
        self.builder.blocked = Blocked.load(
            [scene.id for scene in scenes], plan_id=self.plan_id,
            include_rejected=self.options.include_rejected)
        changes = []
        with_changes = 0
        for scene in scenes:
            findings = [f for outcome in outcomes for f in outcome.findings[scene.id]]
            scene_changes = self.builder.changes_for(scene, findings)
            for change in scene_changes:
                change.plan_id = self.plan_id
            with_changes += bool(scene_changes)
            changes += scene_changes
        with transaction.atomic():  # one commit per chunk
            PlanChange.objects.bulk_create(changes, batch_size=SCENE_BATCH)
            record_analysed(scenes, self.settings, self.started_at)
        tally = self.tally
        tally.with_changes += with_changes
        tally.by_field.update(change.field for change in changes)
        tally.auto_accepted += sum(c.status == ChangeStatus.ACCEPTED for c in changes)
        tally.analysed += len(scenes)
        tally.dropped_below_threshold = self.builder.dropped_below_threshold
        tally.suppressed = Counter(self.builder.suppressed)
        tally.sources = {name: run.metadata() for name, run in self.runs.items()}
        tally.notes = [note for run in self.runs.values() for note in run.notes()]
        ai = self.runs.get(ChangeSource.AI)
        if isinstance(ai, AIRun):
            tally.ai, tally.errors = ai.usage.as_dict(), ai.usage.error_samples


class _Run:
    """The analysis job: the plan, and the scenes analysed here or by its chunks."""

    def __init__(self, progress: Progress, parameters: dict[str, Any]) -> None:
        self.progress = progress
        self.options = AnalysisOptions.from_dict(parameters["options"])
        self.selection = SceneSelection.from_parameters(parameters)
        self.started = time.monotonic()
        self.started_at = timezone.now()
        self.total = self.selection.count()
        self.tally = Tally()
        self.chunks = 0
        self.plan = AnalysisPlan.objects.create(
            name=parameters["plan_name"][:255], metadata=self.metadata("running", "Running")
        )
        self.budget = SharedBudget.create(self.plan.id, self.options.max_cost_usd)

    def metadata(self, outcome: str, message: str) -> dict[str, Any]:
        tally = self.tally
        return {
            "job_id": str(self.progress.job.id),
            "options": self.options.as_dict(),
            "selection": self.selection.describe(),
            "model": tally.sources.get(ChangeSource.AI, {}).get("model"),
            "outcome": outcome,
            "message": message,
            "counts": {
                "scenes_selected": self.total,
                "scenes_analysed": tally.analysed,
                "scenes_with_changes": tally.with_changes,
                "changes": sum(tally.by_field.values()),
                "changes_by_field": dict(tally.by_field),
                "auto_accepted": tally.auto_accepted,
                "dropped_below_threshold": tally.dropped_below_threshold,
                # Proposals held back: values a person rejected ("rejected", unless
                # include_rejected) and values another open plan proposes ("in_open_plan").
                "suppressed": dict(tally.suppressed),
            },
            "tokens": {"prompt": tally.ai.get("prompt_tokens", 0),
                       "cached_prompt": tally.ai.get("cached_prompt_tokens", 0),
                       "completion": tally.ai.get("completion_tokens", 0)},
            "cost_usd": round(tally.cost_usd, 6),
            "ai": tally.ai,
            "errors": tally.errors,
            "sources": tally.sources,
            "chunks": self.chunks,
            "duration_seconds": round(time.monotonic() - self.started, 3),
        }

    def result(self, outcome: str, message: str) -> dict[str, Any]:
        metadata = self.metadata(outcome, message)
        return {"plan_id": self.plan.id, "outcome": outcome, "message": message,
                "counts": metadata["counts"], "tokens": metadata["tokens"],
                "cost_usd": metadata["cost_usd"], "ai_errors": self.tally.ai.get("errors", 0)}

    def execute(self) -> dict[str, Any]:
        try:
            completed = self._in_chunks() if _spreads(self.options) else self._here()
        except JobCancelled:
            self._finish("cancelled", f"Cancelled after {self.tally.analysed} of {self.total} "
                         "scenes; the plan keeps what was found")
            raise
        except Exception as exc:
            self._finish("failed", _safe_message(exc))
            raise
        if not completed:
            return self._finish("budget_exceeded", self._budget_message())
        return self._finish("completed", self._done_message())

    def _here(self) -> bool:
        runs = open_sources(load_indexes(self.options), self.options, self.budget)
        try:
            scene_pass = _Pass(self.plan.id, self.options, self.selection.settings,
                               self.started_at, runs)
            self.tally = scene_pass.tally

            def on_chunk() -> None:
                self.progress.partial_result = self.result("running", "Running")

            return scene_pass.run(self.selection.chunks(scene_pass.chunk_size),
                                  self.progress, self.total, on_chunk)
        finally:
            for run in runs.values():
                run.close()

    def _in_chunks(self) -> bool:
        """Queue the chunks (workers start on the first while the rest are cut), gather
        them; False when the budget stopped them."""
        size = get_setting("analysis_chunk_size")
        self.total = 0  # from here: the scenes queued (``changed`` is exact only now)
        common = {"plan_id": self.plan.id, "options": self.options.as_dict(),
                  "settings": self.selection.settings,
                  "started_at": self.started_at.isoformat()}
        ids: list[str] = []
        for chunk in self.selection.chunks(size):
            ids += [scene.id for scene in chunk]
            while len(ids) >= size:
                self._queue_chunk(common, ids[:size])
                ids = ids[size:]
        if ids:
            self._queue_chunk(common, ids)
        self.progress.update(self.progress.job.processed_items, self.total, force=True)
        try:
            gather_steps(self.progress,
                         run_here_after=CHUNKS_WAIT_FOR_AI_WORKERS if self.progress.is_step
                         else 0, message=self._chunks_message, check=self._check_chunks)
        finally:
            self._gather()
        return not self.budget.reached

    def _queue_chunk(self, common: dict[str, Any], ids: list[str]) -> None:
        start_step(self.progress, ANALYSIS_CHUNK_JOB, {**common, "scene_ids": ids})
        self.chunks += 1
        self.total += len(ids)

    def _chunks_message(self, processed: int, counts: dict[str, int]) -> str:
        running = counts.get(JobStatus.RUNNING, 0) + counts.get(JobStatus.CANCELLING, 0)
        return (f"Analysed {processed} of {self.total} scenes in {self.chunks} chunks "
                f"({running} running)")

    def _check_chunks(self, counts: dict[str, int]) -> None:
        """A chunk that failed fails the run with its error (the other chunks stop)."""
        if not counts.get(JobStatus.FAILED):
            return
        failed = self.progress.job.steps.filter(status=JobStatus.FAILED).first()
        if failed is None:
            return
        message = failed.error.split("\n\n", 1)[0] or "An analysis chunk failed"
        if (failed.result or {}).get("outcome") == "upstream_failed":
            raise UpstreamUnavailable(message)
        raise StashHogException(message)

    def _gather(self) -> None:
        self.tally = Tally()
        for result in self.progress.job.steps.values_list("result", flat=True):
            if result:
                self.tally.add(result)

    def _budget_message(self) -> str:
        return (
            f"Stopped before exceeding the AI budget of ${self.options.max_cost_usd:.4f} "
            f"(spent ${self.tally.cost_usd:.4f}); analysed {self.tally.analysed} of "
            f"{self.total} scenes. Raise max_cost_usd to analyse the rest."
        )

    def _done_message(self) -> str:
        changes = sum(self.tally.by_field.values())
        message = f"Analysed {self.tally.analysed} scenes: {changes} proposed changes"
        errors = self.tally.ai.get("errors", 0)
        if errors:
            message += f"; {errors} AI error(s), see the plan's metadata"
        return message

    def _finish(self, outcome: str, message: str) -> dict[str, Any]:
        AnalysisPlan.objects.filter(pk=self.plan.pk).update(
            metadata=self.metadata(outcome, message), description="\n".join(self.tally.notes)
        )
        refresh_plan_status(self.plan)
        refresh_change_statistics()
        result = self.result(outcome, message)
        self.progress.partial_result = result
        self.progress.update(self.tally.analysed, self.total, message, force=True)
        return result


def refresh_change_statistics() -> None:
    """After a plan is written, give PostgreSQL the visibility map and statistics of its
    changes and of its scenes (PlanScene) at once (as a full sync does for the library;
    autovacuum notices thousands of new rows only later, and not at all where it is off):
    a page of the plan's scenes is then an index-only scan from its first request."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table)
                       for model in (PlanChange, PlanScene))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


def run_analysis(progress: Progress, parameters: dict[str, Any]) -> dict[str, Any]:
    """The body of the "analysis" job; returns the job result (``plan_id`` and counts)."""
    return _Run(progress, parameters).execute()


def run_analysis_chunk(progress: Progress, parameters: dict[str, Any]) -> dict[str, Any]:
    """The body of an "analysis_chunk" step: ``scene_ids`` analysed into the plan
    ``plan_id``. Its result is the chunk's Tally and ``outcome``."""
    plan_id, ids = parameters["plan_id"], parameters["scene_ids"]
    options = AnalysisOptions.from_dict(parameters["options"])
    budget = SharedBudget(plan_id)
    # A rerun (its worker was lost) starts over: what the lost run wrote goes first.
    PlanChange.objects.filter(plan_id=plan_id, scene_id__in=ids).delete()
    if budget.reached:  # another chunk spent it: do not even load the library
        progress.update(0, len(ids), "Not started: the AI budget was reached", force=True)
        return {"outcome": "budget", **Tally().as_dict()}
    tally = Tally()

    def result(outcome: str) -> dict[str, Any]:
        return {"outcome": outcome, **tally.as_dict()}

    def on_chunk() -> None:
        progress.partial_result = result("running")

    runs: dict[str, SourceRun] = {}
    try:
        runs = open_sources(load_indexes(options), options, budget)
        scene_pass = _Pass(plan_id, options, parameters["settings"],
                           datetime.fromisoformat(parameters["started_at"]), runs)
        tally = scene_pass.tally
        on_chunk()
        snapshots = (load_snapshots(part) for part in batched(ids, scene_pass.chunk_size))
        completed = scene_pass.run(snapshots, progress, len(ids), on_chunk)
    except UpstreamUnavailable:
        progress.partial_result = result("upstream_failed")
        raise
    finally:
        for run in runs.values():
            run.close()
    return result("completed" if completed else "budget")
