"""Schedules: named, validated job requests that Celery beat starts on a crontab or interval.

A schedule's timing and ``enabled`` flag live in its django-celery-beat ``PeriodicTask``
(the store beat reads); its kind, parameters and last outcome in ``Schedule``. Every run,
from beat or "run now", goes through ``run_schedule``, which starts an ordinary job through
the runner with ``schedule_id`` in its parameters. Parameters are checked when a schedule
is saved, by the same serializer and service checks as the on-demand request of its kind,
so a bad one is a 400 then and never a failure at 3 a.m.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from celery.schedules import crontab as celery_crontab
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from rest_framework import serializers

from analysis.apply import request_apply
from analysis.generate import analysis_parameters, request_analysis
from analysis.plan_queries import get_plan
from analysis.serializers import GenerateRequestSerializer
from automation.models import Schedule, ScheduleKind
from automation.workflow import WorkflowRequestSerializer, request_workflow
from jobs.models import Job
from jobs.runner import JobAlreadyActive, start_job
from scenes.serializers import SyncRequestSerializer
from scenes.sync_job import SYNC_JOB
from stashhog.api.exceptions import InvalidInput, NotFound, StashHogException
from stashhog.api.validation import JSONIntegerField

logger = logging.getLogger("stashhog.automation")

RUN_SCHEDULE_TASK = "automation.run_schedule"
MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 366 * 86400  # a year: anything rarer is a crontab
CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class ApplyScheduleSerializer(serializers.Serializer):
    """An apply schedule: the plan (a path parameter on demand) and the apply request."""

    plan_id = JSONIntegerField(min_value=1)
    scene_ids = serializers.ListField(child=serializers.CharField(), required=False,
                                      allow_null=True)


@dataclass(frozen=True)
class Kind:
    """How a schedule kind validates its parameters and starts its job.

    ``serializer`` is the on-demand request's: the stored parameters are its input, and
    each run validates them again into the request (so defaults come from the settings
    of the moment). ``check(request)`` runs the service checks the on-demand request runs
    (InvalidInput, NotFound); ``start(request, context)`` queues the job with ``context``
    added to its parameters.
    """

    serializer: type[serializers.Serializer]
    check: Callable[[dict], object]
    start: Callable[[dict, dict], Job]


KINDS: dict[str, Kind] = {
    ScheduleKind.SYNC: Kind(
        SyncRequestSerializer,
        check=lambda request: None,
        start=lambda request, context: start_job(SYNC_JOB, {**request, **context}),
    ),
    ScheduleKind.ANALYSIS: Kind(
        GenerateRequestSerializer,
        check=lambda request: analysis_parameters(**request),
        start=lambda request, context: request_analysis(**request, context=context),
    ),
    ScheduleKind.APPLY: Kind(
        ApplyScheduleSerializer,
        check=lambda request: get_plan(request["plan_id"]),
        start=lambda request, context: request_apply(
            request["plan_id"], request.get("scene_ids"), background=True, context=context),
    ),
    ScheduleKind.WORKFLOW: Kind(
        WorkflowRequestSerializer,
        check=lambda request: None,
        start=request_workflow,
    ),
}


def _request(kind: str, parameters) -> dict:
    """The on-demand request of ``kind`` that ``parameters`` validate into; InvalidInput
    with ``detail.parameters`` otherwise."""
    if not isinstance(parameters, dict):
        raise InvalidInput("Invalid parameters", detail={"parameters": ["Expected an object."]})
    serializer = KINDS[kind].serializer(data=parameters)
    unknown = sorted(set(parameters) - set(serializer.fields))
    if unknown:
        raise InvalidInput("Invalid parameters",
                           detail={"parameters": {key: ["Unknown field."] for key in unknown}})
    if not serializer.is_valid():
        raise InvalidInput("Invalid parameters", detail={"parameters": serializer.errors})
    return serializer.validated_data


def validate_parameters(kind: str, parameters) -> dict:
    """``parameters`` if the on-demand request of ``kind`` takes them, as it takes them
    (InvalidInput with ``detail.parameters`` otherwise)."""
    try:
        KINDS[kind].check(_request(kind, parameters))
    except NotFound as exc:
        raise InvalidInput(f"Invalid parameters: {exc.message}",
                           detail={"parameters": [exc.message]}) from None
    except InvalidInput as exc:
        if exc.detail and "parameters" in exc.detail:
            raise
        raise InvalidInput(f"Invalid parameters: {exc.message}",
                           detail={"parameters": exc.detail or [exc.message]}) from None
    return parameters


def parse_crontab(expression: str) -> dict:
    """``"*/30 * * * *"`` as CrontabSchedule fields; ValueError saying what is wrong."""
    parts = expression.split()
    if len(parts) != len(CRONTAB_FIELDS):
        raise ValueError("A crontab has five fields: minute hour day-of-month month "
                         "day-of-week, e.g. \"*/30 * * * *\".")
    fields = dict(zip(CRONTAB_FIELDS, parts, strict=True))
    try:
        celery_crontab(**fields)
    except ValueError as exc:
        raise ValueError(f"Invalid crontab: {exc}") from None
    return fields


def check_timezone(name: str) -> str:
    if name not in available_timezones():
        raise ValueError(f"Unknown time zone {name!r} (use an IANA name such as "
                         "\"Europe/Berlin\").")
    return name


def crontab_text(task: PeriodicTask) -> str | None:
    if task.crontab is None:
        return None
    return " ".join(getattr(task.crontab, name) for name in CRONTAB_FIELDS)


def next_run_at(schedule: Schedule) -> datetime | None:
    """When beat will next run the schedule (None while disabled)."""
    task = schedule.periodic_task
    if not task.enabled:
        return None
    last = task.last_run_at or task.date_changed
    remaining = task.schedule.remaining_estimate(last)
    return timezone.now() + max(remaining, timedelta(0))


def save_schedule(schedule: Schedule | None, data: dict) -> Schedule:
    """Create (``schedule`` None) or change a schedule from validated ``data``: name, kind,
    parameters, enabled and either crontab (+ timezone) or interval_seconds."""
    with transaction.atomic():
        task = schedule.periodic_task if schedule else PeriodicTask(task=RUN_SCHEDULE_TASK)
        task.name = f"StashHog schedule: {data['name']}"
        task.enabled = data["enabled"]
        if data.get("crontab"):
            task.crontab, _ = CrontabSchedule.objects.get_or_create(
                **parse_crontab(data["crontab"]), timezone=ZoneInfo(data["timezone"]))
            task.interval = None
        else:
            task.interval, _ = IntervalSchedule.objects.get_or_create(
                every=data["interval_seconds"], period=IntervalSchedule.SECONDS)
            task.crontab = None
        task.save()
        schedule = schedule or Schedule(periodic_task=task)
        schedule.name, schedule.kind = data["name"], data["kind"]
        schedule.parameters = data["parameters"]
        schedule.save()
        if task.args != json.dumps([schedule.id]):
            task.args = json.dumps([schedule.id])
            task.save()
    return schedule


def delete_schedule(schedule: Schedule) -> None:
    """Delete the schedule with its periodic task (beat drops it at its next check)."""
    schedule.periodic_task.delete()


def _record(schedule: Schedule, outcome: str, **job) -> None:
    """The outcome of a run (and ``last_job=`` when the run started one)."""
    Schedule.objects.filter(pk=schedule.pk).update(
        last_run_at=timezone.now(), last_outcome=outcome[:255], **job
    )


def run_schedule(schedule: Schedule) -> Job:
    """Start the schedule's job now and record the outcome on the schedule.

    A clash with the active exclusive job records ``skipped: ...`` and raises
    JobAlreadyActive; any other refusal records ``not started: ...`` and is raised too.
    """
    try:
        request = _request(schedule.kind, schedule.parameters)
        job = KINDS[schedule.kind].start(request, {"schedule_id": schedule.pk})
    except JobAlreadyActive as exc:
        _record(schedule, f"skipped: a {exc.job.type} is already {exc.job.status}")
        raise
    except StashHogException as exc:
        _record(schedule, f"not started: {exc.message}")
        raise
    _record(schedule, "started", last_job=job)
    return job


def run_scheduled(schedule_id: int) -> None:
    """What beat runs: the schedule, whose refusals are recorded on it, not raised."""
    schedule = Schedule.objects.select_related("periodic_task").filter(pk=schedule_id).first()
    if schedule is None:
        logger.warning("schedule %s no longer exists; nothing to run", schedule_id)
        return
    try:
        job = run_schedule(schedule)
    except StashHogException as exc:
        logger.info("schedule %r did not start a job: %s", schedule.name, exc.message)
        return
    logger.info("schedule %r started %s job %s", schedule.name, job.type, job.id)
