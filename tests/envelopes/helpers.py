"""Independent references for the envelope tests: the analytic allowed height (the formula of
docs/bouwenvelop.md, evaluated with shapely distances) and numeric integration on a fine grid."""

from __future__ import annotations

import math

import numpy as np
import shapely


def allowed_top(xy: np.ndarray, base: float, bouw: float | None, goot: float | None, dak: float | None,
                reference) -> np.ndarray:
    """base + min(bouw, goot + tan(dak) · d(p, ∂reference)) at each point; flat at bouw without a dakhelling."""
    if goot is None or dak is None or dak >= 90:
        return np.full(len(xy), base + bouw)
    d = shapely.distance(reference.boundary, shapely.points(xy))
    roof = goot + math.tan(math.radians(dak)) * d
    return base + (roof if bouw is None else np.minimum(bouw, roof))


def grid(polygon, step: float) -> np.ndarray:
    """Cell centres of a `step` grid inside the polygon."""
    x0, y0, x1, y1 = polygon.bounds
    xs, ys = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    return pts[shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])]


def roof_top(solid: dict, xy: np.ndarray) -> np.ndarray:
    """The highest RoofSurface of a stored CityJSON solid above each point (plane through the surface), NaN where
    none: a reference that uses the solid's semantics, not core.envelope's meshes."""
    verts = np.asarray(solid["vertices"], dtype=float)
    geometry = solid["geometry"]
    types = [s["type"] for s in geometry["semantics"]["surfaces"]]
    out = np.full(len(xy), -np.inf)
    for surface, value in zip(geometry["boundaries"][0], geometry["semantics"]["values"][0]):
        if types[value] != "RoofSurface":
            continue
        ring = verts[surface[0]]
        poly = shapely.Polygon(ring[:, :2], [verts[r][:, :2] for r in surface[1:]])
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        if not inside.any():
            continue
        c = ring.mean(axis=0)
        n = np.cross(ring - c, np.roll(ring, -1, axis=0) - c).sum(axis=0)
        z = c[2] - (n[0] * (xy[inside, 0] - c[0]) + n[1] * (xy[inside, 1] - c[1])) / n[2]
        out[inside] = np.maximum(out[inside], z)
    out[~np.isfinite(out)] = np.nan
    return out
