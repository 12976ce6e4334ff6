"""The workflow job: what a person would do by hand, as one job.

1. an incremental sync;
2. an analysis of the scenes that are new or changed since their last analysis
   (``only=changed``), with the saved default options or the request's own;
3. an apply of the changes the auto-accept threshold accepted (nothing without a threshold).

Each step is a job of its own (``parent_id`` is the workflow), run here one after the other;
the workflow's progress spans its steps and its result names each step's job and counts.
A failed step fails the workflow with that step's error and no later step runs; cancelling
the workflow cancels the running step and skips the rest.
"""

from django.utils import timezone
from rest_framework import serializers

from analysis.apply import APPLY_JOB
from analysis.generate import ANALYSIS_JOB, analysis_parameters
from analysis.options import AnalysisOptions
from analysis.selection import SceneSelection
from analysis.serializers import AnalysisOptionsSerializer
from jobs.models import Job, JobStatus
from jobs.runner import (
    JobAlreadyActive,
    JobCancelled,
    JobNotCompleted,
    Progress,
    run_step,
    start_job,
)
from scenes.sync_job import SYNC_JOB
from stashhog.api.validation import NoUnknownKeysMixin

WORKFLOW_JOB = "workflow"
# Percent of the workflow's progress at which each step starts and ends.
SPANS = {"sync": (0, 40), "analysis": (40, 85), "apply": (85, 100)}


class WorkflowRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """A workflow request (and a workflow schedule's parameters)."""

    options = AnalysisOptionsSerializer(
        required=False, help_text="Analysis options; those left out take the saved defaults.")


def workflow_parameters(request: dict) -> dict:
    """The job's parameters from a validated request: the options over the settings."""
    return {"options": (request.get("options") or AnalysisOptions.resolve()).as_dict()}


def request_workflow(request: dict, context: dict | None = None) -> Job:
    """Queue a workflow (JobAlreadyActive while one is active); ``context`` (e.g.
    ``schedule_id``) is added to the job's parameters."""
    return start_job(WORKFLOW_JOB, {**workflow_parameters(request), **(context or {})})


class StepFailed(Exception):
    """A step failed: the workflow fails with the step's own error."""


class _Run:
    def __init__(self, progress: Progress, parameters: dict):
        self.progress = progress
        self.options = AnalysisOptions.from_dict(parameters["options"])
        self.steps: dict[str, dict] = {name: {"status": "not started"} for name in SPANS}
        progress.partial_result = {"steps": self.steps}

    def step(self, name: str, job_type_name: str, parameters: dict, counts) -> Job:
        """Run one step; its entry in the result gets its job id, status and counts."""
        self.progress.check_cancelled(now=True)
        self.progress.update(SPANS[name][0], 100, f"{name}: starting", force=True)
        try:
            job = run_step(self.progress, job_type_name, parameters, span=SPANS[name])
        except JobAlreadyActive as busy:
            self.skip(name, busy.message)
            self._skip_rest()
            raise StepFailed(f"The {name} step could not start: {busy.message}") from None
        except JobNotCompleted as stopped:
            self.steps[name] = {"job_id": str(stopped.job.id), "status": stopped.job.status}
            self._skip_rest()
            if stopped.job.status == JobStatus.CANCELLED:
                raise JobCancelled() from None
            raise StepFailed(f"The {name} step failed: {stopped.message}") from None
        self.steps[name] = {"job_id": str(job.id), "status": job.status,
                            "counts": counts(job.result)}
        return job

    def skip(self, name: str, reason: str) -> None:
        self.steps[name] = {"status": "skipped", "reason": reason}

    def _skip_rest(self) -> None:
        for name, step in self.steps.items():
            if step["status"] == "not started":
                self.skip(name, "an earlier step did not complete")

    def execute(self) -> dict:
        self.step("sync", SYNC_JOB, {"incremental": True}, _sync_counts)
        analysis_request = analysis_parameters(
            SceneSelection.of(only="changed"), self.options,
            plan_name=f"Workflow {timezone.now():%Y-%m-%d %H:%M}")
        if not SceneSelection.from_parameters(analysis_request).exact_count():
            self.skip("analysis", "no new or changed scenes")
            self.skip("apply", "nothing was analysed")
            return self.finish("Nothing new or changed to analyse")
        analysis = self.step("analysis", ANALYSIS_JOB, analysis_request, _analysis_counts)
        plan_id, accepted = analysis.result["plan_id"], analysis.result["counts"]["auto_accepted"]
        if self.options.auto_accept_threshold is None:
            self.skip("apply", "no auto-accept threshold is set")
        elif not accepted:
            self.skip("apply", "no change was auto-accepted")
        else:
            self.step("apply", APPLY_JOB, {"plan_id": plan_id, "scene_ids": None},
                      _apply_counts)
        return self.finish(f"Plan {plan_id}: {analysis.result['message']}")

    def finish(self, message: str) -> dict:
        self.progress.update(100, 100, message, force=True)
        return {"steps": self.steps, "message": message}


def _sync_counts(result: dict) -> dict:
    return {"scenes": result["scenes"], "incremental": result["incremental"]}


def _analysis_counts(result: dict) -> dict:
    return {"plan_id": result["plan_id"], **result["counts"]}


def _apply_counts(result: dict) -> dict:
    return {name: result[name] for name in ("applied", "skipped", "failed", "remaining")}


def workflow_key(_parameters: dict) -> str:
    return "workflow"  # one workflow at a time


def workflow_job(progress: Progress, parameters: dict) -> dict:
    """Parameters: ``options`` (resolved analysis options). Result: ``steps`` (per step:
    ``job_id``, ``status``, ``counts``; or ``skipped`` with a ``reason``) and ``message``."""
    return _Run(progress, parameters).execute()
