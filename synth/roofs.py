"""Synthetic roof point clouds with their truth, for the roof reconstruction's tests and benchmark.

`roof_building(seed)` is a pure function of its seed: one building (a rotated rectangular BAG-like footprint,
its ground height and the AHN-like roof points inside it, class "gebouw" only) with the truth it was drawn
from: the roof planes, the eave height (goothoogte), the ridge height (nok) and the 3DBAG roof type. Shapes:
flat, gable (zadeldak), hip (schilddak), shed (lessenaarsdak), mansard-like (gambrel: a steep lower and a
shallow upper plane per side), a gable with a flat-topped dormer (dakkapel), and height jumps (two flat parts,
or a gable with a lower flat annex), and an L-shaped footprint with a cross gable (two gables meeting in
valleys). Points: ~10 per m², 2–3 cm noise. Nuisances, when asked for: a chimney,
a tree crown over a roof edge, a strip of the neighbour's higher roof inside the footprint, very few points,
a sliver footprint and a footprint with a courtyard (a hole).

Heights are NAP metres, coordinates RD New. The truth's eave of a roof with height jumps is the eave of its
main part (the largest flat part, or the sloped planes); its ridge is the highest point of the roof.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon

SHAPES = ("flat", "gable", "hip", "shed", "mansard", "dormer", "jump_flat", "jump_annex", "l_gable")
NUISANCES = ("chimney", "tree", "neighbour", "few_points", "sliver", "courtyard", "two_points")
ROOF_TYPE = {"flat": "horizontal", "jump_flat": "multiple horizontal", "courtyard": "horizontal"}
DENSITY = 10.0  # points per m², AHN4-like


@dataclass
class RoofTruth:
    roof_type: str  # 3DBAG b3_dak_type: horizontal, multiple horizontal, slanted
    h_goot: float
    h_nok: float
    planes: list[tuple[float, float, float]]  # z = a x + b y + c in RD New + NAP
    pitch_max: float  # degrees


@dataclass
class SyntheticRoof:
    seed: int
    shape: str
    nuisance: str | None
    footprint: Polygon
    z_ground: float
    points: np.ndarray  # (n, 3)
    truth: RoofTruth
    extras: dict = field(default_factory=dict)


def roof_buildings(n: int, seed: int = 0, nuisance_share: float = 0.0) -> list[SyntheticRoof]:
    """`n` buildings cycling through the shapes; a share of them gets a roof nuisance (chimney, tree,
    neighbour strip) that a good reconstruction shrugs off."""
    return [sample_building(i, seed, nuisance_share) for i in range(n)]


def sample_building(i: int, seed: int = 0, nuisance_share: float = 0.0) -> SyntheticRoof:
    """Building `i` of `roof_buildings(n, seed, nuisance_share)`, made without the others."""
    rng = np.random.default_rng([seed, i])
    nuisance = ("chimney", "tree", "neighbour")[int(rng.integers(3))] if rng.random() < nuisance_share else None
    return roof_building(seed * 100_003 + i, SHAPES[i % len(SHAPES)], nuisance)


def roof_building(seed: int, shape: str | None = None, nuisance: str | None = None) -> SyntheticRoof:
    rng = np.random.default_rng(seed)
    shape = shape or SHAPES[int(rng.integers(len(SHAPES)))]
    if nuisance == "courtyard":
        shape = "flat"
    length = float(rng.uniform(10, 20))
    width = float(rng.uniform(7, min(12, length - 1)))
    if nuisance == "sliver":
        width = 0.4
    theta = float(rng.uniform(0, math.pi))
    origin = (float(120_000 + rng.uniform(0, 5_000)), float(485_000 + rng.uniform(0, 5_000)))
    z_ground = float(rng.uniform(-1.0, 1.5))
    eave = z_ground + float(rng.uniform(3.0, 9.0))

    height, planes_local, goot, nok = _shape(shape, rng, length, width, eave)
    wing = float(rng.uniform(3.0, 6.0)) if shape == "l_gable" else 0.0  # the L's leg beyond the main block
    roof_type = ROOF_TYPE.get(shape, "slanted")
    pitch_max = max((math.degrees(math.atan(math.hypot(a, b))) for a, b, _ in planes_local), default=0.0)

    u, v = _sample(rng, length, width, wing, DENSITY * (0.03 if nuisance == "few_points" else 1.0))
    hole = None
    if nuisance == "courtyard":
        hole = (length * 0.3, width * 0.3)
        keep = (np.abs(u) > hole[0] / 2) | (np.abs(v) > hole[1] / 2)
        u, v = u[keep], v[keep]
    if nuisance == "two_points":
        u, v = u[:2], v[:2]
    z = height(u, v) + rng.normal(0.0, rng.uniform(0.02, 0.03), len(u))
    z = _nuisance(nuisance, rng, u, v, z, length, width, nok)

    footprint = _footprint(length, width, wing, hole, theta, origin)
    x, y = _to_rd(u, v, theta, origin)
    planes = [_plane_to_rd(p, theta, origin) for p in planes_local]
    truth = RoofTruth(roof_type, goot, nok, planes, pitch_max)
    return SyntheticRoof(seed, shape, nuisance, footprint, z_ground, np.column_stack([x, y, z]), truth)


def _shape(shape, rng, length, width, eave):
    """Height function z(u, v) in the building's frame (u along its length, v across, centred), the local
    planes (z = a u + b v + c), the eave and the ridge."""
    half_l, half_w = length / 2, width / 2
    steep = math.tan(math.radians(rng.uniform(30, 50)))
    if shape == "flat":
        return (lambda u, v: np.full_like(u, eave)), [(0.0, 0.0, eave)], eave, eave
    if shape == "gable":
        ridge = eave + half_w * steep
        return (lambda u, v: eave + (half_w - np.abs(v)) * steep), \
            [(0.0, -steep, ridge), (0.0, steep, ridge)], eave, ridge
    if shape == "hip":
        length_ok = max(half_l, half_w + 1.5)  # a ridge of at least 3 m
        ridge = eave + half_w * steep
        return (lambda u, v: eave + np.minimum(half_w - np.abs(v), length_ok - np.abs(u)) * steep), \
            [(0.0, -steep, ridge), (0.0, steep, ridge), (-steep, 0.0, eave + length_ok * steep),
             (steep, 0.0, eave + length_ok * steep)], eave, ridge
    if shape == "shed":
        slope = math.tan(math.radians(rng.uniform(8, 25)))
        return (lambda u, v: eave + (v + half_w) * slope), [(0.0, slope, eave + half_w * slope)], eave, \
            eave + width * slope
    if shape == "mansard":
        lower, upper = math.tan(math.radians(rng.uniform(60, 70))), math.tan(math.radians(rng.uniform(15, 30)))
        inset = 2.0
        z_break = eave + inset * lower
        ridge = z_break + (half_w - inset) * upper
        return (lambda u, v: np.minimum(eave + (half_w - np.abs(v)) * lower,
                                        z_break + (half_w - inset - np.abs(v)) * upper)), \
            [(0.0, -lower, eave + half_w * lower), (0.0, lower, eave + half_w * lower),
             (0.0, -upper, z_break + (half_w - inset) * upper), (0.0, upper, z_break + (half_w - inset) * upper)], \
            eave, ridge
    if shape == "dormer":
        steep = math.tan(math.radians(rng.uniform(38, 50)))
        ridge = eave + half_w * steep
        depth, dormer_w = 2.5, float(rng.uniform(2.5, 3.5))
        v_front = half_w - 1.0
        z_dormer = eave + (1.0 + depth) * steep - 0.3
        u0 = float(rng.uniform(-half_l + 1.5, half_l - 1.5 - dormer_w))

        def height(u, v):
            z = eave + (half_w - np.abs(v)) * steep
            inside = (u >= u0) & (u <= u0 + dormer_w) & (v <= v_front) & (v >= 0)
            return np.where(inside, np.maximum(z, z_dormer), z)

        return height, [(0.0, -steep, ridge), (0.0, steep, ridge), (0.0, 0.0, z_dormer)], eave, ridge
    if shape == "jump_flat":
        split = float(rng.uniform(0.1, 0.25) * rng.choice([-1, 1])) * length  # one part clearly the larger
        low, high = eave, eave + float(rng.uniform(2.5, 6.0))
        high_is_larger = split < 0
        return (lambda u, v: np.where(u < split, low, high)), [(0.0, 0.0, low), (0.0, 0.0, high)], \
            (high if high_is_larger else low), high
    if shape == "jump_annex":
        split = half_l - float(rng.uniform(3.5, 5.0))  # the annex is the last few metres
        annex = eave - float(rng.uniform(0.8, 2.0))
        ridge = eave + half_w * steep
        return (lambda u, v: np.where(u < split, eave + (half_w - np.abs(v)) * steep, annex)), \
            [(0.0, -steep, ridge), (0.0, steep, ridge), (0.0, 0.0, annex)], eave, ridge
    if shape == "l_gable":
        # the leg's gable runs across the main block's end (ridge along v at u_leg) and meets the main roof in
        # valleys: over the corner the higher of the two roofs, beyond the main block the leg's own
        ridge = eave + half_w * steep
        u_leg = half_l - half_w

        def height(u, v):
            main = eave + (half_w - np.abs(v)) * steep
            leg = eave + (half_w - np.abs(u - u_leg)) * steep
            corner = (u >= half_l - width) & (v >= 0)
            return np.where(v > half_w, leg, np.where(corner, np.maximum(main, leg), main))

        return height, [(0.0, -steep, ridge), (0.0, steep, ridge), (-steep, 0.0, ridge + u_leg * steep),
                        (steep, 0.0, ridge - u_leg * steep)], eave, ridge
    raise ValueError(f"unknown roof shape {shape!r}; choose from {SHAPES}")


def _sample(rng, length, width, wing, density):
    n = int(rng.poisson(density * length * width))
    u, v = rng.uniform(-length / 2, length / 2, n), rng.uniform(-width / 2, width / 2, n)
    if wing:
        n = int(rng.poisson(density * width * wing))
        u = np.concatenate([u, rng.uniform(length / 2 - width, length / 2, n)])
        v = np.concatenate([v, rng.uniform(width / 2, width / 2 + wing, n)])
    return u, v


def _nuisance(nuisance, rng, u, v, z, length, width, nok):
    z = z.copy()
    if nuisance == "chimney":
        cu, cv = rng.uniform(-length / 3, length / 3), rng.uniform(-width / 4, width / 4)
        box = (np.abs(u - cu) < 0.4) & (np.abs(v - cv) < 0.4)
        z[box] += 1.2
    elif nuisance == "tree":  # a crown over one long edge hides the roof below it
        cu = rng.uniform(-length / 3, length / 3)
        crown = np.hypot(u - cu, v + width / 2) < 2.5
        z[crown] = z[crown] + rng.uniform(0.5, 4.0, int(crown.sum()))
    elif nuisance == "neighbour":  # the footprint reaches 0.7 m onto the neighbour's higher flat roof
        strip = v < -width / 2 + 0.7
        z[strip] = nok + 3.0 + rng.normal(0, 0.025, int(strip.sum()))
    return z


def _footprint(length, width, wing, hole, theta, origin) -> Polygon:
    def ring(half_u, half_v):
        u = np.array([-half_u, half_u, half_u, -half_u])
        v = np.array([-half_v, -half_v, half_v, half_v])
        return np.column_stack(_to_rd(u, v, theta, origin))

    # millimetre coordinates, as the BAG delivers them
    if wing:
        hl, hw = length / 2, width / 2
        u = np.array([-hl, hl, hl, hl - width, hl - width, -hl])
        v = np.array([-hw, -hw, hw + wing, hw + wing, hw, hw])
        outer = np.round(np.column_stack(_to_rd(u, v, theta, origin)), 3)
    else:
        outer = np.round(ring(length / 2, width / 2), 3)
    holes = [np.round(ring(hole[0] / 2, hole[1] / 2), 3)] if hole else []
    return shapely.orient_polygons(Polygon(outer, holes))


def _to_rd(u, v, theta, origin):
    c, s = math.cos(theta), math.sin(theta)
    return origin[0] + u * c - v * s, origin[1] + u * s + v * c


def _plane_to_rd(plane, theta, origin):
    a_u, b_v, c0 = plane
    c, s = math.cos(theta), math.sin(theta)
    a = a_u * c - b_v * s
    b = a_u * s + b_v * c
    return (a, b, c0 - a * origin[0] - b * origin[1])
