"""LAS/LAZ point clouds (AHN): 1.2–1.4, any point format. The one opener, for the ETL and for tiles/.

Two steps, as py3dtiles' readers do: :func:`inspect_las` reads only the header (extent, CRS, count) so bad
files are refused before any work; :func:`iter_las_chunks` then streams the points in chunks of bounded size.
Every refusal is an InputError naming the file and the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import laspy

from core.crs import RD_BOUNDS, RD_NAP, in_rd_bounds
from core.errors import InputError

# EPSG codes that mean RD New coordinates: RD New itself, and RD New + NAP (a compound CRS whose parts are
# checked too, so RD New with any vertical CRS is accepted).
RD_HORIZONTAL_EPSG = {28992, 7415}


@dataclass(frozen=True)
class LasFile:
    path: Path
    point_count: int
    bounds: tuple[float, float, float, float, float, float]  # minx, miny, minz, maxx, maxy, maxz
    crs: str  # RD_NAP when the header has none (AHN convention)
    crs_from_header: bool
    version: str
    point_format: int


@lru_cache(maxsize=32)
def _is_rd(wkt: str) -> bool:
    """Whether a CRS has RD New as its horizontal part. Cached: pyproj's EPSG lookup takes milliseconds, and
    all tiles of a delivery carry the same CRS."""
    import pyproj

    crs = pyproj.CRS.from_wkt(wkt)
    epsgs = {crs.to_epsg()} | {sub.to_epsg() for sub in crs.sub_crs_list}
    return bool(epsgs & RD_HORIZONTAL_EPSG)


def _header_crs(header: laspy.LasHeader, path: Path) -> tuple[str, bool]:
    try:
        crs = header.parse_crs()
    except Exception as e:  # a broken WKT/GeoTIFF VLR: say so rather than guess
        raise InputError(path, f"unreadable CRS in the LAS header ({e})") from None
    if crs is None:
        return RD_NAP, False
    if _is_rd(crs.to_wkt()):
        return RD_NAP, True
    name = crs.name or crs.to_string()
    raise InputError(path, f"point cloud is in {name}, expected RD New + NAP ({RD_NAP}); reproject it first")


def inspect_las(path: str | Path) -> LasFile:
    """Read the header only; refuse missing files, non-LAS files and point clouds in another CRS."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with laspy.open(path) as reader:
            h = reader.header
            version = f"{h.version.major}.{h.version.minor}"
            count = int(h.point_count)
            fmt = int(h.point_format.id)
            mins, maxs = [float(v) for v in h.mins], [float(v) for v in h.maxs]
            bounds = (mins[0], mins[1], mins[2], maxs[0], maxs[1], maxs[2])
            crs, from_header = _header_crs(h, path)
    except InputError:
        raise
    except Exception as e:
        raise InputError(path, f"not a readable LAS/LAZ file, corrupt or truncated ({e})") from None
    minx, miny, minz, maxx, maxy, maxz = bounds
    if count and not in_rd_bounds(minx, miny, maxx, maxy):
        raise InputError(
            path,
            f"coordinates {minx:.1f},{miny:.1f} – {maxx:.1f},{maxy:.1f} lie outside RD New {RD_BOUNDS}: "
            "the point cloud is in another CRS (e.g. lon/lat or UTM)",
        )
    return LasFile(path, count, bounds, crs, from_header, version, fmt)


def iter_las_chunks(info: LasFile, chunk_points: int) -> Iterator[laspy.ScaleAwarePointRecord]:
    """Stream the points of one inspected file, at most ``chunk_points`` at a time. A file that breaks off
    mid-way raises InputError after the chunks already yielded, naming how many points were read, so callers
    can keep what was good."""
    read = 0
    try:
        with laspy.open(info.path) as reader:
            for points in reader.chunk_iterator(chunk_points):
                if len(points) == 0:
                    break
                read += len(points)
                yield points
    except Exception as e:
        raise InputError(info.path, f"truncated or corrupt point data after {read:,} of "
                                    f"{info.point_count:,} points ({e})") from None
    if read < info.point_count:
        raise InputError(info.path, f"truncated: header announces {info.point_count:,} points, "
                                    f"only {read:,} could be read")
