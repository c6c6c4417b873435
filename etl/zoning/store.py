"""Writes zoning records into the GeoPackage store (stadsmodel.gpkg), RD New, with spatial index.

The store has two writers, each of its own layers as `core.products` assigns them: `build` replaces its layers
as a whole (`etl.writers.store`, carrying every other layer over, `etl.writers.publish`); this module edits the
zoning layers in place and refuses any other.

Re-importing a source replaces its rows rather than adding duplicates: every row carries a `bron_key`
(the plan id for plans, the file name for monument exports); a layer is rewritten with the rows of other
sources kept. Zoning layers are small (thousands of rows), so read-filter-rewrite is simpler and safer
than deleting through the GeoPackage R-tree triggers, which need SpatiaLite functions we cannot load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from core.crs import RD_NEW
from core.products import ZONING_LAYERS

log = logging.getLogger(__name__)

# Layers whose geometries are not all polygons (figuur: lines and points; monuments: points or areas).
MIXED_GEOMETRY = {"figuur", "monumenten"}
# Columns of the articles' full-text index (regels_fts, rowid = regels.fid).


def write_layers(gpkg: Path, layers: dict[str, list[dict[str, Any]]], bron_key: str) -> dict[str, int]:
    """Replace the rows of ``bron_key`` in each named layer by ``layers[name]``; returns rows written per layer.

    A layer named in ``layers`` with an empty list loses that source's rows (a plan that no longer has any
    bouwvlak, say) and is left untouched otherwise.

    :raises ValueError: for a layer that is not a zoning layer (`core.products`): the build's layers are the
        build's to write.
    """
    foreign = [name for name in layers if name not in ZONING_LAYERS]
    if foreign:
        raise ValueError(f"store layers {foreign} are not zoning layers (core.products.ZONING_LAYERS)")
    existing = set(pyogrio.list_layers(gpkg)[:, 0]) if gpkg.exists() else set()
    written = {}
    for name, records in layers.items():
        new = gpd.GeoDataFrame(records, geometry="geometry", crs=RD_NEW) if records else None
        if new is not None:
            new["bron_key"] = bron_key
        old = None
        if name in existing:
            old = pyogrio.read_dataframe(gpkg, layer=name)
            kept = old[old["bron_key"] != bron_key] if "bron_key" in old.columns else old
            if new is None and len(kept) == len(old):
                continue
            old = kept
        if new is None and old is None:
            continue
        frames = [f for f in (old, new) if f is not None and len(f)]
        if not frames:
            frame = (old if old is not None else new).iloc[0:0]
        else:
            frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=RD_NEW)
        geometry_type = "Unknown" if name in MIXED_GEOMETRY else "MultiPolygon"
        pyogrio.write_dataframe(frame, gpkg, layer=name, driver="GPKG", geometry_type=geometry_type,
                                promote_to_multi=name not in MIXED_GEOMETRY,
                                layer_options={"SPATIAL_INDEX": "YES", "FID": "fid"})
        written[name] = 0 if new is None else len(new)
        log.debug("%s: layer %s now %d rows (%d from %s)", gpkg.name, name, len(frame), written[name], bron_key)
    return written
