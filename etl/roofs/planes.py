"""Roof plane detection: sequential RANSAC with connected support, then regularisation.

Planes are stored as z = a x + b y + c (roof planes are never vertical), in coordinates relative to the
building's centroid so that the least-squares fits stay well conditioned in RD New's six-digit metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Plane:
    a: float
    b: float
    c: float
    inliers: np.ndarray  # indices into the building's points

    def z(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.a * x + self.b * y + self.c

    @property
    def slope_deg(self) -> float:
        return math.degrees(math.atan(math.hypot(self.a, self.b)))


def detect_planes(xyz: np.ndarray, config, rng: np.random.Generator) -> list[Plane]:
    """Planes supported by at least `config.min_plane_points` connected points, largest first.
    Points that fit no plane (chimneys, trees, noise) stay unassigned."""
    free = np.arange(len(xyz))
    planes: list[Plane] = []
    misses = 0
    while len(free) >= config.min_plane_points and misses < 3 and len(planes) < config.max_planes:
        plane = _best_plane(xyz, free, config, rng)
        if plane is None:
            misses += 1
            continue
        planes.append(plane)
        free = np.setdiff1d(free, plane.inliers, assume_unique=True)
    return regularise(xyz, planes, config)


def _best_plane(xyz, free, config, rng) -> Plane | None:
    pts = xyz[free]
    k = config.ransac_hypotheses
    sample = rng.integers(0, len(pts), size=(k, 3))
    p0, p1, p2 = pts[sample[:, 0]], pts[sample[:, 1]], pts[sample[:, 2]]
    normal = np.cross(p1 - p0, p2 - p0)
    length = np.linalg.norm(normal, axis=1)
    # degenerate triples and walls (steeper than max_slope) make no roof plane
    ok = (length > 1e-6) & (np.abs(normal[:, 2]) > math.cos(math.radians(config.max_slope_deg)) * length)
    if not ok.any():
        return None
    normal, p0, length = normal[ok], p0[ok], length[ok]
    normal /= length[:, None]
    # hypotheses are scored on at most `score_points` points: enough to rank them, bounded in memory
    scored = pts if len(pts) <= config.score_points else pts[rng.choice(len(pts), config.score_points, replace=False)]
    distance = np.abs(scored @ normal.T - np.sum(p0 * normal, axis=1))
    best = int(np.argmax((distance < config.inlier_distance).sum(axis=0)))
    inliers = np.flatnonzero(np.abs((pts - p0[best]) @ normal[best]) < config.inlier_distance)
    if len(inliers) < 3:
        return None
    # refit on the inliers, then keep the largest connected patch of the refitted plane's inliers
    a, b, c = fit_plane(pts[inliers])
    residual = np.abs(pts[:, 2] - (a * pts[:, 0] + b * pts[:, 1] + c)) * math.cos(math.atan(math.hypot(a, b)))
    inliers = np.flatnonzero(residual < config.inlier_distance)
    inliers = inliers[largest_patch(pts[inliers, :2], config.patch_cell)]
    if len(inliers) < config.min_plane_points:
        return None
    a, b, c = fit_plane(pts[inliers])
    return Plane(a, b, c, free[inliers])


def fit_plane(pts: np.ndarray) -> tuple[float, float, float]:
    """Total least squares (smallest principal axis), returned as z = a x + b y + c."""
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    n = vt[2]
    if abs(n[2]) < 1e-9:
        n = np.array([0.0, 0.0, 1.0])
    a, b = -n[0] / n[2], -n[1] / n[2]
    return float(a), float(b), float(centre[2] - a * centre[0] - b * centre[1])


def largest_patch(xy: np.ndarray, cell: float) -> np.ndarray:
    """Indices of the points in the largest 8-connected group of occupied grid cells: one plane's
    support must be one piece of roof, not every stretch of the building the plane happens to cross."""
    if len(xy) == 0:
        return np.arange(0)
    ij = np.floor((xy - xy.min(axis=0)) / cell).astype(np.int64) + 1  # a free border around the grid
    occupied = np.zeros(tuple(ij.max(axis=0) + 2), dtype=bool)
    occupied[ij[:, 0], ij[:, 1]] = True
    label = grid_components(occupied)
    point_label = label[ij[:, 0], ij[:, 1]]
    values, counts = np.unique(point_label, return_counts=True)
    return np.flatnonzero(point_label == values[int(np.argmax(counts))])


def grid_components(occupied: np.ndarray) -> np.ndarray:
    """8-connected components of a boolean grid with a free border: each occupied cell takes the smallest
    cell number of its component (propagated until nothing changes); free cells get -1."""
    big = occupied.size
    label = np.where(occupied, np.arange(big).reshape(occupied.shape), big)
    while True:
        low = label.copy()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di or dj:
                    low[1:-1, 1:-1] = np.minimum(low[1:-1, 1:-1], label[1 + di:label.shape[0] - 1 + di,
                                                                      1 + dj:label.shape[1] - 1 + dj])
        low[~occupied] = big
        if np.array_equal(low, label):
            return np.where(occupied, label, -1)
        label = low


def regularise(xyz: np.ndarray, planes: list[Plane], config) -> list[Plane]:
    """Snap near-horizontal planes to horizontal (flat roofs are flat; a 1° tilt from noise would move the
    eave) and merge planes that are nearly the same plane (one roof face found twice)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(planes)):
            for j in range(i + 1, len(planes)):
                if _same_plane(xyz, planes[i], planes[j], config):
                    inliers = np.concatenate([planes[i].inliers, planes[j].inliers])
                    planes[i] = Plane(*fit_plane(xyz[inliers]), inliers)
                    del planes[j]
                    merged = True
                    break
            if merged:
                break
    out = []
    for p in planes:
        if p.slope_deg < config.horizontal_deg:
            p = Plane(0.0, 0.0, float(np.median(xyz[p.inliers, 2])), p.inliers)
        out.append(p)
    out.sort(key=lambda p: -len(p.inliers))
    return out


def _same_plane(xyz, p: Plane, q: Plane, config) -> bool:
    normal_p = np.array([-p.a, -p.b, 1.0]) / math.sqrt(p.a ** 2 + p.b ** 2 + 1)
    normal_q = np.array([-q.a, -q.b, 1.0]) / math.sqrt(q.a ** 2 + q.b ** 2 + 1)
    if math.degrees(math.acos(min(1.0, float(normal_p @ normal_q)))) > config.merge_angle_deg:
        return False
    both = xyz[np.concatenate([p.inliers, q.inliers])]
    # each plane must also fit the other's points
    return bool(np.median(np.abs(both[:, 2] - p.z(both[:, 0], both[:, 1]))) < config.merge_distance
                and np.median(np.abs(both[:, 2] - q.z(both[:, 0], both[:, 1]))) < config.merge_distance)
