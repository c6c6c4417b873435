"""Bouwenvelop geometry: the allowed volume of a plan as a closed triangle mesh, and its clash with a building.

Shared by the ETL (etl.envelopes builds the envelopes into the store) and the services (services.envelopes
measures a building against them); docs/bouwenvelop.md explains the rules.

The allowed region over a footprint F with maximum goothoogte g, bouwhoogte b and dakhelling α (all above the
base z0, the peil) is

    z0 ≤ z ≤ z0 + min(b, g + tan α · d(p, ∂R))      for p in F,

R the polygon the roof slopes from (the bouwvlak; F itself, or a piece of R when maatvoeringen split it). It is
built exactly, without hand-made CSG: the prism F × [z0, z0 + b] minus, for every edge of R, the convex "V
wedge" {d(p, line of the edge) < (z − z0 − g) / tan α, p in the edge's strip} and, for every reflex vertex of
R, a cone (a pyramid of CONE_SIDES sides inscribed in the circular cone: at most h·(1 − cos(π/CONE_SIDES)) too
generous, 1.2 mm per metre of roof height). At a convex vertex the two wedges already cover the points of R
nearest that vertex, so it needs no cone. Every piece is a convex hull, subtracted with manifold3d's robust
booleans. Without a dakhelling the top is flat at the bouwhoogte (the goothoogte then is a check of its own on
the eaves, not a volume); a dakhelling of 0° gives a flat top at the goothoogte.

Meshes are handled in a local frame (coordinates minus a whole-metre origin) because manifold3d's tolerance
grows with the coordinates' magnitude; `TriMesh` vertices are always RD New + NAP (or relative) metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import manifold3d
import mapbox_earcut
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import polylabel

from core.cityjson import area_vector

CONE_SIDES = 64
# Booleans leave edges of 1e-10 m where hulls meet; collapsed before a solid is stored at mm precision, whose
# rounding would otherwise fold them into a mesh that is no longer closed.
SIMPLIFY_M = 0.002
# Above the prism top, so that no wedge or cone face coincides with the top face.
_CLEARANCE = 1.0


@dataclass(frozen=True)
class TriMesh:
    """A closed, outward-oriented triangle mesh: vertices (n, 3) float metres, triangles (m, 3) indices."""

    vertices: np.ndarray
    triangles: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.triangles) == 0

    @property
    def volume(self) -> float:
        if self.empty:
            return 0.0
        local = self.vertices - self.vertices.min(axis=0)  # RD coordinates would cost the sum its precision
        a, b, c = (local[self.triangles[:, k]] for k in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def solid_json(self) -> dict:
        """{"vertices": [[x, y, z], ...], "geometry": CityJSON Solid of triangles} (mm precision), as the store's
        building_solids hold solids."""
        return {"vertices": np.round(self.vertices, 3).tolist(),
                "geometry": {"type": "Solid", "boundaries": [[[t] for t in self.triangles.tolist()]]}}


EMPTY = TriMesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))


def _origin(*meshes_or_bounds) -> np.ndarray:
    pts = np.vstack([np.asarray(m, dtype=float).reshape(-1, 3) for m in meshes_or_bounds if len(m)])
    return np.floor(pts.min(axis=0)) if len(pts) else np.zeros(3)


def _manifold(mesh: TriMesh, origin: np.ndarray) -> manifold3d.Manifold:
    if mesh.empty:
        return manifold3d.Manifold()
    m = manifold3d.Manifold(manifold3d.Mesh64(vert_properties=np.ascontiguousarray(mesh.vertices - origin),
                                              tri_verts=np.ascontiguousarray(mesh.triangles, dtype=np.uint64)))
    if m.status() != manifold3d.Error.NoError:
        raise ValueError(f"not a closed, oriented 2-manifold mesh ({m.status().name})")
    return m


def _mesh(m: manifold3d.Manifold, origin: np.ndarray) -> TriMesh:
    if m.is_empty():
        return EMPTY
    out = m.to_mesh64()
    return TriMesh(np.asarray(out.vert_properties)[:, :3] + origin, np.asarray(out.tri_verts, dtype=np.int64))


def _rings(poly: Polygon, origin: np.ndarray) -> list[np.ndarray]:
    poly = shapely.orient_polygons(poly)
    return [np.asarray(r.coords)[:-1, :2] - origin[:2] for r in (poly.exterior, *poly.interiors)]


def _polygons(geom) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and g.area > 0]


def _prism(footprint, z0: float, z1: float, origin: np.ndarray) -> manifold3d.Manifold:
    contours = [r for p in _polygons(footprint) for r in _rings(p, origin)]
    section = manifold3d.CrossSection(contours, manifold3d.FillRule.EvenOdd)
    return manifold3d.Manifold.extrude(section, z1 - z0).translate((0.0, 0.0, z0 - origin[2]))


def _edges_and_reflex(reference) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """The edges of the reference polygon(s) and their reflex vertices (interior angle > 180°)."""
    edges, reflex = [], []
    for poly in _polygons(reference):
        poly = shapely.orient_polygons(poly)  # exterior counter-clockwise, holes clockwise: interior on the left
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:-1, :2]
            keep = np.r_[True, np.linalg.norm(np.diff(xy, axis=0), axis=1) > 1e-9]
            xy = xy[keep]
            n = len(xy)
            for i in range(n):
                a, b, c = xy[i - 1], xy[i], xy[(i + 1) % n]
                edges.append((b, c))
                turn = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
                if turn < -1e-12:
                    reflex.append(b)
    return edges, reflex


def envelope_mesh(footprint: Polygon | MultiPolygon, base: float, bouwhoogte: float | None,
                  goothoogte: float | None = None, dakhelling: float | None = None,
                  reference: Polygon | MultiPolygon | None = None) -> TriMesh:
    """The envelope solid over ``footprint`` (module docstring); heights in metres above ``base``, dakhelling in
    degrees, the roof sloping from the boundary of ``reference`` (default: the footprint).

    Returns EMPTY when there is no volume limit (no bouwhoogte and no goothoogte with a dakhelling, or a
    height ≤ 0). Without a bouwhoogte a goothoogte with a dakhelling still closes the roof: its top is where the
    slopes meet.
    """
    reference = footprint if reference is None else reference
    polys = _polygons(footprint)
    if not polys:
        return EMPTY
    pitched = goothoogte is not None and dakhelling is not None and dakhelling < 90
    if pitched and dakhelling <= 0:
        bouwhoogte, pitched = goothoogte if bouwhoogte is None else min(goothoogte, bouwhoogte), False
    if bouwhoogte is None:
        if not pitched:
            return EMPTY
        # the highest point the slopes can reach: the centre of the largest inscribed circle
        depth = max((q.boundary.distance(polylabel(q, 0.01)) for q in _polygons(reference)), default=0.0)
        bouwhoogte = goothoogte + math.tan(math.radians(dakhelling)) * (depth + 0.5)
    if bouwhoogte <= 0:
        return EMPTY
    fp = shapely.union_all(polys)
    origin = np.floor(np.array([*fp.bounds[:2], base]))
    solid = _prism(fp, base, base + bouwhoogte, origin)
    if pitched and goothoogte < bouwhoogte:
        tan = math.tan(math.radians(dakhelling))
        z_goot = base + max(goothoogte, 0.0) - origin[2]
        z_top = base + bouwhoogte + _CLEARANCE - origin[2]
        reach = (z_top - z_goot) / tan  # how far inward from an edge the roof stays below the prism's top
        near = fp.buffer(reach)
        edges, reflex = _edges_and_reflex(reference)
        cutters = []
        for a, b in edges:
            if not near.intersects(shapely.LineString([a, b])):
                continue
            a, b = a - origin[:2], b - origin[:2]
            t = (b - a) / np.linalg.norm(b - a)
            n = np.array([-t[1], t[0]]) * reach
            top = [(*(p + s), z_top) for p in (a, b) for s in (n, -n)]
            cutters.append(manifold3d.Manifold.hull_points(np.array([(*a, z_goot), (*b, z_goot), *top])))
        angles = np.linspace(0, 2 * math.pi, CONE_SIDES, endpoint=False)
        ring = np.column_stack([np.cos(angles), np.sin(angles)]) * reach
        for v in reflex:
            if not near.contains(shapely.Point(v)):
                continue
            v = v - origin[:2]
            pts = np.vstack([[*v, z_goot], np.column_stack([ring + v, np.full(CONE_SIDES, z_top)])])
            cutters.append(manifold3d.Manifold.hull_points(pts))
        if cutters:
            solid = solid - manifold3d.Manifold.batch_boolean(cutters, manifold3d.OpType.Add)
    return _mesh(solid.simplify(SIMPLIFY_M), origin)


# --------------------------------------------------------------------------------------------- solids

def mesh_from_solid(solid: dict) -> TriMesh:
    """A stored solid ({"vertices", "geometry": CityJSON Solid}) as a triangle mesh: every surface (with holes)
    triangulated in its own plane, vertices within 0.1 mm merged so that neighbouring surfaces share them.

    :raises ValueError: not a Solid, or surfaces that cannot be triangulated
    """
    geometry = solid["geometry"]
    if geometry.get("type") != "Solid":
        raise ValueError(f"not a Solid ({geometry.get('type')})")
    verts = np.asarray(solid["vertices"], dtype=float).reshape(-1, 3)
    _, key, inverse = np.unique(np.round(verts, 4), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    tris: list[list[int]] = []
    for shell in geometry["boundaries"]:
        for surface in shell:
            rings = [np.asarray(r, dtype=np.int64) for r in surface if len(r) >= 3]
            if not rings:
                continue
            if len(rings) == 1 and len(rings[0]) == 3:
                tris.append(list(inverse[rings[0]]))
                continue
            pts = [verts[r] for r in rings]
            ext = pts[0]
            normal = area_vector(ext)
            if not np.any(normal):
                continue
            drop = int(np.argmax(np.abs(normal)))
            axes = [k for k in range(3) if k != drop]
            flat = np.vstack(pts)[:, axes]
            ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
            idx = np.asarray(mapbox_earcut.triangulate_float64(flat, ends), dtype=np.int64).reshape(-1, 3)
            if not len(idx):
                raise ValueError("a surface that cannot be triangulated")
            ring_idx = np.concatenate(rings)
            # counter-clockwise in the projection is the normal's direction along the dropped axis, except
            # when dropping y: (x, z) is a left-handed view
            facing = normal[drop] * (-1 if drop == 1 else 1) > 0
            for t in idx:
                p = flat[t]
                area2 = (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0])
                if (area2 > 0) != facing:
                    t = t[::-1]
                tris.append(list(inverse[ring_idx[t]]))
    tri = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])]
    return TriMesh(verts[key], tri)


def block_mesh(footprint, z_ground: float, z_roof: float) -> TriMesh:
    """The LoD1.2 block: the footprint extruded from the ground to the roof height."""
    if not _polygons(footprint) or not z_roof > z_ground:
        return EMPTY
    origin = np.floor(np.array([*footprint.bounds[:2], z_ground]))
    return _mesh(_prism(footprint, z_ground, z_roof, origin), origin)


def validated(mesh: TriMesh) -> TriMesh:
    """The mesh as manifold3d accepts it (degenerate triangles collapsed). :raises ValueError: not closed."""
    origin = _origin(mesh.vertices)
    return _mesh(_manifold(mesh, origin), origin)


def union(meshes: list[TriMesh]) -> TriMesh:
    """One solid of several (a building's parts)."""
    meshes = [m for m in meshes if not m.empty]
    if not meshes:
        return EMPTY
    origin = _origin(*[m.vertices for m in meshes])
    return _mesh(manifold3d.Manifold.batch_boolean([_manifold(m, origin) for m in meshes], manifold3d.OpType.Add),
                 origin)


def translated(mesh: TriMesh, dz: float) -> TriMesh:
    return TriMesh(mesh.vertices + np.array([0.0, 0.0, dz]), mesh.triangles) if not mesh.empty else mesh


# --------------------------------------------------------------------------------------------- clash

@dataclass(frozen=True)
class Excess:
    """What of a building lies outside the allowed volume."""

    volume_m3: float            # all of it
    above_m3: float             # the part above the envelopes (inside their footprints)
    outside_m3: float           # the part beside them (outside every envelope's footprint)
    max_height_m: float         # the largest vertical distance from the envelope's top up to the building's top
    at: tuple[float, float] | None  # where that is (x, y)
    mesh: TriMesh               # the excess solid


def excess(building: TriMesh, envelopes: list[tuple[TriMesh, Polygon | MultiPolygon]]) -> Excess:
    """The building minus the allowed volume (manifold3d difference), split into the part above the envelopes'
    footprints and the part beside them, and the maximum excess height measured vertically at the excess
    solid's vertices (building top − envelope top there).

    :param envelopes: (envelope solid, its footprint); below its base (peil) a footprint allows any depth, as
        plans limit heights above peil only.
    """
    envelopes = [(e, f) for e, f in envelopes if not e.empty]
    origin = _origin(building.vertices, *[e.vertices for e, _ in envelopes])
    b = _manifold(building, origin)
    lo, hi = b.bounding_box()[2] - 1.0 + origin[2], b.bounding_box()[5] + 1.0 + origin[2]
    allowed = [_manifold(e, origin) for e, _ in envelopes]
    allowed += [_prism(f, lo, float(e.vertices[:, 2].min()), origin) for e, f in envelopes
                if e.vertices[:, 2].min() > lo]
    allowed = manifold3d.Manifold.batch_boolean(allowed, manifold3d.OpType.Add) if allowed else manifold3d.Manifold()
    rest = b - allowed
    footprints = shapely.union_all([f for _, f in envelopes]) if envelopes else None
    covered = _prism(footprints, lo, hi, origin) if _polygons(footprints) else manifold3d.Manifold()
    above = rest ^ covered
    mesh = _mesh(rest.simplify(SIMPLIFY_M), origin)
    max_h, at = 0.0, None
    above_mesh = _mesh(above, origin)
    if not above_mesh.empty:
        xy = np.unique(np.round(above_mesh.vertices[:, :2], 4), axis=0)
        top_b = top_heights(building, xy)
        top_e = np.fmax.reduce([top_heights(e, xy) for e, _ in envelopes])
        h = top_b - top_e
        if np.isfinite(h).any():
            k = int(np.nanargmax(h))
            max_h, at = max(float(h[k]), 0.0), (float(xy[k, 0]), float(xy[k, 1]))
    return Excess(max(rest.volume(), 0.0), max(above.volume(), 0.0), max((rest - covered).volume(), 0.0),
                  max_h, at, mesh)


def top_heights(mesh: TriMesh, xy: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The highest z of the mesh above each (x, y) (vertical ray cast; NaN where the mesh is not above it).
    Points on a shared edge or vertex count for every triangle that touches them."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    out = np.full(len(xy), np.nan)
    if mesh.empty:
        return out
    tri = mesh.vertices[mesh.triangles]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    keep = np.abs(det) > 1e-12  # vertical triangles have no top
    a, b, c, det = a[keep], b[keep], c[keep], det[keep]
    for s in range(0, len(xy), chunk):
        p = xy[s:s + chunk, None, :]
        u = ((b[:, 0] - p[..., 0]) * (c[:, 1] - p[..., 1]) - (c[:, 0] - p[..., 0]) * (b[:, 1] - p[..., 1])) / det
        v = ((c[:, 0] - p[..., 0]) * (a[:, 1] - p[..., 1]) - (a[:, 0] - p[..., 0]) * (c[:, 1] - p[..., 1])) / det
        w = 1.0 - u - v
        inside = (u >= -1e-9) & (v >= -1e-9) & (w >= -1e-9)
        z = u * a[:, 2] + v * b[:, 2] + w * c[:, 2]
        out[s:s + chunk] = np.where(inside, z, -np.inf).max(axis=1)
    out[~np.isfinite(out)] = np.nan
    return out
