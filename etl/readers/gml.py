"""GML geometry to shapely, and streaming of big XML files. Shared by the BGT and BAG readers.

Geometry: what IMGeo (BGT) and IMBAG (BAG 2.0) use, in GML 3.1 and 3.2 alike (elements are matched
by local name): Point, LineString, Curve (LineStringSegment, Arc, ArcString, Circle), Polygon,
Surface/PolygonPatch, LinearRing and Ring (curveMember), MultiSurface, CompositeSurface, MultiCurve,
MultiPoint. Arcs are stroked into straight segments, since shapely has no arcs (see `stroke_arc`).
Output is always 2D: a third coordinate (BAG writes z=0) is dropped.

Bad geometry raises `GeometryError` with a short reason; readers turn that into a SkipLog entry for
that one feature, so one bad feature never stops the rest.

`parse_geometry` reads one element; `GeometryBatch` reads many and builds them in bulk, several
times faster, with the same results (the BGT reader's path: ~500k objects per large district).
"""

from __future__ import annotations

import functools
import math
import re
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO

import numpy as np
import shapely
from lxml import etree
from shapely import GeometryType
from shapely.geometry.base import BaseGeometry

from core.errors import InputError

# Maximum distance (m) between a stroked arc and the true arc, and the largest angle one straight
# segment may span. 1 cm is below BGT's own coordinate precision (mm, but ~10 cm accuracy).
ARC_MAX_DEVIATION = 0.01
ARC_MAX_STEP = math.radians(10.0)

# srsName forms that mean RD New, with or without NAP heights.
_RD_EPSG = {"28992", "7415"}


class GeometryError(ValueError):
    """A GML geometry that cannot become a valid shapely geometry; the message is the reason."""


class _LocalNames(dict):
    """Tag -> local name, remembered: a dict lookup is much cheaper than splitting every tag again.

    Comments and processing instructions (whose tag is a function, not a string) map to "".
    """

    def __missing__(self, tag) -> str:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if len(self) < 10_000:  # vocabularies are small; do not grow without bound on odd files
            self[tag] = name
        return name


LOCAL_NAMES = _LocalNames()


def local_name(element: etree._Element) -> str:
    """Tag without namespace: ``{http://www.opengis.net/gml}Polygon`` -> ``Polygon``."""
    return LOCAL_NAMES[element.tag]


def children(element: etree._Element) -> Iterator[etree._Element]:
    """Child elements, skipping comments and processing instructions."""
    return (c for c in element if isinstance(c.tag, str))


# --------------------------------------------------------------------------------------------
# Streaming


def iter_elements(
    source: str | IO[bytes], name: str, local_names: Iterable[str]
) -> Iterator[etree._Element]:
    """Yield each element whose local name is in `local_names`, complete, then free its memory.

    The caller must be done with an element before asking for the next one. Earlier siblings of
    the element and of its ancestors are deleted too, so memory stays flat on multi-GB files.

    :param source: a path or an open binary file (e.g. a zip member).
    :param name: how the file is named in errors.
    :raises InputError: when the file is not well-formed XML, naming file and line.
    """
    tags = [f"{{*}}{n}" for n in local_names]
    try:
        for _event, element in etree.iterparse(
            source, events=("end",), tag=tags, huge_tree=True, remove_comments=True
        ):
            yield element
            element.clear()
            node = element
            while node is not None:
                parent = node.getparent()
                if parent is None:
                    break
                while node.getprevious() is not None:
                    del parent[0]
                node = parent
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        raise InputError(name, f"not well-formed XML at line {line}: {exc.msg}") from None
    except (OSError, zipfile.BadZipFile, zlib.error) as exc:  # e.g. a corrupt stream inside a zip
        raise InputError(name, f"cannot read: {exc}") from None


# --------------------------------------------------------------------------------------------
# Coordinates


def _dimension(element: etree._Element) -> int | None:
    """srsDimension on the element or the nearest ancestor that states it."""
    node: etree._Element | None = element
    while node is not None:
        dim = node.get("srsDimension")
        if dim is not None:
            try:
                return int(dim)
            except ValueError:
                raise GeometryError(f"srsDimension {dim!r} is not a number") from None
        node = node.getparent()
    return None


def _numbers(text: str | None) -> np.ndarray:
    try:
        values = np.array((text or "").split(), dtype=float)
    except ValueError:
        raise GeometryError(f"unparsable coordinates: {_short(text)}") from None
    if not np.isfinite(values).all():
        raise GeometryError(f"non-finite coordinates: {_short(text)}")
    return values


def _short(text: str | None, n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n] + "..."


def _pos_list(element: etree._Element) -> np.ndarray:
    """A gml:posList as an (n, 2) array."""
    values = _numbers(element.text)
    dim = _dimension(element)
    count = element.get("count")
    if dim is None and count and count.isdigit() and int(count) > 0 and len(values) % int(count) == 0:
        dim = len(values) // int(count)
    dim = dim or 2
    if dim not in (2, 3):
        raise GeometryError(f"unsupported coordinate dimension {dim}")
    if len(values) == 0 or len(values) % dim:
        raise GeometryError(f"{len(values)} numbers do not make {dim}D coordinates")
    return values.reshape(-1, dim)[:, :2]


def _coordinates(element: etree._Element) -> np.ndarray:
    """Coordinates of a geometry primitive: posList, a sequence of pos, or GML 2 coordinates."""
    points = []
    for child in children(element):
        name = local_name(child)
        if name == "posList":
            return _pos_list(child)
        if name == "pos":
            points.append(_pos_list(child)[0])
        elif name == "coordinates":
            return _gml2_coordinates(child)
        elif name == "pointProperty":
            points.append(_point_xy(child))
    if not points:
        raise GeometryError(f"gml:{local_name(element)} without coordinates")
    return np.array(points)


def _gml2_coordinates(element: etree._Element) -> np.ndarray:
    cs, ts, dec = element.get("cs", ","), element.get("ts", " "), element.get("decimal", ".")
    rows = []
    for tuple_text in (element.text or "").strip().split(ts):
        if not tuple_text.strip():
            continue
        if dec != ".":
            tuple_text = tuple_text.replace(dec, ".")
        rows.append(_numbers(tuple_text.replace(cs, " "))[:2])
    if not rows or any(len(r) < 2 for r in rows):
        raise GeometryError(f"unparsable coordinates: {_short(element.text)}")
    return np.array(rows)


def _point_xy(element: etree._Element) -> np.ndarray:
    point = element if local_name(element) == "Point" else _first_geometry(element)
    return _coordinates(point)[0]


# --------------------------------------------------------------------------------------------
# Arcs


def stroke_arc(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, full_circle: bool = False) -> np.ndarray:
    """Points along the circular arc from p0 through p1 to p2 (or the full circle through all three).

    The first and last points are exactly p0 and p2, so neighbours that share an arc share its ends.
    Three collinear points give the straight line p0-p1-p2.
    """
    # Plain floats: scalar numpy arithmetic is slow, and gives the same numbers.
    (x0, y0), (x1, y1), (x2, y2) = (np.asarray(p, dtype=float).tolist() for p in (p0, p1, p2))
    return np.array(_stroke(x0, y0, x1, y1, x2, y2, full_circle)).reshape(-1, 2)


def _stroke(x0: float, y0: float, x1: float, y1: float, x2: float, y2: float, full_circle: bool) -> list[float]:
    """`stroke_arc` on plain floats, returning flat x, y."""
    # Centre from the perpendicular bisectors; coordinates relative to p0 keep precision in RD metres.
    bx, by, cx, cy = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    d = 2.0 * (bx * cy - by * cx)
    span = max(math.hypot(bx, by), math.hypot(cx, cy), 1e-12)
    if abs(d) <= 1e-12 * span * span:
        if full_circle:
            raise GeometryError("gml:Circle through collinear points")
        return [x0, y0, x1, y1, x2, y2]
    ux = (cy * (bx * bx + by * by) - by * (cx * cx + cy * cy)) / d
    uy = (bx * (cx * cx + cy * cy) - cx * (bx * bx + by * by)) / d
    centre_x, centre_y = x0 + ux, y0 + uy
    radius = math.hypot(ux, uy)
    a0 = math.atan2(y0 - centre_y, x0 - centre_x)
    a2 = math.atan2(y2 - centre_y, x2 - centre_x)
    counter_clockwise = d > 0
    if full_circle:
        sweep = 2 * math.pi if counter_clockwise else -2 * math.pi
    elif counter_clockwise:
        sweep = (a2 - a0) % (2 * math.pi)
    else:
        sweep = -((a0 - a2) % (2 * math.pi))
    # The sagitta of a chord spanning angle t is r(1 - cos(t/2)); keep it within ARC_MAX_DEVIATION.
    step = 2.0 * math.acos(max(1.0 - ARC_MAX_DEVIATION / radius, -1.0))
    step = min(step, ARC_MAX_STEP)
    n = max(2, math.ceil(abs(sweep) / step))
    angles = [a0 + sweep * i / n for i in range(1, n)]
    # Python float arithmetic on numpy's cos/sin: the same numbers as whole-array numpy, in less time.
    points = [x0, y0]
    for cos, sin in zip(np.cos(angles).tolist(), np.sin(angles).tolist()):
        points += (centre_x + radius * cos, centre_y + radius * sin)
    points += (x0, y0) if full_circle else (x2, y2)
    return points


def _arc_string(points: np.ndarray) -> np.ndarray:
    if len(points) < 3 or len(points) % 2 == 0:
        raise GeometryError(f"arc with {len(points)} control points (needs 3, 5, 7, ...)")
    return np.array(_stroke_arcs(points.ravel().tolist())).reshape(-1, 2)


def _stroke_arcs(xy: Sequence[float]) -> list[float]:
    """Flat x, y of 3, 5, 7, ... control points -> the stroked arcs through them, joined."""
    return _join_flat([_stroke(*xy[i : i + 6], False) for i in range(0, len(xy) - 4, 4)])


def _circle(points: np.ndarray) -> np.ndarray:
    if len(points) != 3:
        raise GeometryError(f"gml:Circle with {len(points)} points (needs 3)")
    return stroke_arc(points[0], points[1], points[2], full_circle=True)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate (n, 2) point runs, dropping the repeated point where one run starts at the previous end."""
    if len(parts) == 1:
        return parts[0]
    out = [parts[0]]
    end_x, end_y = parts[0][-1].tolist()
    for part in parts[1:]:
        start_x, start_y = part[0].tolist()
        out.append(part[1:] if start_x == end_x and start_y == end_y else part)
        end_x, end_y = part[-1].tolist()
    return np.concatenate(out)


def _join_flat(parts: list[Sequence[float]]) -> Sequence[float]:
    """`_join` for flat x, y lists (or arrays)."""
    joined = parts[0][:]
    for part in parts[1:]:
        joined.extend(part[2:] if part[0] == joined[-2] and part[1] == joined[-1] else part)
    return joined


_SEGMENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "LineStringSegment": lambda pts: pts,
    "Arc": _arc_string,
    "ArcString": _arc_string,
    "Circle": _circle,
}


def _curve_points(element: etree._Element) -> np.ndarray:
    """Points of any curve element: LineString, Curve (with segments), CompositeCurve, or a wrapper."""
    name = local_name(element)
    if name in ("LineString", "LinearRing"):
        return _coordinates(element)
    if name == "Curve":
        segments = next((c for c in children(element) if local_name(c) == "segments"), None)
        if segments is None:
            raise GeometryError("gml:Curve without segments")
        parts = []
        for segment in children(segments):
            stroke = _SEGMENTS.get(local_name(segment))
            if stroke is None:
                raise GeometryError(f"unsupported curve segment gml:{local_name(segment)}")
            parts.append(stroke(_coordinates(segment)))
        if not parts:
            raise GeometryError("gml:Curve without segments")
        return _join(parts)
    if name in ("CompositeCurve", "Ring"):
        members = [_curve_points(_first_geometry(m)) for m in children(element) if local_name(m) == "curveMember"]
        if not members:
            raise GeometryError(f"gml:{name} without curveMember")
        return _join(members)
    if name == "OrientableCurve":
        base = next((c for c in children(element) if local_name(c) == "baseCurve"), None)
        if base is None:
            raise GeometryError("gml:OrientableCurve without baseCurve")
        points = _curve_points(_first_geometry(base))
        return points[::-1] if element.get("orientation") == "-" else points
    raise GeometryError(f"gml:{name} is not a curve")


# --------------------------------------------------------------------------------------------
# Geometry types


def _first_geometry(property_element: etree._Element) -> etree._Element:
    child = next(children(property_element), None)
    if child is None:
        raise GeometryError(f"empty {local_name(property_element)}")
    return child


def _ring(element: etree._Element) -> np.ndarray:
    """The points of an exterior/interior boundary (LinearRing or Ring), checked for closure."""
    points = _curve_points(_first_geometry(element))
    if len(points) < 4:
        raise GeometryError(f"ring with {len(points)} points (needs at least 4)")
    if not np.array_equal(points[0], points[-1]):
        raise GeometryError(
            f"ring not closed: starts at {points[0][0]:.3f} {points[0][1]:.3f}, "
            f"ends at {points[-1][0]:.3f} {points[-1][1]:.3f}"
        )
    return points


def _polygon(element: etree._Element) -> shapely.Polygon:
    shell, holes = None, []
    for child in children(element):
        name = local_name(child)
        if name in ("exterior", "outerBoundaryIs"):
            shell = _ring(child)
        elif name in ("interior", "innerBoundaryIs"):
            holes.append(_ring(child))
    if shell is None:
        raise GeometryError(f"gml:{local_name(element)} without exterior")
    return shapely.Polygon(shell, holes)


def _surface(element: etree._Element) -> BaseGeometry:
    patches = [
        _polygon(p)
        for c in children(element)
        if local_name(c) == "patches"
        for p in children(c)
    ]
    if not patches:
        raise GeometryError("gml:Surface without patches")
    return patches[0] if len(patches) == 1 else _dissolve(patches)


def _dissolve(polygons: list[BaseGeometry]) -> BaseGeometry:
    """Polygons that share edges (patches of one surface, a CompositeSurface) as one area."""
    _check_valid(polygons)
    return shapely.union_all(polygons)


def _members(element: etree._Element, member_names: tuple[str, ...]) -> list[BaseGeometry]:
    geoms = []
    for child in children(element):
        name = local_name(child)
        if name in member_names:
            geoms.append(parse_geometry(_first_geometry(child)))
        elif name in ("surfaceMembers", "curveMembers", "pointMembers"):
            geoms.extend(parse_geometry(g) for g in children(child))
    if not geoms:
        raise GeometryError(f"gml:{local_name(element)} without members")
    return geoms


def _multi_surface(element: etree._Element) -> BaseGeometry:
    parts = _members(element, ("surfaceMember", "polygonMember"))
    polygons = [p for g in parts for p in getattr(g, "geoms", [g])]
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _composite_surface(element: etree._Element) -> BaseGeometry:
    return _dissolve(_members(element, ("surfaceMember",)))


def _multi_curve(element: etree._Element) -> BaseGeometry:
    lines = _members(element, ("curveMember", "lineStringMember"))
    return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)


def _multi_point(element: etree._Element) -> BaseGeometry:
    return shapely.MultiPoint(_members(element, ("pointMember",)))


def _line(element: etree._Element) -> shapely.LineString:
    points = _curve_points(element)
    if len(points) < 2:
        raise GeometryError("line with fewer than 2 points")
    return shapely.LineString(points)


_PARSERS: dict[str, Callable[[etree._Element], BaseGeometry]] = {
    "Point": lambda e: shapely.Point(_coordinates(e)[0]),
    "MultiPoint": _multi_point,
    "LineString": _line,
    "Curve": _line,
    "CompositeCurve": _line,
    "OrientableCurve": _line,
    "MultiCurve": _multi_curve,
    "MultiLineString": _multi_curve,
    "Polygon": _polygon,
    "PolygonPatch": _polygon,
    "Surface": _surface,
    "MultiSurface": _multi_surface,
    "MultiPolygon": _multi_surface,
    "CompositeSurface": _composite_surface,
}


def parse_geometry(element: etree._Element) -> BaseGeometry:
    """A GML geometry element as a 2D shapely geometry (not yet checked for validity).

    :raises GeometryError: unsupported type, unparsable coordinates, unclosed ring, ...
    """
    parser = _PARSERS.get(local_name(element))
    if parser is None:
        raise GeometryError(f"unsupported geometry gml:{local_name(element)}")
    return parser(element)


# --------------------------------------------------------------------------------------------
# Bulk parsing
#
# One shapely constructor and validity call per feature costs more than all the XML work for it.
# GeometryBatch therefore reads the shapes that make up nearly all of BGT (Point, LineString,
# Polygon and MultiSurface of Polygons, with LinearRing/posList rings or Rings of line segments and
# arcs) straight into flat coordinate arrays, and builds and checks them in a few vectorised calls.
# Anything off that path (pos sequences, a missing srsDimension, an unclosed ring, unparsable
# numbers, Surface, CompositeSurface, ...) goes through the general parser above, which therefore
# also words every error: the fast path only takes what it is sure of, and gives the same result.


class _Unusual(Exception):
    """Raised inside the fast path for a structure it does not handle; the general parser takes over."""


_POINT, _LINE, _POLYGON, _MULTIPOLYGON, _READY, _ERROR = range(6)


class GeometryBatch:
    """Parses GML geometry elements one by one; `build` makes them shapely geometries in one go.

    Elements may be freed (streaming) right after `add`: nothing refers to them afterwards.
    """

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._entries: list[tuple[int, object]] = []  # per geometry: (kind, count | geometry | reason)
        # Coordinates as C doubles (array), not lists of Python floats: numpy takes them over in one copy.
        self._point_xy = array("d")
        self._line_xy = array("d")
        self._line_sizes: list[int] = []  # points per line
        self._polygon_xy = array("d")
        self._ring_sizes: list[int] = []  # points per ring
        self._polygon_rings: list[int] = []  # rings per polygon

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, element: etree._Element) -> None:
        """Parse one geometry element (as `parse_geometry` would); errors are kept for `build`."""
        try:
            self._entries.append(self._add_fast(element))
        except _Unusual:
            try:
                self._entries.append((_READY, parse_geometry(element)))
            except GeometryError as exc:
                self._entries.append((_ERROR, str(exc)))
        except GeometryError as exc:
            self._entries.append((_ERROR, str(exc)))

    def build(self) -> tuple[list[BaseGeometry | None], list[str | None]]:
        """(geometry, None) or (None, reason) per added element, in order, and empties the batch.

        The reason is a parse error or `invalid_reason`; `build` checks validity for all at once.
        """
        points = shapely.points(np.array(self._point_xy).reshape(-1, 2))
        lines = shapely.from_ragged_array(
            GeometryType.LINESTRING,
            np.array(self._line_xy).reshape(-1, 2),
            (_offsets(self._line_sizes),),
        ) if self._line_sizes else []
        polygons = shapely.from_ragged_array(
            GeometryType.POLYGON,
            np.array(self._polygon_xy).reshape(-1, 2),
            (_offsets(self._ring_sizes), _offsets(self._polygon_rings)),
        ) if self._polygon_rings else []
        geometries = np.empty(len(self._entries), dtype=object)
        errors: dict[int, str] = {}
        next_point = next_line = next_polygon = 0
        multi_at, multi_parts, multi_owner = [], [], []
        for i, (kind, value) in enumerate(self._entries):
            if kind == _POLYGON:
                geometries[i] = polygons[next_polygon]
                next_polygon += 1
            elif kind == _POINT:
                geometries[i] = points[next_point]
                next_point += 1
            elif kind == _LINE:
                geometries[i] = lines[next_line]
                next_line += 1
            elif kind == _MULTIPOLYGON:
                multi_at.append(i)
                multi_parts.extend(range(next_polygon, next_polygon + value))
                multi_owner.extend([len(multi_at) - 1] * value)
                next_polygon += value
            elif kind == _READY:
                geometries[i] = value
            else:
                errors[i] = value
        if multi_at:
            geometries[multi_at] = shapely.multipolygons(polygons[multi_parts], indices=multi_owner)
        reasons = invalid_reasons(geometries)
        for i, reason in errors.items():
            geometries[i], reasons[i] = None, reason
        self._clear()
        return [None if r else g for g, r in zip(geometries, reasons)], reasons

    # ---- the fast path: same results as parse_geometry for what it accepts, else _Unusual

    def _add_fast(self, element: etree._Element) -> tuple[int, object]:
        name = LOCAL_NAMES[element.tag]
        if name == "Polygon":
            rings = _fast_polygon(element)
            self._add_polygon(rings)
            return _POLYGON, 1
        if name == "MultiSurface":
            polygons = []
            for member in element:
                if LOCAL_NAMES[member.tag] not in ("surfaceMember", "polygonMember"):
                    raise _Unusual
                polygons.append(_fast_polygon(_first_child(member, "Polygon")))
            if not polygons:
                raise _Unusual
            for rings in polygons:
                self._add_polygon(rings)
            return (_POLYGON, 1) if len(polygons) == 1 else (_MULTIPOLYGON, len(polygons))
        if name == "LineString":
            xy = _fast_pos_list(_first_child(element, "posList"))
            if len(xy) < 4:
                raise _Unusual
            self._line_xy.extend(xy)
            self._line_sizes.append(len(xy) // 2)
            return _LINE, 1
        if name == "Point":
            if len(element) != 1:
                raise _Unusual
            xy = _fast_pos_list(_first_child(element, "pos"))
            if len(xy) != 2:
                raise _Unusual
            self._point_xy.extend(xy)
            return _POINT, 1
        raise _Unusual

    def _add_polygon(self, rings: list[Sequence[float]]) -> None:
        for xy in rings:
            self._polygon_xy.extend(xy)
            self._ring_sizes.append(len(xy) // 2)
        self._polygon_rings.append(len(rings))


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _first_child(element: etree._Element, name: str) -> etree._Element:
    """The element's first child, when its local name is `name`."""
    for child in element:
        if LOCAL_NAMES[child.tag] == name:
            return child
        break
    raise _Unusual


def _fast_polygon(element: etree._Element) -> list[Sequence[float]]:
    """Rings of a gml:Polygon as flat x, y lists, shell first (as `_polygon` reads them)."""
    shell, holes = None, []
    for child in element:
        name = LOCAL_NAMES[child.tag]
        if name in ("exterior", "outerBoundaryIs"):
            shell = _fast_ring(child)
        elif name in ("interior", "innerBoundaryIs"):
            holes.append(_fast_ring(child))
    if shell is None:
        raise _Unusual
    return [shell, *holes]


def _fast_ring(boundary: etree._Element) -> Sequence[float]:
    """A closed ring as flat x, y: LinearRing/posList, or a Ring of Curves of LineStringSegments and
    Arcs (how IMGeo writes rounded corners). Anything else through `_ring`."""
    try:
        ring = next(iter(boundary), None)
        if ring is None:
            raise _Unusual
        name = LOCAL_NAMES[ring.tag]
        if name == "LinearRing":
            xy = _fast_pos_list(_first_child(ring, "posList"))
        elif name == "Ring":
            xy = _fast_curve_ring(ring)
        else:
            raise _Unusual
        # Closed when the first and last point are the same numbers; checked on the floats since
        # 1.0 and 1.00 are the same point.
        if len(xy) < 8 or xy[0] != xy[-2] or xy[1] != xy[-1]:
            raise _Unusual
        return xy
    except _Unusual:
        return _ring(boundary).ravel().tolist()


def _fast_curve_ring(ring: etree._Element) -> Sequence[float]:
    """`_curve_points` of a gml:Ring whose curveMembers are Curves, as flat x, y."""
    members = []
    for member in ring:
        if LOCAL_NAMES[member.tag] == "curveMember":
            members.append(_fast_curve(_first_child(member, "Curve")))
    if not members:
        raise _Unusual
    return _join_flat(members)


def _fast_curve(curve: etree._Element) -> Sequence[float]:
    """A gml:Curve of LineStringSegments and Arcs/ArcStrings (arcs stroked), as flat x, y."""
    parts = []
    for segment in _first_child(curve, "segments"):
        name = LOCAL_NAMES[segment.tag]
        xy = _fast_pos_list(_first_child(segment, "posList"))
        if name == "LineStringSegment":
            parts.append(xy)
        elif name in ("Arc", "ArcString"):
            if len(xy) < 6 or len(xy) % 4 != 2:  # 3, 5, 7, ... points
                raise _Unusual
            parts.append(_stroke_arcs(xy))
        else:
            raise _Unusual
    if not parts:
        raise _Unusual
    return _join_flat(parts)


def _fast_pos_list(element: etree._Element) -> array:
    """A posList (or pos) with srsDimension 2 or 3 on the element itself, as flat x, y floats."""
    dim = element.get("srsDimension")
    text = element.text
    if text is None or dim not in ("2", "3"):
        raise _Unusual
    try:
        values = array("d", map(float, text.split()))  # float() parses exactly as numpy's str -> float
    except ValueError:
        raise _Unusual from None
    if not values or not math.isfinite(sum(values)):
        raise _Unusual
    if dim == "3":
        if len(values) % 3:
            raise _Unusual
        del values[2::3]
    elif len(values) % 2:
        raise _Unusual
    return values


def srs_problem(element: etree._Element) -> str | None:
    """Why the srsName on a geometry is not RD New, or None (also when no srsName is given)."""
    srs = element.get("srsName")
    return _srs_name_problem(srs) if srs else None


@functools.lru_cache(maxsize=256)  # a file repeats the same few srsNames on every geometry
def _srs_name_problem(srs: str) -> str | None:
    # Any of urn:ogc:def:crs:EPSG::28992, EPSG:28992, http://www.opengis.net/def/crs/EPSG/0/7415, ...
    if _RD_EPSG & set(re.findall(r"\d+", srs)):
        return None
    return f"coordinate reference system {srs} is not RD New (EPSG:28992)"


# --------------------------------------------------------------------------------------------
# Validity


def invalid_reason(geometry: BaseGeometry | None) -> str | None:
    """Why a geometry cannot be used as a feature geometry, or None when it is fine."""
    if geometry is None:
        return "missing geometry"
    if geometry.is_empty:
        return "empty geometry"
    if not shapely.is_valid(geometry):
        return f"invalid geometry: {shapely.is_valid_reason(geometry)}"
    return None


def invalid_reasons(geometries: np.ndarray) -> list[str | None]:
    """`invalid_reason` for an array of geometries, with the costly checks done in bulk."""
    suspect = shapely.is_missing(geometries) | shapely.is_empty(geometries) | ~shapely.is_valid(geometries)
    reasons: list[str | None] = [None] * len(geometries)
    for i in np.flatnonzero(suspect):
        reasons[i] = invalid_reason(geometries[i])
    return reasons


def _check_valid(geometries: list[BaseGeometry]) -> None:
    for g in geometries:
        reason = invalid_reason(g)
        if reason:
            raise GeometryError(reason)
