"""Keep-alive connections even out over the web processes (stashhog/gunicorn_conf.py): a
process holding more than its share tells a client to reconnect, once per connection over
the share, through uvicorn's own protocol."""

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from stashhog import gunicorn_conf
from stashhog.gunicorn_conf import ConnectionShares, SharedHttpProtocol


class Transport(asyncio.Transport):
    """What the protocol writes to one client connection; closing it ends the connection,
    as an event loop's transport does."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port
        self.written = b""
        self.closed = False
        self.protocol: SharedHttpProtocol | None = None

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", self.port)}.get(
            name, default)

    def write(self, data):
        self.written += data

    def close(self):
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self):
        return self.closed

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


async def ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def shares(monkeypatch):
    """Two processes: this one (slot 0) and another holding one connection."""
    shares = ConnectionShares(slots=4)
    shares.slot = shares.assign()
    other = shares.assign()
    shares.held[other] = 1
    monkeypatch.setattr(gunicorn_conf, "connection_shares", shares)
    return shares


def serve(connections: int, shares: ConnectionShares) -> list[Transport]:
    """``connections`` clients connect to this process, then send one request each."""

    async def scenario():
        config = Config(app=ok, http=SharedHttpProtocol, lifespan="off")
        config.load()
        state = ServerState()
        transports = []
        for port in range(connections):
            transport = Transport(40000 + port)
            transport.protocol = SharedHttpProtocol(config=config, server_state=state,
                                                    app_state={})
            transport.protocol.connection_made(transport)
            transports.append(transport)
        assert shares.slot is None or shares.held[shares.slot] == connections
        for transport in transports:
            transport.protocol.data_received(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        while state.tasks or sum(shares.leaving):
            await asyncio.sleep(0.01)
        return transports

    return asyncio.run(scenario())


def told_to_close(transport: Transport) -> bool:
    return b"connection: close" in transport.written.lower()


def test_a_process_over_its_share_tells_one_client_per_connection_over_it(shares):
    transports = serve(5, shares)  # 5 here and 1 there: a share is 3

    assert all(transport.written.startswith(b"HTTP/1.1 200") for transport in transports)
    # The first two requests find the process over its share; the rest find it at its
    # share, the two told to close counting no longer as its own but still in the total.
    assert [told_to_close(transport) for transport in transports] == [
        True, True, False, False, False]
    assert [transport.closed for transport in transports] == [True, True, False, False, False]
    assert list(shares.held)[:3] == [3, 1, ConnectionShares.FREE]
    assert list(shares.leaving)[:3] == [0, 0, 0]


def test_a_process_at_its_share_keeps_every_connection(shares):
    transports = serve(1, shares)

    assert not told_to_close(transports[0])
    assert shares.held[0] == 1


def test_a_process_without_a_slot_is_never_over_its_share(shares):
    shares.slot = None
    transports = serve(5, shares)

    assert not any(told_to_close(transport) for transport in transports)


def test_slots_are_handed_out_and_given_back():
    shares = ConnectionShares(slots=2)
    first, second = shares.assign(), shares.assign()
    assert (first, second) == (0, 1)
    assert shares.assign() is None  # more processes than slots: the last is not balanced
    shares.held[first], shares.leaving[first] = 7, 2
    shares.release(first)
    assert shares.assign() == first
    assert (shares.held[first], shares.leaving[first]) == (0, 0)
