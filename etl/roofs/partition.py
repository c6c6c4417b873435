"""Partition the footprint by roof plane.

Where the points of two planes meet, the boundary between them is a straight line: the planes' intersection
line when the roofs meet there (ridge, hip, valley, the back of a dormer), or a step line where one roof is
higher (a height jump, the sides of a dormer), snapped to the footprint's main directions. Each such line
becomes a segment over the stretch where the two planes meet, a little longer so that segments cross their
neighbours. The footprint outline and the segments, noded, are polygonised into cells (a 2D arrangement);
every cell takes the plane most of its points belong to (an empty cell: the plane of the nearest point).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from etl.roofs.planes import Plane


def main_directions(footprint: Polygon, min_edge: float = 1.5) -> list[float]:
    """Angles (radians, modulo pi) of the footprint's longest edge, its perpendicular, and any other edge
    direction of at least `min_edge` m: step lines in buildings follow the walls."""
    edges = np.diff(np.asarray(footprint.exterior.coords), axis=0)
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    angles = np.mod(np.arctan2(edges[:, 1], edges[:, 0]), math.pi)
    main = float(angles[int(np.argmax(lengths))])
    out = [main, (main + math.pi / 2) % math.pi]
    for angle, length in sorted(zip(angles, lengths), key=lambda al: -al[1]):
        if length >= min_edge and all(_angle_gap(angle, o) > math.radians(10) for o in out):
            out.append(float(angle))
    return out


def _angle_gap(a: float, b: float) -> float:
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


def contact_midpoints(xy: np.ndarray, p: Plane, q: Plane, reach: float) -> np.ndarray:
    """Midpoints of each point of p with its nearest point of q (and the other way) closer than `reach`:
    they trace the boundary between the two planes."""
    a, b = xy[p.inliers], xy[q.inliers]
    # only points in grid cells next to the other plane's cells can be near its points
    a, b = a[_near_cells(a, b, reach)], b[_near_cells(b, a, reach)]
    if len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2))
    out = []
    for chunk in range(0, len(a), 512):  # bounded memory for big roofs
        part = a[chunk:chunk + 512]
        d = np.hypot(part[:, None, 0] - b[None, :, 0], part[:, None, 1] - b[None, :, 1])
        nearest = np.argmin(d, axis=1)
        close = d[np.arange(len(part)), nearest] < reach
        out.append((part[close] + b[nearest[close]]) / 2)
        nearest_a = np.argmin(d, axis=0)
        close_b = d[nearest_a, np.arange(len(b))] < reach
        out.append((b[close_b] + part[nearest_a[close_b]]) / 2)
    return np.unique(np.vstack(out), axis=0)


def _near_cells(a: np.ndarray, b: np.ndarray, reach: float) -> np.ndarray:
    """Mask of the points of a whose `reach`-sized grid cell touches a cell holding a point of b."""
    origin = np.minimum(a.min(axis=0), b.min(axis=0)) - reach
    ia, ib = np.floor((a - origin) / reach).astype(np.int64), np.floor((b - origin) / reach).astype(np.int64)
    width = int(max(ia[:, 1].max(), ib[:, 1].max())) + 2
    cells_b = np.unique(ib[:, 0] * width + ib[:, 1])
    near = np.unique((cells_b[:, None] + np.array([di * width + dj for di in (-1, 0, 1) for dj in (-1, 0, 1)])).ravel())
    return np.isin(ia[:, 0] * width + ia[:, 1], near)


def boundary_segments(xy: np.ndarray, planes: list[Plane], directions: list[float], footprint: Polygon,
                      config) -> list[LineString]:
    """The boundaries between every two planes that meet, extended to the next boundary or wall."""
    lines: list[tuple[float, float, float, float, bool]] = []  # angle, offset, start, end, exact
    for i in range(len(planes)):
        for j in range(i + 1, len(planes)):
            mid = contact_midpoints(xy, planes[i], planes[j], config.contact_reach)
            if len(mid) >= config.min_contact_points:
                for line in _pair_lines(mid, planes[i], planes[j], directions, config):
                    line = _snap(line, lines, config)
                    if line is not None:
                        lines.append(line)
    segments = [_segment(angle, offset, lo, hi) for angle, offset, lo, hi, _ in lines]
    return _extend(segments, footprint, config.segment_extension)


def _snap(line, lines, config):
    """A step line next to an earlier, parallel one is the same wall (two planes stepping down onto a
    third): it takes the earlier line's position, so the partition gets no sliver between them; next to an
    exact intersection line it is that boundary, traced again from the points, and is left out."""
    angle, offset, lo, hi, exact = line
    if exact:
        return line
    for other_angle, other_offset, _, _, other_exact in lines:
        if _angle_gap(angle, other_angle) < math.radians(3):
            flip = 1.0 if abs(angle - other_angle) < math.pi / 2 else -1.0  # the normals point opposite
            if abs(offset * flip - other_offset) < 2 * config.line_width:
                return None if other_exact else (other_angle, other_offset, lo * flip, hi * flip, False)
    return line


def _segment(angle, offset, lo, hi) -> LineString:
    t = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-t[1], t[0]])
    return LineString([t * min(lo, hi) + n * offset, t * max(lo, hi) + n * offset])


def _extend(segments: list[LineString], footprint: Polygon, reach: float) -> list[LineString]:
    """Lengthen each segment at both ends up to the first segment or footprint edge it meets (at most
    `reach` m): contacts fade out near corners and apexes, the boundaries they trace do not."""
    walls = footprint.boundary
    inside = footprint.buffer(1e-6)
    for _ in range(2):  # a second pass lets segments that were both short meet each other
        out = []
        for k, seg in enumerate(segments):
            others = shapely.union_all([walls, *(s for i, s in enumerate(segments) if i != k)])
            c = np.asarray(seg.coords)
            direction = (c[1] - c[0]) / max(np.hypot(*(c[1] - c[0])), 1e-9)
            ends = []
            for end, u in ((c[0], -direction), (c[1], direction)):
                if not inside.contains(shapely.points(end)):
                    ends.append(end)
                    continue
                ray = LineString([end + u * 1e-6, end + u * reach])
                hit = ray.intersection(others)
                if hit.is_empty:
                    ends.append(end + u * reach)
                else:
                    d = np.hypot(*(shapely.get_coordinates(hit) - end).T).min()
                    ends.append(end + u * (d + 0.01))  # just across, so that noding makes the crossing
            out.append(LineString([ends[0], ends[1]]))
        segments = out
    return segments


def _pair_lines(mid: np.ndarray, p: Plane, q: Plane, directions: list[float], config) -> list[tuple]:
    """Straight lines through the contact midpoints, each one either the planes' exact intersection line
    (when it runs there) or a step line in one of the footprint's directions:
    (angle, offset along its normal, start and end along it, exact)."""
    da, db, dc = p.a - q.a, p.b - q.b, p.c - q.c
    gradient = math.hypot(da, db)
    intersection = None  # (angle, offset along that angle's normal) of the line z_p = z_q
    candidates = list(directions)
    if gradient > 1e-3:  # not parallel: da x + db y + dc = 0 is a line in plan
        m = np.array([da, db]) / gradient
        angle = math.atan2(m[0], -m[1]) % math.pi
        n_line = np.array([-math.sin(angle), math.cos(angle)])
        intersection = (angle, float(np.sign(n_line @ m)) * -dc / gradient)
        candidates.append(angle)
    out = []
    remaining = mid
    width = config.line_width
    while len(remaining) >= config.min_contact_points and len(out) < config.max_lines_per_pair:
        best = None
        for angle in candidates:
            offset = np.sort(_frame(remaining, angle)[1])
            counts = np.searchsorted(offset, offset + width) - np.searchsorted(offset, offset - width)
            k = int(np.argmax(counts))
            if best is None or counts[k] > best[0]:
                best = (int(counts[k]), angle, float(offset[k]))
        count, angle, centre = best
        if count < config.min_contact_points:
            break
        offset = _frame(remaining, angle)[1]
        position = float(np.median(offset[np.abs(offset - centre) < width]))
        exact = False
        if intersection is not None and _angle_gap(angle, intersection[0]) < math.radians(3):
            offset_i = _frame(remaining[np.abs(offset - centre) < width], intersection[0])[1]
            if abs(float(np.median(offset_i)) - intersection[1]) < 2 * width:
                # the planes meet here: their intersection is the exact boundary (no wall between them)
                angle, position, exact = intersection[0], intersection[1], True
        along, offset = _frame(remaining, angle)
        on_line = np.abs(offset - position) < 2 * width
        if on_line.sum() < config.min_contact_points:
            break
        out.append((angle, position, float(along[on_line].min()), float(along[on_line].max()), exact))
        remaining = remaining[~on_line]
    return out


def _frame(xy: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along a direction and along its normal (-sin, cos)."""
    t = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-t[1], t[0]])
    return xy @ t, xy @ n


def region_outline(xy: np.ndarray, cell: float):
    """The outline of the grid cells a plane's points occupy, closed over one-cell gaps and simplified to
    straight stretches: the boundary of a roof face of any shape, to less than a cell's precision."""
    ij = np.unique(np.floor(xy / cell).astype(np.int64), axis=0)
    squares = shapely.box(ij[:, 0] * cell, ij[:, 1] * cell, (ij[:, 0] + 1) * cell, (ij[:, 1] + 1) * cell)
    region = shapely.union_all(squares).buffer(cell / 2, join_style="mitre").buffer(-cell / 2, join_style="mitre")
    region = region.simplify(cell / 2)
    return None if region.is_empty else region.boundary


def cells(footprint: Polygon, segments: list[LineString]) -> list[Polygon]:
    """The footprint cut by the segments: a noded partition (neighbours share every node)."""
    lines = [footprint.boundary] + [s for s in segments if s.intersects(footprint)]
    # noded on a millimetre grid: no edge of the solids gets shorter than the BAG's own precision
    noded = shapely.unary_union(lines, grid_size=0.001)
    parts = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = [c for c in parts if c.area > 1e-4 and footprint.contains(c.point_on_surface())]
    return inside


def label_cells(cell_list: list[Polygon], xy: np.ndarray, point_plane: np.ndarray) -> np.ndarray:
    """The plane of each cell: the one most of its assigned points belong to, else that of the nearest
    assigned point."""
    assigned = point_plane >= 0
    labels = np.full(len(cell_list), -1)
    n_planes = int(point_plane.max()) + 1 if assigned.any() else 0
    for k, cell in enumerate(cell_list):
        inside = shapely.contains_xy(cell, xy[:, 0], xy[:, 1]) & assigned
        if inside.any():
            labels[k] = int(np.argmax(np.bincount(point_plane[inside], minlength=n_planes)))
        elif assigned.any():
            p = cell.point_on_surface()
            d = np.hypot(xy[assigned, 0] - p.x, xy[assigned, 1] - p.y)
            labels[k] = int(point_plane[assigned][int(np.argmin(d))])
    return labels
