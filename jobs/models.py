"""The Job row: the API handle of every piece of background work.

States: ``pending`` -> ``running`` -> ``completed`` | ``failed`` | ``cancelled``, with
``cancelling`` between ``running`` and ``cancelled`` while a cancel request waits for the
job body to reach a safe point. A pending job that is cancelled goes straight to
``cancelled``. Only ``jobs.runner`` changes a job's status.
"""

import uuid

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELLING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=50, db_index=True)
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)  # 0..100
    total_items = models.PositiveIntegerField(null=True, blank=True)
    processed_items = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    # The Celery node name of the worker running the job, and the process that claimed it
    # (``jobs.processes``): a node name may be shared, a process is not.
    worker = models.CharField(max_length=255, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    worker_instance = models.CharField(max_length=100, blank=True)
    # When the job's message was last sent to the queue, and how often: a pending job whose
    # message was lost is sent again, and failed after a few sends (``jobs.recovery``).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_count = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # Jobs that must not overlap share a key (e.g. "sync", "apply:plan:7"). It is set while
    # the job is active and cleared when it finishes; the unique constraint makes the rule
    # hold across every web process and worker.
    exclusive_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # A step of a bigger job (the workflow's sync, analysis and apply): cancelling the
    # parent cancels its active steps.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="steps")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["type", "status"])]

    def __str__(self):
        return f"{self.type} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.completed_at
        if end is None:
            from django.utils import timezone

            end = timezone.now()
        return round((end - self.started_at).total_seconds(), 3)


class JobLock(models.Model):
    """A named lock held by an active job (``Progress.holding``), e.g. ``scene:42`` while an
    apply writes that scene. The primary key makes the rule hold across every worker and
    machine; the job's locks go when it finishes, however it finishes."""

    key = models.CharField(max_length=200, primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="locks")
    acquired_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.key} ({self.job_id})"
