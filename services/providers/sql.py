"""What the project's two SQL providers (GeoPackage, PostGIS) share: CQL2 → SQL, typed query values, reprojection.

:class:`SqlTranslator` turns a pygeofilter AST (CQL2 text or JSON, as pygeoapi parses it) into SQL with bound
parameters, in SQLite's dialect; services.providers.postgresql subclasses it for PostgreSQL's placeholders,
booleans and ``ST_*`` predicates. Spatial predicates call back into the provider (``_spatial_where``), which
knows its index. Anything it cannot translate is a 400 (ProviderInvalidQueryError), never a wrong answer.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import pyproj
import shapely
from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeofilter import ast, values

_SPATIAL_OPS = {
    ast.GeometryIntersects: shapely.intersects,
    ast.GeometryDisjoint: shapely.intersects,  # negated below
    ast.GeometryWithin: shapely.within,
    ast.GeometryContains: shapely.contains,
    ast.GeometryTouches: shapely.touches,
    ast.GeometryCrosses: shapely.crosses,
    ast.GeometryOverlaps: shapely.overlaps,
    ast.GeometryEquals: shapely.equals,
}

_COMPARISONS = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mul: "*", ast.Div: "/"}

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def typed_query_value(name: str, value, json_type: str):
    """A query-string value as the property's JSON type, so '3' matches the integer 3; 400 when it is not one."""
    try:
        if json_type == "integer":
            number = int(value)
            if not INT64_MIN <= number <= INT64_MAX:
                raise ProviderInvalidQueryError(user_msg=f"{name}: {value!r} is beyond the 64-bit integer range")
            return number
        if json_type == "number":
            return float(value)
        if json_type == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[str(value).lower()]
    except (KeyError, ValueError):
        raise ProviderInvalidQueryError(user_msg=f"{name}: {value!r} is not a valid {json_type}") from None
    return value


@lru_cache(maxsize=16)
def cached_transformer(source_wkt: str, target_wkt: str) -> pyproj.Transformer:
    """One transformer per CRS pair and process: building one per request dominated the stock provider's time."""
    return pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(source_wkt), pyproj.CRS.from_wkt(target_wkt), always_xy=True
    )


def apply_transformer(tr: pyproj.Transformer, xy):
    """x and y of an (n, 2|3) coordinate array through ``tr`` (z kept), as shapely.transform calls it."""
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    xy = xy.copy()
    xy[:, 0], xy[:, 1] = x, y
    return xy


class SqlTranslator:
    """pygeofilter AST → (SQL, parameters) for one provider; raises 400 for what it cannot do."""

    def __init__(self, provider, con=None):
        self.p = provider
        self.con = con

    def sql(self, node) -> tuple[str, list]:
        params: list = []
        return self._node(node, params), params

    def _node(self, n, params: list) -> str:
        if isinstance(n, ast.And):
            return f"({self._node(n.lhs, params)} AND {self._node(n.rhs, params)})"
        if isinstance(n, ast.Or):
            return f"({self._node(n.lhs, params)} OR {self._node(n.rhs, params)})"
        if isinstance(n, ast.Not):
            return f"(NOT {self._node(n.sub_node, params)})"
        if isinstance(n, ast.Include):
            return "0" if n.not_ else "1"
        if type(n) in _COMPARISONS:
            return f"({self._expr(n.lhs, params)} {_COMPARISONS[type(n)]} {self._expr(n.rhs, params)})"
        if isinstance(n, ast.Between):
            neg = "NOT " if n.not_ else ""
            return (f"({self._expr(n.lhs, params)} {neg}BETWEEN {self._expr(n.low, params)} "
                    f"AND {self._expr(n.high, params)})")
        if isinstance(n, ast.Like):
            return self._like(n, params)
        if isinstance(n, ast.In):
            lhs = self._expr(n.lhs, params)
            items = ", ".join(self._expr(v, params) for v in n.sub_nodes)
            return f"({lhs} {'NOT ' if n.not_ else ''}IN ({items}))"
        if isinstance(n, ast.IsNull):
            return f"({self._expr(n.lhs, params)} IS {'NOT ' if n.not_ else ''}NULL)"
        if type(n) in _SPATIAL_OPS:
            return self._spatial(_SPATIAL_OPS[type(n)], n.lhs, n.rhs, params,
                                 negate=isinstance(n, ast.GeometryDisjoint))
        if isinstance(n, ast.BBox):
            box = shapely.box(n.minx, n.miny, n.maxx, n.maxy)
            return self._spatial(shapely.intersects, n.lhs, box, params, negate=False)
        if isinstance(n, bool):
            return "1" if n else "0"
        if isinstance(n, (ast.TemporalPredicate, ast.ArrayPredicate)):
            raise ProviderInvalidQueryError(user_msg=f"{type(n).__name__}: temporal and array operators are not "
                                                     "supported by this collection")
        if isinstance(n, ast.Attribute) and self.p.fields.get(n.name, {}).get("type") == "boolean":
            return f"({self._expr(n, params)} = 1)"
        raise ProviderInvalidQueryError(user_msg=f"unsupported filter expression: {n!r}")

    def _like(self, n: ast.Like, params: list) -> str:
        # Translate the CQL2 pattern to a GLOB-free LIKE with '\' as escape, honouring the parser's
        # wildcard/singlechar/escape characters.
        out, i, pat = [], 0, str(n.pattern)
        while i < len(pat):
            c = pat[i]
            if c == n.escapechar and i + 1 < len(pat):
                nxt = pat[i + 1]
                out.append("\\" + nxt if nxt in "%_\\" else nxt)
                i += 2
                continue
            out.append("%" if c == n.wildcard else "_" if c == n.singlechar else
                       "\\" + c if c in "%_\\" else c)
            i += 1
        lhs = self._expr(n.lhs, params)
        params.append("".join(out))
        neg = "NOT " if n.not_ else ""
        if n.nocase:
            return f"(lower({lhs}) {neg}LIKE lower(?) ESCAPE '\\')"
        return f"({lhs} {neg}LIKE ? ESCAPE '\\')"

    def _expr(self, e, params: list) -> str:
        if isinstance(e, ast.Attribute):
            return self.p._column(e.name)
        if isinstance(e, ast.Function):
            name = e.name.lower()
            if name in ("lower", "casei", "accenti") and len(e.arguments) == 1:
                return f"lower({self._expr(e.arguments[0], params)})"
            raise ProviderInvalidQueryError(user_msg=f"unsupported function {e.name!r}")
        if type(e) in _ARITHMETIC:
            return f"({self._expr(e.lhs, params)} {_ARITHMETIC[type(e)]} {self._expr(e.rhs, params)})"
        if isinstance(e, bool):
            params.append(1 if e else 0)
        elif isinstance(e, int) and not INT64_MIN <= e <= INT64_MAX:
            raise ProviderInvalidQueryError(user_msg=f"{e} is beyond the 64-bit integer range")
        elif isinstance(e, float) and not math.isfinite(e):
            raise ProviderInvalidQueryError(user_msg=f"{e} is not a finite number")
        elif isinstance(e, (int, float, str)):
            params.append(e)
        elif isinstance(e, dt.datetime):
            params.append(e.isoformat().replace("+00:00", "Z"))
        elif isinstance(e, dt.date):
            params.append(e.isoformat())
        else:
            raise ProviderInvalidQueryError(user_msg=f"unsupported value in filter: {e!r}")
        return "?"

    def _filter_geometry(self, lhs, rhs):
        """The literal geometry of a spatial predicate on the collection's geometry (a 400 for anything else)."""
        if isinstance(lhs, ast.Attribute) and lhs.name not in (self.p.geom_field, "geometry"):
            raise ProviderInvalidQueryError(user_msg=f"{lhs.name!r} is not the geometry of collection {self.p.name}")
        if isinstance(rhs, values.Geometry):
            geom = shapely.geometry.shape(rhs.geometry)
        elif isinstance(rhs, values.Envelope):
            geom = shapely.box(rhs.x1, rhs.y1, rhs.x2, rhs.y2)
        elif isinstance(rhs, shapely.Geometry):
            geom = rhs
        else:
            raise ProviderInvalidQueryError(
                user_msg="a spatial predicate needs the geometry property and a literal geometry")
        if not geom.is_valid:
            raise ProviderInvalidQueryError(user_msg=f"invalid geometry in filter: {shapely.is_valid_reason(geom)}")
        return geom

    def _spatial(self, predicate, lhs, rhs, params: list, negate: bool) -> str:
        geom = self._filter_geometry(lhs, rhs)
        sql, p = self.p._spatial_where(self.con, predicate, geom, negate)
        params += p
        return f"({sql})"
