"""The one job runner. Every background job goes through here.

- ``register_job_type`` registers a job body under a name (apps register theirs in
  ``AppConfig.ready``; jobs knows none).
- ``start_job`` writes the Job row and dispatches the Celery task on commit.
- ``run_job`` (called by the Celery task) moves the row through its states, calls the body
  with a ``Progress`` reporter, and records the result or a redacted error.
- ``start_step`` queues a job as a step of a running one, ``gather_steps`` waits for the
  steps (running pending ones itself meanwhile) with the parent's progress their sum.
- ``cancel_job`` asks a job to stop; the body stops at its next ``check_cancelled``.
- ``fail_job`` ends a job whose worker is gone (``recover_lost_job`` queues an idempotent
  one again), ``resend_job`` sends the message of a job that never started again (all for
  ``jobs.recovery``); ``stop_jobs`` asks the jobs of a worker that shuts down to stop.

This module is the only code that writes ``Job.status``.
"""

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

from celery import current_app
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from jobs import processes
from jobs.models import ACTIVE_STATUSES, Job, JobLock, JobStatus
from jobs.notify import publish_job
from jobs.signals import job_finished
from settings_app import get_setting
from settings_app.secrets import current_secrets, redact
from stashhog.api.exceptions import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    StashHogException,
)

logger = logging.getLogger("stashhog.jobs")

PROGRESS_WRITE_INTERVAL = 0.5  # seconds: at most ~2 row writes and pushes per job per second
LOCK_POLL_INTERVAL = 0.2  # seconds between attempts to take locks another job holds
MESSAGE_LIMIT = 500
TRACEBACK_LIMIT = 4000


class JobCancelled(Exception):
    """Raised by ``Progress.check_cancelled`` when a cancel was requested."""


@dataclass(frozen=True)
class JobType:
    name: str
    body: Callable[["Progress", dict[str, Any]], Any]
    queue: str
    exclusive_key: Callable[[dict[str, Any]], str | None] | None
    idempotent: bool
    limit: Callable[[], int] | None = None

    def key(self, parameters: dict[str, Any]) -> str | None:
        """The exclusive key of a job with these parameters (None: no rule)."""
        return self.exclusive_key(parameters) if self.exclusive_key else None

    def exclusive_keys(self, parameters: dict[str, Any]) -> list[str | None]:
        """The keys a new job may take, any one of them: one slot per allowed job for a
        limited type, else its exclusive key."""
        if self.limit is not None:
            return [f"{self.name}:slot:{slot}" for slot in range(1, self.limit() + 1)]
        return [self.key(parameters)]


JOB_TYPES: dict[str, JobType] = {}


def register_job_type(name: str, body: Callable[["Progress", dict[str, Any]], Any], *,
                      queue: str = "default",
                      exclusive_key: Callable[[dict[str, Any]], str | None] | None = None,
                      idempotent: bool = False, limit: Callable[[], int] | None = None) -> None:
    """Register ``body(progress, parameters) -> result`` as the job type ``name``; apps call
    this from their ``AppConfig.ready``. A name registered twice is a configuration error.

    ``exclusive_key(parameters)`` names what the job must not share with another active
    job (at most one active job per key). ``limit()`` is the most jobs of this type that
    may be active at once (read at each start); a start beyond it is refused. Both hold
    across every process and machine (a unique column). ``idempotent=True`` promises that
    running the body again from the start is harmless: its message is then acknowledged
    only after the run, so a worker lost mid-run hands the job to another worker instead
    of failing it.
    """
    if name in JOB_TYPES:
        raise ImproperlyConfigured(f"The job type {name!r} is already registered")
    JOB_TYPES[name] = JobType(name, body, queue, exclusive_key, idempotent, limit)


class JobAlreadyActive(Conflict):
    """An exclusive job of the same key is active; ``detail["job_id"]`` names it."""

    code = "job_active"

    def __init__(self, job: Job):
        super().__init__(
            f"A {job.type} job is already {job.status}", detail={"job_id": str(job.id)}
        )
        self.job = job


class JobLimitReached(Conflict):
    """As many jobs of this type as its limit allows are active; ``detail["job_ids"]``."""

    code = "job_limit_reached"

    def __init__(self, type_name: str, active: list[Job]):
        super().__init__(
            f"{len(active)} {type_name} job(s) are already active, the most allowed at once; "
            "start this one when one of them has finished",
            detail={"job_ids": [str(job.id) for job in active]},
        )


class JobQueueUnavailable(ServiceUnavailable):
    """The job could not be handed to the job queue (Redis); its row is already failed."""

    code = "job_queue_unavailable"

    def __init__(self, job: Job):
        super().__init__("Could not queue the job: the job queue is unavailable",
                         detail={"job_id": str(job.id)}, retry_after=30)
        self.job = job


class JobFinished(Conflict):
    """The job has already finished: it can no longer be cancelled."""

    code = "job_finished"


class JobNotCompleted(StashHogException):
    """An inline job failed; ``detail`` has its id and result. It is raised from the exception
    that failed its body, so the error handler answers as for that cause (a failure of Stash
    or the AI server keeps its status and code)."""

    code = "job_failed"

    def __init__(self, job: Job, message: str | None = None):
        message = message or (job.error or f"The {job.type} job failed").split("\n\n", 1)[0]
        super().__init__(message, detail={"job_id": str(job.id), "result": job.result})
        self.job = job


class InlineJobCancelled(JobNotCompleted, Conflict):
    """An inline job was cancelled before it completed."""

    code = "job_cancelled"

    def __init__(self, job: Job):
        super().__init__(job, f"The {job.type} job was cancelled")


def start_job(type_name: str, parameters: dict[str, Any] | None = None, *,
              inline: bool = False, created_by: Any = None,
              delay_seconds: float | None = None) -> Job:
    """Create the Job row and queue it; raises JobAlreadyActive on an exclusive clash, and
    JobQueueUnavailable when the queue refused it (the row is then failed).

    ``created_by`` is the user who started the job (None for the system, e.g. a schedule).

    ``inline=True`` runs the job in this process instead (for ``background=false`` API
    calls), through the same states, and returns the completed row; a job that fails raises
    JobNotCompleted, one that is cancelled InlineJobCancelled (a JobNotCompleted too).
    ``delay_seconds`` holds a queued job back that long (it stays pending meanwhile).
    """
    if inline:
        return _run_inline(_create_job(type_name, parameters, dispatch=False,
                                       created_by=created_by))
    return _create_job(type_name, parameters, dispatch=True, created_by=created_by,
                       delay_seconds=delay_seconds)


def run_step(parent: "Progress", type_name: str, parameters: dict[str, Any], *,
             span: tuple[int, int]) -> Job:
    """Run a job as a step of the running job ``parent``, here and now: a Job row of its
    own (``parent`` set, visible like any job), whose progress moves the parent's across
    ``span`` (percent of the parent). Returns the completed step; it raises as an inline
    ``start_job`` does (JobNotCompleted, InlineJobCancelled, JobAlreadyActive).
    """
    job = _create_job(type_name, parameters, dispatch=False, parent=parent.job,
                      created_by=parent.job.created_by)
    return _run_inline(job, worker=parent.job.worker, parent_span=(parent, *span))


def start_step(parent: "Progress", type_name: str, parameters: dict[str, Any]) -> Job:
    """Queue a job as a step of the running job ``parent`` (``parent`` set, on its type's
    queue, so any worker of that queue may run it); ``gather_steps`` waits for it."""
    return _create_job(type_name, parameters, dispatch=True, parent=parent.job,
                       created_by=parent.job.created_by)


STEP_POLL_INTERVAL = 0.5  # seconds between looks at the steps' rows
STEP_STOP_TIMEOUT = 120.0  # seconds a cancelled parent waits for its running steps to stop


def gather_steps(parent: "Progress", *, run_here_after: float | None,
                 message: Callable[[int, dict[str, int]], str],
                 check: Callable[[dict[str, int]], None] = lambda _counts: None) -> None:
    """Wait until every step ``start_step`` queued for the running job ``parent`` has
    finished.

    Workers on the steps' queue run them. The parent runs a pending one itself, as any
    worker would (a step is claimed once, so whoever comes first runs it), once steps have
    waited ``run_here_after`` seconds with none running: 0 runs them whenever it waits (its
    own worker slot is never idle, and one worker process is enough); a longer wait leaves
    them to their queue's workers unless none comes; None never. The parent's
    progress is the sum of its steps' items (its own ``total``, set by the body), said by
    ``message(processed, counts)``; ``counts`` maps step status to number. ``check(counts)``
    runs on every look and may raise to stop the parent. A cancel of the parent reaches
    every step (``cancel_job``). Either way the steps are cancelled, and the exception
    raised once the running ones have stopped (their results are then final).
    """

    def report() -> dict[str, int]:
        counts, processed = _step_counts(parent.job)
        parent.update(processed, None, message(processed, counts))
        return counts

    idle_since = time.monotonic()
    try:
        while True:
            counts = report()
            check(counts)
            if not any(counts.get(status) for status in ACTIVE_STATUSES):
                report()
                # A cancel whose stop reached the last steps before this look: the parent
                # was cancelled, not completed.
                parent.check_cancelled(now=True)
                return
            parent.check_cancelled()
            if counts.get(JobStatus.RUNNING) or counts.get(JobStatus.CANCELLING):
                idle_since = time.monotonic()
            due = run_here_after is not None and time.monotonic() - idle_since >= run_here_after
            step = parent.job.steps.filter(status=JobStatus.PENDING).order_by("created_at")
            pending = step.values_list("id", flat=True).first() if due else None
            if pending is None:
                time.sleep(STEP_POLL_INTERVAL)
            else:
                run_job(str(pending), parent.job.worker, on_progress=report)
    except Exception:
        _cancel_steps(parent.job.id)
        _wait_for_steps(parent.job)
        report()
        raise


def _step_counts(job: Job) -> tuple[dict[str, int], int]:
    rows = job.steps.order_by().values("status").annotate(
        number=Count("id"), processed=Sum("processed_items"))
    counts = {row["status"]: row["number"] for row in rows}
    return counts, sum(row["processed"] or 0 for row in rows)


def _wait_for_steps(job: Job) -> None:
    deadline = time.monotonic() + STEP_STOP_TIMEOUT
    while (job.steps.filter(status__in=ACTIVE_STATUSES).exists()
           and time.monotonic() < deadline):
        time.sleep(LOCK_POLL_INTERVAL)


def _run_inline(job: Job, *, worker: str = "",
                parent_span: "ParentSpan | None" = None) -> Job:
    failure = run_job(str(job.id), worker, parent_span=parent_span)
    job.refresh_from_db()
    if job.status == JobStatus.CANCELLED:
        raise InlineJobCancelled(job)
    if job.status != JobStatus.COMPLETED:
        raise JobNotCompleted(job) from failure
    return job


def _spec(type_name: str) -> JobType:
    spec = JOB_TYPES.get(type_name)
    if spec is None:
        raise InvalidInput(f"Unknown job type {type_name!r}")
    return spec


def ensure_not_active(type_name: str, parameters: dict[str, Any]) -> None:
    """Raise JobAlreadyActive when ``start_job`` would clash with an active job now, for
    callers that must say so before they check anything else."""
    key = _spec(type_name).key(parameters)
    active = key and Job.objects.filter(exclusive_key=key, status__in=ACTIVE_STATUSES).first()
    if active:
        raise JobAlreadyActive(active)


def _create_job(type_name: str, parameters: dict[str, Any] | None, *, dispatch: bool,
                created_by: Any = None, delay_seconds: float | None = None,
                parent: Job | None = None) -> Job:
    spec = _spec(type_name)
    parameters = parameters or {}
    keys = spec.exclusive_keys(parameters)
    # Filled on commit (later, when the caller's own transaction commits).
    queued: dict[str, bool] = {}
    for key in keys:
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    type=type_name, parameters=parameters, exclusive_key=key,
                    created_by=created_by, parent=parent,
                    message=waiting_message(spec.queue) if dispatch else "")
                if dispatch:
                    transaction.on_commit(
                        partial(_dispatch_on_commit, job, spec, queued, delay_seconds))
        except IntegrityError:
            continue  # taken: the next key, if any
        if queued.get("ok") is False:
            job.refresh_from_db()
            raise JobQueueUnavailable(job)
        return job
    active = list(Job.objects.filter(exclusive_key__in=keys))
    if len(active) < len(keys):  # one finished in between: try once more
        return _create_job(type_name, parameters, dispatch=dispatch, created_by=created_by,
                           delay_seconds=delay_seconds, parent=parent)
    if spec.limit is not None:
        raise JobLimitReached(type_name, active)
    raise JobAlreadyActive(active[0])


def waiting_message(queue: str) -> str:
    """What a queued job waits for (health rewrites it when no worker takes that queue)."""
    return f"Waiting for a worker on the '{queue}' queue"


def _dispatch_on_commit(job: Job, spec: JobType, queued: dict[str, bool],
                        delay_seconds: float | None) -> None:
    queued["ok"] = _dispatch(job, spec, delay_seconds)


def _dispatch(job: Job, spec: JobType, delay_seconds: float | None = None) -> bool:
    """Send the job's first message; False (and the job failed) when the broker refused."""
    publish_job(job, "job_status")  # the monitor shows queued jobs too
    refused = _send(job, spec, delay_seconds)
    if refused:  # the broker is down: the job must not stay pending forever
        _finish(job.id, JobStatus.FAILED, error=f"Could not queue the job: {refused}")
    return not refused


def queue_of(job: Job) -> str:
    spec = JOB_TYPES.get(job.type)
    return spec.queue if spec else "default"


def resend_job(job: Job) -> bool:
    """Send a pending job's message again, under the same task id (the claim makes a
    second delivery harmless). False when the broker refused it."""
    spec = JOB_TYPES.get(job.type)
    return spec is not None and not _send(job, spec)


def _send(job: Job, spec: JobType, delay_seconds: float | None = None) -> str | None:
    """Send one message for the job; the name of the error when the broker refused it.
    ``dispatched_at`` is when the job may start (a held-back job is not late before)."""
    from jobs.tasks import run_idempotent_job_task, run_job_task

    task = run_idempotent_job_task if spec.idempotent else run_job_task
    try:
        delay: dict[str, Any] = {"countdown": delay_seconds} if delay_seconds else {}
        task.apply_async(args=(str(job.id),), queue=spec.queue, task_id=str(job.id), **delay)
    except Exception as exc:
        logger.error("could not queue job %s: %s", job.id, redact(str(exc)))
        return type(exc).__name__
    Job.objects.filter(id=job.id).update(
        celery_task_id=str(job.id),
        dispatched_at=timezone.now() + timedelta(seconds=delay_seconds or 0),
        dispatch_count=F("dispatch_count") + 1,
    )
    return None


def _claim(job_id: str, worker: str, *, restart_running: bool) -> bool:
    """pending -> running for this worker process, once only: a second delivery of the
    same message finds the job running and leaves it. With ``restart_running`` (a
    redelivered message of an idempotent job) a job whose process is gone is taken over
    from the start; one whose process still runs it is left alone."""
    now = timezone.now()
    claim = {"status": JobStatus.RUNNING, "started_at": now, "heartbeat_at": now,
             "worker": worker, **processes.ProcessIdentity.current().as_fields()}
    if Job.objects.filter(id=job_id, status=JobStatus.PENDING).update(**claim, message=""):
        return True  # the message said what it waited for; the body reports from here
    if not restart_running:
        return False
    job = Job.objects.filter(id=job_id, status=JobStatus.RUNNING).first()
    if job is None or not processes.lost_jobs([job]):
        return False
    # Only from the process judged lost: of two redeliveries, one takes over.
    lost_run = {"worker_host": job.worker_host, "worker_pid": job.worker_pid,
                "worker_instance": job.worker_instance}
    if Job.objects.filter(id=job_id, status=JobStatus.RUNNING, **lost_run).update(
        **claim, processed_items=0, progress=0, message="Restarted after its worker was lost"
    ):
        logger.warning("job %s restarted after its worker was lost", job_id)
        return True
    return False


def run_job(job_id: str, worker: str = "", *, restart_running: bool = False,
            parent_span: "ParentSpan | None" = None,
            on_progress: Callable[[], object] | None = None) -> BaseException | None:
    """Run one job to a terminal state; returns the exception that failed the body, if any.

    A job that is no longer pending is left alone. ``on_progress`` is called whenever the
    job's progress is written (its parent waiting here reports from it).
    """
    if not _claim(job_id, worker, restart_running=restart_running):
        logger.info("job %s is not pending any more; not running it", job_id)
        return None
    job = Job.objects.get(id=job_id)
    publish_job(job, "job_status")
    spec = JOB_TYPES.get(job.type)
    progress = Progress(job, parent_span, on_progress)
    try:
        if spec is None:
            raise RuntimeError(f"no body registered for job type {job.type!r} in this worker")
        with _Heartbeat(job.id):
            result = spec.body(progress, job.parameters)
    except JobCancelled:
        _finish(job.id, JobStatus.CANCELLED, result=progress.partial_result,
                counters=progress.counters())
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.id, job.type)
        _finish(job.id, JobStatus.FAILED, error=describe_failure(exc),
                result=progress.partial_result, counters=progress.counters())
        return exc
    else:
        _finish(job.id, JobStatus.COMPLETED, result=result, counters=progress.counters())
    return None


def describe_failure(exc: BaseException) -> str:
    """A short message plus a truncated traceback, with every secret masked."""
    message = (str(exc) or type(exc).__name__)[:MESSAGE_LIMIT]
    trace = "".join(traceback.format_exception(exc))[-TRACEBACK_LIMIT:]
    return redact(f"{message}\n\n{trace}", current_secrets())


def _finish(job_id: str | UUID, status: str, *, result: Any = None, error: str = "",
            counters: dict[str, Any] | None = None,
            from_statuses: Iterable[str] = ACTIVE_STATUSES) -> bool:
    """Move a job in ``from_statuses`` to a terminal status; False when it was in none."""
    now = timezone.now()
    fields = {
        **(counters or {}),
        "status": status, "completed_at": now, "heartbeat_at": now, "exclusive_key": None,
        "result": result, "error": error,
    }
    if status == JobStatus.COMPLETED:
        fields["progress"] = 100
    finished = Job.objects.filter(id=job_id, status__in=from_statuses).update(**fields)
    if finished:
        JobLock.objects.filter(job_id=job_id).delete()
        if status != JobStatus.COMPLETED:  # steps never outlive a parent that stopped
            _cancel_steps(job_id)
        job = Job.objects.get(id=job_id)
        publish_job(job, "job_status")
        job_finished.send(sender=Job, job=job)
    return bool(finished)


def fail_job(job: Job, error: str) -> bool:
    """Mark an active job failed from outside its body (recovery, reaper)."""
    return _finish(job.id, JobStatus.FAILED, error=error)


def recover_lost_job(job: Job, error: str) -> bool:
    """A running job whose process is gone: an idempotent one goes back to its queue to
    run again from the start (its message may sit unacknowledged in Redis for hours);
    any other is failed with ``error``."""
    spec = JOB_TYPES.get(job.type)
    if spec is None or not spec.idempotent or job.status != JobStatus.RUNNING:
        return fail_job(job, error)
    lost_run = {"worker_host": job.worker_host, "worker_pid": job.worker_pid,
                "worker_instance": job.worker_instance}
    if not Job.objects.filter(id=job.id, status=JobStatus.RUNNING, **lost_run).update(
        status=JobStatus.PENDING, worker="", worker_host="", worker_pid=None,
        worker_instance="", processed_items=0, progress=0,
        message=f"{error[:MESSAGE_LIMIT - 30]}; queued again",
    ):
        return False
    logger.warning("job %s queued again after its worker was lost", job.id)
    _send(job, spec)  # refused: still pending, and the resend sends it later
    return True


def _get_job(job_id: str | UUID) -> Job:
    try:
        return Job.objects.get(id=job_id)
    except (Job.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Job not found") from None


def cancel_job(job_id: str | UUID) -> Job:
    """Cancel: pending jobs stop at once, running ones at their next safe point.

    Raises NotFound for an unknown id and Conflict for a finished job.
    """
    job = _get_job(job_id)
    if job.is_finished:
        raise JobFinished(f"The job is already {job.status}", detail={"job_id": str(job.id)})
    # A worker may claim the job between the read above and these writes: the status
    # filters make each step apply only to the state it was meant for.
    if _finish(job.id, JobStatus.CANCELLED, from_statuses=(JobStatus.PENDING,)):
        _revoke(job)
    elif _request_stop(job.id):
        # The parent waits on its steps: they must stop for it to.
        _cancel_steps(job.id)
    job.refresh_from_db()
    return job


def _cancel_steps(job_id: UUID | str) -> None:
    """Cancel the job's active steps: queued ones at once (first, before a worker freed by
    a stopping step takes one), running ones at their next safe point."""
    for status in (JobStatus.PENDING, JobStatus.RUNNING):
        for step_id in Job.objects.filter(parent__id=job_id, status=status).values_list(
                "id", flat=True):
            with suppress(JobFinished):  # finished meanwhile
                cancel_job(step_id)


def stop_jobs(job_ids: Iterable[str]) -> int:
    """Ask these running jobs to stop at their next safe point (their worker is shutting
    down): they end ``cancelled``, not lost. Returns how many were asked."""
    return sum(_request_stop(job_id) for job_id in job_ids)


def _request_stop(job_id: UUID | str) -> bool:
    if not Job.objects.filter(id=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.CANCELLING, cancel_requested=True
    ):
        return False
    publish_job(Job.objects.get(id=job_id), "job_status")
    return True


def _revoke(job: Job) -> None:
    """Backstop: tell the workers to drop the queued message (the row is already final)."""
    try:
        current_app.control.revoke(str(job.id))
    except Exception as exc:
        logger.warning("could not revoke job %s: %s", job.id, redact(str(exc)))


# A step's parent: its Progress, and the percent span of it the step's progress covers.
ParentSpan = tuple["Progress", int, int]


class Progress:
    """Handed to every job body: reports progress and checks for cancellation."""

    def __init__(self, job: Job, parent_span: "ParentSpan | None" = None,
                 on_progress: Callable[[], object] | None = None):
        self.job = job
        self.partial_result: Any = None  # bodies may set what they achieved before a stop
        # A step's progress moves its parent's from ``start`` to ``end`` percent.
        self.parent_span = parent_span
        self.on_progress = on_progress
        self._last_write = 0.0
        self._last_cancel_check = 0.0

    def update(self, processed: int, total: int | None = None, message: str | None = None,
               force: bool = False) -> None:
        """Record progress; the row is written and pushed at most ~2 times a second, and
        always for the final step (``processed >= total``) or with ``force``."""
        job = self.job
        job.processed_items = processed
        if total is not None:
            job.total_items = total
        if message is not None:
            job.message = message[:MESSAGE_LIMIT]
        if job.total_items:
            job.progress = min(100, int(processed * 100 / job.total_items))
        if self.parent_span:
            parent, start, end = self.parent_span
            parent.update(start + (end - start) * job.progress // 100, 100,
                          f"{job.type}: {job.message}")
        final = job.total_items is not None and processed >= job.total_items
        now = time.monotonic()
        if not (force or final or now - self._last_write >= PROGRESS_WRITE_INTERVAL):
            return
        self._last_write = now
        job.heartbeat_at = timezone.now()
        Job.objects.filter(id=job.id).update(**self.counters(), heartbeat_at=job.heartbeat_at)
        # The row's status (a cancel may have moved it); the last known one if it is gone.
        job.status = (Job.objects.filter(id=job.id).values_list("status", flat=True).first()
                      or job.status)
        publish_job(job, "job_progress")
        if self.on_progress:
            self.on_progress()

    @property
    def is_step(self) -> bool:
        """Whether the job runs inside another job's run (``run_step``)."""
        return self.parent_span is not None

    def counters(self) -> dict[str, Any]:
        """The progress fields as the body last reported them (written on finish too, so
        a throttled last update is never lost)."""
        job = self.job
        return {"processed_items": job.processed_items, "total_items": job.total_items,
                "progress": job.progress, "message": job.message}

    @contextmanager
    def holding(self, keys: Iterable[str], waiting_message: str) -> Iterator[None]:
        """Hold the named locks ``keys`` while the block runs, in every process and on every
        machine: while another active job holds any of them, wait (cancellable), saying
        ``waiting_message``."""
        keys = sorted(set(keys))
        said = False
        while not _take_locks(self.job.id, keys):
            if not said:
                self.update(self.job.processed_items, None, waiting_message, force=True)
                said = True
            self.check_cancelled()
            time.sleep(LOCK_POLL_INTERVAL)
        try:
            yield
        finally:
            JobLock.objects.filter(job_id=self.job.id, key__in=keys).delete()

    def check_cancelled(self, *, now: bool = False) -> None:
        """Raise JobCancelled when a cancel was requested (reads the row at most 2x/s, or
        at once with ``now``: before a step that must not start after a cancel)."""
        moment = time.monotonic()
        if not now and moment - self._last_cancel_check < PROGRESS_WRITE_INTERVAL:
            return
        self._last_cancel_check = moment
        if Job.objects.filter(id=self.job.id, cancel_requested=True).exists():
            raise JobCancelled()


def _take_locks(job_id: UUID | str, keys: list[str]) -> bool:
    """All of ``keys`` for this job, or none (no job ever holds some while it waits for
    others, so two jobs never wait for each other)."""
    try:
        with transaction.atomic():
            JobLock.objects.bulk_create([JobLock(key=key, job_id=job_id) for key in keys])
    except IntegrityError:
        # A job that ended without releasing (its worker died before recovery saw it).
        JobLock.objects.filter(key__in=keys).exclude(job__status__in=ACTIVE_STATUSES).delete()
        return False
    return True


class _Heartbeat:
    """Refreshes the job's heartbeat from a side thread, so a body busy in one long step
    (a slow Stash request, a big page) never looks dead, while a dead worker soon does.

    A failed beat ("database is locked", a dropped connection) is logged and the next one
    tried on a fresh connection: the thread only ends with the job."""

    def __init__(self, job_id: str | UUID, interval: float | None = None) -> None:
        self.job_id = job_id
        self.stop = threading.Event()
        self.interval = interval or max(1.0, get_setting("job_heartbeat_timeout_seconds") / 5)

    def __enter__(self) -> "_Heartbeat":
        self.thread = threading.Thread(target=self._beat, daemon=True, name="job-heartbeat")
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def _beat(self) -> None:
        try:
            while not self.stop.wait(self.interval):
                try:
                    Job.objects.filter(id=self.job_id, status__in=ACTIVE_STATUSES).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception as exc:  # never crash the worker; beat again next time
                    logger.warning("heartbeat of job %s failed (%s); retrying",
                                   self.job_id, type(exc).__name__)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connections
