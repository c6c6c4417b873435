"""GML geometry to shapely, and streaming of big XML files. Shared by the BGT and BAG readers.

Geometry: what IMGeo (BGT) and IMBAG (BAG 2.0) use, in GML 3.1 and 3.2 alike (elements are matched
by local name): Point, LineString, Curve (LineStringSegment, Arc, ArcString, Circle), Polygon,
Surface/PolygonPatch, LinearRing and Ring (curveMember), MultiSurface, CompositeSurface, MultiCurve,
MultiPoint. Arcs are stroked into straight segments, since shapely has no arcs (see `stroke_arc`).
Output is always 2D: a third coordinate (BAG writes z=0) is dropped.

Bad geometry raises `GeometryError` with a short reason; readers turn that into a SkipLog entry for
that one feature, so one bad feature never stops the rest.
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import numpy as np
import shapely
from lxml import etree
from shapely.geometry.base import BaseGeometry

from stadsmodel.errors import InputError

# Maximum distance (m) between a stroked arc and the true arc, and the largest angle one straight
# segment may span. 1 cm is below BGT's own coordinate precision (mm, but ~10 cm accuracy).
ARC_MAX_DEVIATION = 0.01
ARC_MAX_STEP = math.radians(10.0)

# srsName forms that mean RD New, with or without NAP heights.
_RD_EPSG = {"28992", "7415"}


class GeometryError(ValueError):
    """A GML geometry that cannot become a valid shapely geometry; the message is the reason."""


def local_name(element: etree._Element) -> str:
    """Tag without namespace: ``{http://www.opengis.net/gml}Polygon`` -> ``Polygon``."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


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
    (x0, y0), (x1, y1), (x2, y2) = p0, p1, p2
    # Centre from the perpendicular bisectors; coordinates relative to p0 keep precision in RD metres.
    bx, by, cx, cy = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    d = 2.0 * (bx * cy - by * cx)
    span = max(math.hypot(bx, by), math.hypot(cx, cy), 1e-12)
    if abs(d) <= 1e-12 * span * span:
        if full_circle:
            raise GeometryError("gml:Circle through collinear points")
        return np.array([p0, p1, p2])
    ux = (cy * (bx * bx + by * by) - by * (cx * cx + cy * cy)) / d
    uy = (bx * (cx * cx + cy * cy) - cx * (bx * bx + by * by)) / d
    centre = np.array([x0 + ux, y0 + uy])
    radius = math.hypot(ux, uy)
    a0 = math.atan2(y0 - centre[1], x0 - centre[0])
    a2 = math.atan2(y2 - centre[1], x2 - centre[0])
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
    angles = a0 + sweep * np.arange(1, n) / n
    inner = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
    end = p0 if full_circle else p2
    return np.vstack([p0, inner, end])


def _arc_string(points: np.ndarray) -> np.ndarray:
    if len(points) < 3 or len(points) % 2 == 0:
        raise GeometryError(f"arc with {len(points)} control points (needs 3, 5, 7, ...)")
    parts = [stroke_arc(points[i], points[i + 1], points[i + 2]) for i in range(0, len(points) - 2, 2)]
    return _join(parts)


def _circle(points: np.ndarray) -> np.ndarray:
    if len(points) != 3:
        raise GeometryError(f"gml:Circle with {len(points)} points (needs 3)")
    return stroke_arc(points[0], points[1], points[2], full_circle=True)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate point runs, dropping the repeated point where one run starts at the previous end."""
    out = [parts[0]]
    for part in parts[1:]:
        out.append(part[1:] if np.array_equal(part[0], out[-1][-1]) else part)
    return np.vstack(out)


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


def srs_problem(element: etree._Element) -> str | None:
    """Why the srsName on a geometry is not RD New, or None (also when no srsName is given)."""
    srs = element.get("srsName")
    if not srs:
        return None
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


def _check_valid(geometries: list[BaseGeometry]) -> None:
    for g in geometries:
        reason = invalid_reason(g)
        if reason:
            raise GeometryError(reason)
