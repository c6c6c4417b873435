"""Read-only GeoPackage access without SpatiaLite (this Python's sqlite3 cannot load extensions): layer
metadata from the GeoPackage's own tables, bounding-box lookups on its R-tree indexes, and geometry blobs,
which are a GeoPackage header (spec 2.1.3) followed by standard WKB that shapely reads."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import shapely

# Envelope size in bytes per header envelope indicator (flags bits 1-3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def gpkg_to_wkb(blob: bytes) -> bytes:
    """The WKB part of a GeoPackage geometry blob (header: magic, version, flags, srs_id, envelope)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    envelope = (blob[3] >> 1) & 0b111
    return blob[8 + _ENVELOPE_BYTES[envelope]:]


def gpkg_geometries(blobs: list[bytes | None]):
    """Decode GeoPackage blobs to shapely geometries in one vectorised call (None stays None)."""
    return shapely.from_wkb([gpkg_to_wkb(b) if b else None for b in blobs])


# --- read-only metadata and R-tree access ----------------------------------------------------------------
# The R-tree of a layer (spec 2.1.3 extension "gpkg_rtree_index") is the table rtree_<table>_<geometry column>,
# one row per feature: id (the feature's primary key), minx, maxx, miny, maxy.
_ENVELOPE_MEETS = "r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ?"

Bounds = tuple[float, float, float, float]  # minx, miny, maxx, maxy in the layer's CRS


@dataclass(frozen=True)
class Layer:
    """A feature layer as the GeoPackage's own tables describe it."""

    name: str
    geometry_column: str
    srs_id: int
    columns: dict[str, str]  # every column (primary key and geometry included) → declared type, upper case
    primary_key: str | None
    rtree: str | None  # the R-tree table, when the layer has one
    extent: Bounds | None  # gpkg_contents' extent, else the R-tree's, else None (an empty layer)


def connect(path: str | Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection: a server never changes the store it serves."""
    # as_uri() percent-encodes '?', '#' and '%' in the path, which a bare file: URI would misread
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=check_same_thread)


def quote(name: str) -> str:
    """An SQL identifier (layer and column names come from the file, not from us)."""
    return '"' + name.replace('"', '""') + '"'


def feature_layers(con: sqlite3.Connection, name: str | None = None) -> dict[str, Layer]:
    """The feature layers (or the one called ``name``), by name, in gpkg_contents order."""
    sql = ("SELECT c.table_name, g.column_name, g.srs_id, c.min_x, c.min_y, c.max_x, c.max_y FROM gpkg_contents c "
           "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'")
    rows = con.execute(sql + (" AND c.table_name = ?" if name else ""), (name,) if name else ()).fetchall()
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    layers = {}
    for table, geom, srs_id, *extent in rows:
        info = con.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        columns = {r[1]: (r[2] or "TEXT").upper().split("(")[0] for r in info}
        primary_key = next((r[1] for r in info if r[5] == 1), None)
        rtree = f"rtree_{table}_{geom}" if f"rtree_{table}_{geom}" in tables else None
        bounds = tuple(extent) if None not in extent else _rtree_extent(con, rtree)
        layers[table] = Layer(table, geom, srs_id, columns, primary_key, rtree, bounds)
    return layers


def _rtree_extent(con: sqlite3.Connection, rtree: str | None) -> Bounds | None:
    if rtree is None:
        return None
    bounds = con.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {quote(rtree)}").fetchone()
    return None if None in bounds else tuple(bounds)


def envelope_candidates(con: sqlite3.Connection, layer: Layer, bounds: Bounds) -> list[tuple[int, bool]]:
    """(primary key, envelope lies inside ``bounds``) of every feature whose envelope meets ``bounds``."""
    minx, miny, maxx, maxy = bounds
    return [(i, bool(inside)) for i, inside in con.execute(
        f"SELECT r.id, r.minx >= ? AND r.maxx <= ? AND r.miny >= ? AND r.maxy <= ? "
        f"FROM {quote(layer.rtree)} r WHERE {_ENVELOPE_MEETS}",
        (minx, maxx, miny, maxy, minx, maxx, miny, maxy))]


def rows_meeting(con: sqlite3.Connection, layer: Layer, bounds: Bounds) -> list:
    """Every column of the features whose envelope meets ``bounds`` (one R-tree lookup)."""
    minx, miny, maxx, maxy = bounds
    return con.execute(f"SELECT t.* FROM {quote(layer.name)} t JOIN {quote(layer.rtree)} r "
                       f"ON t.{quote(layer.primary_key or 'rowid')} = r.id WHERE {_ENVELOPE_MEETS}",
                       (minx, maxx, miny, maxy)).fetchall()


def attribute_tables(con: sqlite3.Connection) -> list[str]:
    """The attributes tables (gpkg_contents data_type 'attributes': rows without geometry, so no OGC API
    collection), in gpkg_contents order."""
    return [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'attributes'")]


# SQLite's default limit on host parameters in one statement is 32766; a page of items stays far below a chunk.
_IN_CHUNK = 900


def rows_with(con: sqlite3.Connection, table: str, column: str, values: list, columns: list[str]) -> list[tuple]:
    """``columns`` of the rows of ``table`` whose ``column`` is one of ``values`` (one lookup per chunk)."""
    select = ", ".join(quote(c) for c in columns)
    out = []
    for i in range(0, len(values), _IN_CHUNK):
        chunk = list(values[i:i + _IN_CHUNK])
        out += con.execute(f"SELECT {select} FROM {quote(table)} WHERE {quote(column)} IN "
                           f"({', '.join('?' * len(chunk))})", chunk).fetchall()
    return out
