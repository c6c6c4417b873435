"""The writer of the DTM and DSM: Cloud-Optimised GeoTIFFs (RD New, NAP heights) over the model's grid.

The single-machine build gives the whole grid as one array; the tiled build gives its tiles' GeoTIFFs, which are
assembled one at a time into a staging GeoTIFF beside the product. Both are then copied into a COG with the same
options, so the two builds write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import rasterio.windows
from rasterio.io import MemoryFile

from core.atomic import atomic_path, temporary_sibling
from core.crs import RD_NEW
from etl.boxes import overlaps
from etl.grid import GridSpec

# DEFLATE for the widest client support; level 1 writes in 2/3 of the time of the default for ~the same size.
# Blocks are compressed on every core (GDAL writes them in the same order: the same bytes, in 2/3 of the time).
COG_OPTIONS = {"driver": "COG", "compress": "DEFLATE", "level": 1, "predictor": "3", "blocksize": 512,
               "overview_resampling": "average", "num_threads": "ALL_CPUS"}


def write_cog(path: Path, spec: GridSpec, nodata: float, array: np.ndarray | None = None,
              parts: Iterable[Path] = ()) -> None:
    """The grid `spec` as a COG: from `array` (the whole grid), or else assembled from the GeoTIFFs `parts`
    (each on the same grid; the part of one beyond `spec` is left out, cells no part covers are nodata)."""
    profile = {"driver": "GTiff", "width": spec.width, "height": spec.height, "count": 1, "dtype": "float32",
               "crs": RD_NEW, "transform": spec.transform, "nodata": nodata}
    if array is not None:
        with MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(array.astype(np.float32), 1)
            with mem.open() as src:
                _copy_as_cog(src, path)
        return
    # A staging file on disk, not in memory: the whole model grid need never fit in memory.
    staging = temporary_sibling(path.with_name(f"{path.stem}-staging{path.suffix}"))
    try:
        with rasterio.open(staging, "w", **profile, tiled=True, blockxsize=512, blockysize=512,
                           BIGTIFF="IF_SAFER") as dst:
            for part in parts:
                _paste(part, dst, spec)
        with rasterio.open(staging) as src:
            _copy_as_cog(src, path)
    finally:
        staging.unlink(missing_ok=True)


def _paste(part: Path, dst, spec: GridSpec) -> None:
    with rasterio.open(part) as src:
        b = src.bounds
        if not overlaps((b.left, b.bottom, b.right, b.top), spec.bounds):
            return
        win = rasterio.windows.from_bounds(b.left, b.bottom, b.right, b.top, spec.transform)
        win = win.round_offsets().round_lengths()
        inter = win.intersection(rasterio.windows.Window(0, 0, spec.width, spec.height))
        src_win = rasterio.windows.Window(inter.col_off - win.col_off, inter.row_off - win.row_off,
                                          inter.width, inter.height)
        dst.write(src.read(1, window=src_win), 1, window=inter)


def _copy_as_cog(src, path: Path) -> None:
    with atomic_path(path) as tmp:
        rasterio.shutil.copy(src, tmp, **COG_OPTIONS)
