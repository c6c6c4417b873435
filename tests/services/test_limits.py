"""Each server limit is enforced, and configurable (services.limits; README "Server limits")."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.services.servers import ConfiguredServer

CHECK = "/api/processes/location-check/execution"


@pytest.fixture(scope="module")
def tight_server(service_store):
    """Low limits, so that tests reach them quickly; set both ways, options and environment."""
    with ConfiguredServer(service_store, "--max-body", "4096", "--max-url", "2048", "--header-timeout", "1",
                          "--keep-alive", "1", env={"STADSMODEL_MAX_CONNECTIONS": "12"}) as server:
        yield server


def _connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes ``sock`` within ``seconds`` (whatever it sends before)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.close()


def test_default_body_limit_is_413(gpkg_server):
    r = httpx.post(f"{gpkg_server.url}{CHECK}", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                   headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413, r.text[:300]


def test_configured_body_limit_is_413_declared_or_chunked(tight_server):
    body = b'{"inputs": {"x": "' + b"a" * 5000 + b'"}}'
    r = httpx.post(f"{tight_server.url}{CHECK}", content=body, headers={"Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code == 413 and "4096" in r.json()["description"]

    def chunks():  # no Content-Length: the limit must hold on what arrives
        for _ in range(10):
            yield b"a" * 1000

    r = httpx.post(f"{tight_server.url}{CHECK}", content=chunks(), headers={"Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code == 413
    small = httpx.post(f"{tight_server.url}{CHECK}", json={"inputs": {}}, timeout=30)
    assert small.status_code == 400  # under the limit: read, and refused for its content


def _raw_status(server, target: str) -> bytes:
    """The status line the server answers ``GET target`` with (httpx refuses URLs this long)."""
    with _connect(server) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return sock.recv(65536).split(b"\r\n", 1)[0]


def test_long_url_is_414(gpkg_server, tight_server):
    assert _raw_status(gpkg_server, "/api/collections/buildings/items?filter=" + "a" * 120_000) == \
        b"HTTP/1.1 414 Request-URI Too Long"
    assert _raw_status(tight_server, "/api/collections?q=" + "a" * 3000).startswith(b"HTTP/1.1 414")
    assert httpx.get(f"{tight_server.url}/api/collections", params={"f": "json"}, timeout=30).status_code == 200


def test_silent_and_half_sent_connections_are_closed(tight_server):
    silent = _connect(tight_server)
    half = _connect(tight_server)
    half.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n")
    assert _closed_within(half, 5)
    assert _closed_within(silent, 5)


def test_idle_keep_alive_connections_are_closed(tight_server):
    sock = _connect(tight_server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(10)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert _closed_within(sock, 5)


def test_connections_beyond_the_cap_are_refused_at_once(service_store):
    with ConfiguredServer(service_store, "--max-connections", "5", "--header-timeout", "30") as server:
        held = [_connect(server) for _ in range(5)]
        time.sleep(0.5)
        extra = _connect(server)
        extra.settimeout(5)
        assert extra.recv(65536).startswith(b"HTTP/1.1 503")
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 503
        for sock in held:
            sock.close()
        time.sleep(0.5)
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_slow_requests_get_a_503(service_store):
    with ConfiguredServer(service_store, "--request-timeout", "0.001") as server:
        r = httpx.get(f"{server.url}/api/collections/buildings/items", params={"f": "json", "limit": 500},
                      timeout=30)
        assert r.status_code == 503 and "longer than" in r.json()["description"]


def test_idle_sockets_at_a_low_descriptor_limit_do_not_block_requests_or_flood_the_log(service_store):
    with ConfiguredServer(service_store, "--header-timeout", "2", nofile=160) as server:
        before = len(server.log_text())
        idle = []
        for _ in range(400):
            try:
                idle.append(_connect(server))
            except OSError:
                break
        deadline = time.monotonic() + 15
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{server.url}/health", timeout=5).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)
        for sock in idle:
            sock.close()
        assert status == 200
        assert len(server.log_text()) - before < 100_000


def test_oversized_request_head_is_refused(gpkg_server):
    # Sent at once, the server may see the head whole (RequestGuard answers) or still arriving (the
    # protocol answers): TCP decides. Trickled in and never finished, it is always the protocol's case.
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * (300 * 1024)
    with _connect(gpkg_server) as sock:
        sock.sendall(head + b"\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    with _connect(gpkg_server) as sock:
        answer = b""
        for start in range(0, len(head), 16 * 1024):
            try:
                sock.sendall(head[start:start + 16 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.01)
        sock.settimeout(10)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert b"262144" in answer
    assert httpx.get(f"{gpkg_server.url}/health", timeout=30).status_code == 200


def test_a_body_that_stalls_gets_a_408(tight_server):
    with _connect(tight_server) as sock:
        sock.sendall(f"POST {CHECK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n{\"inputs\":".encode())
        sock.settimeout(10)
        started = time.monotonic()
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 0.5 < time.monotonic() - started < 8, "answered after the configured 1 s, not at once nor never"


def test_a_slow_reader_gets_a_whole_large_file(tight_server):
    """The body time-out guards what the client sends, never how long a response takes to stream: a 4 MB file
    read slowly (well past the 1 s --header-timeout) arrives whole."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", tight_server.port))
    with sock:
        sock.sendall(b"GET /cesium/Cesium.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, started = b"", time.monotonic()
        while chunk := sock.recv(64 * 1024):
            data += chunk
            time.sleep(0.02)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    assert head.startswith(b"HTTP/1.1 200") and length > 1_000_000
    assert time.monotonic() - started > 1.5, "the read took longer than the time-out, or the test proves nothing"
    assert len(body) == length, f"{len(body)} of {length} bytes arrived"
