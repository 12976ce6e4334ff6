"""``GET /api/health``: is StashHog able to work? Database, Redis, a Celery worker, and
whether queued jobs are being picked up.

Fast enough to poll (a few milliseconds when all is well; ~30 ms when no worker answers):
the worker ping stops at the first reply and waits at most ``WORKER_PING_TIMEOUT``, and a
reply is remembered in Redis for ``WORKER_SEEN_SECONDS``, so every web process skips the
ping while any of them saw a worker recently. No authentication, and nothing secret in
the answer: only component names and states.
"""

import json
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import Job, JobStatus
from jobs.recovery import RESEND_AFTER
from jobs.runner import JOB_TYPES

REDIS_TIMEOUT = 0.25  # seconds; only reached when Redis hangs
WORKER_PING_TIMEOUT = 0.03  # an idle worker answers in 2-10 ms
WORKER_SEEN_KEY = "stashhog:health:worker-seen"
WORKER_SEEN_SECONDS = 15
QUEUES_SEEN_KEY = "stashhog:health:consumed-queues"
QUEUES_INSPECT_TIMEOUT = 0.5  # asked only while jobs wait; replies shared like the ping's


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    """One connection pool per process (and URL), reused by every health request."""
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT,
                                socket_connect_timeout=REDIS_TIMEOUT)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None


def check_redis(client: redis.Redis) -> str | None:
    try:
        client.ping()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None


def check_workers(client: redis.Redis) -> str | None:
    from stashhog.celery import app

    try:
        if client.exists(WORKER_SEEN_KEY):
            return None
        if not app.control.ping(timeout=WORKER_PING_TIMEOUT, limit=1):
            return "no worker answered"
        client.set(WORKER_SEEN_KEY, 1, ex=WORKER_SEEN_SECONDS)
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None


def stuck_pending_jobs() -> str | None:
    """How many jobs no worker has picked up, if any."""
    since = timezone.now() - RESEND_AFTER
    stuck = Job.objects.filter(status=JobStatus.PENDING, created_at__lt=since).count()
    minutes = int(RESEND_AFTER.total_seconds() // 60)
    return f"{stuck} pending for over {minutes} minutes" if stuck else None


def consumed_queues(client: redis.Redis) -> set[str]:
    """The queues some running worker consumes (remembered in Redis for a while)."""
    from stashhog.celery import app

    if (cached := client.get(QUEUES_SEEN_KEY)) is not None:
        return set(json.loads(cached))
    replies = app.control.inspect(timeout=QUEUES_INSPECT_TIMEOUT).active_queues() or {}
    queues = {queue["name"] for consumed in replies.values() for queue in consumed}
    client.set(QUEUES_SEEN_KEY, json.dumps(sorted(queues)), ex=WORKER_SEEN_SECONDS)
    return queues


def unserved_queues(client: redis.Redis) -> str | None:
    """The queues that have jobs waiting and no worker consuming them, if any."""
    waiting: dict[str, int] = {}
    pending = Job.objects.filter(status=JobStatus.PENDING).values("type").annotate(n=Count("id"))
    for row in pending:
        spec = JOB_TYPES.get(row["type"])
        if spec is not None:
            waiting[spec.queue] = waiting.get(spec.queue, 0) + row["n"]
    if not waiting:
        return None
    try:
        consumed = consumed_queues(client)
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
    unserved = sorted(queue for queue in waiting if queue not in consumed)
    return "; ".join(
        f"no worker consumes the '{queue}' queue ({waiting[queue]} job(s) waiting)"
        for queue in unserved) or None


HealthResponse = inline_serializer(
    "HealthResponse",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "components": serializers.DictField(child=serializers.CharField()),
    },
)


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the database, Redis, the Celery workers and the job queue",
        description="503 `unavailable` names the part that is down. 200 `degraded`: "
        "StashHog serves, but queued jobs wait for longer than they should (`jobs`), or "
        "wait on a queue no running worker consumes (`queues`).",
        responses={200: HealthResponse, 503: HealthResponse},
        examples=[
            OpenApiExample("All up", value={"status": "ok", "components": {
                "database": "ok", "redis": "ok", "workers": "ok", "jobs": "ok",
                "queues": "ok"}}, response_only=True, status_codes=["200"]),
            OpenApiExample("Jobs stuck", value={"status": "degraded", "components": {
                "database": "ok", "redis": "ok", "workers": "ok",
                "jobs": "2 pending for over 2 minutes",
                "queues": "no worker consumes the 'ai' queue (2 job(s) waiting)"}},
                response_only=True, status_codes=["200"]),
            OpenApiExample("No worker", value={"status": "unavailable", "components": {
                "database": "ok", "redis": "ok", "workers": "no worker answered",
                "jobs": "ok", "queues": "ok"}}, response_only=True, status_codes=["503"]),
        ],
    )
    def get(self, request):
        client = redis_client(settings.REDIS_URL)
        problems = {"database": check_database(), "redis": check_redis(client)}
        # Workers are reached through Redis: without it, asking them would only wait.
        problems["workers"] = check_workers(client) if problems["redis"] is None else "unreachable"
        jobs = stuck_pending_jobs() if problems["database"] is None else "unknown"
        queues = (unserved_queues(client) if problems["database"] is None
                  and problems["redis"] is None else "unknown")
        components = {name: problem or "ok" for name, problem in problems.items()}
        components["jobs"] = jobs or "ok"
        components["queues"] = queues or "ok"
        if any(problems.values()):
            status, code = "unavailable", 503
        else:
            status, code = ("degraded" if jobs or queues else "ok"), 200
        return Response({"status": status, "components": components}, status=code)
