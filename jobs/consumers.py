"""WebSockets of the jobs app.

``/api/jobs/{job_id}/ws`` streams one job: its status on connect, one message per progress
update, the terminal status, then a normal close (1000). ``/api/jobs/ws`` streams every
job's updates for the monitor page. Messages are ``{"type": "job_status" | "job_progress",
"job": <JobDetailResponse>}``; authentication happened at the handshake (stashhog.api.ws_auth).
"""

import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from jobs.models import FINISHED_STATUSES, Job
from jobs.notify import ALL_JOBS_GROUP, job_group
from jobs.serializers import JobDetailSerializer

CLOSE_NORMAL = 1000
CLOSE_UNKNOWN_JOB = 4404


@database_sync_to_async
def read_job(job_id: uuid.UUID) -> dict | None:
    job = Job.objects.filter(id=job_id).first()
    return JobDetailSerializer(job).data if job else None


class JobUpdatesConsumer(AsyncJsonWebsocketConsumer):
    """Forwards ``job.update`` group messages (jobs.notify) to the client."""

    group: str
    closed = False

    async def disconnect(self, code):
        self.closed = True
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def subscribe(self, group: str) -> None:
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)

    async def close(self, code=None, reason=None):
        self.closed = True
        await super().close(code=code, reason=reason)

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a hop to a
        # worker thread per message and per socket; forwarding an update touches no
        # database, and with hundreds of sockets per process that hop would be most of
        # the cost of a fan-out.
        if message["type"] == "job.update":
            await self.job_update(message)
        else:
            await super().dispatch(message)

    async def job_update(self, message):
        if not self.closed:
            await self.send_job(message["event"], message["job"])

    async def send_job(self, event: str, job: dict) -> None:
        await self.send_json({"type": event, "job": job})


class AllJobsConsumer(JobUpdatesConsumer):
    async def connect(self):
        await self.accept()
        await self.subscribe(ALL_JOBS_GROUP)


class JobConsumer(JobUpdatesConsumer):
    async def connect(self):
        await self.accept()
        try:
            job_id = uuid.UUID(self.scope["url_route"]["kwargs"]["job_id"])
        except ValueError:
            await self.close(CLOSE_UNKNOWN_JOB)
            return
        # Subscribe before reading the row: an update committed after the read is then
        # certain to reach this consumer, and one committed before it is in the row.
        await self.subscribe(job_group(job_id))
        job = await read_job(job_id)
        if job is None:
            await self.close(CLOSE_UNKNOWN_JOB)
            return
        await self.send_job("job_status", job)

    async def send_job(self, event: str, job: dict) -> None:
        await super().send_job(event, job)
        if job["status"] in FINISHED_STATUSES:
            await self.close(CLOSE_NORMAL)
