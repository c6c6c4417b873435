"""OGC API Features provider for a PostGIS table (loaded by services.load), answering as the GeoPackage provider.

pygeoapi's stock PostgreSQL provider builds a SQLAlchemy session, reflects the table and creates a new pyproj
transformer on every request, binds query values as text (a 500 against numeric columns) and intersects a
bbox as its envelope. This one:

* keeps a small pool (psycopg_pool) of psycopg 3 connections per worker process and DSN
  (``STADSMODEL_PG_POOL``, default 4; a request waits at most ``STADSMODEL_PG_POOL_WAIT`` seconds, default 10,
  for one, else 503; each is checked before it is lent, so one a database restart killed is replaced), each with
  ``statement_timeout`` = ``STADSMODEL_PG_STATEMENT_TIMEOUT`` milliseconds (default 10000): a statement that
  runs longer is cancelled by the server and the request answers 503;
* sends parameterised SQL only: user values are always bound parameters, identifiers only the table's own
  column names (an unknown property is a 400); psycopg prepares repeated statements on the server;
* translates CQL2 (text and JSON, parsed by pygeoapi with pygeofilter) with the shared (services.providers.sql)
  translator, the spatial predicates as ``ST_Intersects`` & co. on the table's GiST index; ``bbox`` as the
  exact area (services.bbox.AreaBox), also on the GiST index;
* reads geometries as WKB and reprojects them exactly as the GeoPackage provider does (the shared cached pyproj
  transformer; EPSG:7415 with z = the ground height column when the collection has ``heights``), so both
  stores give the same coordinates;
* answers ``q=`` where the table has the ``tsv`` column services.load adds to ``regels`` (a GIN-indexed
  tsvector of the Dutch text-search configuration 'dutch' and of 'simple'): comma-separated terms match any,
  words all, each word as a prefix of a word in the text (as FTS5 on the GeoPackage) or in any of its Dutch
  forms (the 'dutch' stem: q=bedrijfsgebouwen also finds "bedrijfsgebouw").

Table metadata (columns, primary key, row count, whether ``fid`` is dense) is read once per process: run
``stadsmodel load`` again and restart ``serve`` to serve new data.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus

import psycopg
import shapely
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout
from pygeoapi.crs import get_crs
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)
from pygeofilter import ast

from core.crs import RD_NAP_URI
from services.bbox import query_area
from services.providers.sql import SqlTranslator, apply_transformer, cached_transformer, typed_query_value

LOGGER = logging.getLogger(__name__)

SRID = 28992
FTS_COLUMN = "tsv"
HIDDEN = {"fid", FTS_COLUMN}  # never properties (fid is the GeoPackage's primary key, not an attribute there)

_JSON_TYPES = {
    "int2": "integer", "int4": "integer", "int8": "integer",
    "float4": "number", "float8": "number", "numeric": "number",
    "bool": "boolean",
}
_FORMATS = {"date": "date", "timestamp": "date-time", "timestamptz": "date-time"}

_PG_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
# SQLSTATEs a request can cause: data exceptions (class 22: a number out of range, bad date), program limits
# (class 54: too complex) and, of class 42, only an operator or function the column's type lacks (42883, 42725)
# and a type mismatch (42804). The rest of class 42 (a missing table after a re-load, permissions, a syntax
# error of our own SQL) is the server's fault: logged, and a 5xx.
_CLIENT_SQLSTATE = ("22", "54", "42883", "42725", "42804")


class StoreBusyError(ProviderGenericError):
    """The statement ran past statement_timeout, or no connection came free in time."""
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the store is busy or the query took too long; try again or narrow the query"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        LOGGER.warning("%s=%r is not a number; using %s", name, os.environ.get(name), default)
        return default


class _Pool:
    """A pool of autocommit connections (one per DSN and process): psycopg_pool, which checks a connection before
    lending it (a connection a database restart killed is replaced, not handed to a request) and wakes the next
    waiter whenever one comes free. Opened lazily, on the first request."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.size = max(1, int(_env_number("STADSMODEL_PG_POOL", 4)))
        self.wait = _env_number("STADSMODEL_PG_POOL_WAIT", 10.0)
        self.timeout_ms = int(_env_number("STADSMODEL_PG_STATEMENT_TIMEOUT", 10_000))
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=self.size, timeout=self.wait, open=False, name="stadsmodel",
            check=ConnectionPool.check_connection, reconnect_timeout=self.wait,
            kwargs={"autocommit": True, "connect_timeout": 10, "application_name": "stadsmodel",
                    "options": f"-c statement_timeout={self.timeout_ms}"})
        self._lock = threading.Lock()
        self._opened = False

    @contextmanager
    def connection(self):
        with self._lock:
            if not self._opened:
                self._pool.open(wait=False)
                self._opened = True
        try:
            with self._pool.connection() as con:
                yield con
        except PoolTimeout:
            # no connection came free (all busy), or none could be made (the database is down): both are a 503
            LOGGER.warning("PostGIS %s: no connection within %s s (%s)", self.dsn, self.wait, self._pool.get_stats())
            raise StoreBusyError("no free connection") from None


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(dsn: str) -> _Pool:
    # a worker forked from a parent that had a pool must not share its sockets: key by process too
    key = f"{os.getpid()} {dsn}"
    with _pools_lock:
        if key not in _pools:
            _pools[key] = _Pool(dsn)
        return _pools[key]


@dataclass(frozen=True)
class _Table:
    columns: dict[str, str]  # name → udt_name, without geometry and hidden columns, in table order
    pk: str
    order: str  # the default order: fid (as the GeoPackage) when the table has it, else the primary key
    count: int
    dense: int | None  # min(order) when it runs min..min+count-1 without gaps
    fulltext: bool


@lru_cache(maxsize=256)
def _table(dsn: str, table: str, geom: str) -> _Table:
    with _pool(dsn).connection() as con:
        cols = con.execute("SELECT column_name, udt_name FROM information_schema.columns "
                           "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
                           (table,)).fetchall()
        if not cols:
            raise ProviderConnectionError(f"PostGIS: no table {table!r}")
        pk = con.execute("SELECT kcu.column_name FROM information_schema.table_constraints tc "
                         "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
                         "AND tc.table_schema = kcu.table_schema WHERE tc.constraint_type = 'PRIMARY KEY' "
                         "AND tc.table_schema = 'public' AND tc.table_name = %s", (table,)).fetchone()
        names = [c for c, _ in cols]
        if pk is None:
            raise ProviderConnectionError(f"PostGIS: table {table!r} has no primary key (run stadsmodel load)")
        order = "fid" if "fid" in names else pk[0]
        t = pgsql.Identifier(table)
        count, lo, hi = con.execute(pgsql.SQL("SELECT count(*), min({o}), max({o}) FROM {t}").format(
            o=pgsql.Identifier(order), t=t)).fetchone()
        dense = lo if count and isinstance(lo, int) and hi - lo + 1 == count else None
        columns = {c: u for c, u in cols if c != geom and c not in HIDDEN}
        return _Table(columns, pk[0], order, count, dense, FTS_COLUMN in names)


def tsquery_terms(q) -> tuple[str, str] | None:
    """(simple, dutch) tsquery texts for OGC ``q`` as the GeoPackage's FTS5 query (services.providers.geopackage.
    fts_query) reads it: comma-separated terms OR, words AND, each word a phrase of its letters and digits with
    the last one a prefix (in 'simple'), or the same words in any Dutch form (in 'dutch'). None when no term can
    match (FTS5 matches nothing for a word without letters or digits, such as ``*``).

    Words are cut into letters and digits only (as FTS5's unicode61 tokenizer does), so nothing of the tsquery
    syntax (``& | ! : * ( ) <->``) in the request reaches to_tsquery."""
    terms = q if isinstance(q, (list, tuple)) else str(q).split(",")
    simple, dutch, given = [], [], 0
    for term in terms:
        words = [w for w in str(term).split() if w.strip('"')]
        if not words:
            continue
        given += 1
        tokens = [[t.lower() for t in re.findall(r"[^\W_]+", w)] for w in words]
        if not all(tokens):
            continue
        simple.append("(" + " & ".join("(" + " <-> ".join(t) + ":*)" for t in tokens) + ")")
        dutch.append("(" + " & ".join("(" + " <-> ".join(t) + ")" for t in tokens) + ")")
    if not given:
        raise ProviderInvalidQueryError(user_msg="q: give one or more search words (comma-separated: any of them)")
    if given > 50:
        raise ProviderInvalidQueryError(user_msg="q: at most 50 search terms")
    return (" | ".join(simple), " | ".join(dutch)) if simple else None


class PostgreSQLProvider(BaseProvider):
    """A PostGIS table as an OGC API Features collection (see the module docstring).

    Provider keys: ``data`` (libpq DSN), ``table``, ``id_field``, ``geom_field`` (default geom), optional
    ``heights: [ground_column, top_column]`` for EPSG:7415 output.
    """

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.table = provider_def["table"]
        self.dsn = provider_def["data"] if isinstance(provider_def["data"], str) else _dsn(provider_def["data"])
        self.geom_field = provider_def.get("geom_field", "geom")
        self._t = _table(self.dsn, self.table, self.geom_field)
        self.fulltext = self._t.fulltext
        self.heights = provider_def.get("heights")
        if self.id_field not in self._t.columns and self.id_field not in (self._t.pk, "fid"):
            raise ProviderConnectionError(f"PostGIS table {self.table!r} has no column {self.id_field!r}")
        self.get_fields()

    def get_fields(self) -> dict:
        if not self._fields:
            for name, udt in self._t.columns.items():
                self._fields[name] = {"type": _JSON_TYPES.get(udt, "string")}
                if udt in _FORMATS:
                    self._fields[name]["format"] = _FORMATS[udt]
        return self._fields

    # -- queries --------------------------------------------------------------------------------

    def query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None, properties=None,
              sortby=None, select_properties=None, skip_geometry=False, q=None, filterq=None,
              crs_transform_spec=None, **kwargs) -> dict:
        if q and not self.fulltext:
            raise ProviderInvalidQueryError(user_msg="free-text search (q) is not supported by this collection")
        if datetime_:
            raise ProviderInvalidQueryError(user_msg="this collection has no temporal property (datetime)")
        where, params = [], []
        if q:
            terms = tsquery_terms(q)
            if terms is None:
                where.append("FALSE")
            else:
                where.append(f"({_ident(FTS_COLUMN)} @@ (to_tsquery('simple', %s) || to_tsquery('dutch', %s)))")
                params += list(terms)
        for name, value in properties or []:
            where.append(f"{self._column(name)} = %s")
            params.append(self._typed(name, value))
        if bbox:
            area = query_area(bbox)
            if area.is_empty:
                where.append("FALSE")
            else:
                where.append(f"ST_Intersects({_ident(self.geom_field)}, ST_GeomFromWKB(%s, {SRID}))")
                params.append(shapely.to_wkb(area))
        if filterq is not None:
            sql, p = _PgTranslator(self).sql(filterq)
            where.append(sql)
            params += p
        where_sql = " AND ".join(where) or "TRUE"
        table, order = _ident(self.table), _ident(self._t.order)
        response = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        with self._connection() as con:
            matched = (self._t.count if not where else
                       con.execute(f"SELECT count(*) FROM {table} WHERE {where_sql}", params).fetchone()[0])
            response["numberMatched"] = matched
            if resulttype == "hits" or limit == 0 or offset >= matched:
                return response
            cols = self._select(select_properties, skip_geometry)
            if not where and not sortby and self._t.dense is not None:
                rows = con.execute(f"SELECT {cols} FROM {table} WHERE {order} >= %s ORDER BY {order} LIMIT %s",
                                   (self._t.dense + offset, limit)).fetchall()
            else:
                sort = [f"{self._column(s['property'])} {'DESC' if s['order'] == '-' else 'ASC'}"
                        for s in sortby or []] + [f"{order} ASC"]
                rows = con.execute(f"SELECT {cols} FROM {table} WHERE {where_sql} ORDER BY {', '.join(sort)} "
                                   "LIMIT %s OFFSET %s", params + [limit, offset]).fetchall()
        features = self._features(rows, select_properties, skip_geometry, crs_transform_spec)
        response["features"] = features
        response["numberReturned"] = len(features)
        return response

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        key = self.id_field
        try:
            value = (self._typed(key, identifier) if key in self._t.columns else int(identifier))
        except (ValueError, ProviderInvalidQueryError):
            raise ProviderItemNotFoundError(f"item {identifier!r} not found in {self.name}") from None
        try:
            with self._connection() as con:
                rows = con.execute(f"SELECT {self._select(None, False)} FROM {_ident(self.table)} "
                                   f"WHERE {_ident(key)} = %s ORDER BY {_ident(self._t.order)} LIMIT 1",
                                   (value,)).fetchall()
        except ProviderInvalidQueryError:  # an id no row can have (a NUL byte): not found, as on the GeoPackage
            rows = []
        if not rows:
            raise ProviderItemNotFoundError(f"item {identifier!r} not found in {self.name}")
        return self._features(rows, None, False, crs_transform_spec)[0]

    # -- helpers --------------------------------------------------------------------------------

    @contextmanager
    def _connection(self):
        try:
            with _pool(self.dsn).connection() as con:
                yield con
        except psycopg.errors.QueryCanceled as err:
            LOGGER.warning("PostGIS %s: statement cancelled (statement_timeout): %s", self.table, err)
            raise StoreBusyError("statement timeout") from err
        except psycopg.Error as err:
            state = getattr(err, "sqlstate", None) or ""
            client = state[:2] in _CLIENT_SQLSTATE or state in _CLIENT_SQLSTATE
            if client or (isinstance(err, psycopg.DataError) and not state):  # no state: a NUL byte in text
                raise ProviderInvalidQueryError(
                    user_msg=f"the query cannot be evaluated: {err.diag.message_primary or err}") from err
            LOGGER.error("PostGIS table %s: %s: %s", self.table, type(err).__name__, err)
            raise ProviderConnectionError(f"PostGIS {self.table}: {err}") from err

    def _column(self, name: str) -> str:
        if name not in self._t.columns:
            raise ProviderInvalidQueryError(user_msg=f"unknown property {name!r} in collection {self.name}")
        return _ident(name)

    def _typed(self, name: str, value):
        return typed_query_value(name, value, self.fields.get(name, {}).get("type", "string"))

    def _names(self, select_properties, skip_geometry) -> list[str]:
        cols = [self.id_field] + [c for c in self._t.columns
                                  if c != self.id_field and (not select_properties or c in select_properties)]
        if self.heights and not skip_geometry:
            cols += [h for h in self.heights if h not in cols]
        return list(dict.fromkeys(cols))

    def _select(self, select_properties, skip_geometry) -> str:
        cols = [_ident(c) for c in self._names(select_properties, skip_geometry)]
        cols.append("NULL" if skip_geometry else f"ST_AsBinary({_ident(self.geom_field)})")
        return ", ".join(cols)

    def _features(self, rows, select_properties, skip_geometry, crs_transform_spec) -> list[dict]:
        names = self._names(select_properties, skip_geometry)
        geoms = None
        if not skip_geometry:
            geoms = shapely.from_wkb([bytes(r[-1]) if r[-1] is not None else None for r in rows])
        target = crs_transform_spec.target_crs_uri if crs_transform_spec else None
        if geoms is not None and target is not None:
            if get_crs(target) == get_crs(RD_NAP_URI) and self.heights:
                i = names.index(self.heights[0])
                geoms = [shapely.force_3d(g, r[i] if r[i] is not None else 0.0) if g is not None else None
                         for g, r in zip(geoms, rows)]
            else:
                tr = cached_transformer(crs_transform_spec.source_crs_wkt, crs_transform_spec.target_crs_wkt)
                geoms = shapely.transform(geoms, lambda xy: apply_transformer(tr, xy))
        shown = [n for n in names if not select_properties or n in select_properties or n == self.id_field]
        if select_properties and self.id_field not in select_properties:
            shown.remove(self.id_field)
        index = {n: i for i, n in enumerate(names)}
        features = []
        for k, r in enumerate(rows):
            props = {n: _json_value(r[index[n]]) for n in shown}
            geometry = None
            if geoms is not None and geoms[k] is not None:
                geometry = shapely.geometry.mapping(geoms[k])
            features.append({"type": "Feature", "id": _json_value(r[0]), "geometry": geometry,
                             "properties": props})
        return features


def _json_value(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _dsn(data: dict) -> str:
    """pygeoapi's dict form of a connection (host, port, dbname, user, password) as a libpq DSN."""
    keys = {"host": "host", "port": "port", "dbname": "dbname", "database": "dbname", "user": "user",
            "password": "password"}
    return " ".join(f"{keys[k]}='{str(v)}'" for k, v in data.items() if k in keys)


class _PgTranslator(SqlTranslator):
    """The shared CQL2 translator (services.providers.sql) with PostgreSQL's placeholders, booleans and spatial SQL."""

    def __init__(self, provider: PostgreSQLProvider):
        super().__init__(provider, None)

    def _node(self, n, params: list) -> str:
        if isinstance(n, ast.Include):
            return "FALSE" if n.not_ else "TRUE"
        if isinstance(n, bool):
            return "TRUE" if n else "FALSE"
        if isinstance(n, ast.Attribute) and self.p.fields.get(n.name, {}).get("type") == "boolean":
            return f"({self._expr(n, params)})"
        if type(n) in _PG_SPATIAL:
            return self._pg_spatial(_PG_SPATIAL[type(n)], n.lhs, n.rhs, params)
        if isinstance(n, ast.BBox):
            return self._pg_spatial("ST_Intersects", n.lhs, shapely.box(n.minx, n.miny, n.maxx, n.maxy), params)
        return super()._node(n, params)

    def _like(self, n: ast.Like, params: list) -> str:
        out = super()._like(n, params)  # SQLite form, '?' for the pattern
        return out.replace("?", "%s")

    def _expr(self, e, params: list) -> str:
        if isinstance(e, bool):
            params.append(e)
            return "%s"
        out = super()._expr(e, params)
        return "%s" if out == "?" else out

    def _pg_spatial(self, function: str, lhs, rhs, params: list) -> str:
        geom = self._filter_geometry(lhs, rhs)
        params.append(shapely.to_wkb(geom))
        return f"{function}({_ident(self.p.geom_field)}, ST_GeomFromWKB(%s, {SRID}))"
