"""Plan geometries: the shared GML parser (etl.readers.gml), then repaired and made multi-part.

Plan exporters write rings that touch themselves or arcs whose stroked chords cross a neighbour; such an
area is still the plan's intent, so it is repaired with make_valid rather than dropped. Lines (figuur) and
points are kept as they are.
"""

from __future__ import annotations

from lxml import etree
from shapely import make_valid
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from etl.readers.gml import GeometryError, parse_geometry


def plan_geometry(element: etree._Element) -> BaseGeometry:
    """A valid geometry for one plan object; areas come out as MultiPolygon.

    :raises GeometryError: unparsable, or an area that collapses to nothing when repaired
    """
    geom = parse_geometry(element)
    if geom.is_empty:
        raise GeometryError("empty geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return geom
    if not geom.is_valid:
        geom = make_valid(geom)
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    polys = [p for g in parts for p in getattr(g, "geoms", [g])]
    if not polys:
        raise GeometryError("area collapses to no surface when repaired")
    return MultiPolygon(polys)


__all__ = ["GeometryError", "plan_geometry"]
