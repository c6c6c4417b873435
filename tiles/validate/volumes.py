"""Bounding volumes of 3D Tiles (box, region, sphere): their corner points and how far points lie outside.

Regions are in WGS84 radians; the geodesy is tiles/georef.py's (ETRS89 on GRS80, whose ellipsoid differs
from WGS84's by 0.1 mm: nothing against the centimetres a check allows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tiles.georef import ecef_to_geodetic, geodetic_to_ecef

EQUATOR_RADIUS = 6378137.0  # metres per radian of arc: near enough to say how far a point lies outside a region


def is_numbers(v: Any, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)


def volume_kind(bv: Any) -> str | None:
    """"box", "region" or "sphere" for a well-formed bounding volume, else None."""
    if not isinstance(bv, dict):
        return None
    for kind, n in (("box", 12), ("region", 6), ("sphere", 4)):
        if kind in bv:
            return kind if is_numbers(bv[kind], n) else None
    return None


def column_major(t: Any) -> np.ndarray:
    """A 4×4 matrix from the 16 numbers of a tileset or glTF ``transform`` / ``matrix`` (column-major)."""
    return np.asarray(t, dtype=np.float64).reshape(4, 4).T


def volume_points(bv: dict, world: np.ndarray) -> np.ndarray:
    """Points (in ECEF / the tileset's world frame) that span a bounding volume."""
    kind = volume_kind(bv)
    if kind == "box":
        b = np.asarray(bv["box"], dtype=np.float64)
        c, axes = b[:3], b[3:].reshape(3, 3)
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=np.float64)
        local = c + signs @ axes
    elif kind == "sphere":
        s = np.asarray(bv["sphere"], dtype=np.float64)
        local = s[:3] + s[3] * np.vstack([np.eye(3), -np.eye(3)])
    else:  # region: radians and heights, never transformed
        w, s, e, n, hmin, hmax = bv["region"]
        lon, lat = np.meshgrid(np.linspace(w, e, 3), np.linspace(s, n, 3))
        lon, lat = np.degrees(lon.ravel()), np.degrees(lat.ravel())
        return np.vstack([geodetic_to_ecef(lon, lat, np.full(9, h)) for h in (hmin, hmax)])
    return local @ world[:3, :3].T + world[:3, 3]


def distance_outside(points: np.ndarray, bv: dict, world: np.ndarray) -> float:
    """How far (metres) the farthest of ``points`` lies outside the volume; <= 0 when inside."""
    kind = volume_kind(bv)
    if kind == "region":
        w, s, e, n, hmin, hmax = bv["region"]
        lon, lat, h = ecef_to_geodetic(points)
        lon, lat = np.radians(lon), np.radians(lat)
        r = EQUATOR_RADIUS
        out = np.maximum.reduce([(w - lon) * r * np.cos(lat), (lon - e) * r * np.cos(lat), (s - lat) * r,
                                 (lat - n) * r, hmin - h, h - hmax])
        return float(out.max())
    inv = np.linalg.inv(world)
    local = points @ inv[:3, :3].T + inv[:3, 3]
    if kind == "sphere":
        s = np.asarray(bv["sphere"], dtype=np.float64)
        return float((np.linalg.norm(local - s[:3], axis=1) - s[3]).max())
    b = np.asarray(bv["box"], dtype=np.float64)
    axes = b[3:].reshape(3, 3)
    lengths = np.linalg.norm(axes, axis=1)
    unit = np.divide(axes, lengths[:, None], out=np.zeros_like(axes), where=lengths[:, None] > 0)
    d = (local - b[:3]) @ unit.T  # coordinates along the (orthogonal) box axes
    return float((np.abs(d) - lengths).max())
