"""``/api/jobs``: list, inspect and cancel background jobs."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from jobs import runner
from jobs.filters import JobFilterSet
from jobs.models import Job
from jobs.schema import (
    JOB_DETAIL_EXAMPLE,
    JOB_EXAMPLE,
    JOB_FINISHED_EXAMPLE,
    JOB_ID,
    JOB_NOT_FOUND_RESPONSE,
    error_example,
    error_response,
)
from jobs.serializers import JobDetailSerializer, JobSerializer
from stashhog.api.pagination import LimitPagination


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                 viewsets.GenericViewSet):
    queryset = Job.objects.select_related("created_by").order_by("-created_at", "-id")
    lookup_field = "id"
    lookup_url_kwarg = "job_id"
    filterset_class = JobFilterSet
    pagination_class = LimitPagination  # a bounded list (``limit``), newest first

    def get_serializer_class(self):
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @extend_schema(
        summary="Recent jobs, newest first",
        responses={
            200: JobSerializer(many=True),
            400: error_response(
                "A query parameter is invalid (``detail`` says which).",
                error_example("Unknown status", 400, "Invalid input", {
                    "status": ["Select a valid choice. done is not one of the available "
                               "choices."]}),
            ),
        },
        examples=[OpenApiExample("Jobs", value=JOB_EXAMPLE, response_only=True)],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One job, with its parameters, result and duration",
        responses={200: JobDetailSerializer, 404: JOB_NOT_FOUND_RESPONSE},
        examples=[
            OpenApiExample("Running job", value=JOB_DETAIL_EXAMPLE, response_only=True),
            OpenApiExample("Completed job", value=JOB_FINISHED_EXAMPLE, response_only=True),
        ],
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Cancel a job",
        description="A pending job becomes ``cancelled`` at once. A running job becomes "
        "``cancelling`` and then ``cancelled`` when its body reaches a safe point; follow "
        "it with ``GET /api/jobs/{job_id}`` or the WebSocket. Answers the job.",
        responses={
            200: JobDetailSerializer,
            404: JOB_NOT_FOUND_RESPONSE,
            409: error_response(
                "The job has already finished; nothing changed.",
                error_example("Already finished", 409, "The job is already completed",
                              {"job_id": JOB_ID}, code="job_finished"),
            ),
        },
        examples=[OpenApiExample("Cancelling", response_only=True, value={
            **JOB_DETAIL_EXAMPLE, "status": "cancelling"})],
    )
    def destroy(self, request, *args, **kwargs):
        job = runner.cancel_job(kwargs[self.lookup_url_kwarg])
        return Response(JobDetailSerializer(job).data, status=status.HTTP_200_OK)
