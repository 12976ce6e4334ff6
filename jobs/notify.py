"""Pushes job updates to WebSocket clients through the channel layer.

Groups: ``job.<id>`` for one job's subscribers and ``jobs`` for the monitor page. The
payload is the same JobDetailResponse the REST API returns, so clients can treat the REST
view as the truth after a reconnect.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("stashhog.jobs")

ALL_JOBS_GROUP = "jobs"


def job_group(job_id) -> str:
    return f"job.{job_id}"


def publish_job(job, event: str) -> None:
    """Send ``{"type": event, "job": <JobDetailResponse>}`` to the job's subscribers.

    A broken channel layer must never fail the job itself, so errors are only logged.
    """
    from jobs.serializers import JobDetailSerializer

    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "job.update", "event": event, "job": JobDetailSerializer(job).data}
    try:
        async_to_sync(_send_both)(layer, job.id, message)
    except Exception as exc:
        logger.warning("could not publish update of job %s: %s", job.id, type(exc).__name__)


async def _send_both(layer, job_id, message):
    await layer.group_send(job_group(job_id), message)
    await layer.group_send(ALL_JOBS_GROUP, message)
