"""Schedules: what to run and what came of the last run. When and whether it runs is the
django-celery-beat ``PeriodicTask`` of the schedule (beat reads those rows and notices
every change without a restart)."""

from django.db import models
from django_celery_beat.models import PeriodicTask

from jobs.models import Job


class ScheduleKind(models.TextChoices):
    SYNC = "sync"
    ANALYSIS = "analysis"
    APPLY = "apply"
    WORKFLOW = "workflow"


class Schedule(models.Model):
    name = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=20, choices=ScheduleKind.choices)
    # Validated when saved by the serializer of the on-demand request of ``kind``.
    parameters = models.JSONField(default=dict, blank=True)
    periodic_task = models.OneToOneField(PeriodicTask, on_delete=models.CASCADE,
                                         related_name="stashhog_schedule", editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", editable=False)
    last_outcome = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class HookedScene(models.Model):
    """A scene Stash reported through a hook, waiting for the hook job to resync it. Rows
    pile up while a job is pending, which is how a burst of hooks becomes one job."""

    scene_id = models.CharField(primary_key=True, max_length=32)
    received_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Scene {self.scene_id} (reported {self.received_at:%H:%M:%S})"
