"""CQL2 filters: put them where pygeoapi reads them, and refuse what pygeoapi would answer wrongly.

Refused (400 with the reason) before pygeoapi sees them: property names the collection lacks
(PostgreSQL would silently match nothing), comparisons of a property with a value of another type
(``b3_h_dak_70p > 'abc'`` matched nothing; on PostGIS it is a 500), numbers SQL cannot hold (beyond
64-bit integers, NaN, infinity), invalid geometry literals (a degenerate polygon), and lon/lat
literals outside the globe.
"""

from __future__ import annotations

import json
import math
import re

from starlette.requests import Request

from services.config import CRS84
from services.params import rewritten

CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
INT64 = 2**63
NUMERIC = ("integer", "number")


_NUMBER = r"\s*([-+\d.eE]+)\s*"
# A BBOX literal, BBOX(x0,y0,x1,y1[,z0,z1]); with a property first, BBOX(geometry, ...), it is a predicate.
_BBOX_TEXT = re.compile(rf"\bBBOX\s*\(\s*(?:([A-Za-z_]\w*)\s*,)?{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}"
                        rf"(?:,{_NUMBER},{_NUMBER})?\)", re.IGNORECASE)


def _bbox_text_as_polygon(m: re.Match) -> str:
    prop, *numbers = m.groups()
    x0, y0, x1, y1 = numbers[:4] if numbers[4] is None else (numbers[0], numbers[1], numbers[3], numbers[4])
    polygon = f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    return f"S_INTERSECTS({prop}, {polygon})" if prop else polygon


def _bbox_polygon(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _json_bbox_as_polygon(node):
    if isinstance(node, dict):
        if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) in (4, 6):
            b = node["bbox"]
            return _bbox_polygon(*(b if len(b) == 4 else [b[0], b[1], b[3], b[4]]))
        return {k: _json_bbox_as_polygon(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_bbox_as_polygon(v) for v in node]
    return node


async def normalised_filter(request: Request) -> Request:
    """Put CQL2 JSON where pygeoapi reads it (the body) and BBOX literals in a form it reprojects.

    pygeoapi parses ``filter`` as CQL2 text only, and reprojects geometry literals from ``filter-crs`` to
    the storage CRS but not BBOX literals; as polygons they are reprojected like any other geometry.
    """
    params = request.query_params
    text = params.get("filter")
    if text is not None and params.get("filter-lang") == "cql2-json":
        body = text.encode()
        rest = [(k, v) for k, v in params.multi_items() if k != "filter"]
    elif text is not None:
        poly = _BBOX_TEXT.sub(_bbox_text_as_polygon, text)
        if poly == text:
            return request
        return rewritten(request, [(k, poly if k == "filter" else v) for k, v in params.multi_items()])
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
    import shapely
    import shapely.geometry
    from pygeofilter import ast, values
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    try:
        if "filter" in request.query_params:
            tree = parse_text(request.query_params["filter"])
        elif request.method == "POST":
            tree = parse_json((await request.body()).decode())
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
    if request.query_params.get("filter-crs", CRS84) in (CRS84, CRS84H) and any(
            not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90) for x0, y0, x1, y1 in (g.bounds for g in geometries)):
        return "filter geometry lies outside longitude -180..180 / latitude -90..90; coordinates are CRS84 " \
               "unless filter-crs names another CRS"
    return None
