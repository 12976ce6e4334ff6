"""The access policy (stashhog.api.permissions): staff for the API, both WebSockets and the
job monitor; superusers for settings and the connection tests; signed-in users for the
schema and its viewers; anyone for health."""

import asyncio
import uuid

import pytest
from channels.testing import WebsocketCommunicator
from django.db import connections

from stashhog.asgi import application

pytestmark = pytest.mark.django_db

PUBLIC = {"/api/health"}
SUPERUSER_ONLY = {"/api/settings", "/api/settings/test-stash", "/api/settings/test-openai"}
SCHEMA_PAGES = ["/api/schema", "/api/docs", "/api/redoc"]


def api_operations(schema, paths_wanted=None):
    """(method, concrete path) for every documented operation; path parameters get a value
    of their type (permissions are checked before any lookup)."""
    for path, methods in schema["paths"].items():
        if path in PUBLIC or (paths_wanted is not None and path not in paths_wanted):
            continue
        for method, operation in methods.items():
            concrete = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    value = (uuid.UUID(int=1) if parameter["schema"].get("format") == "uuid"
                             else 1)
                    concrete = concrete.replace(f"{{{parameter['name']}}}", str(value))
            yield method, concrete


def refused(client, operations) -> dict:
    """Each operation's status, for those that were not 403 in the envelope."""
    wrong = {}
    for method, path in operations:
        response = getattr(client, method)(path, {}, format="json")
        if response.status_code != 403 or response.json()["success"] is not False:
            wrong[f"{method.upper()} {path}"] = response.status_code
    return wrong


def test_a_user_who_is_not_staff_gets_403_from_every_api_operation(plain_client,
                                                                   openapi_schema):
    operations = list(api_operations(openapi_schema))
    assert len(operations) > 20
    assert refused(plain_client, operations) == {}


def test_staff_who_are_not_superusers_get_403_from_settings_and_connection_tests(
    api_client, openapi_schema
):
    operations = list(api_operations(openapi_schema, SUPERUSER_ONLY))
    assert {method for method, _ in operations} == {"get", "put", "post"}
    assert refused(api_client, operations) == {}


def test_staff_use_the_api_and_superusers_the_settings(api_client, superuser_client):
    assert api_client.get("/api/jobs").status_code == 200
    assert superuser_client.get("/api/settings").status_code == 200


@pytest.mark.parametrize("path", SCHEMA_PAGES)
def test_the_schema_and_its_viewers_require_login(anon_client, plain_client, path):
    assert anon_client.get(path).status_code == 401
    assert plain_client.get(path).status_code == 200


def test_a_user_who_is_not_staff_gets_403_from_the_monitor(client, plain_user, user):
    client.force_login(plain_user)
    assert client.get("/jobs/").status_code == 403
    client.force_login(user)
    assert client.get("/jobs/").status_code == 200


def test_settings_admin_is_for_superusers_even_with_model_permissions(client, user):
    from django.contrib.auth.models import Permission

    user.user_permissions.set(Permission.objects.filter(content_type__app_label="settings_app"))
    client.force_login(user)
    assert client.get("/admin/settings_app/setting/").status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/jobs/ws", f"/api/jobs/{uuid.UUID(int=1)}/ws"])
def test_a_user_who_is_not_staff_cannot_open_either_websocket(plain_user, user, path):
    from rest_framework.authtoken.models import Token

    def handshake(someone):
        key = Token.objects.create(user=someone).key

        async def connect():
            try:
                socket = WebsocketCommunicator(
                    application, path, headers=[(b"authorization", f"Token {key}".encode())]
                )
                connected, _ = await socket.connect(timeout=5)
                if connected:
                    await socket.disconnect()
                return connected
            finally:
                from asgiref.sync import sync_to_async
                await sync_to_async(connections.close_all)()

        return asyncio.run(connect())

    assert handshake(plain_user) is False
    assert handshake(user) is True
