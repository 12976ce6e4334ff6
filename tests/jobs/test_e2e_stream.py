"""End to end: a real Celery worker, daphne and Redis on loopback; a WebSocket client
follows the TEST-ONLY demo job (tests.jobs.demo_jobs) and cancels it over HTTP."""

import json
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from jobs.models import JobStatus
from jobs.runner import start_job
from tests.e2e_support import wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECEIVE_TIMEOUT = 15


@pytest.fixture(scope="module")
def e2e_imports():
    return ["tests.jobs.demo_jobs"]


@pytest.fixture
def stack(celery_worker, daphne_server, live_celery, api_token):
    return daphne_server, {"Authorization": f"Token {api_token.key}"}


def follow(server, headers, job_id):
    return connect(f"{server.ws_url}/api/jobs/{job_id}/ws", additional_headers=headers,
                   open_timeout=10)


def receive_until_closed(socket) -> list[dict]:
    """Every message until the server closes normally (a timeout raises)."""
    messages = []
    try:
        while True:
            messages.append(json.loads(socket.recv(timeout=RECEIVE_TIMEOUT)))
    except ConnectionClosedOK:
        return messages


def test_demo_job_streams_progress_to_a_websocket_client_and_completes(stack, celery_worker):
    server, headers = stack
    job = start_job("demo.count", {"n": 12, "delay": 0.2})
    with follow(server, headers, job.id) as socket:
        messages = receive_until_closed(socket)
        close_code = socket.close_code
    kinds = [message["type"] for message in messages]
    assert kinds[0] == "job_status"
    assert kinds.count("job_progress") >= 3
    progress = [m["job"]["processed_items"] for m in messages if m["type"] == "job_progress"]
    assert progress == sorted(progress)
    assert progress[-1] == 12
    assert messages[-1]["type"] == "job_status"
    assert messages[-1]["job"]["status"] == "completed"
    assert messages[-1]["job"]["result"] == {"counted": 12}
    assert close_code == 1000
    row = wait_for_job(job.id, {JobStatus.COMPLETED}, timeout=5)
    assert row.worker == celery_worker.node_name


def test_cancelling_midway_ends_cancelled_within_two_seconds(stack):
    server, headers = stack
    job = start_job("demo.count", {"n": 600, "delay": 0.05})
    with follow(server, headers, job.id) as socket:
        seen = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT))
        while seen["type"] != "job_progress":
            seen = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT))
        request = urllib.request.Request(f"{server.base_url}/api/jobs/{job.id}",
                                         method="DELETE", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        asked_at = time.monotonic()
        assert answer["status"] == "cancelling"
        row = wait_for_job(job.id, {JobStatus.CANCELLED, JobStatus.COMPLETED,
                                    JobStatus.FAILED}, timeout=2.0)
        stopped_after = time.monotonic() - asked_at
        messages = receive_until_closed(socket)
    assert row.status == JobStatus.CANCELLED, stopped_after
    assert 0 < row.result["counted"] < 600
    statuses = [m["job"]["status"] for m in messages if m["type"] == "job_status"]
    assert statuses[-1] == "cancelled"
    assert "cancelling" in [m["job"]["status"] for m in messages] + statuses


def test_real_server_refuses_anonymous_and_cross_site_handshakes(stack):
    server, headers = stack
    job = start_job("demo.count", {"n": 1})
    wait_for_job(job.id, {JobStatus.COMPLETED})
    url = f"{server.ws_url}/api/jobs/{job.id}/ws"
    with pytest.raises(InvalidStatus) as anonymous:
        connect(url, open_timeout=10)
    assert anonymous.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as cross_site:
        connect(url, additional_headers=headers, origin="https://evil.example", open_timeout=10)
    assert cross_site.value.response.status_code == 403
    with connect(url, additional_headers=headers, origin=server.base_url,
                 open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=RECEIVE_TIMEOUT))["job"]["status"] == "completed"
