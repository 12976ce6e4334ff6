"""The production server (stashhog/gunicorn_conf.py, as `make run` and the Docker image
start it): several processes behind one port serve HTTP and WebSockets, and a job update
crosses Redis once per process, not once per subscriber."""

import contextlib
import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import psutil
import pytest
import redis
from axes.models import AccessAttempt
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from jobs.runner import start_job
from tests.e2e_support import redis_url, running, start_web_server, wait_for_job
from tests.jobs import demo_jobs  # noqa: F401 - registers demo.count here too

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORKERS = 2
SUBSCRIBERS = 24


@pytest.fixture(scope="module")
def e2e_imports():
    return ["tests.jobs.demo_jobs"]


@pytest.fixture(scope="module")
def web_server(e2e_env):
    with running(start_web_server(e2e_env, workers=WORKERS)) as server:
        yield server


def messages_until_closed(socket) -> list[dict]:
    messages = []
    try:
        while True:
            messages.append(json.loads(socket.recv(timeout=15)))
    except ConnectionClosedOK:
        return messages


def test_processes_share_one_port_and_every_subscriber_gets_every_update(
        web_server, celery_worker, live_celery, api_token):
    master = psutil.Process(web_server.pid)
    assert len(master.children()) == WORKERS
    headers = {"Authorization": f"Token {api_token.key}"}
    job = start_job("demo.count", {"n": 8, "delay": 0.3})
    group_channel = f"asgi__group__job.{job.id}"
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(f"{web_server.ws_url}/api/jobs/{job.id}/ws",
                                               additional_headers=headers, open_timeout=10))
                   for _ in range(SUBSCRIBERS)]
        for socket in sockets:  # subscribed: the first message is the job's status
            assert json.loads(socket.recv(timeout=15))["type"] == "job_status"
        # Redis knows one subscriber per web process holding clients, not one per client.
        subscribers = redis.Redis.from_url(redis_url()).pubsub_numsub(group_channel)[0][1]
        assert 1 <= subscribers <= WORKERS
        streams = [messages_until_closed(socket) for socket in sockets]
    wait_for_job(job.id, {"completed"})
    for stream in streams:
        assert stream[-1]["job"]["status"] == "completed"
        assert stream[-1]["job"]["result"] == {"counted": 8}
    progress = [[m["job"]["processed_items"] for m in stream if m["type"] == "job_progress"]
                for stream in streams]
    assert all(seen and seen == sorted(seen) for seen in progress)


def test_a_burst_of_connections_is_spread_over_the_processes(web_server):
    """Each process adds a socket of its own to the port (SO_REUSEPORT), over which the
    kernel spreads new connections; from one shared socket, the process that woke first
    took nearly a whole burst of keep-alive connections."""
    burst = 40
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(socket.create_connection(
            ("127.0.0.1", web_server.port), timeout=10)) for _ in range(burst)]
        ours = {client.getsockname()[1] for client in clients}
        workers = psutil.Process(web_server.pid).children()
        deadline = time.monotonic() + 10
        while True:
            held = [sum(1 for connection in worker.net_connections("tcp")
                        if connection.raddr and connection.raddr.port in ours)
                    for worker in workers]
            if sum(held) == burst or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert sum(held) == burst
    # each process's own socket alone takes a third of them on average
    assert min(held) >= 5, held


def test_keep_alive_connections_even_out_over_the_processes(web_server):
    """The kernel spreads new connections at random (often 12/8 for 20); a process holding
    more than its share answers a request with Connection: close, and the client's next
    connection lands anywhere, until each process holds its share."""
    clients = [http.client.HTTPConnection("127.0.0.1", web_server.port, timeout=10)
               for _ in range(20)]
    opened = 0
    try:
        for _ in range(20):  # rounds of a request each, until one that keeps every connection
            for client in clients:
                opened += client.sock is None  # http.client connects again when told to close
                client.request("GET", "/api/jobs")  # 401: no token, but any answer will do
                client.getresponse().read()
            if all(client.sock for client in clients):
                break
        else:
            pytest.fail("the connections never settled")
        # Every client's connection each process holds (these, and any other still open).
        held = [sum(1 for connection in worker.net_connections("tcp")
                    if connection.laddr.port == web_server.port
                    and connection.status == psutil.CONN_ESTABLISHED)
                for worker in psutil.Process(web_server.pid).children()]
    finally:
        for client in clients:
            client.close()
    assert sum(held) >= 20
    assert max(held) - min(held) <= 1, held
    # Opened one at a time, each changing the share: a reconnection or two per client while
    # they come (24-43 connections in all, seen), not one per request.
    assert opened <= 3 * len(clients), opened


def test_login_failures_count_the_client_address_a_local_proxy_forwards(web_server):
    """Behind a reverse proxy on this machine (README "TLS"), failed logins count against
    the client's address from X-Forwarded-For, not the proxy's: the server believes the
    header from FORWARDED_ALLOW_IPS (loopback by default) and from nowhere else."""
    bad = {"Authorization": "Token not-a-real-token-0123456789"}
    for client in ("203.0.113.7", "198.51.100.9"):
        request = urllib.request.Request(f"{web_server.base_url}/api/jobs",
                                         headers={**bad, "X-Forwarded-For": client})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
    addresses = sorted(AccessAttempt.objects.values_list("ip_address", flat=True))
    assert addresses == ["198.51.100.9", "203.0.113.7"]
