"""Plan generation: the "analysis" job turns a selection of scenes into one AnalysisPlan.

``request_analysis`` validates the request and starts the job; ``run_analysis`` is its
body. The plan is created when the run starts and its changes are written chunk by chunk,
so a cancelled, failed or over-budget run keeps what it found, and says so in the plan's
metadata (``outcome`` and ``message``). A run that finds nothing still leaves its plan
(draft, zero changes), so the user sees that it ran and over what.
"""

import time
from collections import Counter
from typing import Any

from django.db import transaction
from django.utils import timezone

from analysis.ai_analysis import AIUsage
from analysis.fingerprints import record_analysed
from analysis.library import SceneSnapshot, load_indexes
from analysis.models import AnalysisPlan, ChangeSource, ChangeStatus, PlanChange
from analysis.options import AnalysisOptions
from analysis.plan_status import refresh_plan_status
from analysis.proposals import ChangeBuilder
from analysis.rejections import Blocked
from analysis.selection import SceneSelection
from analysis.sources import ChunkOutcome, SourceRun, open_sources
from analysis.sources.ai import AIRun
from jobs.models import Job
from jobs.runner import JobCancelled, Progress, start_job
from scenes.batching import SCENE_BATCH
from settings_app import get_setting
from stashhog.api.exceptions import InvalidInput, StashHogException

ANALYSIS_JOB = "analysis"


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


class _Run:
    def __init__(self, progress: Progress, parameters: dict[str, Any]) -> None:
        self.progress = progress
        self.options = AnalysisOptions.from_dict(parameters["options"])
        self.selection = SceneSelection.from_parameters(parameters)
        self.started = time.monotonic()
        self.started_at = timezone.now()
        self.total = self.selection.count()
        self.analysed = 0
        self.with_changes = 0
        self.by_field: Counter[str] = Counter()
        self.auto_accepted = 0
        self.usage = AIUsage()
        self.model: str | None = None
        self.builder = ChangeBuilder(self.options)
        self.runs: dict[str, SourceRun] = {}
        self.plan = AnalysisPlan.objects.create(
            name=parameters["plan_name"][:255], metadata=self.metadata("running", "Running")
        )

    def metadata(self, outcome: str, message: str) -> dict[str, Any]:
        return {
            "job_id": str(self.progress.job.id),
            "options": self.options.as_dict(),
            "selection": self.selection.describe(),
            "model": self.model,
            "outcome": outcome,
            "message": message,
            "counts": {
                "scenes_selected": self.total,
                "scenes_analysed": self.analysed,
                "scenes_with_changes": self.with_changes,
                "changes": sum(self.by_field.values()),
                "changes_by_field": dict(self.by_field),
                "auto_accepted": self.auto_accepted,
                "dropped_below_threshold": self.builder.dropped_below_threshold,
                # Proposals held back: values a person rejected ("rejected", unless
                # include_rejected) and values another open plan proposes ("in_open_plan").
                "suppressed": dict(self.builder.suppressed),
            },
            "tokens": {"prompt": self.usage.prompt_tokens,
                       "cached_prompt": self.usage.cached_prompt_tokens,
                       "completion": self.usage.completion_tokens},
            "cost_usd": round(self.usage.cost_usd, 6),
            "ai": self.usage.as_dict(),
            "errors": self.usage.error_samples,
            "sources": {name: run.metadata() for name, run in self.runs.items()},
            "duration_seconds": round(time.monotonic() - self.started, 3),
        }

    def result(self, outcome: str, message: str) -> dict[str, Any]:
        metadata = self.metadata(outcome, message)
        return {"plan_id": self.plan.id, "outcome": outcome, "message": message,
                "counts": metadata["counts"], "tokens": metadata["tokens"],
                "cost_usd": metadata["cost_usd"], "ai_errors": self.usage.errors}

    def execute(self) -> dict[str, Any]:
        try:
            self.runs = open_sources(load_indexes(self.options), self.options)
            ai = self.runs.get(ChangeSource.AI)
            if isinstance(ai, AIRun):
                self.model, self.usage = ai.model, ai.usage
            chunk_size = min((run.chunk_size for run in self.runs.values()),
                             default=SCENE_BATCH)
            for chunk in self.selection.chunks(chunk_size):
                self.progress.check_cancelled()
                outcomes = [run.analyse(chunk, self.progress.check_cancelled)
                            for run in self.runs.values()]
                # A scene one source did not reach (budget, cancel) waits for the next run.
                self._write([s for s in chunk if all(s.id in o.findings for o in outcomes)],
                            outcomes)
                self.progress.partial_result = self.result("running", "Running")
                self.progress.update(self.analysed, self.total,
                                     f"Analysed {self.analysed} of {self.total} scenes")
                stops = {outcome.stop for outcome in outcomes}
                if fatal := next((o.fatal for o in outcomes if o.fatal), None):
                    raise fatal
                if "cancelled" in stops:
                    raise JobCancelled()
                if "budget" in stops:
                    return self._finish("budget_exceeded", self._budget_message())
        except JobCancelled:
            self._finish("cancelled", f"Cancelled after {self.analysed} of {self.total} "
                         "scenes; the plan keeps what was found")
            raise
        except Exception as exc:
            self._finish("failed", _safe_message(exc))
            raise
        finally:
            for run in self.runs.values():
                run.close()
        return self._finish("completed", self._done_message())

    def _write(self, scenes: list[SceneSnapshot], outcomes: list[ChunkOutcome]) -> None:
        self.builder.blocked = Blocked.load(
            [scene.id for scene in scenes], plan_id=self.plan.id,
            include_rejected=self.options.include_rejected)
        changes = []
        for scene in scenes:
            findings = [f for outcome in outcomes for f in outcome.findings[scene.id]]
            scene_changes = self.builder.changes_for(scene, findings)
            for change in scene_changes:
                change.plan_id = self.plan.id
            self.with_changes += bool(scene_changes)
            changes += scene_changes
        with transaction.atomic():  # one commit per chunk
            PlanChange.objects.bulk_create(changes, batch_size=SCENE_BATCH)
            record_analysed(scenes, self.selection.settings, self.started_at)
        self.by_field.update(change.field for change in changes)
        self.auto_accepted += sum(c.status == ChangeStatus.ACCEPTED for c in changes)
        self.analysed += len(scenes)

    def _budget_message(self) -> str:
        return (
            f"Stopped before exceeding the AI budget of ${self.options.max_cost_usd:.4f} "
            f"(spent ${self.usage.cost_usd:.4f}); analysed {self.analysed} of {self.total} "
            "scenes. Raise max_cost_usd to analyse the rest."
        )

    def _done_message(self) -> str:
        changes = sum(self.by_field.values())
        message = f"Analysed {self.analysed} scenes: {changes} proposed changes"
        if self.usage.errors:
            message += f"; {self.usage.errors} AI error(s), see the plan's metadata"
        return message

    def _finish(self, outcome: str, message: str) -> dict[str, Any]:
        notes = [note for run in self.runs.values() for note in run.notes()]
        AnalysisPlan.objects.filter(pk=self.plan.pk).update(
            metadata=self.metadata(outcome, message), description="\n".join(notes)
        )
        refresh_plan_status(self.plan)
        result = self.result(outcome, message)
        self.progress.partial_result = result
        self.progress.update(self.analysed, self.total, message, force=True)
        return result


def run_analysis(progress: Progress, parameters: dict[str, Any]) -> dict[str, Any]:
    """The body of the "analysis" job; returns the job result (``plan_id`` and counts)."""
    return _Run(progress, parameters).execute()
