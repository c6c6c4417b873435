"""Server faults are 5xx with a generic message, ``/health`` tells an operator, ``serve`` refuses broken data."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.services.conftest import free_port
from tests.services.servers import ConfiguredServer, copy_store

GENERIC = ("internal server error", "connection error", "check logs", "see the server log", "unavailable")


def _assert_generic_5xx(response: httpx.Response, *secrets: str) -> None:
    assert 500 <= response.status_code < 600, (response.status_code, response.text[:300])
    text = response.text
    assert any(g in text for g in GENERIC), text[:300]
    for secret in secrets:
        assert secret not in text, text[:300]
    assert "malformed" not in text and "Traceback" not in text


def test_health_is_ok_on_a_readable_store(server):
    r = httpx.get(f"{server.url}/health", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["unreadable"] == []
    assert {"buildings", "dtm"} <= set(body["checked"])


def test_a_corrupt_store_is_a_5xx_and_unhealthy(service_store, tmp_path):
    data = copy_store(service_store, tmp_path / "model")
    gpkg = data / "stadsmodel.gpkg"
    with ConfiguredServer(data) as server:
        url = f"{server.url}/api/collections/buildings/items"
        assert httpx.get(url, params={"f": "json"}, timeout=30).status_code == 200
        size = gpkg.stat().st_size
        with open(gpkg, "r+b") as f:  # every page after the schema: garbage, as a failing disk leaves it
            f.seek(8192)
            f.write(os.urandom(size - 8192))
        r = httpx.get(url, params={"f": "json", "filter": "b3_n_punten > 3"}, timeout=30)
        _assert_generic_5xx(r, str(data))
        health = httpx.get(f"{server.url}/health", timeout=30)
        assert health.status_code == 503, health.text
        assert "buildings" in health.json()["unreadable"]
        assert str(data) not in health.text
        assert "malformed" in server.log_text()  # the details are in the log


def test_a_store_removed_while_serving_is_a_5xx_without_its_path(service_store, tmp_path):
    data = copy_store(service_store, tmp_path / "model")
    with ConfiguredServer(data) as server:
        (data / "stadsmodel.gpkg").unlink()
        (data / "dtm.tif").unlink()
        r = httpx.get(f"{server.url}/api/collections/addresses/items", params={"f": "json"}, timeout=30)
        _assert_generic_5xx(r, str(data))
        r = httpx.get(f"{server.url}/api/collections/dtm/coverage", params={"f": "json"}, timeout=30)
        _assert_generic_5xx(r, str(data))
        health = httpx.get(f"{server.url}/health", timeout=30)
        assert health.status_code == 503
        assert {"addresses", "buildings", "dtm"} <= set(health.json()["unreadable"])
        assert "dsm" not in health.json()["unreadable"]


def _serve(data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stadsmodel.cli", "serve", "--data", str(data), "--port",
                           str(free_port())], capture_output=True, text=True, timeout=120)


def test_serve_refuses_a_truncated_raster(service_store, tmp_path):
    data = copy_store(service_store, tmp_path / "model")
    dtm = data / "dtm.tif"
    dtm.write_bytes(dtm.read_bytes()[: dtm.stat().st_size // 2])
    done = _serve(data)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "dtm.tif" in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_a_damaged_store(service_store, tmp_path):
    data = copy_store(service_store, tmp_path / "model")
    gpkg = data / "stadsmodel.gpkg"
    with open(gpkg, "r+b") as f:
        f.seek(gpkg.stat().st_size // 2)
        f.write(b"\xff" * 8192)
    done = _serve(data)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "stadsmodel.gpkg" in done.stderr and "Traceback" not in done.stderr
