"""Readers: one per source, each turning the files as delivered into GeoDataFrames in RD New.

- `etl.readers.bgt.read_bgt` — BGT (IMGeo GML zip/folder/files, GeoPackage/SQLite) -> `BgtResult`
- `etl.readers.bag.read_bag` — BAG 2.0 extract (nested zips/XML, GeoPackage, GeoJSON) -> `BagResult`
- `etl.readers.ahn` — AHN point clouds (LAS/LAZ)
- `etl.readers.gml` — GML geometry (arcs stroked) and streaming XML, shared by BGT and BAG

Readers never stop on one bad feature: they skip it and record file, feature id and reason in a
`SkipLog`. A missing or unreadable file is an `InputError`.

This module holds the plumbing the vector readers share: expanding inputs, reading a
GeoPackage/GeoJSON layer robustly, and mapping source column names onto ours with alias tables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from core.crs import RD_BOUNDS, RD_NEW
from core.errors import InputError, SkipLog

log = logging.getLogger(__name__)

# Vector formats read through GDAL (pyogrio), by suffix.
VECTOR_SUFFIXES = (".gpkg", ".sqlite", ".db", ".geojson", ".json", ".fgb", ".shp")

_RD_EPSG = (28992, 7415)


def require_exists(path: Path) -> Path:
    """The path itself, or an InputError naming it when it does not exist."""
    if not path.exists():
        raise InputError(path, "file or folder not found")
    return path


def normalise_column(name: str) -> str:
    """Column names compared case- and punctuation-blind: ``bgt-fysiekVoorkomen`` -> ``bgt_fysiekvoorkomen``."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def map_columns(frame: pd.DataFrame, aliases: Mapping[str, tuple[str, ...]]) -> pd.DataFrame:
    """Our columns from a source frame: for each target, the first alias the source has (else None).

    :param aliases: target column -> source names in order of preference (compared normalised).
    """
    present = {normalise_column(c): c for c in frame.columns}
    out = {}
    for target, names in aliases.items():
        source = next((present[n] for n in map(normalise_column, names) if n in present), None)
        out[target] = (frame[source] if source is not None
                       else pd.Series([None] * len(frame), index=frame.index, dtype=object))
    return pd.DataFrame(out, index=frame.index)


def list_layers(path: Path) -> list[tuple[str, str | None]]:
    """(layer name, geometry type) of a vector file."""
    try:
        return [(str(n), None if g is None else str(g)) for n, g in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise InputError(path, f"cannot open as a vector file: {exc}") from None


def read_vector_layer(path: Path, layer: str, notes: list[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """One layer of a GeoPackage/SQLite/GeoJSON file in RD New, 2D, without trusting its geometry.

    Geometry that GEOS cannot decode (e.g. an unclosed ring in the WKB) becomes None, flagged in the
    returned boolean array so the caller can report it as unparsable rather than missing.

    :param notes: receives a line when the layer had to be assumed or reprojected into RD New.
    :raises InputError: when the file or layer cannot be read.
    """
    try:
        meta, _fids, wkb, fields = pyogrio.raw.read(path, layer=layer, return_fids=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError, OSError) as exc:
        raise InputError(path, f"cannot read layer {layer!r}: {exc}") from None
    frame = pd.DataFrame({str(name): values for name, values in zip(meta["fields"], fields)})
    if wkb is None:
        wkb = np.full(len(frame), None, dtype=object)
    geometry = shapely.from_wkb(wkb, on_invalid="ignore")
    unparsable = np.array([w is not None for w in wkb], dtype=bool) & shapely.is_missing(geometry)
    geometry = shapely.force_2d(geometry)
    crs = meta.get("crs")
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=crs or RD_NEW)
    if crs is None:
        notes.append(f"{path} [{layer}]: no CRS stated, assumed RD New (EPSG:28992)")
    elif CRS.from_user_input(crs).to_epsg() not in _RD_EPSG:
        # Offline pyproj has no Dutch grids: fine for a vector layer (≈1 m), not for heights.
        notes.append(f"{path} [{layer}]: reprojected from {crs} to RD New (EPSG:28992), accuracy about 1 m")
        gdf = gdf.to_crs(RD_NEW)
    gdf = gdf.set_crs(RD_NEW, allow_override=True)
    return gdf, unparsable


def outside_rd(geometry: shapely.Geometry | np.ndarray) -> bool | np.ndarray:
    """True when a geometry lies outside the RD New extent (a sign of another CRS, e.g. lon/lat).

    Element-wise for an array of geometries (None and empty count as outside).
    """
    minx, miny, maxx, maxy = np.moveaxis(shapely.bounds(geometry), -1, 0)
    x0, y0, x1, y1 = RD_BOUNDS
    return ~((x0 <= minx) & (maxx <= x1) & (y0 <= miny) & (maxy <= y1))


def geometry_problems(geometry: np.ndarray, unparsable: np.ndarray) -> list[str | None]:
    """Per feature, why its geometry is unusable (missing, unparsable, invalid, outside RD), or None."""
    valid = shapely.is_valid(geometry)
    reasons: list[str | None] = []
    for geom, ok, bad_wkb in zip(geometry, valid, unparsable):
        if bad_wkb:
            reasons.append("unparsable geometry (corrupt WKB, e.g. an unclosed ring)")
        elif geom is None:
            reasons.append("missing geometry")
        elif geom.is_empty:
            reasons.append("empty geometry")
        elif not ok:
            reasons.append(f"invalid geometry: {shapely.is_valid_reason(geom)}")
        elif outside_rd(geom):
            reasons.append("coordinates outside the RD New extent (wrong CRS?)")
        else:
            reasons.append(None)
    return reasons


def record_skips(skipped: SkipLog, path: Path | str, ids: pd.Series, reasons: list[str | None]) -> np.ndarray:
    """Add every row with a reason to the SkipLog; return the mask of rows to keep."""
    keep = np.array([r is None for r in reasons], dtype=bool)
    for feature, reason in zip(ids, reasons):
        if reason is not None:
            skipped.add(path, None if pd.isna(feature) else str(feature), reason)
    return keep
