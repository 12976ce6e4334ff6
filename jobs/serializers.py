from typing import Any

from django.utils import timezone
from rest_framework import serializers

from jobs.models import Job
from stashhog.api.representation import iso_datetime


class JobSerializer(serializers.ModelSerializer):
    """JobResponse; ``created_by`` is the username of who started it (null: the system)."""

    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True)

    parent_id = serializers.UUIDField(read_only=True, allow_null=True,
                                      help_text="The job this one is a step of, if any.")

    class Meta:
        model = Job
        fields = ["id", "type", "status", "progress", "total_items", "processed_items",
                  "message", "created_at", "started_at", "completed_at", "error", "created_by",
                  "parent_id"]
        read_only_fields = fields

    def to_representation(self, job: Job) -> dict:
        """The declared fields, built directly: DRF's field-by-field walk over a list of 50
        jobs cost more CPU than the rest of the request (a test holds the two equal)."""
        zone = timezone.get_current_timezone()
        return {
            "id": str(job.id),
            "type": str(job.type),
            "status": str(job.status),
            "progress": job.progress,
            "total_items": job.total_items,
            "processed_items": job.processed_items,
            "message": str(job.message),
            "created_at": iso_datetime(job.created_at, zone),
            "started_at": iso_datetime(job.started_at, zone),
            "completed_at": iso_datetime(job.completed_at, zone),
            "error": str(job.error),
            "created_by": job.created_by.username if job.created_by else None,
            "parent_id": str(job.parent_id) if job.parent_id else None,
        }


class JobDetailSerializer(JobSerializer):
    """JobDetailResponse: JobResponse plus parameters, result and duration."""

    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + ["parameters", "result", "duration_seconds"]
        read_only_fields = fields

    def to_representation(self, job: Job) -> dict:
        return {**super().to_representation(job), "parameters": job.parameters,
                "result": job.result, "duration_seconds": job.duration_seconds}


class JobAcceptedSerializer(serializers.Serializer):
    """What a ``background=true`` request answers with (202)."""

    job_id = serializers.UUIDField()
    status = serializers.CharField()

