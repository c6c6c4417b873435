"""Load benchmark of the OGC API (not a test): p50/p99 latency and successful requests/s at 1, 8 and 32 clients.

Usage: .venv/bin/python bench/api_load.py [DATA_DIR | --buildings 10000] [--seconds 5] [--clients 1 8 32]
       [--postgres postgresql://user@host:port/db]

Only successful (2xx) responses count, in the latencies and as throughput (ok/s); failed requests (HTTP status
≥ 300, dropped connections, timeouts) are counted apart, by kind. Each request draws its page offset, item id,
bbox position or CQL2 threshold from a seeded RNG (per worker), so no request repeats one a cache has seen:
the figures are reproducible, not flattered.

DATA_DIR holds stadsmodel.gpkg; without it the run builds one first, as a user would (synth.district, then
etl.build on it: ``--buildings`` panden, default 10,000 as in README). The same file is served twice,
each time by its own server process (one uvicorn worker; the load comes from this process), and the figures
are printed side by side:

* ``stadsmodel``: our provider (services.providers.geopackage), plain sqlite3, CQL2 translated to SQL;
* ``stock``: pygeoapi's SQLiteGPKG provider. It needs SpatiaLite, which the venv's sqlite3 cannot load
  (built without extension loading), so its process replaces ``sqlite3`` by pysqlite3 (PyPI
  pysqlite3-binary, in the test extra) and loads Debian's mod_spatialite (apt libsqlite3-mod-spatialite).
  pygeoapi imports pyproj in that process as well; PROJ twice in one process was seen to abort, in which
  case the stock column says so. The stock provider ignores ``filter``: its CQL2 row answers an
  unfiltered query, as the numberMatched line shows.

With ``--postgres DSN`` the store is also loaded into that PostGIS database (services.load; its tables are
replaced) and two more servers run on it: ``postgis`` (ours, services.providers.postgresql) and ``postgis-stock``
(pygeoapi's own PostgreSQLProvider); the last column prints ours/stock ok/s per store.

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
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.tools import free_port

CLIENTS = (1, 8, 32)
REQUEST_TIMEOUT = 30.0  # seconds; a slower answer counts as failed (ReadTimeout), so each cell stays bounded
PROVIDERS = ("stadsmodel", "stock")
PG_PROVIDERS = ("postgis", "postgis-stock")  # with --postgres DSN: the same store loaded into PostGIS
CQL2 = "b3_h_dak_70p > {h} AND oorspronkelijkbouwjaar < 1960"
SEED = 17


def workloads(base: str, ids: list[str], hits: int, bbox: tuple[float, float, float, float]) -> dict[str, callable]:
    """URL makers ``url(rng)``: every request draws its own offset, id, bbox or threshold from the worker's
    seeded RNG, so no cache (sqlite's page cache, the OS, pygeoapi) answers the same request twice."""
    items = f"{base}/collections/buildings/items"
    deep_from = hits // 2  # deep pages: somewhere in the second half of the collection
    deep_to = max(hits - 10, deep_from + 1)
    x0, y0, x1, y1 = bbox
    w, h = (x1 - x0) / 20, (y1 - y0) / 20  # a box of 1/400 of the area: a street or two

    def box(rng) -> str:
        bx, by = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
        return f"{bx:.6f},{by:.6f},{bx + w:.6f},{by + h:.6f}"

    return {
        "items (limit 10)": lambda rng: f"{items}?limit=10&offset={rng.randrange(max(hits - 10, 1))}",
        "items deep page": lambda rng: f"{items}?limit=10&offset={rng.randrange(deep_from, deep_to)}",
        "single item": lambda rng: f"{items}/{rng.choice(ids)}",
        "bbox (limit 100)": lambda rng: f"{items}?limit=100&bbox={box(rng)}",
        "CQL2 query": lambda rng: f"{items}?limit=10&filter={CQL2.format(h=round(rng.uniform(3, 20), 1))}",
    }


class Cell:
    """One workload at one concurrency: latencies of the successful (2xx) responses, failures by kind."""

    def __init__(self, ok: list[float], failures: Counter, wall: float):
        self.ok, self.failures, self.wall = sorted(ok), failures, wall

    def __str__(self) -> str:
        errors = sum(self.failures.values())
        kinds = ", ".join(f"{k}×{v}" for k, v in self.failures.most_common())
        failed = f" ({errors} failed: {kinds})" if errors else ""
        if not self.ok:
            return f"{'no successful responses':>25s}{failed}"
        p99 = self.ok[min(len(self.ok) - 1, int(len(self.ok) * 0.99))]
        return f"{statistics.median(self.ok) * 1000:8.1f} {p99 * 1000:8.1f} {len(self.ok) / self.wall:7.1f}{failed}"


async def _run(url_for, clients: int, seconds: float, seed: int) -> Cell:
    """``clients`` workers requesting back to back for ``seconds``; only 2xx responses count as throughput
    and in the latencies, the rest are counted apart by status code (or by the exception a dropped
    connection raised)."""
    ok: list[float] = []
    failures: Counter = Counter()
    start = time.perf_counter()
    stop = start + seconds
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=httpx.Limits(max_connections=clients)) as client:
        async def worker(w: int) -> None:
            rng = random.Random(seed * 1000 + w)
            while time.perf_counter() < stop:
                url = url_for(rng)
                t = time.perf_counter()
                try:
                    r = await client.get(url)
                except httpx.HTTPError as e:  # the server dropped the connection, or timed out
                    failures[type(e).__name__] += 1
                    continue
                if 200 <= r.status_code < 300:
                    ok.append(time.perf_counter() - t)
                else:
                    failures[f"HTTP {r.status_code}"] += 1
        await asyncio.gather(*(worker(w) for w in range(clients)))
    return Cell(ok, failures, time.perf_counter() - start)


def bench(label: str, base: str, seconds: float, clients: list[int]) -> dict[tuple[str, int], Cell]:
    items = f"{base}/collections/buildings/items"
    first = httpx.get(items, params={"limit": 1, "skipGeometry": "true"}, timeout=600).json()
    hits = first["numberMatched"]
    rng = random.Random(SEED)
    ids = []  # ids from pages all over the collection, not just the first
    for offset in sorted(rng.sample(range(max(hits - 50, 1)), min(20, max(hits - 50, 1)))):
        page = httpx.get(items, params={"limit": 50, "offset": offset, "skipGeometry": "true"}, timeout=600).json()
        ids += [f["id"] for f in page["features"]]
    bbox = tuple(httpx.get(f"{base}/collections/buildings", params={"f": "json"}, timeout=600)
                 .json()["extent"]["spatial"]["bbox"][0][:4])
    matched = httpx.get(items, params={"limit": 1, "filter": CQL2.format(h=5)}, timeout=600).json()["numberMatched"]
    print(f"{label}: {hits} buildings; CQL2 query `{CQL2.format(h=5)}` numberMatched {matched}", flush=True)
    cells = {}
    for k, (name, url_for) in enumerate(workloads(base, ids, hits, bbox).items()):
        httpx.get(url_for(random.Random(-1 - k)), timeout=600)  # warm-up: a request not repeated in the timing
        for n in clients:
            cells[name, n] = asyncio.run(_run(url_for, n, seconds, SEED + k))
            print(f"  {label:10s} {name:18s} {n:3d} clients  {cells[name, n]}", flush=True)
    return cells


class ServerProcess:
    """``api_load.py --serve PROVIDER DATA PORT DSN`` in ``workers`` child processes sharing one port, until the
    context ends. Several workers bind the port with SO_REUSEPORT, as ``stadsmodel serve --workers N`` does, so
    the kernel spreads the connections over them; stock and ours run the same way."""

    def __init__(self, provider: str, data: Path, dsn: str = "", workers: int = 1):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.log = tempfile.TemporaryFile()
        command = [sys.executable, __file__, "--serve", provider, str(data), str(self.port), dsn, str(workers)]
        self.procs = [subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
                      for _ in range(workers)]

    def start(self) -> str | None:
        """None when every worker serves, else why not (the children's last words)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                self.log.seek(0)
                lines = self.log.read().decode(errors="replace").strip().splitlines()
                return f"exit status {dead[0].returncode}: " + (" | ".join(lines[-3:]) or "no output")
            # each worker answers on its own connection: a new one per probe, until all said who they are
            try:
                pids = {httpx.get(self.base, timeout=5).headers.get("x-stadsmodel-worker")
                        for _ in range(4 * len(self.procs))}
                if len(self.procs) == 1 or len(pids - {None}) == len(self.procs):
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return "did not answer within 300 s"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def serve(provider: str, data: Path, port: int, dsn: str = "", workers: int = 1) -> None:
    """The child process: one provider's server (for the stock one, after making SpatiaLite loadable; for
    postgis-stock pygeoapi's own PostgreSQLProvider on the same PostGIS tables)."""
    if provider == "postgis-stock":
        import services.config

        services.config.POSTGRESQL_PROVIDER = "pygeoapi.provider.sql.PostgreSQLProvider"
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
    from services.server import shared_listening_socket

    if workers > 1:
        os.environ["STADSMODEL_WORKER_PID_HEADER"] = "1"  # so start() can tell the workers apart
    app = create_app(data, base_url=f"http://127.0.0.1:{port}/api", postgres=dsn or None)
    sock = shared_listening_socket("127.0.0.1", port)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def build_store(work: Path, buildings: int) -> Path:
    """A synthetic district of ``buildings`` panden through the ETL: work/model with stadsmodel.gpkg."""
    from etl.build import build_model
    from synth.district import write_district

    t = time.perf_counter()
    district = work / "district"
    write_district(district, buildings=buildings, seed=1)
    build_model(bgt=[district / "bgt"], bag=[district / "bag.gpkg"], ahn=sorted((district / "ahn").glob("*.laz")),
                out=work / "model", progress=False)
    print(f"synthetic district of {buildings} panden built in {time.perf_counter() - t:.1f} s", flush=True)
    return work / "model"


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path, help="a model directory from `stadsmodel build`")
    ap.add_argument("--buildings", type=int, default=10_000,
                    help="without DATA: panden of the synthetic district built for the run (default 10000)")
    ap.add_argument("--seconds", type=float, default=5.0, help="per workload and concurrency (default 5)")
    ap.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS), help="concurrencies (default 1 8 32)")
    ap.add_argument("--providers", nargs="+", choices=PROVIDERS + PG_PROVIDERS,
                    help="only these servers (default: both GeoPackage ones, and with --postgres both PostGIS ones)")
    ap.add_argument("--workers", type=int, default=1,
                    help="server worker processes per provider, sharing the port as `serve --workers` (default 1)")
    ap.add_argument("--postgres", metavar="DSN", help="also load the store into this PostGIS database (replacing its "
                    "tables) and measure ours and pygeoapi's PostgreSQL provider on it")
    a = ap.parse_args()
    if a.data is None:
        a.data = build_store(Path(tempfile.mkdtemp(prefix="stadsmodel-bench-")), a.buildings)
    gpkg = (a.data / "stadsmodel.gpkg").resolve()
    print(f"data: {gpkg}  ({a.seconds:.0f} s per cell; each provider in "
          f"{a.workers} uvicorn worker process{'es' if a.workers > 1 else ''} of its own; "
          f"{os.cpu_count()} CPUs)", flush=True)
    results: dict[str, dict | str] = {}
    providers = PROVIDERS
    if a.postgres:
        from services.load import load_postgis

        t = time.perf_counter()
        load_postgis(gpkg.parent, a.postgres)
        print(f"loaded into PostGIS in {time.perf_counter() - t:.1f} s", flush=True)
        providers = PROVIDERS + PG_PROVIDERS
    if a.providers:
        if set(a.providers) & set(PG_PROVIDERS) and not a.postgres:
            ap.error("the PostGIS providers need --postgres DSN")
        providers = tuple(p for p in providers if p in a.providers)
    for provider in providers:
        data = Path(tempfile.mkdtemp(prefix=f"stadsmodel-bench-{provider}-"))
        if provider == "stock":
            shutil.copyfile(gpkg, data / gpkg.name)
        else:
            (data / gpkg.name).symlink_to(gpkg)
        server = ServerProcess(provider, data, a.postgres if provider in PG_PROVIDERS else "", a.workers)
        try:
            problem = server.start()
            results[provider] = (f"not runnable here: {problem}" if problem
                                 else bench(provider, server.base, a.seconds, a.clients))
        finally:
            server.stop()
            shutil.rmtree(data)

    titles = {"stadsmodel": "GeoPackage: ours", "stock": "GeoPackage: pygeoapi SQLiteGPKG",
              "postgis": "PostGIS: ours", "postgis-stock": "PostGIS: pygeoapi PostgreSQL"}
    print("\n" + f"{'':18s} {'':8s}  " + "  ".join(f"{titles[p]:^32s}" for p in providers)
          + "  ratio ok/s ours/stock")
    print(f"{'workload':18s} {'clients':>8s}  "
          + "  ".join([f"{'p50 ms':>8s} {'p99 ms':>8s} {'ok/s':>7s}      "] * len(providers)))
    for name in workloads("", [""], 1, (0, 0, 1, 1)):
        for n in a.clients:
            cells = {p: results[p][name, n] if isinstance(results[p], dict) else None for p in providers}
            ratios = []
            for ours, stock in (("stadsmodel", "stock"), ("postgis", "postgis-stock")):
                if cells.get(ours) and cells.get(stock):
                    rate = len(cells[stock].ok) / cells[stock].wall
                    tag = "GeoPackage" if ours == "stadsmodel" else "PostGIS"
                    ours_rate = len(cells[ours].ok) / cells[ours].wall
                    ratios.append(f"{tag} {ours_rate / rate:.1f}×" if rate else f"{tag} n/a")
            print(f"{name:18s} {n:8d}  " + "  ".join(f"{str(c) if c else '':32s}" for c in cells.values())
                  + "  " + " ".join(ratios))
    print("p50/p99 and ok/s count successful (2xx) responses only; failed requests are listed apart, by kind")
    for provider in providers:
        if isinstance(results[provider], str):
            print(f"{provider}: {results[provider]}")
    if isinstance(results.get("stock"), dict):
        print("stock: ignores `filter`: its CQL2 row is an unfiltered query (compare numberMatched above)")


if __name__ == "__main__":
    main()
