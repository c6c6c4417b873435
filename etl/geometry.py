"""CityJSON geometries from 2D polygons and heights.

Each function returns the vertices it uses (float, RD New + NAP) and the CityJSON geometry object whose
boundaries index those vertices starting at `base`, so a writer can place them in a shared vertex list
(CityJSON) or in a feature of its own (CityJSONSeq) without rewriting nested lists.

Orientation follows CityJSON: seen from outside the solid, exterior rings are counter-clockwise.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

LOD12_SURFACES = [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}]
GROUND, ROOF, WALL = 0, 1, 2


def _rings(poly: Polygon) -> list[np.ndarray]:
    """Exterior (counter-clockwise) then holes (clockwise), 2D, without the closing vertex."""
    poly = shapely.orient_polygons(poly)
    return [np.asarray(r.coords)[:-1, :2] for r in (poly.exterior, *poly.interiors)]


def _polygons(geom) -> list[Polygon]:
    return list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]


def _solid_shell(poly: Polygon, z_ground: float, z_roof: float, base: int) -> tuple[np.ndarray, list, list]:
    rings = _rings(poly)
    sizes = [len(r) for r in rings]
    n = sum(sizes)
    xy = np.vstack(rings)
    verts = np.vstack([np.column_stack([xy, np.full(n, z_ground)]), np.column_stack([xy, np.full(n, z_roof)])])
    starts = np.cumsum([0] + sizes[:-1]) + base
    bottom = [list(range(s, s + k)) for s, k in zip(starts, sizes)]
    top = [[i + n for i in ring] for ring in bottom]
    ground = [ring[::-1] for ring in bottom]  # normal points down
    surfaces, values = [ground, top], [GROUND, ROOF]
    for b, t in zip(bottom, top):
        k = len(b)
        for i in range(k):
            j = (i + 1) % k
            surfaces.append([[b[i], b[j], t[j], t[i]]])
            values.append(WALL)
    return verts, surfaces, values


def lod12_solid(footprint: Polygon | MultiPolygon, z_ground: float, z_roof: float, base: int = 0) -> tuple[np.ndarray, dict]:
    """A LoD1.2 block: flat roof at `z_roof`, ground at `z_ground`, walls on every footprint edge
    (holes included). A MultiPolygon footprint gives a MultiSolid."""
    shells, values, verts = [], [], []
    offset = base
    for poly in _polygons(footprint):
        v, surfaces, vals = _solid_shell(poly, z_ground, z_roof, offset)
        verts.append(v)
        shells.append([surfaces])
        values.append([vals])
        offset += len(v)
    if len(shells) == 1:
        geom = {"type": "Solid", "lod": "1.2", "boundaries": shells[0],
                "semantics": {"surfaces": LOD12_SURFACES, "values": values[0]}}
    else:
        geom = {"type": "MultiSolid", "lod": "1.2", "boundaries": shells,
                "semantics": {"surfaces": LOD12_SURFACES, "values": values}}
    return np.vstack(verts), geom


def lifted_surface(rings_per_polygon: list[list[np.ndarray]], base: int = 0, lod: str = "1") -> tuple[np.ndarray, dict]:
    """A MultiSurface from polygons whose rings already carry heights ((n, 3) arrays, no closing vertex,
    exterior counter-clockwise)."""
    verts, boundaries, offset = [], [], base
    for rings in rings_per_polygon:
        surface = []
        for ring in rings:
            surface.append(list(range(offset, offset + len(ring))))
            offset += len(ring)
            verts.append(ring)
        boundaries.append(surface)
    return np.vstack(verts), {"type": "MultiSurface", "lod": lod, "boundaries": boundaries}


def lifted_lines(lines: list[np.ndarray], base: int = 0, lod: str = "1") -> tuple[np.ndarray, dict]:
    """A MultiLineString from (n, 3) vertex arrays."""
    boundaries, offset = [], base
    for line in lines:
        boundaries.append(list(range(offset, offset + len(line))))
        offset += len(line)
    return np.vstack(lines), {"type": "MultiLineString", "lod": lod, "boundaries": boundaries}
