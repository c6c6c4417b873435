"""CityJSON 2.0 and CityJSONSeq writers over the model's city objects.

Vertices are quantised (`transform`), the reference system is EPSG:7415 (RD New + NAP). Files are written
under a temporary name and moved into place, so a half-written model is never mistaken for a complete one.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from stadsmodel.crs import CITYJSON_CRS_URI

GeometryFactory = Callable[[int], tuple[np.ndarray, dict]]


@dataclass
class CityObject:
    id: str
    type: str
    attributes: dict[str, Any]
    geometry: GeometryFactory | None  # called with the index its first vertex gets

    def __post_init__(self) -> None:
        # plain JSON values once, though the object is written twice (CityJSON and CityJSONSeq)
        self.attributes = {k: json_value(v) for k, v in self.attributes.items()}


def json_value(v: Any) -> Any:
    """Plain JSON for numpy scalars; NaN and pandas' missing values become null."""
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if hasattr(v, "isoformat"):  # dates and timestamps
        return None if v != v else v.isoformat()
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return v


def make_transform(mins: Iterable[float], scale: float) -> dict:
    # Whole-metre translate: quantised coordinates then depend only on the data, not on float noise.
    return {"scale": [scale, scale, scale], "translate": [float(math.floor(m)) for m in mins]}


def _quantise(vertices: np.ndarray, transform: dict) -> list[list[int]]:
    q = np.round((vertices - np.asarray(transform["translate"])) / np.asarray(transform["scale"]))
    return q.astype(np.int64).tolist()


def _cityobject(o: CityObject, geometry: dict | None) -> dict:
    co: dict[str, Any] = {"type": o.type, "attributes": o.attributes}
    co["geometry"] = [geometry] if geometry else []
    return co


def header(transform: dict, extent: list[float] | None, title: str) -> dict:
    meta: dict[str, Any] = {"referenceSystem": CITYJSON_CRS_URI, "title": title}
    if extent:
        meta["geographicalExtent"] = extent
    return {"type": "CityJSON", "version": "2.0", "transform": transform, "CityObjects": {}, "vertices": [],
            "metadata": meta}


def _extent(vertices: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in (*vertices.min(axis=0), *vertices.max(axis=0))]


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_cityjson(objects: list[CityObject], path: Path, scale: float, title: str = "Stadsmodel") -> dict:
    """One CityJSON document with a shared vertex list. Returns its transform and extent."""
    city_objects, chunks, base = {}, [], 0
    for o in objects:
        geometry = None
        if o.geometry is not None:
            verts, geometry = o.geometry(base)
            chunks.append(verts)
            base += len(verts)
        city_objects[o.id] = _cityobject(o, geometry)
    vertices = np.vstack(chunks) if chunks else np.zeros((0, 3))
    mins = vertices.min(axis=0) if len(vertices) else np.zeros(3)
    transform = make_transform(mins, scale)
    doc = header(transform, _extent(vertices) if len(vertices) else None, title)
    doc["CityObjects"] = city_objects
    doc["vertices"] = _quantise(vertices, transform)
    # json.dumps, not json.dump: only the one-shot encoder runs in C (json.dump encodes in Python, ~5x slower)
    _write_atomic(path, lambda f: f.write(json.dumps(doc, separators=(",", ":"))))
    return {"transform": transform, "extent": doc["metadata"].get("geographicalExtent")}


def feature(o: CityObject, transform: dict) -> dict:
    """One CityJSONFeature with its own vertex list (quantised with the header's transform)."""
    geometry, vertices = None, []
    if o.geometry is not None:
        verts, geometry = o.geometry(0)
        vertices = _quantise(verts, transform)
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": {o.id: _cityobject(o, geometry)},
            "vertices": vertices}


def write_cityjsonseq(objects: list[CityObject], path: Path, transform: dict, extent: list[float] | None,
                      title: str = "Stadsmodel") -> None:
    """CityJSONSeq: the header on the first line, then one CityJSONFeature per line (streamable)."""
    def write(f):
        f.write(json.dumps(header(transform, extent, title), separators=(",", ":")) + "\n")
        for o in objects:
            f.write(json.dumps(feature(o, transform), separators=(",", ":")) + "\n")

    _write_atomic(path, write)
