"""Point-in-polygon assignment for millions of points: the fast path of lifting, and the registration of
footprints to the points.

Testing every point against polygons with shapely runs at about 1 M points/s here; looking a point up in a
label raster is a hundred times faster. So the plane is cut into square blocks; for each block that holds
polygons, a label raster (cell centre inside → polygon number) and an edge mask (cells the polygon boundary
touches) are burnt once with rasterio and kept in a small LRU cache. A point in an inner cell takes its label
from the raster; only points in edge cells are tested exactly with shapely, so the result equals an exact
point-in-polygon test while nearly all points take the raster path.

BAG footprints and AHN points disagree by a few decimetres (survey against flight, walls against eaves). A
footprint a little off the points loses an eave strip of its roof and takes in a strip of its neighbour's or
the ground, which moves roof percentiles by several centimetres. `register_footprints` estimates, per
footprint, the shift that puts its free walls (those the points stop at) where the points say they are.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import shapely
from rasterio import features
from rasterio.transform import from_origin

# Registration: points this close (m) to a footprint boundary may change footprint under a shift; a shift
# beyond MAX_SHIFT is not believed. A wall whose points run on to the edge of the band is shared (or the
# roof goes on): it says nothing about the shift.
BAND = 0.6
MAX_SHIFT = 0.5
OPEN_WALL = BAND - 0.1
WALL_QUANTILE = 98  # where the points along a wall stop, robust to a stray point beyond it
MIN_WALL_POINTS = 8
MIN_WALL_LENGTH = 2 * BAND + 1.0  # a metre of wall between the corner zones
SHARED_WALL_BAND = 0.3
WALL_RESIDUAL = 0.08  # a wall off the fitted shift by more than this (m) is dropped and the shift refitted


class FootprintIndex:
    """Assigns points to the polygon that contains them (index into `polygons`, or -1).

    Where polygons overlap (invalid input, but it happens), a point goes to one of them.
    """

    def __init__(self, polygons, resolution: float = 0.25, block_size: float = 128.0, cache_blocks: int = 256):
        self.polygons = np.asarray(polygons, dtype=object)
        self.resolution = float(resolution)
        self.block_size = float(block_size)
        self.cells = int(round(block_size / resolution))
        self.tree = shapely.STRtree(self.polygons)
        self._cache: OrderedDict[tuple, tuple[np.ndarray, ...] | None] = OrderedDict()
        self._cache_blocks = cache_blocks

    def _block(self, bx: int, by: int, band: bool = False) -> tuple[np.ndarray, ...] | None:
        """(labels, edges) of a block, and with `band` the mask of cells within BAND of a boundary too."""
        key = (bx, by, band)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        x0, y0 = bx * self.block_size, by * self.block_size
        area = shapely.box(x0, y0, x0 + self.block_size, y0 + self.block_size)
        hits = self.tree.query(area.buffer(BAND) if band else area)
        block = None
        if len(hits):
            shape = (self.cells, self.cells)
            transform = from_origin(x0, y0 + self.block_size, self.resolution, self.resolution)
            labels = features.rasterize(
                zip(geo_interfaces(self.polygons[hits]), (int(i) + 1 for i in hits)), out_shape=shape,
                transform=transform, fill=0, dtype="int32",
            )
            boundaries = shapely.boundary(self.polygons[hits])
            edges = features.rasterize(
                ((b, 1) for b in geo_interfaces(boundaries)), out_shape=shape, transform=transform,
                fill=0, all_touched=True, dtype="uint8",
            ).astype(bool)
            block = (labels, edges)
            if band:
                block += (features.rasterize(
                    ((b, 1) for b in geo_interfaces(shapely.buffer(boundaries, BAND))), out_shape=shape,
                    transform=transform, fill=0, all_touched=True, dtype="uint8",
                ).astype(bool),)
        self._cache[key] = block
        if len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        return block

    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Polygon index per point (int32), -1 where no polygon contains the point."""
        return self.assign_with_band(x, y, band=False)[0]

    def assign_with_band(self, x: np.ndarray, y: np.ndarray, band: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """`assign`, and per point whether it may lie within BAND of a polygon boundary (a superset; all
        False without `band`)."""
        out = np.full(len(x), -1, dtype=np.int32)
        near = np.zeros(len(x), dtype=bool)
        if len(x) == 0 or len(self.polygons) == 0:
            return out, near
        bx = np.floor(x / self.block_size).astype(np.int64)
        by = np.floor(y / self.block_size).astype(np.int64)
        key = (bx << 32) ^ (by & 0xFFFFFFFF)
        order = np.argsort(key, kind="stable")
        skey = key[order]
        starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
        ends = np.r_[starts[1:], len(skey)]
        edge_points = []
        for s, e in zip(starts, ends):
            idx = order[s:e]
            block = self._block(int(bx[idx[0]]), int(by[idx[0]]), band)
            if block is None:
                continue
            labels, edges = block[:2]
            x0, y0 = bx[idx[0]] * self.block_size, by[idx[0]] * self.block_size
            col = np.clip(((x[idx] - x0) / self.resolution).astype(np.int64), 0, self.cells - 1)
            row = np.clip(((y0 + self.block_size - y[idx]) / self.resolution).astype(np.int64), 0, self.cells - 1)
            out[idx] = labels[row, col] - 1
            if band:
                near[idx] = block[2][row, col]
            on_edge = edges[row, col]
            if on_edge.any():
                edge_points.append(idx[on_edge])
        if edge_points:
            idx = np.concatenate(edge_points)
            out[idx] = -1
            pt, poly = self.tree.query(shapely.points(x[idx], y[idx]), predicate="within")
            out[idx[pt]] = poly
        return out, near


_POLYGON, _MULTIPOLYGON, _LINESTRING, _MULTILINESTRING = 3, 6, 1, 5  # shapely type ids


def geo_interfaces(geoms: np.ndarray) -> list:
    """Each geometry's ``__geo_interface__`` (what rasterio burns), the same coordinates made in bulk: shapely's
    own walks the vertices one by one in Python, which costs more than the burning. Types other than
    (multi)polygons and (multi)linestrings, and empty ones, keep shapely's."""
    geoms = np.asarray(geoms, dtype=object)
    kinds = shapely.get_type_id(geoms)
    fast = np.isin(kinds, (_POLYGON, _MULTIPOLYGON, _LINESTRING, _MULTILINESTRING)) & ~shapely.is_empty(geoms)
    out = [None if ok else g.__geo_interface__ for g, ok in zip(geoms, fast)]
    sel = np.flatnonzero(fast)
    if not len(sel):
        return out
    parts, part_of = shapely.get_parts(geoms[sel], return_index=True)  # polygons or lines
    is_poly = shapely.get_type_id(parts) == _POLYGON
    # a polygon's rings (exterior, then holes), a line as its own one "ring"
    rings = np.empty(0, dtype=object)
    ring_part = np.empty(0, dtype=np.int64)
    if is_poly.any():
        poly_rings, poly_ring_of = shapely.get_rings(parts[is_poly], return_index=True)
        rings, ring_part = poly_rings, np.flatnonzero(is_poly)[poly_ring_of]
    if (~is_poly).any():
        rings = np.concatenate([rings, parts[~is_poly]])
        ring_part = np.concatenate([ring_part, np.flatnonzero(~is_poly)])
    order = np.argsort(ring_part, kind="stable")
    rings, ring_part = rings[order], ring_part[order]
    xy, xy_ring = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(xy_ring, minlength=len(rings))
    coords = xy.tolist()
    ends = np.cumsum(counts).tolist()
    ring_coords = [coords[e - c:e] for e, c in zip(ends, counts.tolist())]
    per_part: list[list] = [[] for _ in range(len(parts))]
    for r, k in zip(ring_coords, ring_part.tolist()):
        per_part[k].append(r)
    per_geom: list[list] = [[] for _ in range(len(sel))]
    for k, (p, poly) in enumerate(zip(part_of.tolist(), is_poly.tolist())):
        per_geom[p].append(per_part[k] if poly else per_part[k][0])
    for i, k, members in zip(sel.tolist(), kinds[sel].tolist(), per_geom):
        if k == _POLYGON:
            out[i] = {"type": "Polygon", "coordinates": members[0]}
        elif k == _MULTIPOLYGON:
            out[i] = {"type": "MultiPolygon", "coordinates": members}
        elif k == _LINESTRING:
            out[i] = {"type": "LineString", "coordinates": members[0]}
        else:
            out[i] = {"type": "MultiLineString", "coordinates": members}
    return out


def register_footprints(polygons: np.ndarray, x: np.ndarray, y: np.ndarray, labels: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per footprint, the shift (dx, dy) from the footprint to where its building points are ((0, 0) where
    the points cannot tell); the points that lie in the shifted footprints as (point, footprint) pairs; and
    per pair whether the point lies within SHARED_WALL_BAND of a shared wall (a neighbour's roof may show
    there, as the shift along a row is not known).
    `x`, `y`: the building points near footprint boundaries; `labels`: the footprint containing each (or -1).

    Each wall of a footprint is located by the points along it (the 98th percentile of their signed distance
    outward from the wall). Walls the points run on across (shared with a neighbour) are left out. The shift
    is fitted by least squares over the free walls (eaves that overhang all walls alike cancel out between
    opposite walls); a direction no free wall faces keeps no shift (a row house's shift along the row). The result
    of a footprint depends on it and the points near it only, so a tiled build gets the same shifts.
    """
    n = len(polygons)
    shifts = np.zeros((n, 2))
    none = np.empty(0, np.int64)
    if n == 0 or len(x) == 0:
        return shifts, none, none, np.empty(0, bool)
    polygons = shapely.orient_polygons(np.asarray(polygons, dtype=object))
    pt, fp = points_in(shapely.buffer(polygons, BAND), x, y)
    if len(pt) == 0:
        return shifts, none, none, np.empty(0, bool)
    # the walls: rings are counter-clockwise outside and clockwise in holes, so the outside is on the right
    parts, part_of = shapely.get_parts(polygons, return_index=True)  # a MultiPolygon's walls are its parts'
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    a = np.flatnonzero(~first) - 1
    wall_fp = part_of[ring_part[ring_of[a + 1]]]
    x0, y0, x1, y1 = xy[a, 0], xy[a, 1], xy[a + 1, 0], xy[a + 1, 1]
    length = np.hypot(x1 - x0, y1 - y0)
    ok = length > 0
    wall_fp, x0, y0, x1, y1, length = wall_fp[ok], x0[ok], y0[ok], x1[ok], y1[ok], length[ok]
    nx, ny = (y1 - y0) / length, -(x1 - x0) / length
    order = np.argsort(wall_fp, kind="stable")
    wall_fp, x0, y0, x1, y1, length, nx, ny = (v[order] for v in (wall_fp, x0, y0, x1, y1, length, nx, ny))
    wall_start = np.searchsorted(wall_fp, np.arange(n))
    wall_count = np.searchsorted(wall_fp, np.arange(n), side="right") - wall_start
    walled = wall_count[fp] > 0  # an empty geometry has none
    pt, fp = pt[walled], fp[walled]
    if len(pt) == 0:
        return shifts, none, none, np.empty(0, bool)
    wall_of_pair, dist_of_pair, t_of_pair = _nearest_walls(x[pt], y[pt], wall_start[fp], wall_count[fp],
                                                           x0, y0, x1, y1, length)
    along = t_of_pair * length[wall_of_pair]
    inside = labels[pt] == fp
    signed = np.where(inside, -dist_of_pair, dist_of_pair)
    # near a corner, points of the roof beyond the other wall would count: only the wall's middle part
    keep = (np.abs(signed) <= BAND) & (along >= BAND) & (along <= length[wall_of_pair] - BAND)
    # per wall: where its points stop
    order = np.lexsort((signed[keep], wall_of_pair[keep]))
    w_sorted, s_sorted = wall_of_pair[keep][order], signed[keep][order]
    start = np.searchsorted(w_sorted, np.arange(len(length)))
    count = np.searchsorted(w_sorted, np.arange(len(length)), side="right") - start
    usable = (count >= MIN_WALL_POINTS) & (length >= MIN_WALL_LENGTH)
    stop = np.full(len(length), np.nan)
    pos = (count[usable] - 1) * (WALL_QUANTILE / 100)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, count[usable] - 1)
    frac = pos - lo
    stop[usable] = s_sorted[start[usable] + lo] * (1 - frac) + s_sorted[start[usable] + hi] * frac
    free = usable & (stop < OPEN_WALL)
    weight = np.where(free, length, 0.0)
    for _ in range(2):  # fit, drop walls far off the fit, fit again
        shifts, residual = _fit_shifts(n, wall_fp, nx, ny, stop, weight)
        # what all walls of a footprint share (eaves overhanging, the point spacing) is no misfit
        total = np.bincount(wall_fp, weights=weight, minlength=n)
        common = np.bincount(wall_fp, weights=weight * residual, minlength=n) / np.maximum(total, 1e-9)
        weight = np.where(np.abs(residual - common[wall_fp]) <= WALL_RESIDUAL, weight, 0.0)
    shifts[np.hypot(shifts[:, 0], shifts[:, 1]) > MAX_SHIFT] = 0.0
    moved = shifts[fp]
    inside = shapely.contains_xy(polygons[fp], x[pt] - moved[:, 0], y[pt] - moved[:, 1])
    shared = usable & (stop >= OPEN_WALL)
    beside = shared[wall_of_pair] & (dist_of_pair <= SHARED_WALL_BAND)
    return shifts, pt[inside], fp[inside], beside[inside]


NEAREST_BATCH = 1 << 16  # (point, footprint) pairs per batch in `_nearest_walls`: its arrays stay in the cache


def _nearest_walls(px: np.ndarray, py: np.ndarray, first_wall: np.ndarray, walls: np.ndarray, x0, y0, x1, y1,
                   length) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (point, footprint) pair (its point at px, py; the footprint's walls first_wall … + walls), the
    nearest of those walls (the first of equals), the distance to it and the position along it (0 … 1)."""
    wall_of_pair = np.empty(len(px), np.int64)
    dist_of_pair = np.empty(len(px))
    t_of_pair = np.empty(len(px))
    wdx, wdy, l2 = x1 - x0, y1 - y0, length ** 2
    for s in range(0, len(px), NEAREST_BATCH):
        e = min(s + NEAREST_BATCH, len(px))
        # every pair against every wall of its footprint, one entry per wall, pairs one after another
        reps = walls[s:e]
        first_of_pair = np.cumsum(reps) - reps
        pair = np.repeat(np.arange(e - s), reps)
        wall = np.repeat(first_wall[s:e], reps) + (np.arange(len(pair)) - np.repeat(first_of_pair, reps))
        ppx, ppy = np.repeat(px[s:e], reps), np.repeat(py[s:e], reps)
        wx0, wy0, dx, dy = x0[wall], y0[wall], wdx[wall], wdy[wall]
        t = np.clip(((ppx - wx0) * dx + (ppy - wy0) * dy) / l2[wall], 0, 1)
        dist = np.hypot(ppx - (wx0 + t * dx), ppy - (wy0 + t * dy))
        candidates = np.flatnonzero(dist == np.repeat(np.minimum.reduceat(dist, first_of_pair), reps))
        of_pair = pair[candidates]  # ascending: the first candidate of each pair is its first nearest wall
        nearest = candidates[np.r_[True, of_pair[1:] != of_pair[:-1]]]
        wall_of_pair[s:e], dist_of_pair[s:e], t_of_pair[s:e] = wall[nearest], dist[nearest], t[nearest]
    return wall_of_pair, dist_of_pair, t_of_pair


PAIR_CELL = 8.0  # m: the bins `points_in` sorts points into


def points_in(areas: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, area) index pairs of the points that intersect each area (boundary included): the pairs of
    ``STRtree(areas).query(points(x, y), predicate="intersects")``, in another order, without making a point
    geometry each. The points are binned in PAIR_CELL squares; each area is tested (prepared, exactly) against
    the points of the bins its bounding box touches that lie in that box."""
    none = np.empty(0, np.int64)
    if len(x) == 0 or len(areas) == 0:
        return none, none
    bounds = shapely.bounds(areas)  # NaN for an empty area
    has = ~np.isnan(bounds).any(axis=1)
    cx, cy = np.floor(x / PAIR_CELL).astype(np.int64), np.floor(y / PAIR_CELL).astype(np.int64)
    cx0, cy0 = cx.min(), cy.min()
    rows = int(cy.max() - cy0) + 1
    key = (cx - cx0) * rows + (cy - cy0)
    order = np.argsort(key, kind="stable")
    keys, first, count = np.unique(key[order], return_index=True, return_counts=True)
    a = np.flatnonzero(has)
    b = bounds[a]
    # the bin range of each box, clipped to the bins that hold points
    bx0 = np.clip(np.floor(b[:, 0] / PAIR_CELL).astype(np.int64) - cx0, 0, None)
    bx1 = np.minimum(np.floor(b[:, 2] / PAIR_CELL).astype(np.int64) - cx0, int(cx.max() - cx0))
    by0 = np.clip(np.floor(b[:, 1] / PAIR_CELL).astype(np.int64) - cy0, 0, None)
    by1 = np.minimum(np.floor(b[:, 3] / PAIR_CELL).astype(np.int64) - cy0, rows - 1)
    nx, ny = np.maximum(bx1 - bx0 + 1, 0), np.maximum(by1 - by0 + 1, 0)
    # (area, bin) pairs
    n_bins = nx * ny
    area_of = np.repeat(np.arange(len(a)), n_bins)
    k = np.arange(len(area_of)) - np.repeat(np.cumsum(n_bins) - n_bins, n_bins)
    bin_key = (bx0[area_of] + k // ny[area_of]) * rows + (by0[area_of] + k % ny[area_of])
    where = np.searchsorted(keys, bin_key)
    found = where < len(keys)
    found[found] = keys[where[found]] == bin_key[found]
    area_of, where = area_of[found], where[found]
    # (area, point) candidates: every point of those bins
    reps = count[where]
    cand_area = np.repeat(area_of, reps)
    cand = order[np.repeat(first[where], reps) + (np.arange(len(cand_area)) - np.repeat(np.cumsum(reps) - reps, reps))]
    bb = b[cand_area]
    px, py = x[cand], y[cand]
    inbox = (px >= bb[:, 0]) & (px <= bb[:, 2]) & (py >= bb[:, 1]) & (py <= bb[:, 3])
    cand, cand_area = cand[inbox], a[cand_area[inbox]]
    shapely.prepare(areas)
    hit = shapely.intersects_xy(areas[cand_area], x[cand], y[cand])
    return cand[hit].astype(np.int64), cand_area[hit].astype(np.int64)


def _fit_shifts(n: int, wall_fp, nx, ny, stop, weight) -> tuple[np.ndarray, np.ndarray]:
    """Least squares per footprint of n·shift = stop over its weighted walls (minimum norm: no shift in a
    direction no wall faces); returns the shifts and each wall's residual."""
    A = np.column_stack([nx, ny])
    rhs = np.nan_to_num(stop)
    normal = np.zeros((n, 2, 2))
    moment = np.zeros((n, 2))
    for i in range(2):
        moment[:, i] = np.bincount(wall_fp, weights=weight * A[:, i] * rhs, minlength=n)
        for j in range(2):
            normal[:, i, j] = np.bincount(wall_fp, weights=weight * A[:, i] * A[:, j], minlength=n)
    solution = np.einsum("nij,nj->ni", np.linalg.pinv(normal, rcond=1e-3, hermitian=True), moment)
    residual = (A * solution[wall_fp]).sum(axis=1) - rhs
    return solution, residual
