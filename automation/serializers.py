"""Request and response shapes of the schedules API; values are checked by the schedules
service (``parse_crontab``, ``check_timezone``, ``validate_parameters``)."""

from rest_framework import serializers

from automation.models import Schedule, ScheduleKind
from automation.schedules import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    check_timezone,
    crontab_text,
    next_run_at,
    parse_crontab,
    validate_parameters,
)
from jobs.models import JobStatus
from stashhog.api.validation import JSONBooleanField, JSONIntegerField, NoUnknownKeysMixin

DEFAULT_TIMEZONE = "UTC"


class LastJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)


def _checked(check, value):
    try:
        return check(value)
    except ValueError as exc:
        raise serializers.ValidationError(str(exc)) from None


def schedule_values(schedule: Schedule) -> dict:
    """The writable fields of a stored schedule, as a request would give them."""
    task = schedule.periodic_task
    return {
        "name": schedule.name,
        "kind": schedule.kind,
        "parameters": schedule.parameters,
        "crontab": crontab_text(task),
        "timezone": str(task.crontab.timezone) if task.crontab else DEFAULT_TIMEZONE,
        "interval_seconds": task.interval.every if task.interval else None,
        "enabled": task.enabled,
    }


class ScheduleSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """ScheduleResponse, and the body of POST (all writable fields) and PATCH (any)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=150)
    kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    parameters = serializers.JSONField(
        required=False, help_text="What the job is asked to do: the body of the on-demand "
        "request of this kind (sync: {incremental}; analysis: the POST /api/analysis/generate "
        "body; apply: {plan_id, scene_ids}; workflow: {options}), validated the same way.")
    crontab = serializers.CharField(
        required=False, allow_null=True,
        help_text='Five fields: minute hour day-of-month month day-of-week, e.g. "*/30 * * * '
        '*". Give this or interval_seconds.')
    timezone = serializers.CharField(
        required=False, help_text="IANA time zone of the crontab (default UTC).")
    interval_seconds = JSONIntegerField(
        required=False, allow_null=True, min_value=MIN_INTERVAL_SECONDS,
        max_value=MAX_INTERVAL_SECONDS,
        help_text=f"Run every N seconds ({MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS}). "
        "Give this or crontab.")
    enabled = JSONBooleanField(required=False, help_text="Default true.")
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)
    next_run_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null while disabled.")
    last_job = LastJobSerializer(read_only=True, allow_null=True,
                                 help_text="The job the last run started.")
    last_outcome = serializers.CharField(
        read_only=True, help_text='E.g. "started" or "skipped: a sync is already running".')

    def validate_crontab(self, value):
        if value is None:
            return None
        _checked(parse_crontab, value)
        return " ".join(value.split())

    def validate_timezone(self, value):
        return _checked(check_timezone, value)

    def validate_name(self, value):
        others = Schedule.objects.exclude(pk=getattr(self.instance, "pk", None))
        if others.filter(name=value).exists():
            raise serializers.ValidationError("A schedule with this name exists.")
        return value

    def validate(self, attrs):
        """The whole schedule after this change: one timing, parameters valid for its kind."""
        values = schedule_values(self.instance) if self.instance else {
            "parameters": {}, "crontab": None, "timezone": DEFAULT_TIMEZONE,
            "interval_seconds": None, "enabled": True}
        # Giving one timing replaces the other.
        if attrs.get("crontab") and "interval_seconds" not in attrs:
            values["interval_seconds"] = None
        if attrs.get("interval_seconds") and "crontab" not in attrs:
            values["crontab"] = None
        values.update(attrs)
        if values["crontab"] and values["interval_seconds"]:
            raise serializers.ValidationError(
                {"crontab": ["Give crontab or interval_seconds, not both."]})
        if not (values["crontab"] or values["interval_seconds"]):
            raise serializers.ValidationError(
                {"crontab": ["Give crontab or interval_seconds."]})
        if self.instance is None or {"kind", "parameters"} & set(attrs):
            values["parameters"] = validate_parameters(values["kind"], values["parameters"])
        return values

    def to_representation(self, schedule: Schedule) -> dict:
        job = schedule.last_job
        return {
            "id": schedule.pk,
            **schedule_values(schedule),
            "last_run_at": self.fields["last_run_at"].to_representation(schedule.last_run_at)
            if schedule.last_run_at else None,
            "next_run_at": self.fields["next_run_at"].to_representation(when)
            if (when := next_run_at(schedule)) else None,
            "last_job": {"id": str(job.id), "status": job.status} if job else None,
            "last_outcome": schedule.last_outcome,
        }
