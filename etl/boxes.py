"""Axis-aligned boxes in RD New (minx, miny, maxx, maxy): extents of inputs, areas, tiles and windows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]


def intersection(a: Sequence[float], b: Sequence[float]) -> Box | None:
    """The part of `a` inside `b` (a shared edge counts), or None when they are apart."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] <= box[2] and box[1] <= box[3] else None


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether the boxes share any point (an edge counts)."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def union(boxes: Sequence[Sequence[float]]) -> Box:
    """The smallest box holding all `boxes`."""
    b = np.asarray(boxes, dtype=float)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
