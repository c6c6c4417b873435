"""``serve --workers N``: connections spread over the workers, and the workers die with their supervisor."""

from __future__ import annotations

import os
import signal
import socket
import time

import httpx
import pytest

from tests.services.servers import ConfiguredServer

PID_HEADER = "x-stadsmodel-worker"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by its parent) is not serving
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _port_free(port: int) -> bool:
    """Nobody listens on ``port`` (SO_REUSEADDR, as every server sets: closed connections may linger)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def two_workers(service_store):
    server = ConfiguredServer(service_store, "--workers", "2")
    with server:
        yield server


def test_keep_alive_clients_spread_over_the_workers(two_workers):
    clients = [httpx.Client(base_url=two_workers.url, timeout=30) for _ in range(16)]
    try:
        seen = {}
        for _ in range(3):
            for i, client in enumerate(clients):
                pid = client.get("/health").headers[PID_HEADER]
                assert seen.setdefault(i, pid) == pid  # keep-alive: the same worker each time
        assert len(set(seen.values())) == 2, seen
    finally:
        for client in clients:
            client.close()


def test_workers_die_with_a_killed_supervisor(two_workers):
    pids = set()
    for _ in range(40):
        with httpx.Client(base_url=two_workers.url, timeout=30) as client:
            pids.add(int(client.get("/health").headers[PID_HEADER]))
    assert len(pids) == 2
    supervisor = two_workers.process
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "workers still running after their supervisor was killed"
    while not _port_free(two_workers.port) and time.monotonic() < deadline + 10:  # the kernel closes lazily
        time.sleep(0.1)
    assert _port_free(two_workers.port), "the port is still taken after the workers died"
    with ConfiguredServer(two_workers.data, "--workers", "2", port=two_workers.port) as again:  # a restart
        assert httpx.get(f"{again.url}/health", timeout=30).status_code == 200


def test_worker_connections_send_small_answers_at_once():
    """The workers' shared socket gives asyncio what it needs to switch Nagle's algorithm off on every accepted
    connection (else each small answer on a kept-alive connection waited ~40 ms for the client's delayed ACK)."""
    import asyncio

    from services.server import shared_listening_socket

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                accepted.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP,
                                                                                  socket.TCP_NODELAY))

        server = await loop.create_server(Probe, sock=shared_listening_socket("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0
