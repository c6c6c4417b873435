"""The writer of the GeoPackage store's build layers (buildings, building_solids, addresses, bgt_*): RD New, with
spatial (R-tree) indexes and an index on every identifier column. A layer given as a plain DataFrame (no geometry,
building_solids) becomes a GeoPackage attributes table (gpkg_contents data_type 'attributes').

The single-machine build gives each layer as one frame, the tiled build as one chunk per tile; both go through
`write_store`, so the two stores have the same tables, columns and indexes. Which layers `build` may write and
which belong to an importer is `core.products.is_etl_layer`. The store is written under a temporary name and
moved into place when every layer is in.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from core.atomic import atomic_path
from core.products import is_etl_layer

STORE_BATCH_ROWS = 100_000  # rows gathered from chunks per GeoPackage write: few writes, bounded memory
IDENTIFIER_COLUMNS = ("identificatie", "pand_identificatie")


@dataclass(frozen=True)
class StoreLayer:
    """A layer's rows as frames (the whole layer in one, or a chunk per tile), and its schema: an empty frame
    with its columns, written when no frame has rows (the store always has the same collections)."""

    schema: pd.DataFrame  # a GeoDataFrame, or a DataFrame for an attributes table
    frames: Iterable[pd.DataFrame]

    @classmethod
    def whole(cls, frame: pd.DataFrame) -> StoreLayer:
        return cls(frame.iloc[:0], (frame,))


def write_store(path: Path, layers: Mapping[str, StoreLayer], as_of: str | None = None) -> dict[str, int]:
    """Write every layer, in the order given, reading its frames one at a time. Returns the rows per layer.

    :param as_of: the timestamp GDAL records as last_change (OGR_CURRENT_DATE), for a reproducible file.
    :raises ValueError: for a layer `build` does not own (it belongs to an importer, see `core.products`).
    """
    foreign = [name for name in layers if not is_etl_layer(name)]
    if foreign:
        raise ValueError(f"store layers {foreign} belong to an importer, not to the build")
    counts: dict[str, int] = {}
    with atomic_path(path) as tmp, _gdal_current_date(as_of):
        for name, layer in layers.items():
            counts[name] = 0
            for batch in _batches(layer.frames):
                _write_layer(tmp, name, batch, append=counts[name] > 0)
                counts[name] += len(batch)
            if not counts[name]:
                _write_layer(tmp, name, layer.schema, append=False)
        index_identifiers(tmp, {name: layer.schema for name, layer in layers.items()})
    return counts


def _batches(frames: Iterable[gpd.GeoDataFrame]) -> Iterator[gpd.GeoDataFrame]:
    """The non-empty frames gathered into batches of at least STORE_BATCH_ROWS rows (the last may be smaller)."""
    batch, rows = [], 0
    for frame in frames:
        if not len(frame):
            continue
        batch.append(frame)
        rows += len(frame)
        if rows >= STORE_BATCH_ROWS:
            yield _concat(batch)
            batch, rows = [], 0
    if batch:
        yield _concat(batch)


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _write_layer(path: Path, name: str, frame: gpd.GeoDataFrame, append: bool) -> None:
    spatial = isinstance(frame, gpd.GeoDataFrame)
    pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", append=append,
                            layer_options={"SPATIAL_INDEX": "YES"} if spatial else None)


@contextlib.contextmanager
def _gdal_current_date(as_of: str | None) -> Iterator[None]:
    if as_of is None:
        yield
        return
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": as_of})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def index_identifiers(path: Path, layers: Mapping[str, pd.DataFrame]) -> None:
    """Index the identifier columns, so an item lookup by BAG/BGT id never scans a whole layer."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        for name, frame in layers.items():
            for column in IDENTIFIER_COLUMNS:
                if column in frame.columns:
                    con.execute(f'CREATE INDEX IF NOT EXISTS "idx_{name}_{column}" ON "{name}" ("{column}")')
