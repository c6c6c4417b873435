"""AHN point clouds for lifting: the points the ETL needs (RD x, y, NAP z, class), in chunks of bounded size.

Opening, the header, CRS and extent checks and the truncation checks are core.lasfile's (shared with tiles/);
this module only turns laspy's records into the compact arrays lifting works on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.lasfile import LasFile, iter_las_chunks


@dataclass
class PointChunk:
    x: np.ndarray  # float64, RD New metres
    y: np.ndarray
    z: np.ndarray  # float32, NAP metres
    classification: np.ndarray  # uint8


def iter_point_chunks(info: LasFile, chunk_points: int) -> Iterator[PointChunk]:
    """Stream the points of one file (see :func:`core.lasfile.iter_las_chunks` for a file that breaks off)."""
    for points in iter_las_chunks(info, chunk_points):
        yield PointChunk(
            x=np.asarray(points.x, dtype=np.float64),
            y=np.asarray(points.y, dtype=np.float64),
            z=np.asarray(points.z, dtype=np.float32),
            classification=np.asarray(points.classification, dtype=np.uint8),
        )
