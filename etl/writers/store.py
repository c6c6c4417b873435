"""The GeoPackage store that services read: one layer per product, RD New, with spatial (R-tree) indexes.

The store is written under a temporary name and moved into place when every layer is in.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio

STORE_NAME = "stadsmodel.gpkg"


def write_store(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    """Write every layer (empty ones too, so the store always has the same collections). Returns counts."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")  # GDAL wants the .gpkg suffix
    tmp.unlink(missing_ok=True)
    counts = {}
    try:
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=tmp.exists(),
                                    layer_options={"SPATIAL_INDEX": "YES"})
            counts[name] = len(frame)
        index_identifiers(tmp, layers)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def index_identifiers(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Index the identifier columns, so an item lookup by BAG/BGT id never scans a whole layer."""
    with sqlite3.connect(path) as con:
        for name, frame in layers.items():
            for column in ("identificatie", "pand_identificatie"):
                if column in frame.columns:
                    con.execute(f'CREATE INDEX IF NOT EXISTS "idx_{name}_{column}" ON "{name}" ("{column}")')
