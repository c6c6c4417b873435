"""Elevation grids accumulated from streamed points: the DTM (mean of ground and water points per cell)
and the DSM (highest point per cell), in RD New with north-up rows, NAP heights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.fill import fillnodata
from rasterio.transform import Affine, from_origin

from core.errors import LiftingError


@dataclass
class GridSpec:
    minx: float
    maxy: float
    width: int
    height: int
    resolution: float

    @classmethod
    def covering(cls, minx: float, miny: float, maxx: float, maxy: float, resolution: float) -> GridSpec:
        # Snap to the resolution so rasters of neighbouring runs line up cell for cell; one cell of margin
        # keeps points and vertices that lie exactly on the far edge inside.
        x0 = np.floor(minx / resolution) * resolution
        y1 = np.ceil(maxy / resolution) * resolution
        width = int(np.floor((maxx - x0) / resolution)) + 1
        height = int(np.floor((y1 - miny) / resolution)) + 1
        return cls(float(x0), float(y1), width, height, resolution)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """minx, miny, maxx, maxy of the grid's cells."""
        return (self.minx, self.maxy - self.height * self.resolution, self.minx + self.width * self.resolution,
                self.maxy)

    @property
    def transform(self) -> Affine:
        return from_origin(self.minx, self.maxy, self.resolution, self.resolution)

    def cell_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat cell index per point and a mask of the points inside the grid."""
        col = np.floor((x - self.minx) / self.resolution).astype(np.int64)
        row = np.floor((self.maxy - y) / self.resolution).astype(np.int64)
        inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        return row * self.width + col, inside


class ElevationGrids:
    """Streams points into the DTM and DSM accumulators; memory is a few bytes per cell, not per point."""

    def __init__(self, spec: GridSpec):
        self.spec = spec
        n = spec.width * spec.height
        try:
            self._dtm_sum = np.zeros(n, dtype=np.float64)
            self._dtm_count = np.zeros(n, dtype=np.uint32)
            self._dsm = np.full(n, -np.inf, dtype=np.float32)
        except MemoryError:
            raise LiftingError(
                f"the DTM/DSM grid of {spec.width:,} × {spec.height:,} cells at {spec.resolution} m "
                f"({n * 16 / 2**30:.1f} GiB) does not fit in memory: the area is too large for one machine, "
                "use the tiled build (--tile-size)") from None

    def add(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, is_ground: np.ndarray, is_surface: np.ndarray) -> None:
        idx, inside = self.spec.cell_index(x, y)
        g = inside & is_ground
        ig = idx[g]
        if len(ig):
            # Sums over the cells from the chunk's first to its last only (a chunk covers a strip of the grid),
            # added as one partial sum per cell: the same floats as a bincount over the whole grid.
            lo = int(ig.min())
            ig -= lo
            sums = np.bincount(ig, weights=z[g])
            hi = lo + len(sums)
            self._dtm_sum[lo:hi] += sums
            np.add(self._dtm_count[lo:hi], np.bincount(ig, minlength=len(sums)), out=self._dtm_count[lo:hi],
                   casting="unsafe")
        s = inside & is_surface
        np.maximum.at(self._dsm, idx[s], z[s])

    def dtm(self, nodata: float, fill_distance_cells: int = 0, pad: bool = True) -> np.ndarray:
        """Mean ground height per cell (2D, float32); empty cells are `nodata`, or filled by inverse-distance
        interpolation from cells up to `fill_distance_cells` away (holes under buildings).

        :param pad: fill as if the grid went on beyond its edges (see below); not needed for the cells that
            lie `fill_distance_cells` or more inside the edges.
        """
        has = self._dtm_count > 0
        out = np.full(self._dtm_sum.size, nodata, dtype=np.float32)
        out[has] = (self._dtm_sum[has] / self._dtm_count[has]).astype(np.float32)
        out = out.reshape(self.spec.height, self.spec.width)
        if fill_distance_cells and not has.all() and has.any():
            # GDAL's fill follows chains of neighbouring cells, so a cell near the edge of the array gets another
            # value than the same cell inside a larger array. Padding by the search distance makes every cell's
            # value depend on its surroundings only: a tile's window and the whole area then agree cell for cell.
            p = fill_distance_cells if pad else 0
            padded = np.full((out.shape[0] + 2 * p, out.shape[1] + 2 * p), nodata, dtype=np.float32)
            padded[p:p + out.shape[0], p:p + out.shape[1]] = out
            mask = np.zeros(padded.shape, dtype=np.uint8)
            mask[p:p + out.shape[0], p:p + out.shape[1]] = has.reshape(out.shape)
            filled = fillnodata(padded, mask=mask, max_search_distance=fill_distance_cells, smoothing_iterations=0)
            out = filled[p:p + out.shape[0], p:p + out.shape[1]]
        return out

    def dsm(self, nodata: float) -> np.ndarray:
        out = self._dsm.copy()
        out[~np.isfinite(out)] = nodata
        return out.reshape(self.spec.height, self.spec.width)


def sample(grid: np.ndarray, spec: GridSpec, x: np.ndarray, y: np.ndarray, nodata: float) -> np.ndarray:
    """Grid value at each point (nearest cell); NaN outside the grid or on nodata."""
    idx, inside = spec.cell_index(x, y)
    out = np.full(len(x), np.nan, dtype=np.float64)
    flat = grid.reshape(-1)
    vals = flat[idx[inside]].astype(np.float64)
    vals[vals == nodata] = np.nan
    out[inside] = vals
    return out
