"""Location-check latency on a synthetic district of 100k buildings and 10k zoning polygons.

Writes the store directly (buildings + addresses per the store contract, one bestemmingsplan with
enkelbestemmingen, bouwvlakken and maatvoeringen; no point cloud needed), then times check_location at
random building points, and a few through the pygeoapi processor. Prints p50/p99.

    .venv/bin/python bench/location_check.py [--buildings 100000] [--zoning 10000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely import box

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.processes.location_check import LocationCheckProcessor, check_location, open_store  # noqa: E402

X0, Y0 = 150000.0, 460000.0


def write_store(d: Path, n_buildings: int, n_zoning: int, rng) -> np.ndarray:
    side = math.ceil(math.sqrt(n_buildings))
    i = np.arange(n_buildings)
    xs, ys = X0 + (i % side) * 20.0, Y0 + (i // side) * 20.0
    mv = rng.uniform(0, 2, n_buildings)
    h = rng.uniform(5, 20, n_buildings)
    t = time.perf_counter()
    b = gpd.GeoDataFrame({
        "identificatie": [f"NL.IMBAG.Pand.0000100000{k:06d}" for k in i], "oorspronkelijkbouwjaar": 1990,
        "status": "Pand in gebruik", "gebruiksdoel": "woonfunctie", "aantal_verblijfsobjecten": 1,
        "b3_h_maaiveld": mv, "b3_h_dak_min": mv + h - 3, "b3_h_dak_50p": mv + h - 1, "b3_h_dak_70p": mv + h - 0.5,
        "b3_h_dak_max": mv + h, "b3_reconstructie_onvolledig": False, "b3_onvolledig_reden": None,
        "geometry": box(xs, ys, xs + 12, ys + 9)}, crs="EPSG:28992")
    b.to_file(d / "stadsmodel.gpkg", layer="buildings", driver="GPKG")
    gpd.GeoDataFrame({"identificatie": [f"A{k}" for k in i], "pand_identificatie": b["identificatie"],
                      "postcode": "1234AB", "huisnummer": i, "geometry": gpd.points_from_xy(xs + 6, ys + 1)},
                     crs="EPSG:28992").to_file(d / "stadsmodel.gpkg", layer="addresses", driver="GPKG")
    # zoning: a quarter enkelbestemming blocks, half bouwvlakken, a quarter maatvoeringen
    extent = side * 20.0
    prov = {"plan_id": "NL.IMRO.0000.BENCH", "plan_naam": "Bench", "plan_status": "vastgesteld",
            "plan_datum": "2024-01-01", "bron": "bench", "bron_key": "NL.IMRO.0000.BENCH"}
    gpd.GeoDataFrame([{**prov, "identificatie": "plan", "geometry": box(X0 - 10, Y0 - 10, X0 + extent, Y0 + extent)}],
                     crs="EPSG:28992").to_file(d / "stadsmodel.gpkg", layer="bestemmingsplangebied", driver="GPKG")
    ne = n_zoning // 4
    bs = extent / math.ceil(math.sqrt(ne))
    k = np.arange(ne)
    bside = math.ceil(math.sqrt(ne))
    ex, ey = X0 - 10 + (k % bside) * bs, Y0 - 10 + (k // bside) * bs
    gpd.GeoDataFrame({**{c: v for c, v in prov.items()}, "identificatie": [f"EB{j}" for j in k], "naam": "Wonen",
                      "bestemmingshoofdgroep": "wonen", "artikelnummer": "3",
                      "geometry": box(ex, ey, ex + bs, ey + bs)}, crs="EPSG:28992").to_file(
        d / "stadsmodel.gpkg", layer="enkelbestemming", driver="GPKG")
    pick = rng.choice(n_buildings, n_zoning // 2, replace=False)
    gpd.GeoDataFrame({**prov, "identificatie": [f"BV{j}" for j in pick],
                      "geometry": box(xs[pick] - 1, ys[pick] - 1, xs[pick] + 13, ys[pick] + 10)},
                     crs="EPSG:28992").to_file(d / "stadsmodel.gpkg", layer="bouwvlak", driver="GPKG")
    mp = pick[: n_zoning // 4]
    gpd.GeoDataFrame({**prov, "identificatie": [f"MV{j}" for j in mp], "naam": "maximum bouwhoogte (m)",
                      "waarden": json.dumps([{"waardetype": "maximum bouwhoogte (m)", "waarde": "12"}]),
                      "max_bouwhoogte": 12.0, "max_goothoogte": 6.0,
                      "geometry": box(xs[mp] - 1, ys[mp] - 1, xs[mp] + 13, ys[mp] + 10)},
                     crs="EPSG:28992").to_file(d / "stadsmodel.gpkg", layer="maatvoering", driver="GPKG")
    print(f"store: {n_buildings} buildings, {n_zoning} zoning polygons written in {time.perf_counter() - t:.1f} s")
    return np.column_stack([xs + 6, ys + 4.5])


def pct(values, p):
    return float(np.percentile(np.asarray(values) * 1000, p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--zoning", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=2000)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        points = write_store(d, a.buildings, a.zoning, rng)
        store = open_store(d)
        check_location(store, *points[0])  # warm: rules parsed, connection open
        sample = points[rng.choice(len(points), a.queries)]
        for label, activity in (("all activities", None), ("one activity", "aanbouw")):
            times = []
            for x, y in sample:
                t = time.perf_counter()
                check_location(store, float(x), float(y), activity)
                times.append(time.perf_counter() - t)
            print(f"check_location ({label}): n={len(times)} p50={pct(times, 50):.2f} ms p99={pct(times, 99):.2f} ms")
        proc = LocationCheckProcessor({"name": "location-check", "data": str(d)})
        times = []
        for x, y in sample[:500]:
            t = time.perf_counter()
            proc.execute({"location": {"type": "Point", "coordinates": [float(x), float(y)]},
                          "crs": "http://www.opengis.net/def/crs/EPSG/0/28992"})
            times.append(time.perf_counter() - t)
        print(f"processor.execute (input parsing + all activities): n={len(times)} p50={pct(times, 50):.2f} ms "
              f"p99={pct(times, 99):.2f} ms")


if __name__ == "__main__":
    main()
