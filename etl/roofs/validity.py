"""Our own validity check of a CityJSON Solid, with val3dity's error codes
(https://val3dity.readthedocs.io/en/latest/errors/) for the checks it makes:

- 101 TOO_FEW_POINTS: a ring with fewer than 3 distinct vertices
- 102 CONSECUTIVE_POINTS_SAME: a ring that repeats a vertex (index or coordinates) consecutively
- 104 RING_SELF_INTERSECTION: a face's rings, projected on the face's plane, do not form a valid polygon
  (this also catches val3dity's 201/206/207: rings that cross, holes outside, nested holes)
- 203 NON_PLANAR_POLYGON_DISTANCE_PLANE: a vertex lies more than `planarity` (1 cm) off its face's plane
- 302 SHELL_NOT_CLOSED: an edge used by one face only
- 303 NON_MANIFOLD_CASE: an edge used by more than two faces
- 307 POLYGON_WRONGLY_ORIENTED: an edge used twice in the same direction, or a negative volume
  (the whole shell turned inside out)

Not checked: 306 SHELL_SELF_INTERSECTION between faces that share no edge, and 305 several connected
components. Edges are compared by vertex index; the builders here share vertices, so equal coordinates mean
equal indices.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import shapely
from shapely.geometry import Polygon

PLANARITY = 0.01  # m, val3dity's default


def solid_errors(vertices: np.ndarray, geometry: dict, planarity: float = PLANARITY) -> list[int]:
    """Sorted error codes of a Solid geometry whose boundaries index `vertices` from 0."""
    if geometry.get("type") != "Solid" or not geometry.get("boundaries"):
        return [301]
    faces = geometry["boundaries"][0]
    vertices = np.asarray(vertices, dtype=float)
    vertices = vertices - vertices.mean(axis=0)  # metres around the solid: no loss in RD's large numbers
    errors: set[int] = set()
    directed: Counter = Counter()
    projected = []
    for face in faces:
        errors |= _face_errors(vertices, face, planarity, projected)
        for ring in face:
            for i, a in enumerate(ring):
                directed[(a, ring[(i + 1) % len(ring)])] += 1
    if projected and not np.all(shapely.is_valid(projected)):
        errors.add(104)
    for (a, b), count in directed.items():
        back = directed.get((b, a), 0)
        if count > 1:
            errors.add(307 if back == 0 else 303)
        elif back == 0:
            errors.add(302)
        elif back > 1:
            errors.add(303)
    if not errors & {302, 303, 307} and signed_volume(vertices, faces) <= 0:
        errors.add(307)
    return sorted(errors)


def _face_errors(vertices, face, planarity, projected) -> set[int]:
    errors = set()
    for ring in face:
        if len(set(ring)) < 3:
            errors.add(101)
        pts = vertices[ring]
        if any(ring[i] == ring[i - 1] for i in range(len(ring))) or \
                np.any(np.all(np.abs(pts - np.roll(pts, 1, axis=0)) < 1e-9, axis=1)):
            errors.add(102)
    if errors:
        return errors
    exterior = vertices[face[0]]
    # Newell's normal of the exterior ring; the plane through its centroid
    nxt = np.roll(exterior, -1, axis=0)
    normal = np.array([np.sum((exterior[:, 1] - nxt[:, 1]) * (exterior[:, 2] + nxt[:, 2])),
                       np.sum((exterior[:, 2] - nxt[:, 2]) * (exterior[:, 0] + nxt[:, 0])),
                       np.sum((exterior[:, 0] - nxt[:, 0]) * (exterior[:, 1] + nxt[:, 1]))])
    length = np.linalg.norm(normal)
    if length < 1e-12:
        return {104}  # no area: the ring folds onto itself
    normal /= length
    pts = vertices[[i for ring in face for i in ring]]
    if np.max(np.abs((pts - exterior.mean(axis=0)) @ normal)) > planarity:
        errors.add(203)
    # project on the plane's best axis-aligned plane; shapely tells whether the rings make a polygon
    drop = int(np.argmax(np.abs(normal)))
    keep = [k for k in range(3) if k != drop]
    projected.append(Polygon(vertices[face[0]][:, keep], [vertices[r][:, keep] for r in face[1:]]))
    return errors


def signed_volume(vertices: np.ndarray, faces) -> float:
    """Divergence theorem over fan triangles of every ring (exact for planar, simple polygons, holes
    included, since each ring's fans sum to its signed area)."""
    vertices = np.asarray(vertices, dtype=float)
    vertices = vertices - vertices.mean(axis=0)
    first, second, third = [], [], []
    for face in faces:
        for ring in face:
            first += [ring[0]] * (len(ring) - 2)
            second += ring[1:-1]
            third += ring[2:]
    a, b, c = vertices[first], vertices[second], vertices[third]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0
