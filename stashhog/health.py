"""``GET /api/health``: is StashHog able to work? Database, Redis and a Celery worker.

No authentication, and nothing secret in the answer: only component names and states.
"""

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

CHECK_TIMEOUT = 2.0  # seconds per component


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None


def check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
        )
        client.ping()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None


def check_workers() -> str | None:
    from stashhog.celery import app

    try:
        replies = app.control.ping(timeout=CHECK_TIMEOUT)
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return None if replies else "no worker answered"


HealthResponse = inline_serializer(
    "HealthResponse",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "components": serializers.DictField(child=serializers.CharField()),
    },
)


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the database, Redis and the Celery workers",
        responses={200: HealthResponse, 503: HealthResponse},
        examples=[
            OpenApiExample("All up", value={"status": "ok", "components": {
                "database": "ok", "redis": "ok", "workers": "ok"}}, response_only=True,
                status_codes=["200"]),
            OpenApiExample("No worker", value={"status": "unavailable", "components": {
                "database": "ok", "redis": "ok", "workers": "no worker answered"}},
                response_only=True, status_codes=["503"]),
        ],
    )
    def get(self, request):
        problems = {"database": check_database(), "redis": check_redis()}
        # Workers are reached through Redis: without it, asking them would only wait.
        problems["workers"] = check_workers() if problems["redis"] is None else "unreachable"
        components = {name: problem or "ok" for name, problem in problems.items()}
        healthy = not any(problems.values())
        return Response(
            {"status": "ok" if healthy else "unavailable", "components": components},
            status=200 if healthy else 503,
        )
