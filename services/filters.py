"""CQL2 filters: put them where pygeoapi reads them, and refuse what pygeoapi would answer wrongly.

Refused (400 with the reason) before pygeoapi sees them: property names the collection lacks
(PostgreSQL would silently match nothing), comparisons of a property with a value of another type
(``b3_h_dak_70p > 'abc'`` matched nothing; on PostGIS it is a 500), numbers SQL cannot hold (beyond
64-bit integers, NaN, infinity), invalid geometry literals (a degenerate polygon), and lon/lat
literals outside the globe.

BBOX corners become polygons in the parsed filter (:func:`parse_cql2_text`, and in CQL2 JSON before it is
parsed), so that pygeoapi reprojects them from ``filter-crs`` like every other geometry literal.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import shapely
import shapely.geometry
from lark import Lark, v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parser as cql2_text
from starlette.requests import Request

from core.crs import CRS84_URI, CRS84H_URI
from services.params import rewritten

INT64 = 2**63
NUMERIC = ("integer", "number")

# pygeofilter's CQL2 text grammar with its spatial predicates restated: keywords case-insensitive as CQL2 has
# them (pygeofilter spells BBOX and RELATE upper-case only) and BBOX with 3D corners (x0,y0,z0,x1,y1,z1), which it
# lacks. Should a pygeofilter release rename a rule, Lark refuses the grammar at import, not a filter at run time.
_GRAMMAR = Path(cql2_text.__file__).with_name("grammar.lark")
_SPATIAL_PREDICATES = "\n".join([
    '%override ?spatial_predicate: _binary_spatial_predicate_func "(" expression "," expression ")"'
    ' -> binary_spatial_predicate',
    '    | "RELATE"i "(" expression "," expression "," SINGLE_QUOTED ")" -> relate_spatial_predicate',
    '    | "BBOX"i "(" expression ("," full_number)~4 ["," SINGLE_QUOTED] ")" -> bbox_spatial_predicate',
    '    | "BBOX"i "(" expression ("," full_number)~6 ")" -> bbox_3d_spatial_predicate', ""])


@v_args(meta=False, inline=True)
class _BBoxAsPolygon(cql2_text.CQLTransformer):
    """BBOX literals and predicates as polygons: pygeoapi reprojects polygon literals from ``filter-crs`` to the
    storage CRS, but leaves BBOX corners as they are."""

    def function(self, func_name, *arguments):
        if func_name.name.lower() == "bbox" and len(arguments) in (4, 6) \
                and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in arguments):
            return values.Geometry(_bbox_polygon(*_corners(arguments)))
        return super().function(func_name, *arguments)

    def bbox_spatial_predicate(self, lhs, minx, miny, maxx, maxy, crs=None):
        if crs is not None:  # corners in a CRS of their own: the providers take them as they are
            return super().bbox_spatial_predicate(lhs, minx, miny, maxx, maxy, crs)
        return ast.GeometryIntersects(lhs, values.Geometry(_bbox_polygon(minx, miny, maxx, maxy)))

    def bbox_3d_spatial_predicate(self, lhs, x0, y0, _z0, x1, y1, _z1):
        return ast.GeometryIntersects(lhs, values.Geometry(_bbox_polygon(x0, y0, x1, y1)))


_PARSER = Lark(_GRAMMAR.read_text(encoding="utf-8") + _SPATIAL_PREDICATES, parser="lalr", maybe_placeholders=False,
               transformer=_BBoxAsPolygon(), source_path=str(_GRAMMAR),
               import_paths=[os.path.dirname(os.path.dirname(cql2_text.__file__))])


def parse_cql2_text(text: str) -> ast.Node:
    """CQL2 text as pygeofilter parses it, with BBOX as polygons (see :class:`_BBoxAsPolygon`); pygeoapi parses
    ``filter`` with this too (services.app)."""
    return _PARSER.parse(text)


def _corners(numbers) -> list:
    """x0, y0, x1, y1 of a 2D or 3D BBOX."""
    return list(numbers) if len(numbers) == 4 else [numbers[0], numbers[1], numbers[3], numbers[4]]


def _bbox_polygon(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _json_bbox_as_polygon(node):
    if isinstance(node, dict):
        if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) in (4, 6):
            return _bbox_polygon(*_corners(node["bbox"]))
        return {k: _json_bbox_as_polygon(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_bbox_as_polygon(v) for v in node]
    return node


async def normalised_filter(request: Request) -> Request:
    """Put CQL2 JSON where pygeoapi reads it (the body), its BBOX literals as polygons.

    pygeoapi parses ``filter`` as CQL2 text only, and reprojects geometry literals from ``filter-crs`` to
    the storage CRS but not BBOX literals; as polygons they are reprojected like any other geometry. CQL2 text
    needs no rewriting: :func:`parse_cql2_text` makes the polygons when pygeoapi parses it.
    """
    params = request.query_params
    if params.get("filter-lang") == "cql2-json" and "filter" in params:
        body = params["filter"].encode()
        rest = [(k, v) for k, v in params.multi_items() if k != "filter"]
    elif "filter" in params:
        return request
    elif request.method == "POST":
        body, rest = await request.body(), list(params.multi_items())
    else:
        return request
    try:
        body = json.dumps(_json_bbox_as_polygon(json.loads(body))).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass  # pygeoapi answers "Bad CQL JSON"; the body's depth was checked before (services.params)
    return rewritten(request, rest, body)


async def filter_problem(request: Request, collection: str, fields: dict[str, dict]) -> str | None:
    """Why the filter must be refused (see the module docstring), or None. ``fields``: name → JSON type."""
    try:
        if "filter" in request.query_params:
            tree = parse_cql2_text(request.query_params["filter"])
        elif request.method == "POST":
            tree = parse_cql2_json((await request.body()).decode())
        else:
            return None
    except Exception:  # unparsable: pygeoapi answers 400 "Bad CQL"
        return None
    names: set[str] = set()
    geometries = []
    problems: list[str] = []

    def kind(node) -> str | None:
        if isinstance(node, ast.Attribute):
            return fields.get(node.name, {}).get("type")
        if isinstance(node, bool):
            return "boolean"
        if isinstance(node, (int, float)):
            return "number"
        if isinstance(node, str):
            return "string"
        return None

    def compare(lhs, rhs) -> None:
        attribute = lhs if isinstance(lhs, ast.Attribute) else rhs if isinstance(rhs, ast.Attribute) else None
        other = rhs if attribute is lhs else lhs
        if attribute is None or isinstance(other, ast.Node):
            return
        mine, theirs = kind(attribute), kind(other)
        if mine is None or theirs is None:
            return
        if (mine in NUMERIC) != (theirs in NUMERIC) or (mine == "boolean") != (theirs == "boolean"):
            problems.append(f"{attribute.name} is a {mine} property; it cannot be compared with {other!r}")

    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Attribute):
            names.add(node.name)
        elif isinstance(node, values.Geometry):
            geometries.append(shapely.geometry.shape(node.geometry))
        elif isinstance(node, bool) or isinstance(node, str):
            pass
        elif isinstance(node, int) and not -INT64 <= node < INT64:
            problems.append(f"{node} is beyond the 64-bit integer range")
        elif isinstance(node, float) and not math.isfinite(node):
            problems.append(f"{node} is not a finite number")
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, ast.Node):
            if isinstance(node, (ast.Comparison, ast.Between)):
                for bound in ([node.rhs] if isinstance(node, ast.Comparison) else [node.low, node.high]):
                    compare(node.lhs, bound)
            elif isinstance(node, ast.In):
                for item in node.sub_nodes:
                    compare(node.lhs, item)
            elif isinstance(node, ast.Like) and isinstance(node.lhs, ast.Attribute) \
                    and kind(node.lhs) not in (None, "string"):
                problems.append(f"LIKE needs a string property; {node.lhs.name} is a {kind(node.lhs)}")
            stack.extend(vars(node).values())

    unknown = names - set(fields) - {"geometry", "geom"}
    if unknown:
        return (f"filter names unknown properties: {', '.join(sorted(unknown))}; "
                f"see /collections/{collection}/queryables")
    if problems:
        return "filter: " + "; ".join(dict.fromkeys(problems))
    for geom in geometries:
        if not shapely.is_valid(geom) or not all(math.isfinite(v) for v in geom.bounds):
            reason = shapely.is_valid_reason(geom) if geom.is_valid is False else "not finite"
            return f"filter: invalid geometry literal ({reason})"
    lonlat = request.query_params.get("filter-crs", CRS84_URI) in (CRS84_URI, CRS84H_URI)
    if lonlat and any(not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90)
                      for x0, y0, x1, y1 in (g.bounds for g in geometries)):
        return "filter geometry lies outside longitude -180..180 / latitude -90..90; coordinates are CRS84 " \
               "unless filter-crs names another CRS"
    return None
