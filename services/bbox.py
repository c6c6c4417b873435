"""``bbox`` parameters: checked values, and an exact area in the storage CRS.

pygeoapi reprojects a ``bbox`` by its two corners, which in RD New is a different, smaller rectangle (a
CRS84 box is a curved quadrilateral there; at the globe's scale the corners do not transform at all).
Here the box is densified (each edge cut in :data:`DENSIFY` pieces), clipped to the area of use of the
storage CRS, transformed vertex by vertex, and handed to the providers as :class:`AreaBox`: its four
numbers are the envelope (what pygeoapi and any other provider expect), ``area`` the polygon the
providers intersect features with.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pyproj
import shapely
from pygeoapi.crs import get_crs

from core.crs import CRS84_URI, CRS84H_URI

DENSIFY = 64
CRS84_URIS = (CRS84_URI, CRS84H_URI)


class AreaBox(list):
    """[minx, miny, maxx, maxy] of ``area`` (a shapely polygon in the storage CRS), or of nothing when empty."""

    def __init__(self, envelope, area: shapely.Geometry):
        super().__init__(envelope)
        self.area = area


def query_area(bbox) -> shapely.Geometry:
    """The area a provider's bbox query selects: an AreaBox's exact area, else the plain box (2D or 3D bbox)."""
    area = getattr(bbox, "area", None)
    if area is None:
        xy = bbox if len(bbox) == 4 else [bbox[0], bbox[1], bbox[3], bbox[4]]
        area = shapely.box(*map(float, xy))
    return area


def bbox_problem(text: str, crs: str | None) -> str | None:
    """Why a ``bbox`` value must be refused (400), or None. ``crs``: its bbox-crs (None: CRS84)."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        return "bbox needs 4 numbers (minx,miny,maxx,maxy) or 6 (minx,miny,minz,maxx,maxy,maxz)"
    try:
        values = [float(v) for v in parts]
    except ValueError:
        return f"bbox values must be numbers: {text!r}"
    if not all(math.isfinite(v) for v in values):
        return "bbox values must be finite numbers (no nan or inf)"
    x0, y0, x1, y1 = values if len(values) == 4 else (values[0], values[1], values[3], values[4])
    if len(values) == 6 and values[2] > values[5]:
        return "bbox: minz is greater than maxz"
    if y0 > y1:
        return "bbox: miny is greater than maxy"
    if x0 > x1:
        return "bbox: minx is greater than maxx (boxes across the antimeridian are not supported)"
    if crs is None or crs in CRS84_URIS:
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            return "bbox lies outside longitude -180..180 / latitude -90..90; coordinates are CRS84 " \
                   "unless bbox-crs names another CRS"
    elif max(abs(v) for v in values) > 1e9:
        return "bbox values beyond 1e9 are not coordinates of any supported CRS"
    return None


@lru_cache(maxsize=32)
def _transformer(from_crs: str, to_crs: str) -> tuple[pyproj.Transformer, shapely.Geometry | None]:
    """The transformer (built once per CRS pair, not per request) and the target's area of use in ``from_crs``."""
    source, target = get_crs(from_crs), get_crs(to_crs)
    transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
    use = target.area_of_use
    domain = None
    if use is not None:
        lonlat = shapely.box(use.west, use.south, use.east, use.north)
        to_source = pyproj.Transformer.from_crs("OGC:CRS84", source, always_xy=True)
        domain = shapely.transform(shapely.segmentize(lonlat, max(use.east - use.west, 1e-9) / DENSIFY),
                                   lambda xy: _apply(to_source, xy))
    return transformer, domain


def _apply(transformer: pyproj.Transformer, xy):
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    out = xy.copy()
    out[:, 0], out[:, 1] = x, y
    return out


def transform_bbox(bbox: list, from_crs, to_crs, always_xy=False) -> list:
    """Drop-in for ``pygeoapi.crs.transform_bbox``: an :class:`AreaBox` in ``to_crs``."""
    from_uri = from_crs if isinstance(from_crs, str) else from_crs.to_string()
    to_uri = to_crs if isinstance(to_crs, str) else to_crs.to_string()
    x0, y0, x1, y1 = (bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4]))
    box = shapely.envelope(shapely.MultiPoint([(x0, y0), (x1, y1)]))  # a box; a line or point when degenerate
    if get_crs(from_uri) == get_crs(to_uri):
        return AreaBox(shapely.bounds(box).tolist(), box)
    transformer, domain = _transformer(from_uri, to_uri)
    if domain is not None:
        box = shapely.intersection(box, domain)  # outside its area of use a projection has no meaningful answer
    if box.is_empty:
        return AreaBox([0.0, 0.0, 0.0, 0.0], shapely.Polygon())
    longest = max(x1 - x0, y1 - y0, 1e-12)
    area = shapely.transform(shapely.segmentize(box, longest / DENSIFY), lambda xy: _apply(transformer, xy))
    if not area.is_valid:
        area = shapely.make_valid(area)
    return AreaBox(shapely.bounds(area).tolist(), area)
