"""Lifting: from classified points to heights per footprint (3DBAG attribute names).

One streamed pass over the point clouds feeds the DTM/DSM grids and collects, per footprint, the heights of
the building-class points inside it (and, per BGT water or bridge polygon, the heights of the water or
bridge points inside it). Statistics per footprint are then computed for all footprints at once with
grouped sorts: no Python loop over points or footprints.

Real footprints sit a few decimetres off the points: before the roof statistics, each footprint is moved to
where its free walls are in the points (etl.footprint_index.register_footprints). A roof's min and max are
those of the roof itself, not of a chimney, an antenna, a bird or a neighbour's roof along a shared wall
(see ROOF_TAIL). A footprint that its roof points do not cover gets no heights, only the flag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from core.errors import InputError, SkipLog
from core.lasfile import LasFile
from etl.footprint_index import FootprintIndex, register_footprints
from etl.grid import ElevationGrids, GridSpec, sample
from etl.readers.ahn import PointChunk, iter_point_chunks

log = logging.getLogger(__name__)


@dataclass
class HeightsPerPolygon:
    """(polygon index, z) pairs gathered chunk by chunk; summarised once at the end."""

    labels: list[np.ndarray] = field(default_factory=list)
    z: list[np.ndarray] = field(default_factory=list)

    def add(self, labels: np.ndarray, z: np.ndarray) -> None:
        keep = labels >= 0
        if keep.any():
            self.labels.append(labels[keep])
            self.z.append(z[keep])

    def summary(self, n_polygons: int, percentiles: Sequence[float], robust_extremes: bool = False) -> HeightSummary:
        labels = np.concatenate(self.labels) if self.labels else np.empty(0, np.int32)
        z = np.concatenate(self.z) if self.z else np.empty(0, np.float32)
        return grouped_summary(labels, z, n_polygons, percentiles, robust_extremes)


@dataclass
class RoofPoints:
    """Building points per footprint. A point deep inside a footprint counts for it at once; one near a
    footprint boundary waits until the footprints are registered to the points (`register_footprints`), so
    a footprint a few decimetres off its roof still gets its own roof points, and not its neighbour's.

    With `keep_xy` the points' plan coordinates are kept too (int32 millimetres, 8 bytes a point more), for
    the roof reconstruction (`per_footprint`)."""

    index: FootprintIndex
    keep_xy: bool = False
    inner: HeightsPerPolygon = field(default_factory=HeightsPerPolygon)
    inner_xy: list[np.ndarray] = field(default_factory=list)  # (n, 2) int32 mm, with `inner`'s points
    inner_cells: list[np.ndarray] = field(default_factory=list)  # (footprint, 1 m cell) keys holding a point
    near: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    registered: tuple[np.ndarray, ...] | None = None  # by `summary`: shifts, and the near points it placed

    def add(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        labels, near = self.index.assign_with_band(x, y)
        inner = ~near & (labels >= 0)
        self.inner.add(labels[inner], z[inner])
        if self.keep_xy and inner.any():
            self.inner_xy.append(_millimetres(x[inner], y[inner]))
        self.inner_cells.append(np.unique(_cell_keys(labels[inner], x[inner], y[inner])))
        if near.any():
            self.near.append((x[near], y[near], z[near], labels[near]))

    def per_footprint(self, n_polygons: int) -> FootprintPoints:
        """Each footprint's roof points (after `summary`), moved by minus its registration shift onto the
        footprint itself, so that every LoD stands on the BAG footprint. In a canonical order (by footprint,
        x, y, z): the same for any order of files and chunks, so the tiled build reconstructs the same roofs."""
        shifts, x_near, y_near, z_near, fp = self.registered
        labels = np.concatenate(self.inner.labels + [fp]).astype(np.int64)
        xy_inner = np.concatenate(self.inner_xy) if self.inner_xy else np.empty((0, 2), np.int32)
        xy = np.vstack([xy_inner, _millimetres(x_near, y_near)]).astype(np.int64)
        z = np.concatenate(self.inner.z + [z_near]).astype(np.float32)
        order = np.lexsort((z, xy[:, 1], xy[:, 0], labels))
        labels, xy, z = labels[order], xy[order], z[order]
        xyz = np.column_stack([xy / 1000.0 - shifts[labels], z.astype(np.float64)])
        count = np.bincount(labels, minlength=n_polygons)[:n_polygons]
        return FootprintPoints(xyz, np.concatenate(([0], np.cumsum(count)[:-1])), count)

    def summary(self, n_polygons: int, percentiles: Sequence[float]) -> HeightSummary:
        x, y, z, labels = (np.concatenate([part[i] for part in self.near]) if self.near else np.empty(0)
                           for i in range(4))
        shifts, pt, fp, beside_shared = register_footprints(self.index.polygons, x, y, labels.astype(np.int64))
        if self.keep_xy:
            self.registered = (shifts, x[pt], y[pt], z[pt], fp)
        summary = HeightsPerPolygon(self.inner.labels + [fp], self.inner.z + [z[pt]]).summary(
            n_polygons, percentiles, robust_extremes=True)
        # The roof's min and max leave out the strips along shared walls, where a neighbour's higher or lower
        # roof may show (the shift along a row is not known); a few of its points move a percentile little.
        # A roof that is all strip keeps its points.
        away = ~beside_shared
        inner = HeightsPerPolygon(self.inner.labels + [fp[away]], self.inner.z + [z[pt][away]]).summary(
            n_polygons, [], robust_extremes=True)
        enough = inner.count >= MIN_HEIGHT_POINTS
        summary.min[enough], summary.max[enough] = inner.min[enough], inner.max[enough]
        # a point near a boundary counts in the cell where its shifted footprint holds it
        moved = shifts[fp]
        cells = np.unique(np.concatenate(self.inner_cells + [_cell_keys(fp, x[pt] - moved[:, 0], y[pt] - moved[:, 1])]))
        summary.cells = np.bincount((cells >> 40).astype(np.int64), minlength=n_polygons)[:n_polygons]
        return summary


@dataclass
class FootprintPoints:
    """Points (x, y, z; RD New + NAP) grouped by footprint: footprint i's are xyz[start[i]:start[i] + count[i]]."""

    xyz: np.ndarray
    start: np.ndarray
    count: np.ndarray

    def of(self, i: int) -> np.ndarray:
        return self.xyz[self.start[i]:self.start[i] + self.count[i]]


def _millimetres(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Plan coordinates as int32 millimetres (RD New fits: < 2**31 mm)."""
    return np.column_stack([np.round(x * 1000.0), np.round(y * 1000.0)]).astype(np.int32)


def _cell_keys(labels: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One int64 per (footprint, COVERAGE_CELL cell): footprint in the high bits, RD cell column and row below."""
    col = np.floor(x / COVERAGE_CELL).astype(np.int64) & 0xFFFFF
    row = np.floor(y / COVERAGE_CELL).astype(np.int64) & 0xFFFFF
    return (labels.astype(np.int64) << 40) | (col << 20) | row


@dataclass
class HeightSummary:
    count: np.ndarray                   # points per polygon
    min: np.ndarray                     # NaN where a polygon has no points
    max: np.ndarray
    percentiles: dict[float, np.ndarray]
    cells: np.ndarray | None = None     # roofs: 1 m cells holding a roof point, per polygon


# Roof minimum and maximum: chimneys, antennas, birds, multipath and crown points taken for roof lie apart from
# the roof in height and are few. Among the highest (lowest) ROOF_TAIL of a roof's points, everything beyond the
# innermost jump of more than ROOF_GAP m is dropped; the ROOF_EXTREME_PERCENTILE-th and the (100 − it)-th
# percentile of the rest are the roof's min and max (the very highest point of a flat roof stands some 3 sigma
# of noise above it, not on it).
ROOF_TAIL = 0.05
ROOF_GAP = 0.2
ROOF_EXTREME_PERCENTILE = 1.0
# A footprint whose roof points fill less than this share of it (in 1 m cells) is not measured: its points
# are a strip of a neighbour's roof or a few returns of a dark roof.
MIN_ROOF_COVERAGE = 0.5
COVERAGE_CELL = 1.0
MIN_HEIGHT_POINTS = 5  # min and max from the points away from shared walls need at least this many


def grouped_summary(labels: np.ndarray, values: np.ndarray, n_groups: int, percentiles: Sequence[float],
                    robust_extremes: bool = False) -> HeightSummary:
    """Count, min, max and linear-interpolated percentiles (numpy's default method) per group label.

    :param robust_extremes: min and max of a roof (see ROOF_TAIL) instead of the lowest and highest value.
    """
    count = np.bincount(labels, minlength=n_groups)[:n_groups] if len(labels) else np.zeros(n_groups, np.int64)
    nan = np.full(n_groups, np.nan)
    if len(labels) == 0:
        return HeightSummary(count, nan.copy(), nan.copy(), {p: nan.copy() for p in percentiles})
    # One float64 key sorts by label, then by value (values span far less than 2**14 m): one argsort is
    # about twice as fast as lexsort on two keys, and exact to well below a millimetre.
    v64 = values.astype(np.float64)
    span = v64.max() - v64.min()
    if span < 16384.0:
        order = np.argsort(labels * 16384.0 + (v64 - v64.min()), kind="quicksort")
    else:  # absurd heights: still correct, just slower
        order = np.lexsort((v64, labels))
    v = v64[order]
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    has = count > 0
    mins, maxs = nan.copy(), nan.copy()
    if robust_extremes:
        first, last = _without_outlying_tails(v, start, count)
        mins[has] = _percentile_of_sorted(v, first[has], last[has] - first[has] + 1, ROOF_EXTREME_PERCENTILE)
        maxs[has] = _percentile_of_sorted(v, first[has], last[has] - first[has] + 1, 100 - ROOF_EXTREME_PERCENTILE)
    else:
        mins[has] = v[start[has]]
        maxs[has] = v[start[has] + count[has] - 1]
    result = {}
    for p in percentiles:
        out = nan.copy()
        out[has] = _percentile_of_sorted(v, start[has], count[has], p)
        result[p] = out
    return HeightSummary(count, mins, maxs, result)


def _percentile_of_sorted(v: np.ndarray, start: np.ndarray, count: np.ndarray, p: float) -> np.ndarray:
    """The p-th percentile (linear interpolation) of each run v[start:start + count] of sorted values."""
    pos = (count - 1) * (p / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, count - 1)
    frac = pos - lo
    return v[start + lo] * (1 - frac) + v[start + hi] * frac


def _without_outlying_tails(v: np.ndarray, start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run of sorted values, the first and last index kept: within the lowest and highest ROOF_TAIL of
    the run, the values beyond the innermost jump of more than ROOF_GAP are dropped."""
    n = len(v)
    group = np.repeat(np.arange(len(count)), count)
    rank = np.arange(n) - start[group]
    tail = np.maximum(1, np.floor(ROOF_TAIL * count)).astype(np.int64)[group]
    jump = np.r_[np.diff(v) > ROOF_GAP, False] & (rank < count[group] - 1)  # between value i and i + 1
    big = np.iinfo(np.int64).max
    top = np.where(jump & (rank >= count[group] - 1 - tail), np.arange(n), big)
    bottom = np.where(jump & (rank < tail), np.arange(n), -1)
    last = start + count - 1
    first = start.copy()
    runs = count > 0
    if runs.any() and n:
        starts = start[runs]
        last[runs] = np.minimum(np.minimum.reduceat(top, starts), last[runs])
        first[runs] = np.maximum(np.maximum.reduceat(bottom, starts) + 1, first[runs])
    return first, last


@dataclass
class SurfaceIndex:
    """BGT polygons of one layer whose height comes from points of one class inside them (water, bridge).
    One index per layer, because layers overlap (water under a bridge, a road on it)."""

    index: FootprintIndex
    point_class: np.ndarray  # per polygon: the class whose points count
    position: np.ndarray     # per polygon: its place in the list of all surfaces


@dataclass
class PointScan:
    grids: ElevationGrids
    roofs: RoofPoints
    surfaces: HeightsPerPolygon
    points_read: int = 0          # decoded
    points_in_home: int = 0       # inside `home` (all points when there is none)
    points_per_class: dict[int, int] = field(default_factory=dict)
    files_read: int = 0


def scan_point_clouds(
    files: Sequence[LasFile],
    grids: ElevationGrids,
    buildings: FootprintIndex,
    surfaces: Sequence[SurfaceIndex],
    classes: dict[str, list[int]],
    chunk_points: int,
    skipped: SkipLog,
    on_progress: Callable[[int], None] = lambda n: None,
    clip: tuple[float, float, float, float] | None = None,
    home: tuple[float, float, float, float] | None = None,
    read_chunks: Callable[[Any, int], Iterator[PointChunk]] = iter_point_chunks,
    keep_roof_xy: bool = False,
) -> PointScan:
    """The single streamed pass over all points.

    :param clip: (minx, miny, maxx, maxy): points outside are dropped as soon as they are read (a tile's window).
    :param home: points are counted (`points_in_home`, `points_per_class`) only inside this half-open box, so
        that tiles sharing points through their buffers count each point once.
    :param read_chunks: streams the points of one of `files` (the tiled build reads its per-tile point bins).
    :param keep_roof_xy: keep the building points' coordinates for the roof reconstruction (`RoofPoints`).
    A file that breaks off mid-way keeps the points read before the break; it is reported in `skipped`.
    """
    lut = np.zeros(256, dtype=np.uint8)  # class code → role bit
    GROUND, BUILDING, SURFACE, IGNORE = 1, 2, 4, 8
    for c in classes["ground"] + classes["water"]:
        lut[c] |= GROUND
    for c in classes["building"]:
        lut[c] |= BUILDING
    for c in classes["water"] + classes["bridge"]:
        lut[c] |= SURFACE
    for c in classes.get("ignore", []):
        lut[c] |= IGNORE
    scan = PointScan(grids, RoofPoints(buildings, keep_xy=keep_roof_xy), HeightsPerPolygon())
    class_counts = np.zeros(256, dtype=np.int64)
    for info in files:
        try:
            for chunk in read_chunks(info, chunk_points):
                n_read = len(chunk.x)
                if clip is not None:
                    chunk = _clipped(chunk, clip)
                role = lut[chunk.classification]
                grids.add(chunk.x, chunk.y, chunk.z, (role & GROUND) > 0, (role & IGNORE) == 0)
                b = (role & BUILDING) > 0
                if b.any():
                    scan.roofs.add(chunk.x[b], chunk.y[b], chunk.z[b])
                s = (role & SURFACE) > 0
                if s.any():
                    xs, ys, zs, cs = chunk.x[s], chunk.y[s], chunk.z[s], chunk.classification[s]
                    for surface in surfaces:
                        labels = surface.index.assign(xs, ys)
                        # a water point inside a bridge polygon says nothing about the deck, and vice versa
                        ok = labels >= 0
                        ok[ok] = surface.point_class[labels[ok]] == cs[ok]
                        scan.surfaces.add(surface.position[labels[ok]], zs[ok])
                counted = chunk.classification if home is None else chunk.classification[_inside(chunk, home)]
                class_counts += np.bincount(counted, minlength=256)
                scan.points_in_home += len(counted)
                scan.points_read += n_read
                on_progress(n_read)
            scan.files_read += 1
        except InputError as e:
            log.warning("%s", e)
            skipped.add(e.path, None, e.reason + " — points read before the break are used")
    scan.points_per_class = {int(c): int(n) for c, n in enumerate(class_counts) if n}
    return scan


def _inside(chunk: PointChunk, box: tuple[float, float, float, float]) -> np.ndarray:
    minx, miny, maxx, maxy = box
    return (chunk.x >= minx) & (chunk.x < maxx) & (chunk.y >= miny) & (chunk.y < maxy)


def _clipped(chunk: PointChunk, box: tuple[float, float, float, float]) -> PointChunk:
    keep = _inside(chunk, box)
    if keep.all():
        return chunk
    return PointChunk(chunk.x[keep], chunk.y[keep], chunk.z[keep], chunk.classification[keep])


def maaiveld_heights(footprints: np.ndarray, dtm: np.ndarray, dtm_filled: np.ndarray, spec: GridSpec,
                     nodata: float, offset: float, spacing: float, percentile: float) -> np.ndarray:
    """Ground height per footprint: a percentile of the DTM sampled every `spacing` m along a ring `offset` m
    outside the footprint (the ground the walls stand on). Cells without ground points are not used; where the
    whole ring has none, the interpolated DTM is used instead."""
    rings = shapely.boundary(shapely.buffer(footprints, offset, join_style="mitre"))
    rings = shapely.segmentize(rings, spacing)
    coords, which = shapely.get_coordinates(rings, return_index=True)
    n = len(footprints)
    result = _grouped_nanpercentile(which, sample(dtm, spec, coords[:, 0], coords[:, 1], nodata), n, percentile)
    missing = np.isnan(result)
    if missing.any():
        filled = _grouped_nanpercentile(which, sample(dtm_filled, spec, coords[:, 0], coords[:, 1], nodata), n,
                                        percentile)
        result[missing] = filled[missing]
    return result


def _grouped_nanpercentile(groups: np.ndarray, values: np.ndarray, n: int, p: float) -> np.ndarray:
    ok = ~np.isnan(values)
    return grouped_summary(groups[ok], values[ok], n, [p]).percentiles[p]


def building_heights(footprints: np.ndarray, roofs: HeightSummary, maaiveld: np.ndarray,
                     lifting_cfg: dict) -> pd.DataFrame:
    """The 3DBAG height attributes and the quality flag per footprint (same order as `footprints`)."""
    area = shapely.area(footprints)
    count = roofs.count
    density = np.where(area > 0, count / np.maximum(area, 1e-9), 0.0)
    df = pd.DataFrame({
        "b3_h_maaiveld": maaiveld,
        "b3_h_dak_min": roofs.min,
        **{f"b3_h_dak_{int(p)}p": roofs.percentiles[p] for p in sorted(roofs.percentiles)},
        "b3_h_dak_max": roofs.max,
        "b3_n_punten": count.astype(np.int64),
        "b3_puntdichtheid": density,
        "b3_opp_grond": area,
    })
    reasons = np.full(len(footprints), None, dtype=object)
    few = (count < lifting_cfg["min_roof_points"]) | (density < lifting_cfg["min_roof_density"])
    reasons[few] = [f"te weinig dakpunten ({c} punten, {d:.2f} per m²)" for c, d in zip(count[few], density[few])]
    if roofs.cells is not None:
        coverage = np.where(area > 0, roofs.cells * COVERAGE_CELL**2 / np.maximum(area, 1e-9), 0.0)
        patchy = ~few & (coverage < MIN_ROOF_COVERAGE)
        reasons[patchy] = [f"te weinig dakpunten: maar {c:.0%} van de footprint heeft dakpunten"
                           for c in coverage[patchy]]
        few |= patchy
    # Points that do not describe the roof give no heights: no LoD1.2 solid is made of them.
    df.loc[few, [c for c in df.columns if c.startswith("b3_h_dak_")]] = np.nan
    no_ground = np.isnan(maaiveld)
    reasons[no_ground] = "geen maaiveldhoogte: geen grondpunten rond de footprint"
    roof = df[f"b3_h_dak_{int(lifting_cfg['lod12_roof_percentile'])}p"].to_numpy()
    low = ~few & ~no_ground & (roof <= maaiveld)
    reasons[low] = "dakhoogte niet boven maaiveld"
    df["b3_reconstructie_onvolledig"] = reasons != None  # noqa: E711 (element-wise on an object array)
    df["b3_onvolledig_reden"] = reasons
    return df.round({c: 3 for c in df.columns if c.startswith("b3_h_") or c in ("b3_puntdichtheid", "b3_opp_grond")})
