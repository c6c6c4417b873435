"""An independent check of a CityJSON Solid for the roof and build tests, written apart from etl.roofs.validity:
edges compared by coordinates (not by vertex index), volume from earcut triangles (not from fans), planarity
from each face's least-squares plane."""

from __future__ import annotations

from collections import Counter

import mapbox_earcut
import numpy as np


def independent_problems(vertices: np.ndarray, geometry: dict) -> list[str]:
    assert geometry["type"] == "Solid"
    shell = geometry["boundaries"][0]
    assert len(geometry["semantics"]["values"][0]) == len(shell)
    v = np.asarray(vertices, dtype=float)
    v = v - v.mean(axis=0)
    key = [tuple(np.round(p, 3)) for p in v]  # millimetres
    edges: Counter = Counter()
    problems = []
    volume = 0.0
    for f, face in enumerate(shell):
        pts = v[[i for ring in face for i in ring]]
        centre = pts.mean(axis=0)
        normal = np.linalg.svd(pts - centre)[2][2]
        off_plane = float(np.abs((pts - centre) @ normal).max())
        if off_plane > 0.01:
            problems.append(f"face {f} is {off_plane:.3f} m off its plane")
        for ring in face:
            for a, b in zip(ring, ring[1:] + ring[:1]):
                edges[(key[a], key[b])] += 1
        # earcut on the face's plane, triangles oriented like the exterior ring
        u = np.cross(normal, [1.0, 0, 0] if abs(normal[0]) < 0.9 else [0, 1.0, 0])
        u /= np.linalg.norm(u)
        w = np.cross(normal, u)
        flat = np.column_stack([(pts - centre) @ u, (pts - centre) @ w])
        ends = np.cumsum([len(r) for r in face]).astype(np.uint32)
        tri = mapbox_earcut.triangulate_float64(flat, ends).reshape(-1, 3)
        exterior = v[face[0]]
        newell = np.cross(exterior, np.roll(exterior, -1, axis=0)).sum(axis=0)
        for t in tri:
            a, b, c = pts[t]
            n = np.cross(b - a, c - a)
            # a . (b x c) = a . n; turned to the face's own orientation
            volume += (1.0 if n @ newell >= 0 else -1.0) * float(a @ n) / 6.0
    for (a, b), n in edges.items():
        if n != 1 or edges.get((b, a)) != 1:
            problems.append(f"edge {a}->{b} used {n} times, back {edges.get((b, a), 0)} times")
    if volume <= 0:
        problems.append(f"volume {volume:.2f} m³ is not positive")
    return problems
