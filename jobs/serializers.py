from typing import Any

from rest_framework import serializers

from jobs.models import Job


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


class JobDetailSerializer(JobSerializer):
    """JobDetailResponse: JobResponse plus parameters, result and duration."""

    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + ["parameters", "result", "duration_seconds"]
        read_only_fields = fields


class JobAcceptedSerializer(serializers.Serializer):
    """What a ``background=true`` request answers with (202)."""

    job_id = serializers.UUIDField()
    status = serializers.CharField()

