"""The job WebSockets on the real ASGI application (stashhog.asgi.application), with the
in-memory channel layer: message sequence, handshake authentication and origin, closes."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from jobs import runner
from jobs.models import Job, JobStatus
from stashhog.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def communicator(path: str, token=None, headers=()) -> WebsocketCommunicator:
    headers = list(headers)
    if token is not None:
        headers.append((b"authorization", f"Token {token.key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def run(scenario):
    """Run an async scenario; DB work inside it goes through database_sync_to_async."""

    async def scenario_then_close_connections():
        try:
            return await asyncio.wait_for(scenario(), timeout=30)
        finally:  # the executor thread's connection would outlive the test database
            await sync_to_async(connections.close_all)()

    return asyncio.run(scenario_then_close_connections())


def test_job_socket_streams_status_progress_and_the_terminal_status(token):
    job = Job.objects.create(type="demo.count", parameters={"n": 3})

    async def scenario():
        socket = communicator(f"/api/jobs/{job.id}/ws", token)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        first = await socket.receive_json_from(timeout=TIMEOUT)
        assert first["type"] == "job_status"
        assert first["job"]["id"] == str(job.id)
        assert first["job"]["status"] == "pending"
        assert "parameters" in first["job"]
        assert "duration_seconds" in first["job"]
        await database_sync_to_async(runner.run_job)(str(job.id), "unit@test")
        messages = []
        while True:
            message = await socket.receive_output(timeout=TIMEOUT)
            if message["type"] == "websocket.close":
                return messages, message.get("code")
            messages.append(json.loads(message["text"]))

    messages, close_code = run(scenario)
    sequence = [(m["type"], m["job"]["status"], m["job"]["processed_items"]) for m in messages]
    assert sequence[0] == ("job_status", "running", 0)
    assert ("job_progress", "running", 1) in sequence  # the first update is never throttled
    assert sequence[-2] == ("job_progress", "running", 3)  # the final update always lands
    assert sequence[-1] == ("job_status", "completed", 3)
    assert messages[-1]["job"]["result"] == {"counted": 3}
    assert close_code == 1000


def test_a_client_connecting_after_the_end_gets_the_final_status_and_a_close(token):
    job = Job.objects.create(type="demo.count", status=JobStatus.FAILED, error="boom")

    async def scenario():
        socket = communicator(f"/api/jobs/{job.id}/ws/", token)
        assert (await socket.connect(timeout=TIMEOUT))[0]
        message = await socket.receive_json_from(timeout=TIMEOUT)
        close = await socket.receive_output(timeout=TIMEOUT)
        return message, close

    message, close = run(scenario)
    assert message["type"] == "job_status"
    assert message["job"]["status"] == "failed"
    assert message["job"]["error"] == "boom"
    assert close == {"type": "websocket.close", "code": 1000}


@pytest.mark.parametrize("job_id", [uuid.UUID(int=1), "not-a-uuid"])
def test_unknown_job_closes_with_4404(token, job_id):
    async def scenario():
        socket = communicator(f"/api/jobs/{job_id}/ws", token)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        return connected, await socket.receive_output(timeout=TIMEOUT)

    connected, close = run(scenario)
    assert connected
    assert close == {"type": "websocket.close", "code": 4404}


@pytest.mark.parametrize("path", ["/api/jobs/ws", f"/api/jobs/{uuid.UUID(int=1)}/ws"])
def test_unauthenticated_handshakes_are_refused(db, path):
    async def scenario():
        refused_anonymous = await communicator(path).connect(timeout=TIMEOUT)
        bad_token = [(b"authorization", b"Token not-a-real-token")]
        refused_bad_token = await communicator(path, headers=bad_token).connect(timeout=TIMEOUT)
        return refused_anonymous, refused_bad_token

    for connected, _ in run(scenario):
        assert connected is False


def test_bad_socket_tokens_count_as_failed_logins_and_lock_the_address_out(token, settings):
    from axes.models import AccessAttempt

    bad_token = [(b"authorization", b"Token not-a-real-token")]

    def from_loopback(socket: WebsocketCommunicator) -> WebsocketCommunicator:
        socket.scope["client"] = ("127.0.0.1", 50000)  # as the server gives it
        return socket

    async def scenario():
        refusals = [await from_loopback(communicator("/api/jobs/ws", headers=bad_token))
                    .connect(timeout=TIMEOUT) for _ in range(settings.AXES_FAILURE_LIMIT)]
        good = await from_loopback(communicator("/api/jobs/ws", token)).connect(timeout=TIMEOUT)
        return refusals, good

    refusals, (good_connected, _) = run(scenario)

    assert [connected for connected, _ in refusals] == [False] * settings.AXES_FAILURE_LIMIT
    attempt = AccessAttempt.objects.get()
    assert (attempt.ip_address, attempt.failures_since_start) == (
        "127.0.0.1", settings.AXES_FAILURE_LIMIT)
    assert good_connected is False  # locked out: even a good token, until the cool-off
    # The REST API shares the count: the same address is refused there too.
    assert Client(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/jobs").status_code == 429


def test_the_session_cookie_authenticates(user):
    job = Job.objects.create(type="demo.count", status=JobStatus.COMPLETED)
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        socket = communicator(f"/api/jobs/{job.id}/ws", headers=[(b"cookie", cookie)])
        assert (await socket.connect(timeout=TIMEOUT))[0]
        return await socket.receive_json_from(timeout=TIMEOUT)

    assert run(scenario)["job"]["status"] == "completed"


def origin_accepted(token, origin: bytes, host: bytes = b"127.0.0.1:8000",
                    extra_headers=()) -> bool:
    async def scenario():
        headers = [(b"host", host), (b"origin", origin), *extra_headers]
        socket = communicator("/api/jobs/ws", token, headers=headers)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        await socket.disconnect()
        return connected

    return run(scenario)


@pytest.mark.parametrize(("origin", "host", "allowed"), [
    (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
    (b"http://localhost", b"localhost", True),
    (b"http://localhost:80", b"localhost", True),  # the default port, spelled out
    (b"http://127.0.0.1:8001", b"127.0.0.1:8000", False),  # another port of this host
    (b"https://127.0.0.1:8000", b"127.0.0.1:8000", False),  # another scheme
    (b"http://evil.example", b"evil.example", False),  # a host outside ALLOWED_HOSTS
    (b"https://evil.example", b"127.0.0.1:8000", False),
    (b"null", b"127.0.0.1:8000", False),
])
def test_a_browser_origin_must_be_the_sockets_own_scheme_host_and_port(token, origin, host,
                                                                       allowed):
    assert origin_accepted(token, origin, host) is allowed


def test_behind_a_tls_proxy_the_origin_is_https(token, settings):
    settings.ALLOWED_HOSTS = ["stashhog.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]
    host = b"stashhog.example.org"
    assert origin_accepted(token, b"https://stashhog.example.org", host, proxied)
    assert not origin_accepted(token, b"http://stashhog.example.org", host, proxied)
    assert not origin_accepted(token, b"https://stashhog.example.org", host)


def test_csrf_trusted_origins_are_accepted_exactly(token, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://hog.example.org:8443"]
    assert origin_accepted(token, b"https://hog.example.org:8443")
    assert not origin_accepted(token, b"https://hog.example.org")


def test_monitor_socket_streams_every_job(token):
    first = Job.objects.create(type="demo.count", parameters={"n": 1})
    second = Job.objects.create(type="demo.count", parameters={"n": 1})

    async def scenario():
        socket = communicator("/api/jobs/ws", token)
        assert (await socket.connect(timeout=TIMEOUT))[0]
        for job in (first, second):
            await database_sync_to_async(runner.run_job)(str(job.id), "unit@test")
        received = []
        while not await socket.receive_nothing(timeout=0.2):
            received.append(await socket.receive_json_from(timeout=TIMEOUT))
        await socket.disconnect()
        return received

    received = run(scenario)
    finals = {(m["job"]["id"], m["job"]["status"]) for m in received if m["type"] == "job_status"}
    assert {(str(first.id), "completed"), (str(second.id), "completed")} <= finals
    assert {m["type"] for m in received} == {"job_status", "job_progress"}
