"""Triangulate flattened surfaces (tiles/model.py) with numpy: normals, triangles, the feature of each vertex.

Every ring vertex becomes a mesh vertex (a surface's vertices are its own), so each vertex gets the
normal of its surface. Triangles and quads without holes are split with array maths; only larger
polygons and polygons with holes go to earcut, one call per polygon, projected on the polygon's own
plane (through its Newell normal: a LoD2.2 roof face or a gable wall keeps its true shape). Non-planar
terrain rings (heights following the DTM) work the same way: they are nearly horizontal, so they
project on about the ground plane and keep their vertex heights.
Triangles are turned to agree with the ring orientation (outward, CityJSON's right-hand rule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mapbox_earcut
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Mesh:
    """Triangles of many features; the vertices of one feature are contiguous."""

    positions: np.ndarray  # (nv, 3) float64, local ENU metres
    normals: np.ndarray  # (nv, 3) float32 unit vectors
    triangles: np.ndarray  # (nt, 3) int64 into positions
    triangle_class: np.ndarray  # (nt,) surface class (roof/wall/ground or terrain type)
    vertex_feature: np.ndarray  # (nv,) feature index


_QUAD_AC = np.array([[0, 1, 2], [0, 2, 3]])  # a quad's two triangles split on diagonal a-c
_QUAD_BD = np.array([[0, 1, 3], [1, 2, 3]])  # ... and on b-d
_PLANE_AXES = np.array([[1, 2], [0, 2], [0, 1]])  # the axes left when dropping x, y or z


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a × b of (n, 3) arrays (np.cross, without its generality's overhead)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def column_extent(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum per column of an (n, k) array. (numpy reduces narrow rows along axis 0
    element by element: through the transpose it is some twenty times faster.)"""
    t = np.ascontiguousarray(a.T)
    return t.min(axis=1), t.max(axis=1)


def _newell(p: np.ndarray, ring_start: np.ndarray, ring_len: np.ndarray) -> np.ndarray:
    """Area-weighted normal (Newell's method) of every ring, (nrings, 3)."""
    nv = len(p)
    if not nv:
        return np.zeros((0, 3))
    nxt = np.arange(1, nv + 1)
    nxt[ring_start + ring_len - 1] = ring_start  # close every ring
    cross = _cross(p, p[nxt])  # sum of a×b over the ring = 2 × area vector
    return np.add.reduceat(cross, ring_start, axis=0)


def _earcut(xy: np.ndarray, vstart: np.ndarray, vend: np.ndarray, rstart: np.ndarray, rend: np.ndarray,
            ring_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Earcut every polygon: vertices xy[vstart:vend], rings ending at ring_end[rstart:rend] (counted
    from vstart). Returns the triangles (global vertex indices) and the polygon number of each."""
    out, counts = [], []
    for v0, v1, r0, r1 in zip(vstart.tolist(), vend.tolist(), rstart.tolist(), rend.tolist()):
        idx = mapbox_earcut.triangulate_float64(xy[v0:v1], ring_end[r0:r1])
        out.append(idx)
        counts.append(len(idx) // 3)
    if not out:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    tri = np.concatenate(out).astype(np.int64).reshape(-1, 3) + np.repeat(vstart, counts)[:, None]
    return tri, np.repeat(np.arange(len(counts)), counts)


def _plane_bases(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal in-plane axes (u, v) per polygon normal (n, 3): the two coordinate axes that the normal's
    largest component leaves, projected on the plane (Gram-Schmidt). A sloped roof face is triangulated
    undistorted; a face square to an axis gets exactly those axes (a horizontal roof: x and y), and a
    polygon without a normal (no area) the plain axes."""
    length = np.sqrt(_dot(normal, normal))
    n = np.divide(normal, length[:, None], out=np.zeros_like(normal), where=length[:, None] > 0)
    axes = _PLANE_AXES[np.argmax(np.abs(normal), axis=1)]
    rows = np.arange(len(n))
    eye = np.eye(3)
    u = eye[axes[:, 0]] - n[rows, axes[:, 0], None] * n
    u /= np.sqrt(_dot(u, u))[:, None]
    v = eye[axes[:, 1]] - n[rows, axes[:, 1], None] * n - u[rows, axes[:, 1], None] * u
    v /= np.sqrt(_dot(v, v))[:, None]
    return u, v


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], ends[i]) without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total) + offsets


def triangulate(positions: np.ndarray, ring_lengths, surface_rings, surface_class, surface_feature) -> Mesh:
    """Triangulate surfaces given as flat rings.

    :param positions: (nv, 3) ring vertex positions, ring after ring, surface after surface.
    """
    p = np.asarray(positions, dtype=np.float64)
    ring_len = np.asarray(ring_lengths, dtype=np.int64)
    surf_rings = np.asarray(surface_rings, dtype=np.int64)
    surf_class = np.asarray(surface_class, dtype=np.int64)
    surf_feat = np.asarray(surface_feature, dtype=np.int64)
    nsurf = len(surf_rings)
    ring_start = np.concatenate([[0], np.cumsum(ring_len)[:-1]]) if len(ring_len) else np.zeros(0, np.int64)
    surf_first_ring = np.concatenate([[0], np.cumsum(surf_rings)[:-1]]) if nsurf else np.zeros(0, np.int64)
    surf_vstart = ring_start[surf_first_ring] if nsurf else np.zeros(0, np.int64)
    surf_vend = np.append(surf_vstart[1:], len(p)) if nsurf else np.zeros(0, np.int64)
    surf_len = surf_vend - surf_vstart
    # normals from the ring maths on coordinates centred per surface, for precision
    centred = p - (p[surf_vstart].repeat(surf_len, axis=0) if nsurf else 0)
    ring_normal = _newell(centred, ring_start, ring_len)
    surf_normal = ring_normal[surf_first_ring] if nsurf else np.zeros((0, 3))

    tris, tri_surf = [], []
    one_ring = surf_rings == 1
    for k in (3, 4):
        sel = np.flatnonzero(one_ring & (surf_len == k))
        if not len(sel):
            continue
        s = surf_vstart[sel]
        if k == 3:
            tris.append(np.column_stack([s, s + 1, s + 2]))
            tri_surf.append(sel)
            continue
        a, b, c, d = (p[s + i] for i in range(4))
        n = surf_normal[sel]
        # split a quad on the diagonal through its reflex corner, if it has one
        bd = (_dot(_cross(b - a, c - b), n) < 0) | (_dot(_cross(d - c, a - d), n) < 0)
        tris.append((s[:, None, None] + np.where(bd[:, None, None], _QUAD_BD, _QUAD_AC)).reshape(-1, 3))
        tri_surf.append(np.repeat(sel, 2))

    complex_ = np.flatnonzero(~(one_ring & (surf_len <= 4)))
    if len(complex_):
        # earcut in each polygon's own plane, all polygons' 2D points in one array
        cv = concat_ranges(surf_vstart[complex_], surf_vend[complex_])
        cs_len = surf_len[complex_]
        u, v = _plane_bases(surf_normal[complex_])
        pts = centred[cv]
        xy = np.column_stack([_dot(pts, np.repeat(u, cs_len, axis=0)), _dot(pts, np.repeat(v, cs_len, axis=0))])
        # ring ends counted from their polygon's first vertex
        cr = concat_ranges(surf_first_ring[complex_], surf_first_ring[complex_] + surf_rings[complex_])
        ring_end = (ring_start[cr] + ring_len[cr] - np.repeat(surf_vstart[complex_], surf_rings[complex_]))
        c_vstart = np.concatenate([[0], np.cumsum(cs_len)[:-1]])
        c_rstart = np.concatenate([[0], np.cumsum(surf_rings[complex_])[:-1]])
        tri_c, poly = _earcut(xy, c_vstart, c_vstart + cs_len, c_rstart, c_rstart + surf_rings[complex_],
                              ring_end.astype(np.uint32))
        tris.append(cv[tri_c])  # back to the ring vertex numbering
        tri_surf.append(complex_[poly])

    if tris:
        tri = np.concatenate(tris)
        tsurf = np.concatenate(tri_surf)
    else:
        tri = np.zeros((0, 3), np.int64)
        tsurf = np.zeros(0, np.int64)

    # orientation: agree with the surface normal; drop triangles without area
    tn = _cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    ok = _dot(tn, tn) > 1e-18  # twice the area > 1e-9
    flip = _dot(tn, surf_normal[tsurf]) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    tn[flip] = -tn[flip]
    tri, tsurf, tn = tri[ok], tsurf[ok], tn[ok]
    if (~ok).any():
        log.debug("dropped %d triangles without area", int((~ok).sum()))

    # vertex normals: area-weighted triangle normals accumulated per vertex (a flat surface gives its
    # own normal; a draped terrain surface gets smooth shading); fall back to the surface normal
    vn = np.zeros_like(p)
    for j in range(3):
        for ax in range(3):
            vn[:, ax] += np.bincount(tri[:, j], weights=tn[:, ax], minlength=len(p))
    surf_of_vertex = np.repeat(np.arange(nsurf), surf_len)
    length = np.sqrt(_dot(vn, vn))
    bad = length < 1e-12
    if bad.any():
        vn[bad] = surf_normal[surf_of_vertex[bad]]
        length[bad] = np.sqrt(_dot(vn[bad], vn[bad]))
    still = length < 1e-12
    vn[still] = (0.0, 0.0, 1.0)
    length[still] = 1.0
    vn /= length[:, None]

    return Mesh(p, vn.astype(np.float32), tri, surf_class[tsurf], np.repeat(surf_feat, surf_len))
