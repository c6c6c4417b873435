"""Load benchmark of the OGC API (not a test): p50/p99 latency and requests/s at 1, 8 and 32 clients.

Usage: .venv/bin/python bench/api_load.py [DATA_DIR] [--seconds 5]

DATA_DIR holds stadsmodel.gpkg (default: a small store from ../shared/data, as the tests build it; for the
issue's figures use the synthetic 100k district: stadsmodel synth + build). Measured for our GeoPackage
provider and for pygeoapi's stock SQLiteGPKG provider on the same file, side by side. The stock provider
needs SpatiaLite, which this venv's sqlite3 cannot load; it is then reported as not runnable, with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services.conftest import LiveServer, write_store  # noqa: E402

CLIENTS = (1, 8, 32)


def workloads(base: str, ids: list[str], hits: int) -> dict[str, callable]:
    deep = max(0, hits - 20)
    return {
        "items (limit 10)": lambda i: f"{base}/collections/buildings/items?limit=10&offset={(i * 10) % max(hits - 10, 1)}",
        "items deep page": lambda i: f"{base}/collections/buildings/items?limit=10&offset={deep}",
        "single item": lambda i: f"{base}/collections/buildings/items/{ids[i % len(ids)]}",
        "CQL2 query": lambda i: (f"{base}/collections/buildings/items?limit=10&filter="
                                 f"b3_h_dak_70p%20%3E%20{5 + i % 10}%20AND%20oorspronkelijkbouwjaar%20%3C%201960"),
    }


async def _run(url_for, clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        async def worker(w: int) -> None:
            nonlocal errors
            i = w
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await client.get(url_for(i))
                latencies.append(time.perf_counter() - t)
                errors += r.status_code != 200
                i += clients
        await asyncio.gather(*(worker(w) for w in range(clients)))
    return latencies, errors


def bench(label: str, server: LiveServer, seconds: float) -> None:
    base = f"{server.url}/api"
    first = httpx.get(f"{base}/collections/buildings/items", params={"limit": 200, "skipGeometry": "true"}).json()
    ids = [f["id"] for f in first["features"]]
    for name, url_for in workloads(base, ids, first["numberMatched"]).items():
        for n in CLIENTS:
            lat, errors = asyncio.run(_run(url_for, n, seconds))
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"{label:12s} {name:18s} {n:3d} clients  p50 {statistics.median(lat) * 1000:7.1f} ms  "
                  f"p99 {p99 * 1000:7.1f} ms  {len(lat) / seconds:7.1f} req/s  errors {errors}", flush=True)


def stock_provider_problem(gpkg: Path) -> str | None:
    from pygeoapi.provider.sqlite import SQLiteGPKGProvider

    try:
        SQLiteGPKGProvider({"name": "SQLiteGPKG", "type": "feature", "data": str(gpkg), "table": "buildings",
                            "id_field": "identificatie"})
    except Exception as err:  # the reason is what we print
        detail = str(err) if str(err) not in ("", "None") else "this Python's sqlite3 cannot load SpatiaLite"
        return f"{type(err).__name__}: {detail}"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    data = a.data or write_store(Path(tempfile.mkdtemp(prefix="stadsmodel-bench-")) / "model")
    print(f"data: {data}  ({a.seconds:.0f} s per cell; server: one uvicorn worker in-process)")
    with LiveServer(data) as server:
        bench("stadsmodel", server, a.seconds)
    problem = stock_provider_problem(data / "stadsmodel.gpkg")
    if problem:
        print(f"pygeoapi SQLiteGPKG (stock): not runnable here: {problem}")
        print("  (and it ignores `filter`: its CQL2 figures would be for unfiltered results)")
    else:
        import services.config as cfg

        cfg.GEOPACKAGE_PROVIDER = "SQLiteGPKG"
        with LiveServer(data) as server:
            bench("stock", server, a.seconds)


if __name__ == "__main__":
    main()
