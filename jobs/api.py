"""What the views that start jobs share: the ``background`` query parameter and the 202
answer for a queued job."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.response import Response

from jobs.models import Job
from jobs.serializers import JobAcceptedSerializer
from stashhog.api.validation import NoUnknownKeysMixin, validated

BACKGROUND_PARAMETER = OpenApiParameter(
    "background", bool, default=True,
    description="Queue a job and answer 202, or run it now and answer with its outcome.",
)


class BackgroundQuerySerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Query parameters of an endpoint that starts a job (extend it for more)."""

    background = serializers.BooleanField(default=True)


def wants_background(request) -> bool:
    return validated(BackgroundQuerySerializer, request.query_params.dict())["background"]


def job_accepted(job: Job) -> Response:
    """202 with the queued job's id and status."""
    return Response(JobAcceptedSerializer({"job_id": job.id, "status": job.status}).data,
                    status=status.HTTP_202_ACCEPTED)
