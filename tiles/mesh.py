"""Triangulate flattened surfaces (tiles/model.py) with numpy: normals, triangles, per-feature ranges.

Every ring vertex becomes a mesh vertex (a surface's vertices are its own), so each vertex gets the
normal of its surface. Triangles and quads without holes are split with array maths; only larger
polygons and polygons with holes go to earcut, one call per polygon, projected on the plane that
drops the normal's largest axis. Non-planar terrain rings (heights following the DTM) work the same
way: they are nearly horizontal, so they project on the ground plane and keep their vertex heights.
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
    """Triangles of many features; vertices and triangles of one feature are contiguous."""

    positions: np.ndarray  # (nv, 3) float64, local ENU metres
    normals: np.ndarray  # (nv, 3) float32 unit vectors
    triangles: np.ndarray  # (nt, 3) int64 into positions
    triangle_class: np.ndarray  # (nt,) surface class (roof/wall/ground or terrain type)
    vertex_feature: np.ndarray  # (nv,) feature index
    feature_vertex_start: np.ndarray  # (nf + 1,) vertex range per feature
    feature_triangle_start: np.ndarray  # (nf + 1,) triangle range per feature


def _newell(p: np.ndarray, ring_start: np.ndarray, ring_len: np.ndarray) -> np.ndarray:
    """Area-weighted normal (Newell's method) of every ring, (nrings, 3)."""
    nv = len(p)
    nxt = np.arange(1, nv + 1)
    nxt[ring_start + ring_len - 1] = ring_start  # close every ring
    a, b = p, p[nxt]
    cross = np.cross(a, b)  # sum of a×b over the ring = 2 × area vector
    return np.add.reduceat(cross, ring_start, axis=0) if nv else np.zeros((0, 3))


def triangulate(positions: np.ndarray, ring_lengths, surface_rings, surface_class, surface_feature,
                n_features: int) -> Mesh:
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
        reflex_b = np.einsum("ij,ij->i", np.cross(b - a, c - b), n) < 0
        reflex_d = np.einsum("ij,ij->i", np.cross(d - c, a - d), n) < 0
        bd = reflex_b | reflex_d
        t1 = np.where(bd[:, None], np.column_stack([s, s + 1, s + 3]), np.column_stack([s, s + 1, s + 2]))
        t2 = np.where(bd[:, None], np.column_stack([s + 1, s + 2, s + 3]), np.column_stack([s, s + 2, s + 3]))
        tris += [t1, t2]
        tri_surf += [sel, sel]

    complex_ = np.flatnonzero(~(one_ring & (surf_len <= 4)))
    if len(complex_):
        axes = np.argmax(np.abs(surf_normal[complex_]), axis=1)
        keep = np.array([[1, 2], [0, 2], [0, 1]])
        out, out_surf = [], []
        for si, ax in zip(complex_.tolist(), axes.tolist()):
            v0, v1 = int(surf_vstart[si]), int(surf_vend[si])
            fr = int(surf_first_ring[si])
            nr = int(surf_rings[si])
            ends = np.cumsum(ring_len[fr:fr + nr]).astype(np.uint32)
            idx = mapbox_earcut.triangulate_float64(centred[v0:v1][:, keep[ax]], ends)
            if len(idx):
                out.append(idx.astype(np.int64) + v0)
                out_surf.append(np.full(len(idx) // 3, si, dtype=np.int64))
        if out:
            tris.append(np.concatenate(out).reshape(-1, 3))
            tri_surf.append(np.concatenate(out_surf))

    if tris:
        tri = np.concatenate(tris)
        tsurf = np.concatenate(tri_surf)
    else:
        tri = np.zeros((0, 3), np.int64)
        tsurf = np.zeros(0, np.int64)

    # orientation: agree with the surface normal; drop triangles without area
    tn = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    area2 = np.linalg.norm(tn, axis=1)
    ok = area2 > 1e-9
    flip = np.einsum("ij,ij->i", tn, surf_normal[tsurf]) < 0
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
    length = np.linalg.norm(vn, axis=1)
    bad = length < 1e-12
    if bad.any():
        vn[bad] = surf_normal[surf_of_vertex[bad]]
        length[bad] = np.linalg.norm(vn[bad], axis=1)
    still = length < 1e-12
    vn[still] = (0.0, 0.0, 1.0)
    length[still] = 1.0
    vn /= length[:, None]

    # triangles sorted by feature (stable: surfaces stay in order)
    tri_feat = surf_feat[tsurf]
    order = np.argsort(tri_feat, kind="stable")
    tri, tsurf, tri_feat = tri[order], tsurf[order], tri_feat[order]
    vertex_feature = np.repeat(surf_feat, surf_len)
    fvs = np.searchsorted(vertex_feature, np.arange(n_features + 1)) if len(p) else np.zeros(n_features + 1, np.int64)
    fts = np.searchsorted(tri_feat, np.arange(n_features + 1))
    return Mesh(p, vn.astype(np.float32), tri, surf_class[tsurf], vertex_feature, fvs, fts)
