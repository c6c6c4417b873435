"""Synthetic inputs: a deterministic, realistic Dutch district in the real delivery formats.

`write_district` lays out a neighbourhood of blocks between streets (row houses with gardens and fences,
detached houses, flats — the first ones with a singel in front —, a courtyard block, parks), a canal with banks
and a bridge, and writes

- ``bgt/bgt_<objecttype>.gml``: IMGeo 2.1.1 CityGML, element for element like the PDOK BGT download
  (modelled on ../shared/data/nlextract-bgt-otterlo),
- ``bag.gpkg``: layers ``pand`` and ``verblijfsobject`` modelled on PDOK's bag-light GeoPackage,
- ``ahn/ahn_<x>_<y>.laz``: a classified AHN-like point cloud in 250 m sheets (LAS 1.4, point format 6,
  EPSG:7415 in a WKT VLR),
- ``truth.json``: what is true in the generated world per pand (ground along its walls, the roof surface's
  heights; see `_truth`), the water level, the bridge decks, and per pand its facades: which side each is
  and what lies in front of it (``gevels``, see `_facade_truth`).

Every register coordinate is a whole number of millimetres built from integers and divided by 1000 once, so
the GML text and the GeoPackage doubles are the same numbers. The level-0 BGT surfaces (panden included)
tile the district without gaps or overlaps; each point is drawn for the surface it hits, so it knows what it
hit. The nuisances of real data are in it, each from its own random stream: the world (the points) lies a
few decimetres off the registers (`Misalignment`), 3 cm noise, outliers (birds, multipath; most classified
as noise or unclassified, some as ground or roof), chimneys and antennas, garden trees whose crowns reach
over roof edges (a few crown points classified as roof), and dark roofs that return few pulses. Points are
made sheet by sheet, in bounded chunks, so 100,000 buildings and hundreds of millions of points never sit in
memory. The same seed gives byte-identical GML and LAZ files.

Roofs follow the era and kind of building (see `_Roof`): row houses gable, hip over the row (hip ends on the
end houses) or, after the war, shed roofs, with dormers and flat rear annexes; detached villas gable, hip,
mansard-like or shed, L-shaped ones with a lower flat wing; apartment slabs flat, some with a higher part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import laspy
import numpy as np
import pyogrio.raw
import pyproj
import shapely
from shapely.geometry import Polygon
from tqdm import tqdm

from core.atomic import atomic_open, atomic_path
from core.crs import RD_NAP, RD_NEW
from core.errors import StadsmodelError

log = logging.getLogger(__name__)

# --- layout, in millimetres --------------------------------------------------------------------------
BLOCK_W = 64_000  # a block between the sidewalks
BLOCK_H = 42_000
ROAD_HALF = 3_000  # carriageway 6 m
BERM = 1_200
SIDEWALK = 1_800
MARGIN = ROAD_HALF + BERM + SIDEWALK  # block edge to street axis
PITCH_X = BLOCK_W + 2 * MARGIN
PITCH_Y = BLOCK_H + 2 * MARGIN
FENCE_HALF = 50  # garden fences and walls are 0.1 m wide polygons
CENTRE = (155_000_000, 463_000_000)  # Amersfoort, RD New
# The canal row, from its south edge: quay sidewalk, green strip with trees, bank, water, and mirrored.
CANAL_SIDEWALK = 2_000
CANAL_GREEN = 4_500
CANAL_BANK = 2_500
SINGEL_GAP = 1_200  # the singel of the first flats block keeps this far from its slab and the block edge

# --- point cloud ---------------------------------------------------------------------------------------
TILE = 250_000  # AHN-like sheets of 250 m × 250 m
SCALE = 0.001
CHUNK_POINTS = 2_000_000  # points generated and written at a time
ROOF_SIGMA = 0.03  # AHN4 states a stochastic error of at most 5 cm (1 sigma)
GROUND_SIGMA = 0.03
WATER_SIGMA = 0.01
WATER_RETURN = 0.5  # water absorbs the laser: fewer returns
CLUTTER = 0.004  # share of yard/green points on bins, bushes, sheds (class 1)
CROWN_HIT = 0.8  # share of points under a crown that hit vegetation rather than what is below
TREE_CLEARANCE = 1.5  # crowns of park and courtyard trees keep this far (m) from buildings; garden trees do not
GROUND, UNCLASSIFIED, BUILDING, NOISE, WATER, BRIDGE = 2, 1, 6, 7, 9, 26

# --- what real AHN and BAG get wrong (each drawn from its own random stream, so the layout stays the same) ---
MISALIGN_SHIFT = (0.12, 0.28)  # m: the registers sit this far from the points, in one direction per district ...
MISALIGN_WAVE = 0.05  # ... plus a slow wave of this amplitude (m), a local twist of about 0.03 degrees
MISALIGN_WAVELENGTH = (400.0, 700.0)  # m
MISALIGN_REACH = 0.45  # m: an upper bound of the offset, for the search of candidate points
OVERHANG_P = 0.12  # share of built panden with a garden tree whose crown reaches over the roof edge
CROWN_AS_BUILDING = 0.08  # share of crown points over a roof that the classifier takes for roof (as in AHN)
CHIMNEY_P = 0.5  # share of gable roofs with a chimney at the ridge
FLAT_OPBOUW = (0, 3)  # chimneys, vents and antennas per flat roof
ANTENNA_P = 0.3  # share of flat-roof superstructures that are antenna masts (thin, points at all heights)
OUTLIER_RATE = 2e-4  # birds, multipath: points far above or below what the laser hit
DARK_ROOF_SHARE = 0.03  # flat dark roofs (bitumen) that return only part of the pulses ...
DARK_ROOF_RETURN = (0.15, 0.4)
SPARSE_ROOF_SHARE = 0.01  # ... and a few that return almost nothing (wet or black roofs)
SPARSE_ROOF_RETURN = (0.01, 0.03)
CREATION_DATE = dt.date(2024, 1, 1)

# How points are made on a level-0 surface.
R_GROUND, R_ROOF, R_WATER, R_BANK, R_FENCE, R_GREEN, R_YARD = range(7)

# --- BAG / BGT vocabulary ----------------------------------------------------------------------------
GEMEENTE = "0999"  # no such municipality: ids cannot collide with real BAG ids
BRONHOUDER = "G0999"
WOONPLAATS = "Stadsmodel"
PAND_IN_GEBRUIK = "Pand in gebruik"
PAND_NIET_INGEMETEN = "Pand in gebruik (niet ingemeten)"
PAND_VERGUND = "Bouwvergunning verleend"
VBO_STATUS = {
    PAND_IN_GEBRUIK: "Verblijfsobject in gebruik",
    PAND_NIET_INGEMETEN: "Verblijfsobject in gebruik (niet ingemeten)",
    PAND_VERGUND: "Verblijfsobject gevormd",
}
WOON, WINKEL, KANTOOR = "woonfunctie", "winkelfunctie", "kantoorfunctie"
ERAS = ((1600, 1850), (1850, 1940), (1946, 1975), (1975, 2000), (2000, 2024))
ERA_P = (0.05, 0.25, 0.30, 0.25, 0.15)
GABLE_P = (0.8, 0.7, 0.3, 0.5, 0.3)  # share of gable roofs on row houses per era

# (bgt type, attribute tuple as the GML writer expects it); None becomes a VoidReasonValue.
ROAD = ("wegdeel", ("rijbaan lokale weg", "gesloten verharding", "asfalt"))
SIDEWALK_W = ("wegdeel", ("voetpad", "gesloten verharding", "tegels"))
PARK_PATH = ("wegdeel", ("voetpad", "open verharding", "betonstraatstenen"))
BERM_O = ("ondersteunendwegdeel", ("berm", "groenvoorziening", "gras- en kruidachtigen"))
ERF = ("onbegroeidterreindeel", ("erf", None))
BARE_LOT = ("onbegroeidterreindeel", ("onverhard", "zand"))
GREEN = ("begroeidterreindeel", ("groenvoorziening", "gras- en kruidachtigen"))
WOOD = ("begroeidterreindeel", ("loofbos", None))
CANAL = ("waterdeel", ("waterloop", "gracht"))
SINGEL = ("waterdeel", ("waterloop", None))  # a water strip in the green of a flats block
BANK = ("ondersteunendwaterdeel", ("oever, slootkant",))
HEK = ("scheiding", ("hek",))
MUUR = ("scheiding", ("muur",))
DECK = ("overbruggingsdeel", ("dek",))
FENCE_HEIGHT = {"hek": 1.8, "muur": 2.0}

BGT_TYPES = (
    "pand", "wegdeel", "ondersteunendwegdeel", "waterdeel", "ondersteunendwaterdeel",
    "begroeidterreindeel", "onbegroeidterreindeel", "overbruggingsdeel", "scheiding",
)

STREET_STEMS = (
    "Linden", "Eiken", "Beuken", "Kastanje", "Wilgen", "Essen", "Berken", "Platanen", "Iepen", "Elzen",
    "Rozen", "Tulpen", "Seringen", "Jasmijn", "Vlier", "Meidoorn", "Hazelaar", "Lijsterbes", "Hulst", "Taxus",
    "Rembrandt", "Vermeer", "Frans Hals", "Jan Steen", "Ruisdael", "Hobbema", "Van Goyen", "Mondriaan",
    "Escher", "Breitner", "Merel", "Lijster", "Spreeuw", "Zwaluw", "Reiger", "Kievit", "Ooievaar", "Vink",
    "Specht", "Fazant", "Sweelinck", "Vondel", "Huygens", "Bredero", "Hooft", "Cats", "Erasmus", "Spinoza",
    "Lorentz", "Zeeman", "Kamerlingh Onnes", "Van 't Hoff", "Zernike", "Einthoven", "Tinbergen", "Debye",
)
STREET_SUFFIXES = ("straat", "laan", "weg", "singel", "hof", "plein", "dreef", "kade")
POSTCODE_LETTERS = "ABCEGHJKLMNPRTVWXZ"  # 18 letters; no SA/SD/SS combinations can arise


# --- the model of the district -----------------------------------------------------------------------
@dataclass
class _Unit:
    """A planned verblijfsobject (block-local mm for its point)."""

    gebruiksdoel: str
    oppervlakte: int
    x: int
    y: int


@dataclass
class _Entrance:
    """Units sharing one huisnummer on one side of a street."""

    x: int  # block-local mm along the street, for numbering
    units: list[_Unit]


@dataclass
class _House:
    """A planned pand in block-local millimetres."""

    footprint: Polygon
    kind: str  # rijwoning, vrijstaand, flat, hofblok
    roof: _Roof
    side: int  # 0 faces the street south of the block, 1 the one north of it
    entrances: list[_Entrance]
    bouwjaar: int
    north_entrances: list[_Entrance] = field(default_factory=list)  # courtyard block: the north facade


@dataclass
class _Block:
    kind: str
    houses: list[_House] = field(default_factory=list)
    # (bgt, attrs, rule, param, geometry) in block-local mm; param: fence height or 0
    surfaces: list[tuple] = field(default_factory=list)
    trees: list[tuple] = field(default_factory=list)  # (surface index, cx, cy, r mm, height m)


def _box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return shapely.box(x0, y0, x1, y1)


def _rint(rng: np.random.Generator, lo: float, hi: float, step: int = 100) -> int:
    """A random whole number of mm in [lo, hi], on multiples of `step`."""
    return int(rng.integers(int(lo) // step, int(hi) // step + 1)) * step


def _era_year(rng: np.random.Generator) -> tuple[int, int]:
    era = int(rng.choice(len(ERAS), p=ERA_P))
    return era, int(rng.integers(ERAS[era][0], ERAS[era][1] + 1))


def _floors(eave: float) -> int:
    return max(1, int(eave // 2.9))


def _add_trees(blk: _Block, rng: np.random.Generator, sidx: int, area: Polygon, buildings: list[Polygon],
               spacing: int, r_range: tuple[float, float], h_range: tuple[float, float]) -> None:
    """Trees on a jittered grid whose crowns stay inside `area` and clear of every building."""
    x0, y0, x1, y1 = area.bounds
    for gx in range(int(x0) + spacing // 2, int(x1), spacing):
        for gy in range(int(y0) + spacing // 2, int(y1), spacing):
            cx = gx + _rint(rng, -spacing // 4, spacing // 4)
            cy = gy + _rint(rng, -spacing // 4, spacing // 4)
            r = _rint(rng, r_range[0], r_range[1])
            h = round(float(rng.uniform(*h_range)), 3)
            crown = shapely.Point(cx, cy).buffer(r)
            if not area.contains(crown):
                continue
            if buildings and min(b.distance(crown) for b in buildings) < TREE_CLEARANCE * 1000:
                continue
            blk.trees.append((sidx, cx, cy, r, h))


# --- roofs ---------------------------------------------------------------------------------------------
# A roof is one to MAX_PIECES rectangles (block-local mm), each the lowest of one to MAX_PLANES planes: flat,
# gable (zadeldak), hip (schilddak), shed (lessenaarsdak) and mansard-like roofs are each the lowest of their
# planes over their rectangle, so one formula draws every point. A point takes the first rectangle of its
# pand that holds it; the last covers the rest of the footprint. Dormers (dakkapellen), annexes (aanbouwen)
# and the higher part of a two-part building are rectangles before the main roof. The shapes are those of
# synth.roofs, the roof reconstruction's own test generator, so the district and the library agree.
MAX_PIECES = 3
MAX_PLANES = 4
ANNEX_P = 0.2  # share of row houses with a flat rear annex (aanbouw) ...
ANNEX_HEIGHT = (2.7, 3.3)  # ... one storey high (m above maaiveld), at least a metre below the main eave
ANNEX_DEPTH = (2500, 4000)  # mm, at most 30 % of the house's depth
# Per era (ERAS): the roofs of a sloped row of houses — plain gables, a hip roof over the row (the end
# houses have a hip end), shed roofs — and the share of gable houses with a dormer.
ROW_STYLES = ("gable", "hip", "shed")
ROW_STYLE_P = ((0.85, 0.15, 0.0), (0.6, 0.4, 0.0), (0.55, 0.3, 0.15), (0.4, 0.2, 0.4), (0.45, 0.15, 0.4))
DORMER_P = (0.1, 0.2, 0.35, 0.3, 0.15)
# Detached villas: the sloped ones per era, and what an L-shaped one's wing is (a lower flat annex on a
# sloped house, a lower flat wing on a flat one, or one flat roof over both).
VILLA_SHAPES = ("gable", "hip", "mansard", "shed")
VILLA_SHAPE_P = ((0.5, 0.3, 0.2, 0.0), (0.25, 0.4, 0.35, 0.0), (0.45, 0.4, 0.05, 0.1), (0.35, 0.4, 0.05, 0.2),
                 (0.3, 0.3, 0.05, 0.35))
VILLA_DORMER_P = 0.25
WING_P = (0.5, 0.3)  # sloped main with an annex, flat main with a lower wing; the rest one flat roof
MIN_PART_SHARE = 0.08  # a lower part holds at least this share of the footprint (so > 5 % of the roof points)
SLAB_JUMP_P = 0.3  # apartment slabs with a higher part (one or two storeys more) at one end
# The share of a slab's footprint its higher part takes: a tower, or most of the slab. Never near 30 % or
# 50 %, where the 50th or 70th percentile of the roof would jump between the two heights.
SLAB_HIGH_SHARE = ((0.12, 0.22), (0.6, 0.75))


@dataclass
class _Piece:
    """A rectangle of a roof (block-local mm) whose height above maaiveld is the lowest of its planes
    a·u + b·v + c, u and v metres east and north of the rectangle's south-west corner."""

    rect: tuple[int, int, int, int]
    planes: tuple[tuple[float, float, float], ...]


@dataclass
class _Roof:
    shape: str  # truth roof_type: one of synth.roofs.SHAPES
    main: str  # the main part's shape: flat, gable, hip, shed or mansard
    pieces: list[_Piece]
    ridge: tuple[int, int, int, int] | None = None  # (axis, line, lo, hi) mm: where chimneys stand


def _flat_piece(rect, h: float) -> _Piece:
    return _Piece(rect, ((0.0, 0.0, h),))


def _across(rect, axis: int) -> tuple[float, float]:
    """(across, along) lengths in m of a rectangle whose ridge runs along x (axis 0) or y (axis 1)."""
    w, d = (rect[2] - rect[0]) / 1000, (rect[3] - rect[1]) / 1000
    return (d, w) if axis == 0 else (w, d)


def _rising(axis: int, slope: float, z0: float, length: float, up: bool) -> tuple[float, float, float]:
    """The plane rising by `slope` across the axis from z0 (up) or falling to z0 over `length` (not up)."""
    s, c = (slope, z0) if up else (-slope, z0 + slope * length)
    return (0.0, s, c) if axis == 0 else (s, 0.0, c)


def _along(axis: int, slope: float, z0: float, length: float, up: bool) -> tuple[float, float, float]:
    return _rising(1 - axis, slope, z0, length, up)


def _ridge_line(rect, axis: int, lo: float = 0.0, hi: float | None = None) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = rect
    if axis == 0:
        return 0, (y0 + y1) // 2, x0 + round(lo * 1000), x1 if hi is None else x0 + round(hi * 1000)
    return 1, (x0 + x1) // 2, y0 + round(lo * 1000), y1 if hi is None else y0 + round(hi * 1000)


def _gable(rect, axis: int, eave: float, ridge: float, hip_ends: tuple[bool, bool] = (False, False),
           hip_depth: float = 0.0) -> tuple[_Piece, tuple]:
    """A gable over the rectangle; with hip ends (at the low or high end along the ridge) a hip roof."""
    across, along = _across(rect, axis)
    slope = (ridge - eave) / (across / 2)
    planes = [_rising(axis, slope, eave, across, True), _rising(axis, slope, eave, across, False)]
    end_slope = (ridge - eave) / hip_depth if hip_depth else 0.0
    for up, on in zip((True, False), hip_ends):
        if on:
            planes.append(_along(axis, end_slope, eave, along, up))
    lo = hip_depth if hip_ends[0] else 0.0
    hi = along - hip_depth if hip_ends[1] else along
    return _Piece(rect, tuple(planes)), _ridge_line(rect, axis, lo, hi)


def _shed(rect, axis: int, low: float, high: float, up: bool) -> _Piece:
    across, _ = _across(rect, axis)
    return _Piece(rect, (_rising(axis, (high - low) / across, low, across, up),))


def _mansard(rect, axis: int, eave: float, inset: float, lower_deg: float, upper_deg: float) -> tuple[_Piece, tuple]:
    """Mansard-like (gambrel): per side a steep lower plane `inset` m wide and a shallow upper one."""
    across, _ = _across(rect, axis)
    lower, upper = math.tan(math.radians(lower_deg)), math.tan(math.radians(upper_deg))
    z_break = eave + inset * lower
    planes = (_rising(axis, lower, eave, across, True), _rising(axis, lower, eave, across, False),
              _rising(axis, upper, z_break - inset * upper, across, True),
              _rising(axis, upper, z_break - inset * upper, across, False))
    return _Piece(rect, planes), _ridge_line(rect, axis)


def _dormer(rr: np.random.Generator, rect, axis: int, eave: float, ridge: float, margin: int = 800) -> _Piece | None:
    """A flat-topped dormer on one slope of the gable over `rect` (ridge along x, axis 0, or y): its front
    wall 0.8–1.2 m in from the eave, its top meeting the slope behind it exactly; None where none fits."""
    if axis == 1:  # the same dormer with x and y swapped
        piece = _dormer(rr, (rect[1], rect[0], rect[3], rect[2]), 0, eave, ridge, margin)
        return None if piece is None else _Piece((piece.rect[1], piece.rect[0], piece.rect[3], piece.rect[2]),
                                                 piece.planes)
    x0, y0, x1, y1 = rect
    half = (y1 - y0) // 2
    slope = (ridge - eave) / (half / 1000)
    width = _rint(rr, 2000, min(3500, x1 - x0 - 2 * margin))
    if width < 2000:
        return None
    front = _rint(rr, 800, 1200)
    back = min(front + round(float(rr.uniform(1.6, 2.2)) / slope * 10) * 100, half - 600)
    if back - front < 1200:
        return None
    dx = x0 + _rint(rr, margin, x1 - x0 - margin - width)
    z = eave + slope * back / 1000
    if rr.random() < 0.5:  # on the south slope
        return _flat_piece((dx, y0 + front, dx + width, y0 + back), z)
    return _flat_piece((dx, y1 - back, dx + width, y1 - front), z)


def _villa_main(rr: np.random.Generator, shape: str, rect, eave: float, rise: float) -> tuple[_Piece, tuple | None]:
    """The main roof of a detached house over `rect`, its ridge (or shed slope) along the long axis, and its
    ridge line (None for a shed)."""
    w, d = rect[2] - rect[0], rect[3] - rect[1]
    axis = 0 if w >= d else 1
    across, along = _across(rect, axis)
    if shape == "hip":
        rise = min(rise, 3.8)  # keeps the hip ends below 60°
        return _gable(rect, axis, eave, eave + rise, (True, True), 0.3 * along)  # a ridge 40 % of the length
    if shape == "mansard":
        inset = _rint(rr, 0.15 * across * 1000, 0.22 * across * 1000) / 1000
        return _mansard(rect, axis, eave, inset, float(rr.uniform(55, 62)), float(rr.uniform(15, 28)))
    if shape == "shed":
        return _shed(rect, axis, eave, eave + 0.6 * rise, bool(rr.random() < 0.5)), None
    return _gable(rect, axis, eave, eave + rise)


def _flat(footprint, kind, height, side, entrances, year) -> _House:
    rect = tuple(int(v) for v in footprint.bounds)
    return _House(footprint, kind, _Roof("flat", "flat", [_flat_piece(rect, height)]), side, entrances, year)


# --- block builders (block-local mm, origin at the block's south-west corner) --------------------------
def _row_block(rng: np.random.Generator, rr: np.random.Generator, limit: int, forced: bool) -> _Block:
    """Two rows of terraced houses back to back, front gardens, back gardens with fences between. `rr` draws
    the roofs (its own stream, so the layout does not depend on them)."""
    blk = _Block("rij")
    era, year = _era_year(rng)
    front = _rint(rng, 2000, 3000, 500)
    mid = BLOCK_H // 2
    wall = HEK if rng.random() < 0.6 else MUUR
    blk.surfaces.append((*wall, R_FENCE, FENCE_HEIGHT[wall[1][0]],
                         _box(0, mid - FENCE_HALF, BLOCK_W, mid + FENCE_HALF)))
    shops = rng.random() < 0.15
    for side in (0, 1):
        depth = _rint(rng, 10000, 13500)
        n = max(2, round(BLOCK_W / rng.uniform(5700, 7600)))
        xs = [round(i * BLOCK_W / n) for i in range(n + 1)]
        gable_row = (side == 0) if forced else rng.random() < GABLE_P[era]
        base = round(float(rng.uniform(5.6, 7.0) if gable_row else rng.uniform(6.0, 9.5)), 2)
        style = ROW_STYLES[int(rr.choice(len(ROW_STYLES), p=ROW_STYLE_P[era]))]
        if forced:  # the first row block shows a hip roof over the row, a dormer and annexes
            style = "hip"
        if side == 0:
            y_house, y_back, y_yard = front, front + depth, mid - FENCE_HALF
        else:
            y_house = y_back = BLOCK_H - front - depth
            y_yard = mid + FENCE_HALF
        fences = [rng.random() < 0.75 for _ in range(n + 1)]
        fences[0] = fences[-1] = False
        for i in range(n):
            xa, xb = xs[i], xs[i + 1]
            # front garden, house, back garden (cut back where a fence stands on the lot line)
            if side == 0:
                blk.surfaces.append((*ERF, R_YARD, 0, _box(xa, 0, xb, front)))
                fp = _box(xa, front, xb, front + depth)
                ya, yb = y_back, y_yard
            else:
                blk.surfaces.append((*ERF, R_YARD, 0, _box(xa, BLOCK_H - front, xb, BLOCK_H)))
                fp = _box(xa, y_house, xb, BLOCK_H - front)
                ya, yb = y_yard, y_back
            yard = _box(xa + FENCE_HALF * fences[i], ya, xb - FENCE_HALF * fences[i + 1], yb)
            blk.surfaces.append((*ERF, R_YARD, 0, yard))
            if fences[i + 1]:
                kind = HEK if rng.random() < 0.7 else MUUR
                fence = _box(xb - FENCE_HALF, ya, xb + FENCE_HALF, yb)
                blk.surfaces.append((*kind, R_FENCE, FENCE_HEIGHT[kind[1][0]], fence))
            eave = base
            if rng.random() < 0.3:  # an extra floor or a lower annex: neighbours differ
                eave = round(base + float(rng.choice([-0.6, 0.5, 1.0, 2.8])), 2)
            gable = gable_row and rng.random() > 0.1
            if len(blk.houses) >= limit:
                blk.surfaces.append((*BARE_LOT, R_YARD, 0, fp))
                continue
            cx, yd = (xa + xb) // 2, (y_house + 1500 if side == 0 else BLOCK_H - front - 1500)
            area = fp.area / 1e6
            floors = _floors(eave) + (1 if gable else 0)
            r = rng.random()
            if shops and side == 0:
                units = [_Unit(WINKEL, round(area * 0.9), cx, yd),
                         _Unit(WOON, round(area * (floors - 1) * 0.8), cx, yd)]
            elif r < 0.04:
                units = [_Unit(WOON, round(area * 0.85), cx, yd),
                         _Unit(WOON, round(area * (floors - 1) * 0.8), cx, yd)]
            elif r < 0.07:
                units = [_Unit(f"{WOON},{KANTOOR}", round(area * floors * 0.8), cx, yd)]
            else:
                units = [_Unit(WOON, round(area * floors * 0.8), cx, yd)]
            yr = year + int(rng.integers(0, 3))
            ridge = round(eave + float(rng.uniform(2.5, 4.5)), 2) if gable else eave
            roof = _row_roof(rr, tuple(int(v) for v in fp.bounds), side, i, n, era, style if gable else "flat",
                             eave, ridge, forced)
            blk.houses.append(_House(fp, "rijwoning", roof, side, [_Entrance(cx, units)], yr))
    return blk


def _row_roof(rr: np.random.Generator, rect, side: int, i: int, n: int, era: int, style: str, eave: float,
              ridge: float, forced: bool) -> _Roof:
    """The roof of row house i of n (ridge along the row): `style` (flat, gable, hip: a hip end at either end
    of the row, shed), perhaps a lower flat annex at the back or a dormer."""
    x0, y0, x1, y1 = rect
    annex = rr.random() < ANNEX_P
    if forced:
        annex = i == 3 if side == 0 else i % 3 == 1
    pieces, main = [], rect
    if annex:
        a = min(_rint(rr, *ANNEX_DEPTH), (y1 - y0) * 3 // 10 // 100 * 100)
        low = round(min(float(rr.uniform(*ANNEX_HEIGHT)), eave - 1.0), 2)
        # the back faces the gardens: north of the south row (side 0), south of the north row
        back, main = ((x0, y1 - a, x1, y1), (x0, y0, x1, y1 - a)) if side == 0 else \
            ((x0, y0, x1, y0 + a), (x0, y0 + a, x1, y1))
        pieces.append(_flat_piece(back, low))
    if style == "flat":
        return _Roof("jump_flat" if annex else "flat", "flat", [*pieces, _flat_piece(main, eave)])
    across, _ = _across(main, 0)
    ridge = min(ridge, round(eave + across / 2 * math.tan(math.radians(55)), 2))  # an annex leaves less depth
    line = None
    if style == "shed":
        piece = _shed(main, 0, eave, ridge, bool(rr.random() < 0.5))
    else:
        ends = (style == "hip" and i == 0, style == "hip" and i == n - 1)
        style = "hip" if any(ends) else "gable"
        piece, line = _gable(main, 0, eave, ridge, ends, 0.4 * (x1 - x0) / 1000 if any(ends) else 0.0)
    shape = "jump_annex" if annex else style
    dormer = rr.random() < DORMER_P[era] or (forced and side == 0 and i == 2)
    if shape == "gable" and dormer and (d := _dormer(rr, main, 0, eave, ridge)) is not None:
        pieces.append(d)
        shape = "dormer"
    return _Roof(shape, style, [*pieces, piece], line)


def _detached_block(rng: np.random.Generator, rr: np.random.Generator, limit: int, forced: bool) -> _Block:
    """Two rows of plots with a detached house each (some L-shaped), fenced gardens around them."""
    blk = _Block("vrijstaand")
    shown = iter(("hip", "mansard", "shed", "dormer"))  # the first detached block shows these roofs
    mid = BLOCK_H // 2
    blk.surfaces.append((*HEK, R_FENCE, FENCE_HEIGHT["hek"], _box(0, mid - FENCE_HALF, BLOCK_W, mid + FENCE_HALF)))
    for side in (0, 1):
        k = int(rng.choice([3, 4]))
        xs = [round(i * BLOCK_W / k) for i in range(k + 1)]
        fences = [False] + [rng.random() < 0.8 for _ in range(k - 1)] + [False]
        py0, py1 = (0, mid - FENCE_HALF) if side == 0 else (mid + FENCE_HALF, BLOCK_H)
        plot_depth = py1 - py0
        for i in range(k):
            xa, xb = xs[i] + FENCE_HALF * fences[i], xs[i + 1] - FENCE_HALF * fences[i + 1]
            if fences[i + 1]:
                blk.surfaces.append((*HEK, R_FENCE, FENCE_HEIGHT["hek"], _box(xb, py0, xb + 2 * FENCE_HALF, py1)))
            plot = _box(xa, py0, xb, py1)
            w = _rint(rng, 9000, min(14000, xb - xa - 5000))
            d = _rint(rng, 9000, 12000)
            setback = _rint(rng, 3000, 4500, 500)
            hx0 = xa + _rint(rng, 2500, xb - xa - w - 2500)
            if side == 0:
                hy0, hy1 = py0 + setback, py0 + setback + d
            else:
                hy0, hy1 = py1 - setback - d, py1 - setback
            main = _box(hx0, hy0, hx0 + w, hy1)
            fp, wing = main, None
            wing_depth = _rint(rng, 3000, 4000)
            l_shape = (forced and i == 0 and side == 0) or rng.random() < 0.35
            if l_shape and setback + d + wing_depth <= plot_depth - 2000:
                ww = _rint(rng, 3500, min(6000, w - 3000))
                wx0 = hx0 if rng.random() < 0.5 else hx0 + w - ww
                if side == 0:
                    wing = _box(wx0, hy1, wx0 + ww, hy1 + wing_depth)
                else:
                    wing = _box(wx0, hy0 - wing_depth, wx0 + ww, hy0)
                fp = shapely.union(main, wing).normalize()
            if len(blk.houses) >= limit:
                blk.surfaces.append((*BARE_LOT, R_YARD, 0, plot))
                continue
            blk.surfaces.append((*ERF, R_YARD, 0, plot.difference(fp)))
            area = fp.area / 1e6
            cx, yd = hx0 + w // 2, (hy0 + 1500 if side == 0 else hy1 - 1500)
            r = rng.random()
            if r < 0.06:
                units = [_Unit(KANTOOR, round(area * 1.6), cx, yd)]
            elif r < 0.09:
                units = [_Unit(WOON, round(area * 1.4), cx, yd), _Unit(KANTOOR, round(area * 0.4), cx, yd)]
            else:
                units = [_Unit(WOON, round(area * 1.7), cx, yd)]
            era, year = _era_year(rng)
            rect = fp.equals(main)
            main_rect = (hx0, hy0, hx0 + w, hy1)
            if rect and rng.random() < 0.6:
                eave = round(float(rng.uniform(3.0, 6.0)), 2)
                sloped = (eave, round(eave + float(rng.uniform(3.0, 5.0)), 2) - eave)
                height = eave
            else:
                height = round(float(rng.uniform(3.5, 7.5)), 2)
                sloped = None
            shape = next(shown, None) if forced and rect else None
            if shape and sloped is None:
                sloped = (round(float(rr.uniform(3.0, 6.0)), 2), float(rr.uniform(3.0, 5.0)))
            if wing is not None:
                roof = _villa_wing_roof(rr, era, main_rect, tuple(int(v) for v in wing.bounds), fp, height,
                                        forced and i == 0 and side == 0)
            elif sloped is not None:
                roof = _villa_roof(rr, era, main_rect, *sloped, shape)
            else:
                roof = _Roof("flat", "flat", [_flat_piece(main_rect, height)])
            blk.houses.append(_House(fp, "vrijstaand", roof, side, [_Entrance(cx, units)], year))
    return blk


def _villa_roof(rr: np.random.Generator, era: int, rect, eave: float, rise: float, shape: str | None = None) -> _Roof:
    """A sloped roof over a rectangular detached house, by era; `shape` chooses it (gable, hip, mansard,
    shed, dormer: a gable with a dormer)."""
    shape = shape or VILLA_SHAPES[int(rr.choice(len(VILLA_SHAPES), p=VILLA_SHAPE_P[era]))]
    dormer = shape == "dormer" or (shape == "gable" and rr.random() < VILLA_DORMER_P)
    main = "gable" if shape == "dormer" else shape
    piece, line = _villa_main(rr, main, rect, eave, rise)
    if dormer and (d := _dormer(rr, rect, line[0], eave, eave + rise)) is not None:  # a gable has a line
        return _Roof("dormer", main, [d, piece], line)
    return _Roof(main, main, [piece], line)


def _villa_wing_roof(rr: np.random.Generator, era: int, main_rect, wing_rect, fp: Polygon, height: float,
                     forced: bool) -> _Roof:
    """An L-shaped detached house: a sloped main part with a lower flat annex in the wing, a flat main part
    with a lower flat wing, or one flat roof over both. A wing too small to hold a fair share of the roof
    points is under the main roof."""
    share = (wing_rect[2] - wing_rect[0]) * (wing_rect[3] - wing_rect[1]) / fp.area
    r = 0.0 if forced else rr.random()
    whole = tuple(int(v) for v in fp.bounds)
    if share < MIN_PART_SHARE:
        return _Roof("flat", "flat", [_flat_piece(whole, height)])
    if r < WING_P[0]:
        p = np.array(VILLA_SHAPE_P[era][:3])  # no shed over an L
        shape = "hip" if forced else VILLA_SHAPES[int(rr.choice(3, p=p / p.sum()))]
        eave = round(float(rr.uniform(4.2, 6.0)), 2)
        piece, line = _villa_main(rr, shape, main_rect, eave, float(rr.uniform(3.0, 5.0)))
        low = round(min(float(rr.uniform(*ANNEX_HEIGHT)), eave - 1.0), 2)
        return _Roof("jump_annex", shape, [_flat_piece(wing_rect, low), piece], line)
    low = round(min(float(rr.uniform(*ANNEX_HEIGHT)), height - 1.2), 2)
    if r < WING_P[0] + WING_P[1] and low >= 2.4:
        return _Roof("jump_flat", "flat", [_flat_piece(wing_rect, low), _flat_piece(main_rect, height)])
    return _Roof("flat", "flat", [_flat_piece(whole, height)])


def _apartment_units(rng: np.random.Generator, length_m: float, floors: int, xs: tuple[int, int], y: int,
                     ground_use: str | None) -> list[_Entrance]:
    """Entrances (portieken) every ~15 m along a facade, each with two units per floor."""
    n_ent = max(1, round(length_m / 15))
    x0, x1 = xs
    entrances = []
    for e in range(n_ent):
        ex = x0 + round((e + 0.5) * (x1 - x0) / n_ent)
        units = []
        for f in range(floors):
            for _ in range(2):
                use = ground_use if (f == 0 and ground_use) else WOON
                units.append(_Unit(use, _rint(rng, 45, 120, 1), ex, y))
        entrances.append(_Entrance(ex, units))
    return entrances


def _flats_block(rng: np.random.Generator, rr: np.random.Generator, limit: int, forced: bool) -> _Block:
    """Two to four flat-roofed apartment slabs in a green with trees."""
    blk = _Block("flat")
    _, year = _era_year(rng)
    slabs = []
    for side in (0, 1):
        depth = _rint(rng, 11000, 14000)
        setback = _rint(rng, 3500, 5000, 500)
        y0, y1 = (setback, setback + depth) if side == 0 else (BLOCK_H - setback - depth, BLOCK_H - setback)
        if rng.random() < 0.5:
            length = _rint(rng, 44000, 58000)
            x0 = (BLOCK_W - length) // 2
            spans = [(x0, x0 + length)]
        else:
            la, lb = _rint(rng, 24000, 28000), _rint(rng, 24000, 28000)
            spans = [(3000, 3000 + la), (BLOCK_W - 3000 - lb, BLOCK_W - 3000)]
        for xa, xb in spans:
            if len(slabs) >= limit:
                break
            floors = int(rng.integers(3, 9))
            fp = _box(xa, y0, xb, y1)
            ground = WINKEL if rng.random() < 0.2 else (KANTOOR if rng.random() < 0.15 else None)
            ent_y = y0 + 1500 if side == 0 else y1 - 1500
            entrances = _apartment_units(rng, (xb - xa) / 1000, floors, (xa, xb), ent_y, ground)
            height = round(floors * 2.9 + float(rng.uniform(0.4, 1.2)), 2)
            roof = _slab_roof(rr, (xa, y0, xb, y1), height, forced and not slabs)
            slabs.append(_House(fp, "flat", roof, side, entrances, year + int(rng.integers(0, 4))))
    blk.houses = slabs
    green = _box(0, 0, BLOCK_W, BLOCK_H).difference(shapely.union_all([s.footprint for s in slabs]))
    singel = None
    south = [s.footprint.bounds for s in slabs if s.side == 0]
    if forced and south:
        # The first flats block has a singel in the green in front of its first slab, so a facade stands at the
        # water (SINGEL_GAP from it and from the sidewalk, green on both banks). It is cut out of the green
        # before the trees are placed; the green's bounds stay the same, so the trees draw the same random
        # numbers, and the points elsewhere are drawn as before.
        xa, ya, xb, _ = south[0]
        singel = _box(xa, SINGEL_GAP, xb, ya - SINGEL_GAP)
        green = green.difference(singel)
    blk.surfaces.append((*GREEN, R_GREEN, 0, green))
    _add_trees(blk, rng, len(blk.surfaces) - 1, green, [s.footprint for s in slabs], 9000, (2000, 4500), (6.0, 13.0))
    if singel is not None:
        blk.surfaces.append((*SINGEL, R_WATER, 0, singel))
    return blk


def _slab_roof(rr: np.random.Generator, rect, height: float, forced: bool) -> _Roof:
    """A flat roof, or (some, and the first slab of the first flats block) two flat parts: one end of the
    slab one or two storeys higher."""
    if not (rr.random() < SLAB_JUMP_P or forced):
        return _Roof("flat", "flat", [_flat_piece(rect, height)])
    share = float(rr.uniform(*SLAB_HIGH_SHARE[int(rr.integers(len(SLAB_HIGH_SHARE)))]))
    x0, y0, x1, y1 = rect
    cut = round(share * (x1 - x0) / 100) * 100
    high = round(height + 2.9 * int(rr.integers(1, 3)), 2)
    parts = ((x0, y0, x0 + cut, y1), (x0 + cut, y0, x1, y1)) if rr.random() < 0.5 else \
        ((x1 - cut, y0, x1, y1), (x0, y0, x1 - cut, y1))
    return _Roof("jump_flat", "flat", [_flat_piece(parts[0], high), _flat_piece(parts[1], height)])


def _courtyard_block(rng: np.random.Generator, rr: np.random.Generator, limit: int, forced: bool) -> _Block:
    """A perimeter block: one pand around a green courtyard (a footprint with a hole)."""
    blk = _Block("hofblok")
    inset, depth = 3000, _rint(rng, 10000, 12000)
    outer = _box(inset, inset, BLOCK_W - inset, BLOCK_H - inset)
    court = _box(inset + depth, inset + depth, BLOCK_W - inset - depth, BLOCK_H - inset - depth)
    fp = outer.difference(court)
    blk.surfaces.append((*ERF, R_YARD, 0, _box(0, 0, BLOCK_W, BLOCK_H).difference(outer)))
    blk.surfaces.append((*GREEN, R_GREEN, 0, court))
    _add_trees(blk, rng, len(blk.surfaces) - 1, court, [fp], 8000, (1500, 3000), (5.0, 9.0))
    if limit < 1:
        blk.surfaces.append((*BARE_LOT, R_YARD, 0, fp))
        return blk
    floors = int(rng.integers(4, 7))
    length = (BLOCK_W - 2 * inset) / 1000
    entrances = (_apartment_units(rng, length, floors, (inset, BLOCK_W - inset), inset + 1500, WINKEL)
                 + _apartment_units(rng, length, floors, (inset, BLOCK_W - inset), BLOCK_H - inset - 1500, None))
    # entrances on the north facade belong to the street north of the block
    south = [e for e in entrances if e.units[0].y < BLOCK_H // 2]
    north = [e for e in entrances if e.units[0].y >= BLOCK_H // 2]
    year = int(rng.choice([int(rng.integers(1915, 1935)), int(rng.integers(2005, 2022))]))
    height = round(floors * 3.1 + float(rng.uniform(0.5, 1.5)), 2)
    blk.houses.append(_flat(fp, "hofblok", height, 0, south, year))
    blk.houses[-1].north_entrances = north
    return blk


def _park_block(rng: np.random.Generator, rr: np.random.Generator | None = None, limit: int = 0,
                forced: bool = False) -> _Block:
    """Four lawns or woods between crossing footpaths, with trees."""
    blk = _Block("park")
    half = 1500
    cx, cy = BLOCK_W // 2, BLOCK_H // 2
    blk.surfaces.append((*PARK_PATH, R_GROUND, 0, _box(cx - half, 0, cx + half, BLOCK_H)))
    blk.surfaces.append((*PARK_PATH, R_GROUND, 0, _box(0, cy - half, cx - half, cy + half)))
    blk.surfaces.append((*PARK_PATH, R_GROUND, 0, _box(cx + half, cy - half, BLOCK_W, cy + half)))
    cover = WOOD if rng.random() < 0.3 else GREEN
    for q in (_box(0, 0, cx - half, cy - half), _box(cx + half, 0, BLOCK_W, cy - half),
              _box(0, cy + half, cx - half, BLOCK_H), _box(cx + half, cy + half, BLOCK_W, BLOCK_H)):
        blk.surfaces.append((*cover, R_GREEN, 0, q))
        spacing = 7000 if cover is WOOD else 11000
        _add_trees(blk, rng, len(blk.surfaces) - 1, q, [], spacing, (2500, 6000), (8.0, 15.0))
    return blk


BLOCK_KINDS = {"rij": _row_block, "vrijstaand": _detached_block, "flat": _flats_block,
               "hofblok": _courtyard_block, "park": _park_block}
BLOCK_P = {"rij": 0.60, "vrijstaand": 0.17, "flat": 0.14, "hofblok": 0.02, "park": 0.07}
# The first blocks are fixed so even a small district has every kind of building and a park.
FIRST_BLOCKS = ("hofblok", "rij", "park", "vrijstaand", "flat")


def _plan_blocks(buildings: int, rng: np.random.Generator, rr: np.random.Generator) -> list[_Block]:
    kinds, p = list(BLOCK_P), list(BLOCK_P.values())
    blocks: list[_Block] = []
    remaining = buildings
    while remaining > 0:
        k = len(blocks)
        kind = FIRST_BLOCKS[k] if k < len(FIRST_BLOCKS) else str(rng.choice(kinds, p=p))
        blk = BLOCK_KINDS[kind](rng, rr, remaining, k < len(FIRST_BLOCKS))
        remaining -= len(blk.houses)
        blocks.append(blk)
    return blocks


# --- terrain -------------------------------------------------------------------------------------------
class Terrain:
    """Smooth polder ground (NAP −0.6 … +1.6 m): a few long low waves, analytic so the truth is exact."""

    def __init__(self, rng: np.random.Generator):
        self.l1, self.l2, self.l3, self.l4 = rng.uniform([700, 600, 1500, 180], [1200, 1100, 3000, 300])
        self.phase = rng.uniform(0, 2 * math.pi, 5)
        self.theta = float(rng.uniform(0, math.pi))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p, t = self.phase, 2 * math.pi
        u = x * math.cos(self.theta) + y * math.sin(self.theta)
        return (0.5 + 0.6 * np.sin(t * x / self.l1 + p[0]) * np.cos(t * y / self.l2 + p[1])
                + 0.35 * np.sin(t * u / self.l3 + p[2])
                + 0.15 * np.sin(t * x / self.l4 + p[3]) * np.sin(t * y / self.l4 + p[4]))


class Misalignment:
    """Where the world lies against the registers: the laser measures at RD point p what BAG and BGT draw at
    p − offset(p). A shift of a few decimetres, the same way over the district, plus a slow wave (a slight
    local twist), as between a BAG survey and an AHN flight."""

    def __init__(self, rng: np.random.Generator):
        angle = float(rng.uniform(0, 2 * math.pi))
        size = float(rng.uniform(*MISALIGN_SHIFT))
        self.shift = (size * math.cos(angle), size * math.sin(angle))
        self.wavelength = rng.uniform(*MISALIGN_WAVELENGTH, 2)
        self.phase = rng.uniform(0, 2 * math.pi, 2)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = 2 * math.pi
        return (self.shift[0] + MISALIGN_WAVE * np.sin(t * y / self.wavelength[0] + self.phase[0]),
                self.shift[1] + MISALIGN_WAVE * np.sin(t * x / self.wavelength[1] + self.phase[1]))

    def sheet_tables(self, ox: float, oy: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The offset on a sheet with lower-left (ox, oy) for LAS integer coordinates 0 … n−1 (mm): x offsets
        by row Y, y offsets by column X (each depends on the other coordinate only), the same numbers as
        `__call__` gives, looked up instead of computed for every point."""
        t = 2 * math.pi
        mm = np.arange(n) * SCALE
        return (self.shift[0] + MISALIGN_WAVE * np.sin(t * (mm + oy) / self.wavelength[0] + self.phase[0]),
                self.shift[1] + MISALIGN_WAVE * np.sin(t * (mm + ox) / self.wavelength[1] + self.phase[1]))

    def to_register(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the registers draw the world point (x, y)."""
        dx, dy = self(x, y)
        return x - dx, y - dy

    def to_world(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the world holds the register point (x, y): the inverse, to well below a millimetre (the
        offset changes by less than 1 mm per metre)."""
        dx, dy = self(x, y)
        return x + dx, y + dy


# --- the true roofs ------------------------------------------------------------------------------------
@dataclass
class RoofSurfaces:
    """The true roof of every pand (see `_Roof`): its pieces, rectangles in register RD metres, each with
    MAX_PLANES planes (NAP = a·u + b·v + c, u and v metres east and north of the rectangle's south-west
    corner; unused planes have c = +inf, so the lowest plane is the roof)."""

    start: np.ndarray  # each pand's first piece
    count: np.ndarray
    rect: np.ndarray  # (pieces, 4)
    planes: np.ndarray  # (pieces, MAX_PLANES, 3)
    n_planes: np.ndarray

    @classmethod
    def of(cls, roofs: list[_Roof], origins: list[tuple[int, int]], maaiveld: np.ndarray) -> RoofSurfaces:
        """From block-local roofs: origins are the blocks' south-west corners (RD mm), heights go on the
        maaiveld the design stands on."""
        count = np.array([len(r.pieces) for r in roofs], dtype=np.int64)
        rect, planes, n_planes = [], [], []
        for roof, (bx, by), ground in zip(roofs, origins, maaiveld):
            for piece in roof.pieces:
                x0, y0, x1, y1 = piece.rect
                rect.append(((bx + x0) / 1000, (by + y0) / 1000, (bx + x1) / 1000, (by + y1) / 1000))
                padded = [(a, b, c + ground) for a, b, c in piece.planes]
                planes.append(padded + [(0.0, 0.0, np.inf)] * (MAX_PLANES - len(padded)))
                n_planes.append(len(piece.planes))
        return cls(np.concatenate(([0], np.cumsum(count)[:-1])), count, np.array(rect).reshape(-1, 4),
                   np.array(planes).reshape(-1, MAX_PLANES, 3), np.array(n_planes, dtype=np.int64))

    def piece_of(self, k: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The piece of pand k that holds each register position: the first whose rectangle does, else the
        last."""
        start, count = self.start[k], self.count[k]
        piece = start + count - 1
        for j in range(MAX_PIECES - 2, -1, -1):
            ok = j < count - 1
            cand = np.where(ok, start + j, 0)
            r = self.rect[cand]
            inside = ok & (x > r[:, 0]) & (x < r[:, 2]) & (y > r[:, 1]) & (y < r[:, 3])
            piece = np.where(inside, cand, piece)
        return piece

    def height(self, k: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """NAP height of the roof surface of pand k at register positions (x, y)."""
        p = self.piece_of(np.asarray(k), np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        u, v = x - self.rect[p, 0], y - self.rect[p, 1]
        z = np.full(len(p), np.inf)
        for j in range(MAX_PLANES):
            z = np.minimum(z, self.planes[p, j, 0] * u + self.planes[p, j, 1] * v + self.planes[p, j, 2])
        return z


# What the roof reconstruction (docs/roofs.md) calls horizontal, a type-deciding plane and a main plane, so the
# truth of b3_dak_type, b3_h_goot and the pitch means what the ETL measures.
HORIZONTAL_DEG = 5.0
MIN_TYPE_AREA = 2.0  # m²
MAIN_PLANE_SHARE = 0.25  # of the largest sloped plane's area


@dataclass
class RoofFacets:
    """Each plane of each roof where it is the roof: a polygon (register RD m) with its plane."""

    pand: np.ndarray
    polygon: np.ndarray
    plane: np.ndarray  # (facets, 3): a, b and c of NAP = a·(x − x0) + b·(y − y0) + c
    origin: np.ndarray  # (facets, 2): (x0, y0)
    area: np.ndarray
    low: np.ndarray  # lowest and highest point
    high: np.ndarray

    @property
    def slope_deg(self) -> np.ndarray:
        return np.degrees(np.arctan(np.hypot(self.plane[:, 0], self.plane[:, 1])))


def _halfplanes(d: np.ndarray, origin: np.ndarray, reach: float = 1000.0) -> np.ndarray:
    """Polygons (RD) of the half-planes a·u + b·v + c ≤ 0 (rows of d; u, v from origin), `reach` m deep."""
    norm = np.hypot(d[:, 0], d[:, 1])
    n = d[:, :2] / norm[:, None]
    p0 = -d[:, 2:3] / norm[:, None] * n + origin
    t = np.column_stack([-n[:, 1], n[:, 0]]) * reach
    ring = np.stack([p0 + t, p0 - t, p0 - t - n * reach, p0 + t - n * reach, p0 + t], axis=1)
    return shapely.polygons(ring)


def roof_facets(footprints: np.ndarray, roofs: RoofSurfaces) -> RoofFacets:
    """Where each plane of each roof piece is the roof: the piece's rectangle within the footprint (the last
    piece: the rest of the footprint), less the pieces before it, where the plane is the lowest of its
    piece's."""
    n_pieces = len(roofs.rect)
    pand = np.repeat(np.arange(len(footprints)), roofs.count)
    j = np.arange(n_pieces) - roofs.start[pand]
    last = j == roofs.count[pand] - 1
    boxes = shapely.box(*roofs.rect.T)
    region = footprints[pand].copy()
    region[~last] = shapely.intersection(boxes[~last], region[~last])
    for back in range(1, MAX_PIECES):
        later = np.flatnonzero(j >= back)
        region[later] = shapely.difference(region[later], boxes[later - back])
    piece = np.repeat(np.arange(n_pieces), roofs.n_planes)
    plane_no = np.arange(len(piece)) - np.repeat(np.cumsum(roofs.n_planes) - roofs.n_planes, roofs.n_planes)
    polygon = region[piece].copy()
    origin = roofs.rect[piece, :2]
    plane = roofs.planes[piece, plane_no]
    for other in range(MAX_PLANES):
        sel = np.flatnonzero((plane_no != other) & (other < roofs.n_planes[piece]))
        if len(sel):
            d = plane[sel] - roofs.planes[piece[sel], other]
            polygon[sel] = shapely.intersection(polygon[sel], _halfplanes(d, origin[sel]))
    area = shapely.area(polygon)
    keep = area > 1e-9
    polygon, piece, origin, plane, area = polygon[keep], piece[keep], origin[keep], plane[keep], area[keep]
    xy, idx = shapely.get_coordinates(polygon, return_index=True)
    z = plane[idx, 0] * (xy[:, 0] - origin[idx, 0]) + plane[idx, 1] * (xy[:, 1] - origin[idx, 1]) + plane[idx, 2]
    low, high = np.full(len(polygon), np.inf), np.full(len(polygon), -np.inf)
    np.minimum.at(low, idx, z)
    np.maximum.at(high, idx, z)
    return RoofFacets(pand[piece], polygon, plane, origin, area, low, high)


class _AreaBelow:
    """Per pand, the footprint area where its roof lies at or below a height: exact, by Green's theorem over
    each sloped facet clipped at its line z = h, with the reference point on that line (the line's own
    stretch then adds nothing); a flat facet counts whole or not at all."""

    def __init__(self, f: RoofFacets, n: int):
        self.n = n
        flat = (f.plane[:, 0] == 0) & (f.plane[:, 1] == 0)
        self.flat_pand, self.flat_area, self.flat_z = f.pand[flat], f.area[flat], f.plane[flat, 2]
        sloped = np.flatnonzero(~flat)
        parts, part_facet = shapely.get_parts(f.polygon[sloped], return_index=True)
        rings, ring_part = shapely.get_rings(shapely.orient_polygons(parts), return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        edge = np.flatnonzero(ring[:-1] == ring[1:])
        facet = sloped[part_facet[ring_part[ring[edge]]]]
        self.pand = f.pand[facet]
        self.a, self.b, self.c = f.plane[facet].T
        self.p0 = xy[edge] - f.origin[facet]
        self.p1 = xy[edge + 1] - f.origin[facet]
        self.z0 = self.a * self.p0[:, 0] + self.b * self.p0[:, 1] + self.c
        self.z1 = self.a * self.p1[:, 0] + self.b * self.p1[:, 1] + self.c
        self.g2 = self.a ** 2 + self.b ** 2

    def __call__(self, h: np.ndarray) -> np.ndarray:
        out = np.bincount(self.flat_pand, weights=self.flat_area * (self.flat_z <= h[self.flat_pand]),
                          minlength=self.n)
        hh = h[self.pand]
        below0, below1 = self.z0 <= hh, self.z1 <= hh
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(below0 != below1, (hh - self.z0) / (self.z1 - self.z0), 0.0)
        cross = self.p0 + t[:, None] * (self.p1 - self.p0)
        q0 = np.where(below0[:, None], self.p0, cross)
        q1 = np.where(below1[:, None], self.p1, cross)
        s = (hh - self.c) / self.g2
        ox, oy = s * self.a, s * self.b
        area = 0.5 * ((q0[:, 0] - ox) * (q1[:, 1] - oy) - (q0[:, 1] - oy) * (q1[:, 0] - ox))
        return out + np.bincount(self.pand, weights=np.where(below0 | below1, area, 0.0), minlength=self.n)


def roof_measures(footprints: np.ndarray, roofs: RoofSurfaces) -> dict:
    """Per pand, what is true of its roof surface: lowest and highest point, the area-weighted 50th and 70th
    percentile of its height over the footprint (exact, by bisection on the exact area below a height),
    and — as docs/roofs.md defines b3_dak_type, b3_h_goot, b3_h_nok and the pitch — the roof type, the eave
    (lowest point of the main sloped planes, or the height of the largest flat one), the ridge and the
    pitch range of the main sloped planes (0 for a flat roof)."""
    f = roof_facets(footprints, roofs)
    n = len(footprints)
    h_min, h_max = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(h_min, f.pand, f.low)
    np.maximum.at(h_max, f.pand, f.high)
    total = np.bincount(f.pand, weights=f.area, minlength=n)
    area_below = _AreaBelow(f, n)
    percentile = {}
    for q in (0.5, 0.7):  # the lowest height with q of the area at or below it, by bisection
        lo, hi = h_min - 1e-6, h_max.copy()
        for _ in range(40):  # heights span < 30 m: 2^-40 of it is far below a millimetre
            mid = (lo + hi) / 2
            enough = area_below(mid) >= q * total
            lo, hi = np.where(enough, lo, mid), np.where(enough, mid, hi)
        percentile[q] = hi
    slope = f.slope_deg
    h_goot, pitch_min, pitch_max, dak_type, planes = np.empty(n), np.zeros(n), np.zeros(n), [], []
    bounds = np.searchsorted(f.pand, np.arange(n + 1))
    for k in range(n):
        s = slice(bounds[k], bounds[k + 1])
        area, low, sl = f.area[s], f.low[s], slope[s]
        sloped = (sl >= HORIZONTAL_DEG) & (area >= MIN_TYPE_AREA)
        flat = (sl < HORIZONTAL_DEG) & (area >= MIN_TYPE_AREA)
        if sloped.any():
            main = sloped & (area >= MAIN_PLANE_SHARE * area[sloped].max())
            dak_type.append("slanted")
            h_goot[k] = low[main].min()
            pitch_min[k], pitch_max[k] = sl[main].min(), sl[main].max()
        else:
            flat = flat if flat.any() else np.ones(len(area), bool)
            dak_type.append("multiple horizontal" if flat.sum() > 1 else "horizontal")
            h_goot[k] = low[np.flatnonzero(flat)[np.argmax(area[flat])]]
        planes.append([(float(a), float(b), float(c - a * x0 - b * y0))
                       for (a, b, c), (x0, y0) in zip(f.plane[s], f.origin[s])])
    return {"h_min": h_min, "h_max": h_max, "p50": percentile[0.5], "p70": percentile[0.7], "area": total,
            "h_goot": h_goot, "h_nok": h_max, "pitch_min": pitch_min, "pitch_max": pitch_max, "dak_type": dak_type,
            "planes": planes}


# --- the district: blocks placed on the grid, streets, canal, bridge -----------------------------------
@dataclass
class District:
    """Everything `write_district` writes, in RD New metres (footprints and BGT) and NAP metres (heights)."""

    seed: int
    terrain: Terrain
    bbox: tuple[float, float, float, float]
    # panden, in BAG order
    footprints: np.ndarray  # shapely Polygons
    kind: list[str]
    status: list[str]
    bouwjaar: np.ndarray
    roof: list[str]  # roof_type: one of synth.roofs.SHAPES
    main_roof: list[str]  # the main part's shape
    roofs: RoofSurfaces
    measures: dict  # roof_measures: the truth of each roof
    ridge_line: np.ndarray  # (axis, line, lo, hi) in register RD m where chimneys stand; NaN: none
    h_maaiveld: np.ndarray
    vbo: dict[str, list]  # column → values
    # level-0 surfaces (the partition) and level-1 objects
    s_type: list[str]
    s_attrs: list[tuple]
    s_level: list[int]
    s_rule: np.ndarray
    s_param: np.ndarray  # roof: pand index; fence: height (mm); bank: row in banks
    s_geom: np.ndarray
    banks: np.ndarray  # (y_land, y_water) in RD metres per bank surface
    trees: np.ndarray  # (surface of the trunk, cx, cy, r, height above ground) sorted by surface
    water_level: float
    bridges: list[tuple[int, float]] = field(default_factory=list)  # (surface index of the deck, deck height)
    # what the registers and the laser get wrong
    misalignment: Misalignment | None = None
    # roof superstructures: (pand, x0, y0, x1, y1 in register RD m, top NAP, is_antenna), sorted by pand
    opbouw: np.ndarray = field(default_factory=lambda: np.empty((0, 7)))
    roof_return: np.ndarray = field(default_factory=lambda: np.empty(0))  # share of pulses a roof returns
    overhanging: np.ndarray = field(default_factory=lambda: np.empty(0, bool))  # a tree crown over the roof
    # per pand, the outward directions (unit vectors) of the streets its entrances are on: its voorkant
    fronts: list[tuple[tuple[int, int], ...]] = field(default_factory=list)


def _street_names(n: int) -> list[str]:
    names = []
    for k in range(n):
        stem = STREET_STEMS[k % len(STREET_STEMS)]
        suffix = STREET_SUFFIXES[(k // len(STREET_STEMS)) % len(STREET_SUFFIXES)]
        name = f"{stem}{suffix}"
        rnd = k // (len(STREET_STEMS) * len(STREET_SUFFIXES))
        names.append(name if rnd == 0 else f"{name} {rnd + 1}")
    return names


def _postcode(p: int) -> str:
    letters = len(POSTCODE_LETTERS) ** 2
    a, b = divmod(p % letters, len(POSTCODE_LETTERS))
    return f"{3900 + p // letters}{POSTCODE_LETTERS[a]}{POSTCODE_LETTERS[b]}"


def _to_rd(geoms, ox: int, oy: int) -> np.ndarray:
    """Block-local mm → RD metres: integer sums, one exact division, so every vertex is a whole mm."""
    off = np.array([ox, oy], dtype=np.float64)
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: (c + off) / 1000.0)


def plan_district(buildings: int, seed: int) -> District:
    """Lay out the district (no I/O): blocks on a street grid with a canal, addresses, heights, truth."""
    if buildings < 1:
        raise StadsmodelError(f"the number of buildings must be at least 1, got {buildings}")
    log.info("synth: planning %d buildings (seed %d)", buildings, seed)
    rng = np.random.default_rng(seed)
    terrain = Terrain(rng)
    blocks = _plan_blocks(buildings, rng, np.random.default_rng([seed, 5]))  # roofs: their own stream

    # Grid: roughly square, with the canal as a full row through the middle.
    ncols = max(2, math.ceil(math.sqrt(len(blocks) * PITCH_Y / PITCH_X)))
    block_rows = max(2, math.ceil(len(blocks) / ncols))
    canal_row = block_rows // 2
    nrows = block_rows + 1
    while len(blocks) < ncols * block_rows:
        blocks.append(_park_block(rng))
    ox = CENTRE[0] - (ncols * PITCH_X) // 2 // 1000 * 1000
    oy = CENTRE[1] - (nrows * PITCH_Y) // 2 // 1000 * 1000

    surf_type: list[str] = []
    surf_attrs: list[tuple] = []
    surf_level: list[int] = []
    surf_rule: list[int] = []
    surf_param: list[int] = []
    surf_geom: list = []
    banks: list[tuple[float, float]] = []
    trees: list[tuple] = []

    def add(bgt_attrs, rule, param, geoms, level=0):
        bgt, attrs = bgt_attrs
        for g in geoms:
            surf_type.append(bgt)
            surf_attrs.append(attrs)
            surf_level.append(level)
            surf_rule.append(rule)
            surf_param.append(param)
            surf_geom.append(g)

    def rect(x0, y0, x1, y1):
        return shapely.box((ox + x0) / 1000, (oy + y0) / 1000, (ox + x1) / 1000, (oy + y1) / 1000)

    # Panden, block by block (block order = BAG order), with their gardens, fences and greens.
    houses: list[tuple[_House, int, int, int, int]] = []  # (house, ox, oy, street index, block row)
    cells = [(c, r) for r in range(nrows) if r != canal_row for c in range(ncols)]
    for blk, (c, r) in zip(blocks, cells):
        bx, by = ox + c * PITCH_X + MARGIN, oy + r * PITCH_Y + MARGIN
        first = len(surf_geom)
        for bgt, attrs, rule, param, geom in blk.surfaces:
            add((bgt, attrs), rule, param, _to_rd([geom], bx, by))
        for sidx, cx, cy, rr, h in blk.trees:
            trees.append((first + sidx, (bx + cx) / 1000, (by + cy) / 1000, rr / 1000, h))
        for h in blk.houses:
            houses.append((h, bx, by, r, c))
        # sidewalk and berm rings around the block, four pieces each
        x0, y0 = c * PITCH_X + MARGIN, r * PITCH_Y + MARGIN
        x1, y1 = x0 + BLOCK_W, y0 + BLOCK_H
        for kind, a, b in ((SIDEWALK_W, 0, SIDEWALK), (BERM_O, SIDEWALK, SIDEWALK + BERM)):
            add(kind, R_GROUND if kind is SIDEWALK_W else R_YARD, 0, [
                rect(x0 - b, y0 - b, x1 + b, y0 - a), rect(x0 - b, y1 + a, x1 + b, y1 + b),
                rect(x0 - b, y0 - a, x0 - a, y1 + a), rect(x1 + a, y0 - a, x1 + b, y1 + a)])

    # Streets: carriageway pieces between crossings, and the crossings.
    bridge_cols = [i for i in range(1, ncols) if (i - ncols // 2) % 8 == 0]
    for j in range(nrows + 1):
        ya, yb = j * PITCH_Y - ROAD_HALF, j * PITCH_Y + ROAD_HALF
        for i in range(ncols):
            add(ROAD, R_GROUND, 0, [rect(i * PITCH_X + ROAD_HALF, ya, (i + 1) * PITCH_X - ROAD_HALF, yb)])
        for i in range(ncols + 1):
            add(ROAD, R_GROUND, 0, [rect(i * PITCH_X - ROAD_HALF, ya, i * PITCH_X + ROAD_HALF, yb)])
    for r in range(nrows):
        if r == canal_row:
            continue
        ya, yb = r * PITCH_Y + ROAD_HALF, (r + 1) * PITCH_Y - ROAD_HALF
        for i in range(ncols + 1):
            add(ROAD, R_GROUND, 0, [rect(i * PITCH_X - ROAD_HALF, ya, i * PITCH_X + ROAD_HALF, yb)])

    # The canal row: quays, green strips with trees, banks and water across the whole district.
    cy0 = canal_row * PITCH_Y + ROAD_HALF
    cy1 = (canal_row + 1) * PITCH_Y - ROAD_HALF
    strips = [(SIDEWALK_W, R_GROUND, cy0, cy0 + CANAL_SIDEWALK),
              (GREEN, R_GREEN, cy0 + CANAL_SIDEWALK, cy0 + CANAL_SIDEWALK + CANAL_GREEN),
              (GREEN, R_GREEN, cy1 - CANAL_SIDEWALK - CANAL_GREEN, cy1 - CANAL_SIDEWALK),
              (SIDEWALK_W, R_GROUND, cy1 - CANAL_SIDEWALK, cy1)]
    bank_s = (cy0 + CANAL_SIDEWALK + CANAL_GREEN, cy0 + CANAL_SIDEWALK + CANAL_GREEN + CANAL_BANK)
    bank_n = (cy1 - CANAL_SIDEWALK - CANAL_GREEN - CANAL_BANK, cy1 - CANAL_SIDEWALK - CANAL_GREEN)
    xs_cut = [-ROAD_HALF] + [i * PITCH_X for i in range(1, ncols)] + [ncols * PITCH_X + ROAD_HALF]
    for i in range(ncols):
        xa, xb = xs_cut[i], xs_cut[i + 1]
        add(CANAL, R_WATER, 0, [rect(xa, bank_s[1], xb, bank_n[0])])
        for (ya, yb), land, water in ((bank_s, bank_s[0], bank_s[1]), (bank_n, bank_n[1], bank_n[0])):
            banks.append(((oy + land) / 1000, (oy + water) / 1000))
            add(BANK, R_BANK, len(banks) - 1, [rect(xa, ya, xb, yb)])
        # land strips are interrupted by the approach roads of bridges
        pieces = [(xa, xb)]
        for bc in bridge_cols:
            cut_a, cut_b = bc * PITCH_X - ROAD_HALF, bc * PITCH_X + ROAD_HALF
            pieces = [(a, b) for a0, b0 in pieces for a, b in ((a0, min(b0, cut_a)), (max(a0, cut_b), b0)) if a < b]
        for a, b in pieces:
            for kind, rule, ya, yb in strips:
                add(kind, rule, 0, [rect(a, ya, b, yb)])
                if kind is GREEN:
                    sidx = len(surf_geom) - 1
                    for tx in range(a + 5000, b - 2500, 10000):
                        height = round(float(rng.uniform(6.0, 11.0)), 3)
                        trees.append((sidx, (ox + tx) / 1000, (oy + (ya + yb) / 2) / 1000, 1.8, height))
    bridges = []
    for bc in bridge_cols:
        bx = bc * PITCH_X
        add(ROAD, R_GROUND, 0, [rect(bx - ROAD_HALF, cy0, bx + ROAD_HALF, bank_s[0]),
                                rect(bx - ROAD_HALF, bank_n[1], bx + ROAD_HALF, cy1)])
        bridges.append((len(surf_geom), bx))
        add(DECK, R_GROUND, 0, [rect(bx - ROAD_HALF, bank_s[0], bx + ROAD_HALF, bank_n[1])], level=1)
        add(ROAD, R_GROUND, 0, [rect(bx - ROAD_HALF, bank_s[0], bx + ROAD_HALF, bank_n[1])], level=1)

    # The water lies a metre below the lowest quay; bridge decks a little above their approaches.
    xs = np.arange(ox - ROAD_HALF, ox + ncols * PITCH_X + ROAD_HALF, 5000) / 1000
    quay = np.concatenate([terrain(xs, np.full_like(xs, (oy + bank_s[0]) / 1000)),
                           terrain(xs, np.full_like(xs, (oy + bank_n[1]) / 1000))])
    water_level = round(float(quay.min()) - 1.0, 3)
    deck = []
    for sidx, bx in bridges:
        ends = terrain(np.array([(ox + bx) / 1000] * 2), np.array([(oy + bank_s[0]) / 1000, (oy + bank_n[1]) / 1000]))
        deck.append((sidx, round(float(ends.max()) + 0.3, 3)))

    # Panden: footprints, heights on the true maaiveld, statuses, addresses.
    n = len(houses)
    footprints = np.empty(n, dtype=object)
    for k, (h, bx, by, _, _) in enumerate(houses):
        footprints[k] = _to_rd([h.footprint], bx, by)[0]
    footprints = shapely.orient_polygons(footprints)
    h_maaiveld = np.round(_outline_median(footprints, terrain), 3)  # the ground the design stands on
    status = [PAND_IN_GEBRUIK] * n
    bouwjaar = np.array([h.bouwjaar for h, *_ in houses], dtype=np.int32)
    candidates = np.array([k for k, (h, *_) in enumerate(houses) if h.kind != "hofblok"], dtype=np.int64)
    n_planned = max(1 if buildings >= 20 else 0, round(0.02 * buildings))
    n_planned = min(n_planned, len(candidates))
    chosen = rng.choice(candidates, n_planned, replace=False) if n_planned else np.array([], dtype=np.int64)
    for k in sorted(int(c) for c in chosen):
        status[k] = PAND_VERGUND
        bouwjaar[k] = 2024
    for k in np.flatnonzero(rng.random(n) < 0.01):
        if status[k] == PAND_IN_GEBRUIK:
            status[k] = PAND_NIET_INGEMETEN

    roofs = RoofSurfaces.of([h.roof for h, *_ in houses], [(bx, by) for _, bx, by, _, _ in houses], h_maaiveld)
    measures = roof_measures(footprints, roofs)
    eave, ridge = measures["h_goot"], measures["h_nok"]
    ridge_line = np.full((n, 4), np.nan)
    for k, (h, bx, by, _, _) in enumerate(houses):
        if h.roof.ridge is not None:
            axis, line, lo, hi = h.roof.ridge
            o_line, o_along = (by, bx) if axis == 0 else (bx, by)
            ridge_line[k] = axis, (o_line + line) / 1000, (o_along + lo) / 1000, (o_along + hi) / 1000

    # Level-0 pand surfaces join the partition: roofs, or bare ground for a pand not built yet.
    for k in range(n):
        surf_type.append("pand")
        surf_attrs.append(())
        surf_level.append(0)
        built = status[k] != PAND_VERGUND
        surf_rule.append(R_ROOF if built else R_GROUND)
        surf_param.append(k)
        surf_geom.append(footprints[k])

    vbo = _addresses(houses, status, bouwjaar, nrows, canal_row)
    geoms = shapely.orient_polygons(np.array(surf_geom, dtype=object))
    built = np.array([st != PAND_VERGUND for st in status])
    flat = np.array([t != "slanted" for t in measures["dak_type"]])
    nuisance = np.random.default_rng([seed, 4])  # its own stream: the layout above stays as it was
    misalignment = Misalignment(nuisance)
    overhanging = _garden_trees(nuisance, footprints, built, eave - h_maaiveld, geoms, np.array(surf_rule), trees)
    opbouw = _superstructures(nuisance, footprints, built, flat, roofs, ridge, ridge_line)
    roof_return = _roof_returns(nuisance, footprints, built, flat, [h.kind for h, *_ in houses])
    trees_arr = np.array(sorted(trees), dtype=np.float64).reshape(-1, 5)
    return District(
        seed=seed, terrain=terrain,
        bbox=((ox - ROAD_HALF) / 1000, (oy - ROAD_HALF) / 1000,
              (ox + ncols * PITCH_X + ROAD_HALF) / 1000, (oy + nrows * PITCH_Y + ROAD_HALF) / 1000),
        footprints=footprints, kind=[h.kind for h, *_ in houses], status=status, bouwjaar=bouwjaar,
        roof=[h.roof.shape for h, *_ in houses], main_roof=[h.roof.main for h, *_ in houses], roofs=roofs,
        measures=measures, ridge_line=ridge_line, h_maaiveld=h_maaiveld, vbo=vbo,
        s_type=surf_type, s_attrs=surf_attrs, s_level=surf_level, s_rule=np.array(surf_rule, dtype=np.int8),
        s_param=np.array(surf_param, dtype=np.int64), s_geom=geoms, banks=np.array(banks).reshape(-1, 2),
        trees=trees_arr, water_level=water_level, bridges=deck, misalignment=misalignment, opbouw=opbouw,
        roof_return=roof_return, overhanging=overhanging,
        fronts=[((0, -1), (0, 1)) if h.north_entrances else (((0, -1),) if h.side == 0 else ((0, 1),))
                for h, *_ in houses],
    )


def _garden_trees(rng: np.random.Generator, footprints: np.ndarray, built: np.ndarray, eave_above_ground: np.ndarray,
                  geoms: np.ndarray, rules: np.ndarray, trees: list) -> np.ndarray:
    """Adds a garden tree next to some built panden whose crown reaches 1–2.5 m over the roof edge and
    stands 3–7 m above the eave; returns per pand whether it has one. The trunk stands in a garden or green."""
    open_ground = np.flatnonzero(np.isin(rules, (R_YARD, R_GREEN)))
    ground_tree = shapely.STRtree(geoms[open_ground])
    overhanging = np.zeros(len(footprints), dtype=bool)
    for k in np.flatnonzero(built & (rng.random(len(footprints)) < OVERHANG_P)):
        ring = shapely.get_coordinates(footprints[k].exterior)
        edge = int(rng.integers(0, len(ring) - 1))
        (x0, y0), (x1, y1) = ring[edge], ring[edge + 1]
        length = math.hypot(x1 - x0, y1 - y0)
        if length < 3.0:
            continue
        r = float(rng.uniform(2.5, 4.5))
        overhang = float(rng.uniform(1.0, 2.5))
        t = float(rng.uniform(0.25, 0.75))
        # rings are counter-clockwise (orient_polygons): the outward normal is to the right of the edge
        nx, ny = (y1 - y0) / length, -(x1 - x0) / length
        cx, cy = x0 + t * (x1 - x0) + nx * (r - overhang), y0 + t * (y1 - y0) + ny * (r - overhang)
        trunk = shapely.Point(cx, cy)
        where = ground_tree.query(trunk, predicate="within")
        if not len(where) or shapely.distance(trunk, footprints).min() < r - overhang - 1e-6:
            continue  # the trunk would stand on a street, in water or nearer another building
        height = round(float(eave_above_ground[k] + rng.uniform(3.0, 7.0)), 3)
        trees.append((int(open_ground[where[0]]), round(cx, 3), round(cy, 3), round(r, 3), height))
        overhanging[k] = True
    return overhanging


def _superstructures(rng: np.random.Generator, footprints: np.ndarray, built: np.ndarray, flat: np.ndarray,
                     roofs: RoofSurfaces, ridge: np.ndarray, ridge_line: np.ndarray) -> np.ndarray:
    """Chimneys on the ridge of half the roofs with a ridge; chimneys, vents and antenna masts on flat roofs.
    Each stands at least 0.8 m inside its footprint. Rows: (pand, x0, y0, x1, y1, top, is_antenna)."""
    rows = []
    for k in np.flatnonzero(built):
        fp = footprints[k]
        inner = fp.buffer(-0.8)
        if inner.is_empty:
            continue
        x0, y0, x1, y1 = inner.bounds
        if flat[k]:
            n_opbouw = int(rng.integers(FLAT_OPBOUW[0], FLAT_OPBOUW[1] + 1))
            wanted = [bool(rng.random() < ANTENNA_P) for _ in range(n_opbouw)]
        else:
            wanted = [False] if rng.random() < CHIMNEY_P and not np.isnan(ridge_line[k, 0]) else []
        for antenna in wanted:
            half = 0.06 if antenna else float(rng.uniform(0.25, 0.45))
            if flat[k]:  # on the roof where it stands (its height is added below, for all at once)
                cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
                top = rng.uniform(2.0, 4.0) if antenna else rng.uniform(0.5, 1.5)
            else:  # on the ridge line, somewhere along it
                axis, line, lo, hi = ridge_line[k]
                lo, hi = (max(lo, x0), min(hi, x1)) if axis == 0 else (max(lo, y0), min(hi, y1))
                along = rng.uniform(lo, max(lo, hi))
                cx, cy = (along, line) if axis == 0 else (line, along)
                top = ridge[k] + rng.uniform(0.6, 1.2)
            box = shapely.box(cx - half, cy - half, cx + half, cy + half)
            if inner.contains(box):
                rows.append((k, cx - half, cy - half, cx + half, cy + half, float(top), float(antenna)))
    out = np.array(rows, dtype=np.float64).reshape(-1, 7)
    on_flat = flat[out[:, 0].astype(np.int64)]
    x0, y0, x1, y1 = out[on_flat, 1:5].T
    out[on_flat, 5] += roofs.height(out[on_flat, 0].astype(np.int64), (x0 + x1) / 2, (y0 + y1) / 2)
    out[:, 5] = np.round(out[:, 5], 3)
    return out


def _roof_returns(rng: np.random.Generator, footprints: np.ndarray, built: np.ndarray, flat: np.ndarray,
                  kinds: list[str]) -> np.ndarray:
    """Share of the pulses each roof returns: 1, except dark flat roofs (some) and nearly black ones (a few,
    only free-standing panden, so no neighbour's roof shows through a misaligned footprint)."""
    out = np.ones(len(footprints))
    candidates = np.flatnonzero(built & flat)
    if not len(candidates):
        return out
    left, right = shapely.STRtree(footprints).query(footprints, predicate="intersects")
    neighbours = np.bincount(left[left != right], minlength=len(footprints))
    alone = np.array([k for k in candidates if neighbours[k] == 0 and kinds[k] != "hofblok"], dtype=np.int64)
    n = len(footprints)
    sparse = (rng.choice(alone, min(len(alone), max(1, round(SPARSE_ROOF_SHARE * n))), replace=False)
              if len(alone) else np.empty(0, np.int64))
    out[sparse] = rng.uniform(*SPARSE_ROOF_RETURN, len(sparse))
    rest = np.setdiff1d(candidates, sparse)
    dark = (rng.choice(rest, min(len(rest), max(1, round(DARK_ROOF_SHARE * n))), replace=False)
            if len(rest) else np.empty(0, np.int64))
    out[dark] = rng.uniform(*DARK_ROOF_RETURN, len(dark))
    return out


def _addresses(houses, status, bouwjaar, nrows: int, canal_row: int) -> dict[str, list]:
    """Verblijfsobjecten: numbered along each street (odd north side, even south side), postcodes per stretch."""
    names = _street_names(nrows + 1)
    names[canal_row] = "Zuiderkade"
    names[canal_row + 1] = "Noorderkade"
    # (street, parity) → list of (x, house index, entrance)
    sides: dict[tuple[int, int], list] = {}
    for k, (h, bx, _by, r, _c) in enumerate(houses):
        south = [(e, h.side) for e in h.entrances]
        north = [(e, 1) for e in h.north_entrances]
        for e, side in south + north:
            street = r if side == 0 else r + 1
            parity = 1 if side == 0 else 0  # north of the street: odd numbers
            sides.setdefault((street, parity), []).append((bx + e.x, k, e))
    cols: dict[str, list] = {c: [] for c in (
        "identificatie", "pand_identificatie", "gebruiksdoel", "oppervlakte", "status", "openbare_ruimte_naam",
        "huisnummer", "huisletter", "toevoeging", "postcode", "woonplaats_naam", "bouwjaar", "pand_status",
        "x", "y", "pand")}
    postcode_idx = 0
    for (street, parity) in sorted(sides):
        entries = sorted(sides[(street, parity)], key=lambda t: (t[0], t[1]))
        for m, (_, k, e) in enumerate(entries):
            if m % 12 == 0:
                postcode = _postcode(postcode_idx)
                postcode_idx += 1
            nummer = 2 * m + (1 if parity else 2)
            h, bx, by = houses[k][0], houses[k][1], houses[k][2]
            for u_i, u in enumerate(e.units):
                letter = toevoeging = None
                if len(e.units) == 2 and h.kind in ("rijwoning", "vrijstaand"):
                    letter = "A" if u_i == 1 else None
                elif len(e.units) > 1:
                    toevoeging = str(u_i + 1)
                cols["pand"].append(k)
                cols["gebruiksdoel"].append(u.gebruiksdoel)
                cols["oppervlakte"].append(max(10, int(u.oppervlakte)))
                cols["status"].append(VBO_STATUS[status[k]])
                cols["openbare_ruimte_naam"].append(names[street])
                cols["huisnummer"].append(nummer)
                cols["huisletter"].append(letter)
                cols["toevoeging"].append(toevoeging)
                cols["postcode"].append(postcode)
                cols["woonplaats_naam"].append(WOONPLAATS)
                cols["bouwjaar"].append(int(bouwjaar[k]))
                cols["pand_status"].append(status[k])
                # units of one entrance spread a little along the facade, always inside the footprint
                cols["x"].append((bx + u.x + 400 * (u_i % 3 - 1)) / 1000)
                cols["y"].append((by + u.y) / 1000)
    # BAG order: by pand, then by address
    order = sorted(range(len(cols["pand"])), key=lambda i: (cols["pand"][i], cols["openbare_ruimte_naam"][i],
                                                          cols["huisnummer"][i], cols["huisletter"][i] or "",
                                                          int(cols["toevoeging"][i] or 0)))
    for key in list(cols):
        if key not in ("identificatie", "pand_identificatie"):
            cols[key] = [cols[key][i] for i in order]
    cols["identificatie"] = [f"{GEMEENTE}01{i + 1:010d}" for i in range(len(order))]
    cols["pand_identificatie"] = [pand_id(k) for k in cols["pand"]]
    return cols


def pand_id(k: int) -> str:
    """The 16-digit BAG pand identificatie of the k-th synthetic pand (0-based)."""
    return f"{GEMEENTE}10{k + 1:010d}"


# --- BGT GML --------------------------------------------------------------------------------------------
CS = "http://www.geostandaarden.nl/imgeo/def/2.1"
GML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<CityModel xmlns:gml="http://www.opengis.net/gml" xmlns:imgeo="http://www.geostandaarden.nl/imgeo/2.1" '
    'xmlns="http://www.opengis.net/citygml/2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.geostandaarden.nl/imgeo/2.1 '
    'http://register.geostandaarden.nl/gmlapplicatieschema/imgeo/2.1.1/imgeo.xsd">\n'
)
GML_TAIL = "</CityModel>\n"
INDENT = "            "  # the indentation of the PDOK files


def _code(tag: str, codelist: str, value: str | None, ns: str = "") -> str:
    """A coded value; a missing one is written as PDOK does, with the VoidReasonValue code list."""
    if value is None:
        return f'{INDENT}<{tag}{ns} codeSpace="{CS}#VoidReasonValue">waardeOnbekend</{tag}>\n'
    return f'{INDENT}<{tag}{ns} codeSpace="{CS}#{codelist}">{value}</{tag}>\n'


def _poslist(ring) -> str:
    xy = shapely.get_coordinates(ring)
    return " ".join(f"{v:.3f}" for v in xy.ravel())


def _polygon_gml(poly: Polygon, srs: bool = True) -> str:
    srs_attr = ' srsName="urn:ogc:def:crs:EPSG::28992"' if srs else ""
    parts = [f'<gml:Polygon xmlns:gml="http://www.opengis.net/gml"{srs_attr}><gml:exterior><gml:LinearRing>'
             f'<gml:posList srsDimension="2">{_poslist(poly.exterior)}</gml:posList></gml:LinearRing></gml:exterior>']
    for hole in poly.interiors:
        parts.append(f'<gml:interior><gml:LinearRing><gml:posList srsDimension="2">{_poslist(hole)}'
                     '</gml:posList></gml:LinearRing></gml:interior>')
    parts.append("</gml:Polygon>")
    return "".join(parts)


def _ids(seed: int, bgt: str, i: int) -> tuple[str, str]:
    """(gml:id, lokaalID): stable hashes of seed, type and number, shaped like the PDOK ones."""
    d = hashlib.blake2b(f"{seed}/{bgt}/{i}".encode(), digest_size=32).digest()
    return "b" + str(uuid.UUID(bytes=d[:16], version=4)), f"{BRONHOUDER}.{d[16:].hex()}"


def _dates(rng: np.random.Generator, n: int) -> list[tuple[str, str, str]]:
    """(creationDate, tijdstipRegistratie, LV-publicatiedatum) per object, between 2013 and 2023."""
    base = dt.datetime(2013, 1, 1)
    created = rng.integers(0, 3650, n)
    registered = created + rng.integers(0, 365, n)
    seconds = rng.integers(7 * 3600, 18 * 3600, n)
    out = []
    for c, r, s in zip(created.tolist(), registered.tolist(), seconds.tolist()):
        t = base + dt.timedelta(days=r, seconds=s)
        out.append(((base + dt.timedelta(days=c)).date().isoformat(), t.strftime("%Y-%m-%dT%H:%M:%S.000"),
                    (t + dt.timedelta(days=1, seconds=3 * 3600)).strftime("%Y-%m-%dT%H:%M:%S")))
    return out


def _common(gml_id_attrs: str, dates: tuple[str, str, str], rel: int, lokaal_id: str, status: str = "bestaand") -> str:
    created, registered, published = dates
    return (
        f'{gml_id_attrs}\n'
        f'                        <creationDate xmlns="http://www.opengis.net/citygml/2.0">{created}</creationDate>\n'
        f'{INDENT}<imgeo:LV-publicatiedatum>{published}</imgeo:LV-publicatiedatum>\n'
        f'{INDENT}<imgeo:relatieveHoogteligging>{rel}</imgeo:relatieveHoogteligging>\n'
        f'{INDENT}<imgeo:inOnderzoek>false</imgeo:inOnderzoek>\n'
        f'{INDENT}<imgeo:tijdstipRegistratie>{registered}</imgeo:tijdstipRegistratie>\n'
        f'{INDENT}<imgeo:identificatie>\n'
        f'{INDENT}    <imgeo:NEN3610ID>\n'
        f'{INDENT}        <imgeo:namespace>NL.IMGeo</imgeo:namespace>\n'
        f'{INDENT}        <imgeo:lokaalID>{lokaal_id}</imgeo:lokaalID>\n'
        f'{INDENT}    </imgeo:NEN3610ID>\n'
        f'{INDENT}</imgeo:identificatie>\n'
        f'{INDENT}<imgeo:bronhouder>{BRONHOUDER}</imgeo:bronhouder>\n'
        f'{INDENT}<imgeo:bgt-status codeSpace="{CS}#Status">{status}</imgeo:bgt-status>\n'
        f'{INDENT}<imgeo:plus-status codeSpace="{CS}#VoidReasonValue">geenWaarde</imgeo:plus-status>\n'
    )


def _nil(tag: str) -> str:
    return f'{INDENT}<imgeo:{tag} xsi:nil="true" nilReason="waardeOnbekend" />\n'


def _false(tag: str) -> str:
    return f"{INDENT}<imgeo:{tag}>false</imgeo:{tag}>\n"


def _geom(tag: str, poly: Polygon) -> str:
    return f"{INDENT}<imgeo:{tag}>{_polygon_gml(poly)}</imgeo:{tag}>\n"


def _member_body(bgt: str, attrs: tuple, poly: Polygon) -> tuple[str, str]:
    """(opening element, attributes and geometry) of one object, in the element order of the PDOK files."""
    if bgt == "wegdeel":
        function, material, plus = attrs
        return ('<TrafficArea xmlns="http://www.opengis.net/citygml/transportation/2.0"',
                _code("function", "FunctieWeg", function) + _code("surfaceMaterial", "FysiekVoorkomenWeg", material)
                + _nil("kruinlijnWegdeel") + _geom("geometrie2dWegdeel", poly) + _false("wegdeelOpTalud")
                + _code("imgeo:plus-fysiekVoorkomenWegdeel", "FysiekVoorkomenWegPlus", plus)
                + _code("imgeo:plus-functieWegdeel", "", None))
    if bgt == "ondersteunendwegdeel":
        function, material, plus = attrs
        return ('<AuxiliaryTrafficArea xmlns="http://www.opengis.net/citygml/transportation/2.0"',
                _code("function", "FunctieOndersteunendWegdeel", function)
                + _code("surfaceMaterial", "FysiekVoorkomenOndersteunendWegdeel", material)
                + _geom("geometrie2dOndersteunendWegdeel", poly) + _false("ondersteunendWegdeelOpTalud")
                + _code("imgeo:plus-functieOndersteunendWegdeel", "", None)
                + _code("imgeo:plus-fysiekVoorkomenOndersteunendWegdeel",
                        "FysiekVoorkomenOndersteunendWegdeelPlus", plus)
                + _nil("kruinlijnOndersteunendWegdeel"))
    if bgt == "waterdeel":
        klass, plus = attrs
        return ("<imgeo:Waterdeel",
                _code("class", "TypeWater", klass, ' xmlns="http://www.opengis.net/citygml/waterbody/2.0"')
                + _code("imgeo:plus-type", "TypeWaterPlus", plus) + _geom("geometrie2dWaterdeel", poly))
    if bgt == "ondersteunendwaterdeel":
        (klass,) = attrs
        return ("<imgeo:OndersteunendWaterdeel",
                _code("class", "TypeOndersteunendWaterdeel", klass,
                      ' xmlns="http://www.opengis.net/citygml/waterbody/2.0"')
                + f'{INDENT}<imgeo:plus-type codeSpace="{CS}#VoidReasonValue">geenWaarde</imgeo:plus-type>\n'
                + _geom("geometrie2dOndersteunendWaterdeel", poly))
    if bgt == "begroeidterreindeel":
        klass, plus = attrs
        return ('<PlantCover xmlns="http://www.opengis.net/citygml/vegetation/2.0"',
                _code("class", "FysiekVoorkomenBegroeidTerrein", klass) + _geom("geometrie2dBegroeidTerreindeel", poly)
                + _false("begroeidTerreindeelOpTalud") + _nil("kruinlijnBegroeidTerreindeel")
                + _code("imgeo:plus-fysiekVoorkomen", "FysiekVoorkomenBegroeidTerreinPlus", plus))
    if bgt == "onbegroeidterreindeel":
        fysiek, plus = attrs
        return ("<imgeo:OnbegroeidTerreindeel",
                _code("imgeo:bgt-fysiekVoorkomen", "FysiekVoorkomenOnbegroeidTerrein", fysiek)
                + _false("onbegroeidTerreindeelOpTalud")
                + _code("imgeo:plus-fysiekVoorkomen", "FysiekVoorkomenOnbegroeidTerreinPlus", plus)
                + _nil("kruinlijnOnbegroeidTerreindeel") + _geom("geometrie2dOnbegroeidTerreindeel", poly))
    if bgt == "overbruggingsdeel":
        (klass,) = attrs
        return ('<BridgeConstructionElement xmlns="http://www.opengis.net/citygml/bridge/2.0"',
                _code("class", "TypeOverbruggingsdeel", klass) + _geom("geometrie2dOverbruggingsdeel", poly)
                + _false("overbruggingIsBeweegbaar")
                + _code("imgeo:hoortBijTypeOverbrugging", "", None))
    if bgt == "scheiding":
        (klass,) = attrs
        return ("<imgeo:Scheiding",
                _geom("geometrie2dOverigeConstructie", poly) + _code("imgeo:bgt-type", "TypeScheiding", klass)
                + _code("imgeo:plus-type", "", None))
    raise ValueError(f"no GML template for BGT type {bgt!r}")


CLOSE = {"wegdeel": "TrafficArea", "ondersteunendwegdeel": "AuxiliaryTrafficArea", "waterdeel": "imgeo:Waterdeel",
         "ondersteunendwaterdeel": "imgeo:OndersteunendWaterdeel", "begroeidterreindeel": "PlantCover",
         "onbegroeidterreindeel": "imgeo:OnbegroeidTerreindeel", "overbruggingsdeel": "BridgeConstructionElement",
         "scheiding": "imgeo:Scheiding", "pand": "BuildingPart"}


def _write_bgt(d: District, folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    by_type: dict[str, list[int]] = {t: [] for t in BGT_TYPES}
    for i, t in enumerate(d.s_type):
        if t != "pand":
            by_type[t].append(i)
    first_vbo = {}
    for row, k in enumerate(d.vbo["pand"]):
        first_vbo.setdefault(k, row)
    for t_index, bgt in enumerate(BGT_TYPES):
        path = folder / f"bgt_{bgt}.gml"
        # Not core.atomic's hidden `.tmp-<pid>.gml`: the BGT readers take every .gml in the folder, and a
        # killed run's temporary must not look like a sheet.
        tmp = path.with_suffix(".gml.part")
        rng = np.random.default_rng([d.seed, 3, t_index])
        n = len(d.footprints) if bgt == "pand" else len(by_type[bgt])
        dates = _dates(rng, n)
        with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            f.write(GML_HEAD)
            for i in range(n):
                gml_id, lokaal = _ids(d.seed, bgt, i)
                if bgt == "pand":
                    f.write(_pand_member(d, i, gml_id, lokaal, dates[i], first_vbo.get(i)))
                    continue
                s = by_type[bgt][i]
                opening, body = _member_body(bgt, d.s_attrs[s], d.s_geom[s])
                head = _common(f'{opening} gml:id="{gml_id}">', dates[i], d.s_level[s], lokaal)
                f.write(f"    <cityObjectMember>\n        {head}{body}"
                        f"        </{CLOSE[bgt]}>\n    </cityObjectMember>\n")
            f.write(GML_TAIL)
        os.replace(tmp, path)
        counts[bgt] = n
    return counts


def _pand_member(d: District, k: int, gml_id: str, lokaal: str, dates, vbo_row: int | None) -> str:
    status = "plan" if d.status[k] == PAND_VERGUND else "bestaand"
    geom = (f'{INDENT}<imgeo:geometrie2dGrondvlak>'
            '<gml:MultiSurface xmlns:gml="http://www.opengis.net/gml"><gml:surfaceMember>'
            + _polygon_gml(d.footprints[k], srs=False).replace(' xmlns:gml="http://www.opengis.net/gml"', "", 1)
            + "</gml:surfaceMember></gml:MultiSurface></imgeo:geometrie2dGrondvlak>\n")
    label = ""
    if vbo_row is not None:
        v = d.vbo
        text = f"{v['huisnummer'][vbo_row]}{v['huisletter'][vbo_row] or ''}"
        label = (
            f"{INDENT}<imgeo:nummeraanduidingreeks>\n{INDENT}    <imgeo:Nummeraanduidingreeks>\n"
            f"{INDENT}        <imgeo:nummeraanduidingreeks>\n"
            f"{INDENT}            <imgeo:Label>\n{INDENT}                <imgeo:tekst>{text}</imgeo:tekst>\n"
            f"{INDENT}                <imgeo:positie>\n{INDENT}                    <imgeo:Labelpositie>\n"
            f'{INDENT}                        <imgeo:plaatsingspunt><gml:Point xmlns:gml="http://www.opengis.net/gml">\n'
            f"              <gml:pos>{v['x'][vbo_row]:.3f} {v['y'][vbo_row]:.3f}</gml:pos>\n"
            f"            </gml:Point></imgeo:plaatsingspunt>\n"
            f"{INDENT}                        <imgeo:hoek>0</imgeo:hoek>\n"
            f"{INDENT}                    </imgeo:Labelpositie>\n"
            f"{INDENT}                </imgeo:positie>\n{INDENT}            </imgeo:Label>\n"
            f"{INDENT}        </imgeo:nummeraanduidingreeks>\n"
            f"{INDENT}        <imgeo:identificatieBAGVBOLaagsteHuisnummer>{v['identificatie'][vbo_row]}"
            "</imgeo:identificatieBAGVBOLaagsteHuisnummer>\n"
            f"{INDENT}    </imgeo:Nummeraanduidingreeks>\n{INDENT}</imgeo:nummeraanduidingreeks>\n")
    return ("    <cityObjectMember>\n        "
            + _common(f'<BuildingPart xmlns="http://www.opengis.net/citygml/building/2.0" gml:id="{gml_id}">',
                      dates, 0, lokaal, status)
            + f"{INDENT}<imgeo:identificatieBAGPND>{pand_id(k)}</imgeo:identificatieBAGPND>\n" + geom + label
            + "        </BuildingPart>\n    </cityObjectMember>\n")


# --- BAG GeoPackage ----------------------------------------------------------------------------------------
def _write_bag(d: District, path: Path, batch: int = 20_000) -> None:
    with atomic_path(path) as tmp:
        _write_bag_layers(d, tmp, batch)


def _write_bag_layers(d: District, tmp: Path, batch: int) -> None:
    n = len(d.footprints)
    v = d.vbo
    per_pand: list[list[int]] = [[] for _ in range(n)]
    for row, k in enumerate(v["pand"]):
        per_pand[k].append(row)
    for start in range(0, n, batch):
        ks = range(start, min(n, start + batch))
        uses = [",".join(sorted({u for r in per_pand[k] for u in v["gebruiksdoel"][r].split(",")})) or None for k in ks]
        opp = [[v["oppervlakte"][r] for r in per_pand[k]] or [0] for k in ks]
        fields = {
            "identificatie": np.array([pand_id(k) for k in ks], dtype=object),
            "bouwjaar": d.bouwjaar[start:start + len(ks)].astype(np.int32),
            "status": np.array([d.status[k] for k in ks], dtype=object),
            "gebruiksdoel": np.array(uses, dtype=object),
            "oppervlakte_min": np.array([min(o) for o in opp], dtype=np.int32),
            "oppervlakte_max": np.array([max(o) for o in opp], dtype=np.int32),
            "aantal_verblijfsobjecten": np.array([len(per_pand[k]) for k in ks], dtype=np.int32),
        }
        pyogrio.raw.write(tmp, shapely.to_wkb(d.footprints[start:start + len(ks)]), list(fields.values()), list(fields),
                          layer="pand", driver="GPKG", geometry_type="Polygon", crs=RD_NEW, append=start > 0)
    names = ("identificatie", "pand_identificatie", "gebruiksdoel", "oppervlakte", "status", "openbare_ruimte_naam",
             "huisnummer", "huisletter", "toevoeging", "postcode", "woonplaats_naam", "bouwjaar", "pand_status")
    ints = {"oppervlakte", "huisnummer", "bouwjaar"}
    m = len(v["identificatie"])
    for start in range(0, m, batch):
        sl = slice(start, min(m, start + batch))
        fields = [np.array(v[c][sl], dtype=np.int32 if c in ints else object) for c in names]
        pts = shapely.points(np.array(v["x"][sl]), np.array(v["y"][sl]))
        pyogrio.raw.write(tmp, shapely.to_wkb(pts), fields, list(names), layer="verblijfsobject", driver="GPKG",
                          geometry_type="Point", crs=RD_NEW, append=True)


# --- AHN point cloud ----------------------------------------------------------------------------------------
def _las_header(x0: float, y0: float, tile_no: int) -> laspy.LasHeader:
    header = laspy.LasHeader(version="1.4", point_format=6)
    header.scales = np.array([SCALE, SCALE, SCALE])
    header.offsets = np.array([x0, y0, 0.0])
    header.add_crs(pyproj.CRS.from_user_input(RD_NAP))
    header.creation_date = CREATION_DATE
    header.system_identifier = "SYNTHETIC"
    header.generating_software = "stadsmodel synth"
    header.file_source_id = tile_no % 65536
    return header


class _TileWriter:
    """Opens the LAZ file at the first chunk, so empty sheets leave no file. Written as ``<sheet>.laz.part``
    and renamed when complete (not core.atomic's ``.tmp-<pid>.laz``: a killed run's leftover must not match
    ``ahn/*.laz``)."""

    def __init__(self, path: Path, header: laspy.LasHeader):
        self.path, self.tmp, self.header = path, path.with_name(path.name + ".part"), header
        self.writer = None
        self.count = 0

    def write(self, X, Y, Z, cls, intensity) -> None:
        if len(X) == 0:
            return
        if self.writer is None:
            self.writer = laspy.open(self.tmp, mode="w", header=self.header, do_compress=True,
                                     laz_backend=laspy.LazBackend.LazrsParallel)
        rec = laspy.ScaleAwarePointRecord.zeros(len(X), header=self.header)
        rec.X, rec.Y, rec.Z = X, Y, Z
        rec.classification = cls
        rec.intensity = intensity
        ones = np.ones(len(X), dtype=np.uint8)
        rec.return_number = ones
        rec.number_of_returns = ones
        rec.gps_time = (self.count + np.arange(len(X))) * 1e-5
        self.writer.write_points(rec)
        self.count += len(X)

    def close(self) -> bool:
        if self.writer is None:
            return False
        self.writer.close()
        os.replace(self.tmp, self.path)
        return True


class _PointMaker:
    """Draws and classifies points sheet by sheet from the level-0 partition of the district.

    Points are laid out in the world; the surface a point hits is the one the registers draw at its
    register position (`Misalignment.to_register`), so BAG and BGT sit a few decimetres off the points.
    """

    def __init__(self, d: District, density: float):
        self.d = d
        # whole cells per sheet, so the pattern runs on across sheet borders
        self.cells = max(1, round(TILE * SCALE * math.sqrt(density)))
        self.salt = np.uint64(d.seed * 0x2545F4914F6CDD1D % (1 << 64))
        self.level0 = np.flatnonzero(np.array(d.s_level) == 0)
        self.tree = shapely.STRtree(d.s_geom[self.level0])
        self.bounds = shapely.bounds(d.s_geom)
        # axis-aligned rectangles (most surfaces) are tested against their bounds, the rest with GEOS
        bbox_area = (self.bounds[:, 2] - self.bounds[:, 0]) * (self.bounds[:, 3] - self.bounds[:, 1])
        self.is_rect = (shapely.get_num_coordinates(d.s_geom) == 5) & np.isclose(
            shapely.area(d.s_geom), bbox_area, rtol=0, atol=1e-6)
        # the crowns over each surface (a garden tree's crown reaches over fences, sidewalks and roofs)
        crowns = shapely.buffer(shapely.points(d.trees[:, 1], d.trees[:, 2]), d.trees[:, 3])
        tree_i, surf_i = shapely.STRtree(d.s_geom[self.level0]).query(crowns, predicate="intersects")
        surf_i = self.level0[surf_i]
        order = np.lexsort((tree_i, surf_i))
        self.crown_tree, crown_surface = tree_i[order], surf_i[order]
        self.crown_start = np.searchsorted(crown_surface, np.arange(len(d.s_geom)))
        self.crown_end = np.searchsorted(crown_surface, np.arange(len(d.s_geom)), side="right")
        opbouw_pand = d.opbouw[:, 0].astype(np.int64)
        self.opbouw_start = np.searchsorted(opbouw_pand, np.arange(len(d.footprints)))
        self.opbouw_end = np.searchsorted(opbouw_pand, np.arange(len(d.footprints)), side="right")
        self.decks = [(d.s_geom[s], h) for s, h in d.bridges]
        self.roof_points = np.zeros(len(d.footprints), dtype=np.int64)  # roof returns classified as building
        self.class_counts: dict[int, int] = {}

    def tile(self, x0: int, y0: int, tile_no: int, path: Path, seed: int) -> int:
        """Writes one sheet (lower-left x0, y0 in mm); returns its number of points."""
        rng = np.random.default_rng([seed, 1, x0 // TILE, y0 // TILE])
        self.sheet_i = np.uint64(x0 // TILE * self.cells)
        self.sheet_j = np.uint64(y0 // TILE * self.cells)
        ox, oy = x0 / 1000, y0 / 1000
        out = _TileWriter(path, _las_header(ox, oy, tile_no))
        self.dx_by_row, self.dy_by_col = self.d.misalignment.sheet_tables(ox, oy, TILE)
        reach = MISALIGN_REACH
        sheet = shapely.box(ox - reach, oy - reach, ox + TILE / 1000 + reach, oy + TILE / 1000 + reach)
        hits = np.sort(self.level0[self.tree.query(sheet)])
        pieces, pending = [], 0
        for s in hits:
            X, Y = self._sample(s, rng, ox, oy)
            if len(X):
                pieces.append((X, Y, np.full(len(X), s, dtype=np.int64)))
                pending += len(X)
            if pending >= CHUNK_POINTS:
                self._flush(pieces, rng, ox, oy, out)
                pieces, pending = [], 0
        self._flush(pieces, rng, ox, oy, out)
        n = out.count
        out.close()
        return n

    def _sample(self, s: int, rng: np.random.Generator, ox: float, oy: float) -> tuple[np.ndarray, np.ndarray]:
        """The points of surface `s` within the sheet, on the LAS integer grid and strictly inside it.

        The sheet is cut into cells of 1/density m², each holding one point at a random place in it (a
        jittered grid, like a scanner's regular pattern). The place is a hash of the cell, so a cell on
        the border of two surfaces gives its one point to whichever surface its register position falls in.
        """
        reach = MISALIGN_REACH
        minx, miny, maxx, maxy = self.bounds[s]
        n, cell = self.cells, TILE * SCALE / self.cells
        i0, i1 = max(0, math.floor((minx - reach - ox) / cell)), min(n, math.floor((maxx + reach - ox) / cell) + 1)
        j0, j1 = max(0, math.floor((miny - reach - oy) / cell)), min(n, math.floor((maxy + reach - oy) / cell) + 1)
        if i1 <= i0 or j1 <= j0:
            return np.empty(0, np.int32), np.empty(0, np.int32)
        i = np.arange(i0, i1, dtype=np.uint64)[:, None]
        j = np.arange(j0, j1, dtype=np.uint64)[None, :]
        u, v = _unit_hash2((((self.sheet_i + i) << np.uint64(32)) | (self.sheet_j + j)).ravel() ^ self.salt)
        per_mm = cell / SCALE
        X = np.minimum(((np.broadcast_to(i, (i1 - i0, j1 - j0)).ravel() + u) * per_mm).astype(np.int32), TILE - 1)
        Y = np.minimum(((np.broadcast_to(j, (i1 - i0, j1 - j0)).ravel() + v) * per_mm).astype(np.int32), TILE - 1)
        x, y = self._register(X, Y, ox, oy)
        if self.is_rect[s]:
            keep = (x > minx) & (x < maxx) & (y > miny) & (y < maxy)
        else:
            keep = shapely.contains_xy(self.d.s_geom[s], x, y)
        rule = self.d.s_rule[s]
        if rule == R_WATER:
            keep &= rng.random(len(keep)) < WATER_RETURN
        elif rule == R_ROOF and self.d.roof_return[self.d.s_param[s]] < 1:
            keep &= rng.random(len(keep)) < self.d.roof_return[self.d.s_param[s]]
        return X[keep], Y[keep]

    def _register(self, X: np.ndarray, Y: np.ndarray, ox: float, oy: float) -> tuple[np.ndarray, np.ndarray]:
        """Where the registers draw the sheet's points (LAS integers X, Y, taken exactly as a LAS reader
        computes their coordinates)."""
        return X * SCALE + ox - self.dx_by_row[Y], Y * SCALE + oy - self.dy_by_col[X]

    def _flush(self, pieces, rng: np.random.Generator, ox: float, oy: float, out: _TileWriter) -> None:
        if not pieces:
            return
        d = self.d
        X = np.concatenate([p[0] for p in pieces])
        Y = np.concatenate([p[1] for p in pieces])
        sid = np.concatenate([p[2] for p in pieces])  # ascending: pieces come surface by surface
        wx, wy = X * SCALE + ox, Y * SCALE + oy
        x, y = self._register(X, Y, ox, oy)  # everything drawn in the registers is tested here
        rule = d.s_rule[sid]
        ground = d.terrain(wx, wy)  # the ground is where the points are
        z = ground + rng.normal(0.0, GROUND_SIGMA, len(x))
        cls = np.full(len(x), GROUND, dtype=np.uint8)
        surface_start = np.searchsorted(sid, np.arange(len(d.s_geom)))
        surface_end = np.searchsorted(sid, np.arange(len(d.s_geom)), side="right")

        roof = rule == R_ROOF
        if roof.any():
            k = d.s_param[sid[roof]]
            z[roof] = d.roofs.height(k, x[roof], y[roof]) + rng.normal(0.0, ROOF_SIGMA, len(k))
            cls[roof] = BUILDING
            for pand in np.unique(k):
                self._superstructures(int(pand), surface_start[len(d.s_geom) - len(d.footprints) + pand],
                                      surface_end[len(d.s_geom) - len(d.footprints) + pand], x, y, z, rng)

        water = rule == R_WATER
        z[water] = d.water_level + rng.normal(0.0, WATER_SIGMA, int(water.sum()))
        cls[water] = WATER

        bank = rule == R_BANK
        if bank.any():
            b = d.banks[d.s_param[sid[bank]]]
            t = np.clip((y[bank] - b[:, 0]) / (b[:, 1] - b[:, 0]), 0, 1)
            z[bank] = (1 - t) * z[bank] + t * d.water_level

        fence = rule == R_FENCE
        z[fence] = ground[fence] + d.s_param[sid[fence]] / 1000.0  # the top of the fence or wall
        cls[fence] = UNCLASSIFIED

        clutter = ((rule == R_YARD) | (rule == R_GREEN)) & (rng.random(len(x)) < CLUTTER)
        z[clutter] = ground[clutter] + rng.uniform(0.2, 1.8, int(clutter.sum()))
        cls[clutter] = UNCLASSIFIED

        for s in np.unique(sid):
            a, b = self.crown_start[s], self.crown_end[s]
            if a < b and d.s_rule[s] not in (R_WATER, R_BANK):
                idx = np.arange(surface_start[s], surface_end[s])
                self._crowns(idx, d.trees[self.crown_tree[a:b]], x, y, ground, z, cls, rng, d.s_rule[s] == R_ROOF)

        for deck, h in self.decks:  # the deck hides the water and banks below it
            under = np.flatnonzero((rule == R_WATER) | (rule == R_BANK))
            if len(under):
                on = under[shapely.contains_xy(deck, x[under], y[under])]
                z[on] = h + rng.normal(0.0, ROOF_SIGMA, len(on))
                cls[on] = BRIDGE

        self._outliers(rng, z, cls)
        built = roof & (cls == BUILDING)
        self.roof_points += np.bincount(d.s_param[sid[built]], minlength=len(self.roof_points))
        base = np.select([cls == GROUND, cls == BUILDING, cls == WATER, cls == BRIDGE], [900, 1400, 50, 1100], 600)
        intensity = (base + rng.integers(0, 200, len(x))).astype(np.uint16)
        for c, m in zip(*np.unique(cls, return_counts=True)):
            self.class_counts[int(c)] = self.class_counts.get(int(c), 0) + int(m)
        out.write(X, Y, np.round(z / SCALE).astype(np.int32), cls, intensity)

    def _superstructures(self, k: int, start: int, end: int, x, y, z, rng) -> None:
        """Roof points of pand k that hit a chimney top, or an antenna mast anywhere along its height."""
        for x0, y0, x1, y1, top, antenna in self.d.opbouw[self.opbouw_start[k]:self.opbouw_end[k], 1:]:
            px, py = x[start:end], y[start:end]
            on = start + np.flatnonzero((px > x0) & (px < x1) & (py > y0) & (py < y1))
            if antenna:  # a point already above the mast's top (a higher part of the roof) keeps its height
                z[on] = rng.uniform(z[on], np.maximum(z[on], top))
            else:
                z[on] = top + rng.normal(0.0, ROOF_SIGMA, len(on))

    @staticmethod
    def _crowns(idx, trees, x, y, ground, z, cls, rng, over_roof: bool) -> None:
        """Points under a crown hit the highest crown above them (class 1; over a roof the classifier takes
        some for roof) where the crown is higher than what lies below, or go through gaps."""
        px, py = x[idx][:, None], y[idx][:, None]
        dist2 = (px - trees[:, 1]) ** 2 + (py - trees[:, 2]) ** 2
        r = trees[:, 3]
        inside = dist2 < r**2
        height = trees[:, 4]
        base = np.maximum(height - 2.4 * r, 1.5)
        shape = np.sqrt(np.clip(1 - dist2 / r**2, 0, 1))
        crown_z = np.where(inside, base + (height - base) * shape, -np.inf).max(axis=1)
        crown_abs = ground[idx] + crown_z * rng.uniform(0.75, 1.0, len(idx))
        hit = np.isfinite(crown_z) & (crown_abs > z[idx]) & (rng.random(len(idx)) < CROWN_HIT)
        sel = idx[hit]
        z[sel] = crown_abs[hit]
        cls[sel] = UNCLASSIFIED
        if over_roof:
            cls[sel[rng.random(len(sel)) < CROWN_AS_BUILDING]] = BUILDING

    @staticmethod
    def _outliers(rng, z, cls) -> None:
        """Birds and multipath: a few points far above (5–50 m) or below (0.5–4 m) what the laser hit. Most are
        classified as noise or left unclassified; some keep the class of the surface (a bird on a roof, a
        multipath return taken for ground or roof), never water or bridge."""
        n = int(rng.binomial(len(z), OUTLIER_RATE))
        if not n:
            return
        idx = rng.choice(len(z), n, replace=False)
        high = rng.random(n) < 0.5
        z[idx] += np.where(high, rng.uniform(5.0, 50.0, n), -rng.uniform(0.5, 4.0, n))
        u = rng.random(n)
        keep = np.where(high, u < 0.1, u < 0.2) & np.isin(cls[idx], (GROUND, BUILDING)) & ~(high & (cls[idx] == GROUND))
        noise = ~keep & np.where(high, u < 0.3, u < 0.7)
        cls[idx[noise]] = NOISE
        cls[idx[~keep & ~noise]] = UNCLASSIFIED


def _unit_hash2(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """splitmix64 of each key, split into two floats in [0, 1): random numbers that depend on nothing else."""
    with np.errstate(over="ignore"):
        v = key + np.uint64(0x9E3779B97F4A7C15)
        v = (v ^ (v >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        v = (v ^ (v >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        v = v ^ (v >> np.uint64(31))
    return (v >> np.uint64(32)).astype(np.float64) * 2.0**-32, (v & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32


def _write_ahn(d: District, folder: Path, density: float) -> tuple[int, _PointMaker]:
    folder.mkdir(parents=True, exist_ok=True)
    maker = _PointMaker(d, density)
    x_min, y_min, x_max, y_max = (round(v * 1000) for v in d.bbox)
    xs = range(x_min // TILE * TILE, x_max, TILE)
    ys = range(y_min // TILE * TILE, y_max, TILE)
    sheets = [(x0, y0) for y0 in ys for x0 in xs]
    written = 0
    for no, (x0, y0) in enumerate(tqdm(sheets, desc="synth AHN sheets", unit="sheet", disable=None)):
        path = folder / f"ahn_{x0 // 1000}_{y0 // 1000}.laz"
        if maker.tile(x0, y0, no, path, d.seed):
            written += 1
    return written, maker


# --- truth and the entry point --------------------------------------------------------------------------
# A roof returning fewer pulses than this per m² cannot be measured: AHN-like processing (and this ETL, which
# flags roofs below 0.5 points/m²) needs a few points on every part of it. The generator keeps its sparse
# roofs well below (≤ 0.3) and its dark roofs well above (≥ 1.5 at 10 points/m²).
MEASURABLE_RETURNS_PER_M2 = 1.0


def _truth(d: District, roof_points: np.ndarray, density: float) -> dict:
    """What is true in the generated world, per pand, independent of how any ETL measures it.

    - ``h_maaiveld``: median NAP height of the true ground along the foot of the pand's true outer walls
      (its footprint as the points see it, i.e. moved by the misalignment), sampled every 0.25 m;
    - ``h_dak_min``, ``h_dak_max``: lowest and highest point of the roof surface itself (eave and ridge of
      a gable roof, the height of a flat one, the top of a lower annex); chimneys, vents and antennas are not
      part of it, as plans measure bouwhoogte without such ondergeschikte bouwdelen; their highest top is
      ``h_opbouw_max``;
    - ``h_dak_50p``, ``h_dak_70p``: percentiles of the roof surface's height over the footprint, weighted by
      area, exact for every shape (`roof_measures`; a gable's height is uniform between eave and ridge).
      Superstructures cover < 2 % of a roof and stand on flat roofs or at the ridge, above the 70th
      percentile, so they do not move these;
    - the roof as docs/roofs.md defines the reconstruction's attributes: ``dak_type`` (b3_dak_type:
      horizontal, multiple horizontal, slanted), ``h_goot`` (b3_h_goot: the lowest point of the main sloped
      planes, those with at least a quarter of the largest one's area, so not a dormer; a flat roof: the
      height of its largest flat part), ``h_nok`` (b3_h_nok: the highest point, = h_dak_max),
      ``hellingshoek_min``, ``hellingshoek_max`` (pitch range of the main sloped planes, degrees; 0 for a
      flat roof) and ``dakvlakken`` (its planes [a, b, c]: NAP = a·x + b·y + c in RD New, as the points see
      them); null (empty) for a pand not built yet;
    - ``roof_type`` (one of synth.roofs.SHAPES: flat, gable, hip, shed, mansard, dormer — a gable with a
      dakkapel —, jump_annex — a sloped roof with a lower flat annex —, jump_flat — two flat parts), and
      ``main_roof`` (the main part's shape), ``status``, ``dark_roof`` (returns part of the pulses),
      ``roof_returns_per_m2``, ``tree_over_roof`` (a crown reaches over the roof edge), ``opbouw`` (number of
      superstructures);
    - ``n_roof_points``: returns of the roof (and its superstructures) classified as building, wherever the
      BAG footprint lies; ``has_points``: there is at least one; ``measurable``: built and returning at least
      MEASURABLE_RETURNS_PER_M2 (otherwise a model can only flag the pand).
    Heights of a pand not built yet are null. ``misalignment_m`` gives the offset of the world against the
    registers at each pand's centroid (x, y). ``gevels`` holds each pand's facades (`_facade_truth`).
    """
    maaiveld = _outline_median(d.footprints, d.terrain, d.misalignment)
    top = np.full(len(d.footprints), np.nan)
    np.fmax.at(top, d.opbouw[:, 0].astype(np.int64), d.opbouw[:, 5])
    n_opbouw = np.bincount(d.opbouw[:, 0].astype(np.int64), minlength=len(d.footprints))
    centroid = shapely.get_coordinates(shapely.centroid(d.footprints))
    offset = np.column_stack(d.misalignment(centroid[:, 0], centroid[:, 1]))
    m = d.measures
    panden = {}
    for k in range(len(d.footprints)):
        built = d.status[k] != PAND_VERGUND

        def h(key: str, k: int = k, built: bool = built) -> float | None:
            return round(float(m[key][k]), 3) if built else None

        def deg(key: str, k: int = k, built: bool = built) -> float | None:
            return round(float(m[key][k]), 2) if built else None

        dx, dy = offset[k]
        returns = round(float(density * d.roof_return[k]), 3) if built else 0.0
        panden[f"NL.IMBAG.Pand.{pand_id(k)}"] = {
            "h_maaiveld": round(float(maaiveld[k]), 3),
            "h_dak_min": h("h_min"), "h_dak_50p": h("p50"), "h_dak_70p": h("p70"), "h_dak_max": h("h_max"),
            "h_goot": h("h_goot"), "h_nok": h("h_nok"),
            "hellingshoek_min": deg("pitch_min"), "hellingshoek_max": deg("pitch_max"),
            "dak_type": m["dak_type"][k] if built else None,
            "dakvlakken": [[a, b, c - a * dx - b * dy] for a, b, c in m["planes"][k]] if built else [],
            "h_opbouw_max": None if np.isnan(top[k]) else round(float(top[k]), 3),
            "opbouw": int(n_opbouw[k]),
            "roof_type": d.roof[k],
            "main_roof": d.main_roof[k],
            "status": d.status[k],
            "dark_roof": bool(built and d.roof_return[k] < 1),
            "roof_returns_per_m2": returns,
            "tree_over_roof": bool(d.overhanging[k]),
            "has_points": bool(roof_points[k] > 0),
            "measurable": bool(built and returns >= MEASURABLE_RETURNS_PER_M2),
            "n_roof_points": int(roof_points[k]),
            "misalignment_m": [round(float(v), 3) for v in offset[k]],
        }
    bridges = {}
    for s, h in d.bridges:
        _, lokaal = _ids(d.seed, "overbruggingsdeel", sum(1 for t in d.s_type[:s] if t == "overbruggingsdeel"))
        bridges[lokaal] = {"h_dek": h, "relatieve_hoogteligging": 1}
    return {"crs": RD_NAP, "seed": d.seed, "panden": panden, "water_level": d.water_level, "bridges": bridges,
            "gevels": _facade_truth(d), "about": "synth.district._truth documents each value"}


# --- the truth of the facades -------------------------------------------------------------------------
# What each kind of level-0 surface is to a facade in front of it, in the terms of the STTR questions
# ("ligt die kant aan een straat / aan water / aan een plein, park of parkeerplaats"): the generator's own
# roles, not read back from the BGT. Gardens (ERF), woods, banks, fences and decks are none of them.
FACADE_ROLES = {ROAD: "straat", SIDEWALK_W: "straat", PARK_PATH: "straat", BERM_O: "straat",
                CANAL: "water", SINGEL: "water", GREEN: "openbare_ruimte", BARE_LOT: "openbare_ruimte"}
FACADE_REACH = 20.0  # m: how far in front of a facade the truth looks
FACADE_RAYS = (0.1, 0.3, 0.5, 0.7, 0.9)  # where along a facade the truth looks out (share of its length)


def facade_runs(footprint: Polygon) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """The facades of a footprint: (start, end, on the outer ring) of each straight run of its rings, corners
    between collinear edges merged. Rings must be oriented (exterior counter-clockwise, holes clockwise), so
    the outward normal of every run is to the right of it."""
    runs = []
    for outer, ring in [(True, footprint.exterior), *((False, r) for r in footprint.interiors)]:
        xy = shapely.get_coordinates(ring)[:-1]
        d = np.roll(xy, -1, axis=0) - xy
        d /= np.hypot(d[:, 0], d[:, 1])[:, None]
        turn = np.abs(d[:, 0] * np.roll(d, 1, axis=0)[:, 1] - d[:, 1] * np.roll(d, 1, axis=0)[:, 0])
        corners = np.flatnonzero(turn > 1e-9)  # vertices where the ring turns
        for a, b in zip(corners, np.roll(corners, -1)):
            runs.append((xy[a], xy[b], outer))
    return runs


def _facade_truth(d: District) -> dict[str, list[dict]]:
    """Per pand, its facades (`facade_runs`) as the generator laid them out:

    - ``edge`` (RD m), ``azimuth`` (of the outward normal, degrees clockwise from north);
    - ``kant``: ``voorkant`` where the outward normal points to the street an entrance of the pand is on (its
      house number's street; a courtyard block has two) and the facade is on the outer ring; ``achterkant``
      where it points away from such a street; ``zijkant`` otherwise (gables, party walls);
    - ``straat_m``, ``water_m``, ``openbare_ruimte_m``: the distance (m) from the facade to the nearest surface
      of that role (FACADE_ROLES) straight in front of it, looking out at FACADE_RAYS along it up to
      FACADE_REACH and no further than the first pand (its own included); null when there is none;
      ``pand_m``: the distance to that first pand (0 for a party wall), null when none is in reach.
    """
    role_of = np.array([FACADE_ROLES.get((t, a)) if lvl == 0 else None
                        for t, a, lvl in zip(d.s_type, d.s_attrs, d.s_level)], dtype=object)
    surfaces = np.flatnonzero(role_of != None)  # noqa: E711 (elementwise)
    facades, origins, rays = [], [], []
    for k, fp in enumerate(d.footprints):
        for a, b, outer in facade_runs(fp):
            t = (b - a) / np.hypot(*(b - a))
            n = np.array([t[1], -t[0]])
            facades.append((k, a, b, n, outer))
            for f in FACADE_RAYS:
                o = a + f * (b - a) + 0.01 * n  # just outside the wall
                origins.append(o)
                rays.append(shapely.linestrings([o, o + FACADE_REACH * n]))
    origins_pt, rays = shapely.points(np.array(origins).reshape(-1, 2)), np.array(rays, dtype=object)
    blocked = np.full(len(rays), np.inf)
    nearest = {role: np.full(len(rays), np.inf) for role in ("straat", "water", "openbare_ruimte")}
    pand_tree, surface_tree = shapely.STRtree(d.footprints), shapely.STRtree(d.s_geom[surfaces])
    for start in range(0, len(rays), 200_000):  # bounded memory for a large district
        part = np.arange(start, min(len(rays), start + 200_000))
        ray_i, fp_i = pand_tree.query(rays[part], predicate="intersects")
        ray_i = part[ray_i]
        np.minimum.at(blocked, ray_i, shapely.distance(origins_pt[ray_i],
                                                       shapely.intersection(rays[ray_i], d.footprints[fp_i])))
        ray_i, s_i = surface_tree.query(rays[part], predicate="intersects")
        ray_i = part[ray_i]
        dist = shapely.distance(origins_pt[ray_i], shapely.intersection(rays[ray_i], d.s_geom[surfaces][s_i]))
        for role, near in nearest.items():
            sel = (role_of[surfaces][s_i] == role) & (dist < blocked[ray_i])
            np.minimum.at(near, ray_i[sel], dist[sel])

    def metres(v: float) -> float | None:
        return None if not np.isfinite(v) else round(float(v) + 0.01, 2)  # from the wall, not the ray start

    out: dict[str, list[dict]] = {}
    m = len(FACADE_RAYS)
    for j, (k, a, b, n, outer) in enumerate(facades):
        fronts = [np.array(f) for f in d.fronts[k]] if d.fronts else []
        if outer and any(n @ f > math.cos(math.radians(45)) for f in fronts):
            kant = "voorkant"
        elif any(-n @ f > math.cos(math.radians(45)) for f in fronts):
            kant = "achterkant"
        else:
            kant = "zijkant"
        span = slice(j * m, (j + 1) * m)
        out.setdefault(f"NL.IMBAG.Pand.{pand_id(k)}", []).append({
            "edge": [[round(float(v), 3) for v in a], [round(float(v), 3) for v in b]],
            "azimuth": round(math.degrees(math.atan2(n[0], n[1])) % 360, 1),
            "kant": kant,
            **{f"{role}_m": metres(near[span].min()) for role, near in nearest.items()},
            "pand_m": metres(blocked[span].min()),
        })
    return out


def _outline_median(footprints: np.ndarray, terrain: Terrain, misalignment: Misalignment | None = None,
                    spacing: float = 0.25) -> np.ndarray:
    """Median of the terrain along the walls of each footprint (all its rings), sampled every `spacing` m;
    with a misalignment, along the walls as they stand in the world."""
    out = np.empty(len(footprints))
    for start in range(0, len(footprints), 5000):
        part = footprints[start:start + 5000]
        xy, idx = shapely.get_coordinates(shapely.segmentize(shapely.boundary(part), spacing), return_index=True)
        z = terrain(*(misalignment.to_world(xy[:, 0], xy[:, 1]) if misalignment else (xy[:, 0], xy[:, 1])))
        order = np.lexsort((z, idx))
        idx, z = idx[order], z[order]
        starts = np.searchsorted(idx, np.arange(len(part)))
        ends = np.searchsorted(idx, np.arange(len(part)), side="right")
        lo, hi = (starts + ends - 1) // 2, (starts + ends) // 2
        out[start:start + len(part)] = (z[lo] + z[hi]) / 2
    return out


def write_district(out: Path, buildings: int, seed: int, points_per_m2: float = 10.0) -> dict:
    """Write a synthetic district to `out` (bgt/, bag.gpkg, ahn/*.laz, truth.json); returns a summary.

    :param buildings: number of panden (the district grows with it, ~13 per block)
    :param seed: the same seed gives byte-identical GML and LAZ files
    :param points_per_m2: point density of the AHN-like cloud
    """
    if points_per_m2 <= 0:
        raise StadsmodelError(f"the point density must be positive, got {points_per_m2} points/m²")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = plan_district(buildings, seed)
    for stale in [*(out / "ahn").glob("ahn_*.laz"), *(out / "bgt").glob("bgt_*.gml")]:
        stale.unlink()  # a previous, larger district would otherwise leave sheets behind
    bgt_counts = _write_bgt(d, out / "bgt")
    log.info("synth: BGT written (%s)", ", ".join(f"{k} {v}" for k, v in bgt_counts.items()))
    _write_bag(d, out / "bag.gpkg")
    tiles, maker = _write_ahn(d, out / "ahn", points_per_m2)
    truth = _truth(d, maker.roof_points, points_per_m2)
    with atomic_open(out / "truth.json") as f:
        f.write(json.dumps(truth, sort_keys=True, indent=1) + "\n")
    built = float(shapely.area(d.footprints).sum())
    x0, y0, x1, y1 = d.bbox
    summary = {
        "panden": len(d.footprints),
        "verblijfsobjecten": len(d.vbo["identificatie"]),
        "bgt": bgt_counts,
        "points": int(sum(maker.class_counts.values())),
        "points_per_class": {str(c): n for c, n in sorted(maker.class_counts.items())},
        "tiles": tiles,
        "bbox": [x0, y0, x1, y1],
        "built_up_fraction": round(built / ((x1 - x0) * (y1 - y0)), 3),
        "water_level": d.water_level,
    }
    log.info("synth: %d panden, %d points in %d sheets", summary["panden"], summary["points"], tiles)
    return summary
