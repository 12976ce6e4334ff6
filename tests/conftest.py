"""Shared fixtures. Unit tests use an in-memory channel layer and run job bodies directly;
the e2e tests (marked ``e2e``) run daphne, Celery workers and Redis for real."""

import functools
import os
import tempfile
import uuid
from pathlib import Path

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.http import HttpResponse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stashhog import embedded_redis
from stashhog.celery import app as celery_app

pytest_plugins = ["tests.fakes.openai", "tests.fakes.stash", "tests.e2e_support"]

_redis_process = None


def pytest_configure(config):
    """Without REDIS_URL the suite starts its own embedded Redis, as ``make run`` does."""
    global _redis_process
    if os.environ.get("REDIS_URL"):
        return
    socket_path = Path(tempfile.mkdtemp(prefix="stashhog-redis-")) / "redis.sock"
    _redis_process = embedded_redis.start(socket_path)
    settings.REDIS_URL = f"unix://{socket_path}"
    settings.CELERY_BROKER_URL = f"redis+socket://{socket_path}"
    celery_app.conf.broker_url = settings.CELERY_BROKER_URL
    os.environ["STASHHOG_TEST_REDIS_URL"] = settings.REDIS_URL


def pytest_unconfigure(config):
    if _redis_process is not None:
        embedded_redis.stop(_redis_process)


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    """Throttle counters start empty in every test (the suite's Redis is shared)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": str(uuid.uuid4())}}


@pytest.fixture(autouse=True)
def eager_celery():
    """Unit tests run dispatched jobs inline; e2e tests start real workers instead."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(scope="session")
def openapi_schema():
    """The whole OpenAPI document, generated once."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def user(db, django_user_model):
    """StashHog's operator: a staff user (what the API, WebSockets and monitor require)."""
    return django_user_model.objects.create_user(
        "tester", password="secret-password", is_staff=True
    )


@pytest.fixture
def plain_user(db, django_user_model):
    """An active user who is not staff: signed in, but refused by the API."""
    return django_user_model.objects.create_user("plain", password="secret-password")


@pytest.fixture
def superuser(db, django_user_model):
    """What settings and the connection tests require."""
    return django_user_model.objects.create_superuser("root", password="secret-password")


class WholeAnswerClient(APIClient):
    """DRF's test client, reading a streamed answer (stashhog/api/streaming.py) whole, so
    that tests read every answer alike; ``streamed_parts`` says how many parts it came in."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        if not response.streaming:
            return response
        parts = list(response.streaming_content)
        whole = HttpResponse(b"".join(parts), status=response.status_code)
        for header, value in response.items():
            whole[header] = value
        for name in ("client", "request", "wsgi_request", "resolver_match", "templates",
                     "context"):
            setattr(whole, name, getattr(response, name, None))
        whole.json = functools.partial(self._parse_json, whole)
        whole.streamed_parts = len(parts)
        return whole


def token_client(token: Token) -> APIClient:
    client = WholeAnswerClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def token(user):
    return Token.objects.create(user=user)


@pytest.fixture
def api_client(token):
    """The staff user's token client."""
    return token_client(token)


@pytest.fixture
def plain_client(plain_user):
    return token_client(Token.objects.create(user=plain_user))


@pytest.fixture
def superuser_client(superuser):
    return token_client(Token.objects.create(user=superuser))


@pytest.fixture
def anon_client():
    return APIClient()
