"""AHN point clouds (LAS/LAZ, RD New + NAP) → 3D Tiles with py3dtiles, coloured by classification.

py3dtiles would reproject with pyproj, which offline lacks the Dutch grids (NAP → ellipsoid ~43 m
off). So the points are first converted here, in chunks, to the local east-north-up frame of
tiles/georef.py (RDNAPTRANS™2018) and given an RGB from their class, into a plain LAS file; py3dtiles
tiles that without any reprojection (plain LAS also sidesteps its LAZ backends; lazrs was seen to
hang inside its workers), and the tileset's root transform is set to the frame's ENU → ECEF.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import laspy
import numpy as np
import orjson

from core.errors import InputError, TilingError
from core.lasfile import LasFile, inspect_las, iter_las_chunks
from tiles.georef import LocalFrame
from tiles.summary import TilesetSummary

log = logging.getLogger(__name__)

CHUNK = 2_000_000
DEFAULT_JOBS = 2  # py3dtiles workers when no job count is given (py3dtiles.convert's own default)
# ASPRS / AHN classes → RGB (0-255)
CLASS_COLOURS = {
    0: (170, 170, 170), 1: (170, 170, 170), 2: (166, 124, 82), 3: (120, 190, 90), 4: (80, 160, 60),
    5: (40, 120, 40), 6: (220, 90, 60), 7: (255, 0, 255), 9: (60, 120, 220), 17: (150, 130, 110),
    26: (150, 130, 110),
}
_PALETTE = np.full((256, 3), 200, dtype=np.uint16)
for _c, _rgb in CLASS_COLOURS.items():
    _PALETTE[_c] = _rgb


def _inspect(paths: list[Path]) -> list[LasFile]:
    """The files' headers (core.lasfile refuses what is not RD New LAS/LAZ); an empty file would leave
    py3dtiles nothing to tile."""
    files = [inspect_las(p) for p in paths]
    for f in files:
        if f.point_count == 0:
            raise InputError(f.path, "point cloud has no points")
    return files


def _extent(files: list[LasFile]) -> tuple[float, float, float, float, float]:
    """minx, miny, maxx, maxy and the middle height of all files together."""
    b = np.array([f.bounds for f in files])
    lo, hi = b[:, :3].min(axis=0), b[:, 3:].max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), float((lo[2] + hi[2]) / 2)


def _to_local_las(files: list[LasFile], frame: LocalFrame, out: Path) -> int:
    """Write all points, in the local ENU frame and coloured by class, to one plain LAS file."""
    header = laspy.LasHeader(point_format=2, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.zeros(3)
    n = 0
    with laspy.open(out, mode="w", header=header) as w:
        for f in files:
            for chunk in iter_las_chunks(f, CHUNK):
                xyz = np.column_stack([chunk.x, chunk.y, chunk.z])
                local = frame.to_local(xyz)
                rec = laspy.ScaleAwarePointRecord.zeros(len(chunk), header=header)
                rec.x, rec.y, rec.z = local[:, 0], local[:, 1], local[:, 2]
                cls = np.asarray(chunk.classification, dtype=np.uint8)
                rec.classification = cls
                rgb = _PALETTE[cls] * 257  # 16-bit colour channels
                rec.red, rec.green, rec.blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
                rec.intensity = chunk.intensity
                w.write_points(rec)
                n += len(chunk)
    return n


def tile_pointcloud(paths: list[Path], out: Path, jobs: int | None = None) -> TilesetSummary:
    """Tile LAS/LAZ files into ``out/tileset.json`` (pnts content).

    :param jobs: py3dtiles worker processes (default DEFAULT_JOBS).
    :raises InputError: a missing, unreadable, empty or not RD New point cloud.
    """
    from py3dtiles.convert import convert

    t0 = time.perf_counter()
    files = _inspect(paths)
    minx, miny, maxx, maxy, zmid = _extent(files)
    frame = LocalFrame((minx, miny, maxx, maxy), centre_nap=round(zmid, 1))
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        local_las = work / "local.las"
        n = _to_local_las(files, frame, local_las)
        log.info("pointcloud: %d points converted to the local frame, tiling with py3dtiles", n)
        convert([local_las], outfolder=work / "tiles", jobs=jobs or DEFAULT_JOBS, rgb=True, verbose=False)
        local_las.unlink()
        tileset_path = work / "tiles" / "tileset.json"
        if not tileset_path.is_file():
            raise TilingError(f"py3dtiles wrote no tileset for {', '.join(map(str, paths))}")
        ts = orjson.loads(tileset_path.read_bytes())
        inner = np.eye(4)
        if "transform" in ts["root"]:
            inner = np.asarray(ts["root"]["transform"], dtype=np.float64).reshape(4, 4).T
        ts["root"]["transform"] = (frame.enu_to_ecef @ inner).T.ravel().tolist()
        ts["asset"]["generator"] = "stadsmodel tiles (py3dtiles)"
        tileset_path.write_bytes(orjson.dumps(ts, option=orjson.OPT_INDENT_2))
        if out.exists():
            shutil.rmtree(out)
        (work / "tiles").rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    dt = time.perf_counter() - t0
    log.info("pointcloud: %d points in %.1f s (%.0f points/s)", n, dt, n / dt if dt else 0)
    return TilesetSummary("pointcloud", out / "tileset.json", n, sum(1 for _ in out.rglob("*.pnts")), size, dt)
