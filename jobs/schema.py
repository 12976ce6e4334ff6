"""OpenAPI pieces of the jobs API, also for the apps that start jobs: a 409 response for
``JobAlreadyActive``, a 503 for ``JobQueueUnavailable`` and a 202 response for a queued
job, each with its example."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from jobs.serializers import JobAcceptedSerializer
from stashhog.api.schema import error_example, error_response

JOB_ID = "3f1c2a9e-7b4d-4c8e-9a51-2d6f0b8e4c17"

JOB_EXAMPLE = {
    "id": JOB_ID, "type": "sync", "status": "running", "progress": 42, "total_items": 1200,
    "processed_items": 504, "message": "Scenes 501-1000", "created_at": "2026-01-05T10:00:00Z",
    "started_at": "2026-01-05T10:00:01Z", "completed_at": None, "error": "",
    "created_by": "admin", "parent_id": None,
}
JOB_DETAIL_EXAMPLE = {
    **JOB_EXAMPLE, "parameters": {"full": False}, "result": None, "duration_seconds": 12.5,
}
JOB_FINISHED_EXAMPLE = {
    **JOB_DETAIL_EXAMPLE, "status": "completed", "progress": 100, "processed_items": 1200,
    "completed_at": "2026-01-05T10:00:31Z", "result": {"created": 12, "updated": 1188},
    "duration_seconds": 30.0,
}


JOB_NOT_FOUND_RESPONSE = error_response(
    "No job has this id (or the id is malformed).",
    error_example("Unknown job", 404, "Job not found"),
)

JOB_ALREADY_ACTIVE_RESPONSE = error_response(
    "A job of this kind is already active (at most one sync at a time; one apply per "
    "plan). Nothing was started: ``detail.job_id`` is the id of the active job, to follow "
    "it instead with ``GET /api/jobs/{job_id}`` or its WebSocket.",
    error_example("Sync already running", 409, "A sync job is already running",
                  {"job_id": JOB_ID}, code="job_active"),
)

JOB_QUEUE_UNAVAILABLE_RESPONSE = error_response(
    "The job queue (Redis) refused the job: it was recorded as ``failed`` (``detail.job_id``) "
    "and will not run. Retry after the ``Retry-After`` header's seconds.",
    error_example("Queue down", 503, "Could not queue the job: the job queue is unavailable",
                  {"job_id": JOB_ID}, code="job_queue_unavailable"),
)

JOB_ACCEPTED_RESPONSE = OpenApiResponse(
    JobAcceptedSerializer,
    description="The job is queued; follow it with ``GET /api/jobs/{job_id}`` or the "
    "WebSocket ``/api/jobs/{job_id}/ws``.",
    examples=[OpenApiExample("Queued", response_only=True, status_codes=["202"],
                             value={"job_id": JOB_ID, "status": "pending"})],
)
