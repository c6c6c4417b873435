"""Load benchmark of the OGC API (not a test): p50/p99 latency and requests/s at 1, 8 and 32 clients.

Usage: .venv/bin/python bench/api_load.py [DATA_DIR] [--seconds 5]

DATA_DIR holds stadsmodel.gpkg (default: a small store from ../shared/data, as the tests build it; for the
issue's figures use the synthetic 100k district: stadsmodel synth + build). The same file is served twice,
each time by its own server process (one uvicorn worker; the load comes from this process), and the figures
are printed side by side:

* ``stadsmodel``: our provider (services.providers.geopackage), plain sqlite3, CQL2 translated to SQL;
* ``stock``: pygeoapi's SQLiteGPKG provider. It needs SpatiaLite, which the venv's sqlite3 cannot load
  (built without extension loading), so its process replaces ``sqlite3`` by pysqlite3 (PyPI
  pysqlite3-binary, in the test extra) and loads Debian's mod_spatialite (apt libsqlite3-mod-spatialite).
  pygeoapi imports pyproj in that process as well; PROJ twice in one process was seen to abort, in which
  case the stock column says so. The stock provider ignores ``filter``: its CQL2 row answers an
  unfiltered query, as the numberMatched line shows.

Both servers serve the store only (no rasters): rasterio's bundled GDAL/PROJ/SQLite next to SpatiaLite's
system ones crashes the stock process (segfault in rasterio.open), and the rasters play no part here. The
stock provider gets a copy of the file, because it writes into it: SpatiaLite's AutoGPKGStart() creates
``vgpkg_<table>`` virtual tables in the GeoPackage on every request, which also races with concurrent
requests ("no such table: vgpkg_buildings"): those count as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = (1, 8, 32)
PROVIDERS = ("stadsmodel", "stock")
CQL2 = "b3_h_dak_70p > {h} AND oorspronkelijkbouwjaar < 1960"


def workloads(base: str, ids: list[str], hits: int) -> dict[str, callable]:
    deep = max(0, hits - 20)
    items = f"{base}/collections/buildings/items"
    return {
        "items (limit 10)": lambda i: f"{items}?limit=10&offset={(i * 10) % max(hits - 10, 1)}",
        "items deep page": lambda i: f"{items}?limit=10&offset={deep}",
        "single item": lambda i: f"{items}/{ids[i % len(ids)]}",
        "CQL2 query": lambda i: f"{items}?limit=10&filter={CQL2.format(h=5 + i % 10)}",
    }


async def _run(url_for, clients: int, seconds: float) -> tuple[list[float], int, float]:
    """(latencies, errors, wall seconds) of ``clients`` workers requesting back to back for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop = start + seconds
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as client:
        async def worker(w: int) -> None:
            nonlocal errors
            i = w
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    r = await client.get(url_for(i))
                    errors += r.status_code != 200
                except httpx.HTTPError:  # the server dropped the connection
                    errors += 1
                latencies.append(time.perf_counter() - t)
                i += clients
        await asyncio.gather(*(worker(w) for w in range(clients)))
    return latencies, errors, time.perf_counter() - start


def bench(label: str, base: str, seconds: float) -> dict[tuple[str, int], str]:
    first = httpx.get(f"{base}/collections/buildings/items", params={"limit": 200, "skipGeometry": "true"},
                      timeout=600).json()
    ids = [f["id"] for f in first["features"]]
    matched = httpx.get(f"{base}/collections/buildings/items",
                        params={"limit": 1, "filter": CQL2.format(h=5)}, timeout=600).json()["numberMatched"]
    print(f"{label}: {first['numberMatched']} buildings; CQL2 query `{CQL2.format(h=5)}` numberMatched {matched}",
          flush=True)
    cells = {}
    for name, url_for in workloads(base, ids, first["numberMatched"]).items():
        httpx.get(url_for(0), timeout=600)  # warm caches before timing
        for n in CLIENTS:
            lat, errors, wall = asyncio.run(_run(url_for, n, seconds))
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            cells[name, n] = (f"{statistics.median(lat) * 1000:8.1f} {p99 * 1000:8.1f} {len(lat) / wall:7.1f}"
                              + (f" ({errors} errors)" if errors else ""))
            print(f"  {label:10s} {name:18s} {n:3d} clients  {cells[name, n]}", flush=True)
    return cells


class ServerProcess:
    """``api_load.py --serve PROVIDER DATA PORT`` in a child process, until the context ends."""

    def __init__(self, provider: str, data: Path):
        from tests.services.conftest import free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", provider, str(data), str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

    def start(self) -> str | None:
        """None when serving, else why not (the child's last words)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                lines = self.log.read().decode(errors="replace").strip().splitlines()
                return f"exit status {self.proc.returncode}: " + (" | ".join(lines[-3:]) or "no output")
            try:
                if httpx.get(self.base, timeout=5).status_code == 200:
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return "did not answer within 300 s"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve(provider: str, data: Path, port: int) -> None:
    """The child process: one provider's server (for the stock one, after making SpatiaLite loadable)."""
    if provider == "stock":
        try:
            import pysqlite3
        except ImportError:
            sys.exit("pysqlite3 is not installed (PyPI pysqlite3-binary, in the test extra); this venv's sqlite3 "
                     "cannot load extensions, and the stock provider needs SpatiaLite")
        sys.modules["sqlite3"] = pysqlite3  # before pygeoapi and services import sqlite3
        from pygeoapi.provider.sqlite import SPATIALITE_EXTENSION

        con = pysqlite3.connect(":memory:")
        con.enable_load_extension(True)
        try:
            con.execute(f"SELECT load_extension('{SPATIALITE_EXTENSION}')")
        except pysqlite3.OperationalError as err:
            sys.exit(f"SpatiaLite ({SPATIALITE_EXTENSION}) cannot be loaded: {err}; "
                     "apt-get install libsqlite3-mod-spatialite")
        import services.config

        services.config.GEOPACKAGE_PROVIDER = "SQLiteGPKG"
    import uvicorn

    from services.app import create_app

    app = create_app(data, base_url=f"http://127.0.0.1:{port}/api")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    if a.data is None:
        from tests.services.conftest import write_store

        a.data = write_store(Path(tempfile.mkdtemp(prefix="stadsmodel-bench-")) / "model")
    gpkg = (a.data / "stadsmodel.gpkg").resolve()
    print(f"data: {gpkg}  ({a.seconds:.0f} s per cell; each provider in its own one-worker uvicorn process; "
          f"{os.cpu_count()} CPUs)", flush=True)
    results: dict[str, dict | str] = {}
    for provider in PROVIDERS:
        data = Path(tempfile.mkdtemp(prefix=f"stadsmodel-bench-{provider}-"))
        if provider == "stock":
            shutil.copyfile(gpkg, data / gpkg.name)
        else:
            (data / gpkg.name).symlink_to(gpkg)
        server = ServerProcess(provider, data)
        try:
            problem = server.start()
            results[provider] = (f"not runnable here: {problem}" if problem
                                 else bench(provider, server.base, a.seconds))
        finally:
            server.stop()
            shutil.rmtree(data)

    print(f"\n{'':18s} {'':8s}  {'stadsmodel (ours)':^32s}  {'pygeoapi SQLiteGPKG (stock)':^32s}")
    print(f"{'workload':18s} {'clients':>8s}  " + "  ".join([f"{'p50 ms':>8s} {'p99 ms':>8s} {'req/s':>7s}      "] * 2))
    for name in workloads("", [""], 1):
        for n in CLIENTS:
            row = [results[p][name, n] if isinstance(results[p], dict) else "" for p in PROVIDERS]
            print(f"{name:18s} {n:8d}  " + "  ".join(f"{cell:32s}" for cell in row))
    for provider in PROVIDERS:
        if isinstance(results[provider], str):
            print(f"{provider}: {results[provider]}")
    if isinstance(results["stock"], dict):
        print("stock: ignores `filter`: its CQL2 row is an unfiltered query (compare numberMatched above)")


if __name__ == "__main__":
    main()
