"""CityJSON 2.0 and CityJSONSeq writers over the model's city objects.

Vertices are quantised (`transform`), the reference system is EPSG:7415 (RD New + NAP). Files are written
under a temporary name and moved into place, so a half-written model is never mistaken for a complete one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.atomic import atomic_open
from core.cityjson import CityObject, cityobject_dict, feature, header, make_transform, quantise


def _extent(vertices: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in (*vertices.min(axis=0), *vertices.max(axis=0))]


def write_cityjson(objects: list[CityObject], path: Path, scale: float, title: str = "Stadsmodel") -> dict:
    """One CityJSON document with a shared vertex list. Returns its transform and extent."""
    city_objects, chunks, base = {}, [], 0
    for o in objects:
        geometry = None
        if o.geometry is not None:
            verts, geometry = o.geometry(base)
            chunks.append(verts)
            base += len(verts)
        city_objects[o.id] = cityobject_dict(o, geometry)
    vertices = np.vstack(chunks) if chunks else np.zeros((0, 3))
    mins = vertices.min(axis=0) if len(vertices) else np.zeros(3)
    transform = make_transform(mins, scale)
    doc = header(transform, _extent(vertices) if len(vertices) else None, title)
    doc["CityObjects"] = city_objects
    doc["vertices"] = quantise(vertices, transform)
    # json.dumps, not json.dump: only the one-shot encoder runs in C (json.dump encodes in Python, ~5x slower)
    with atomic_open(path) as f:
        f.write(json.dumps(doc, separators=(",", ":")))
    return {"transform": transform, "extent": doc["metadata"].get("geographicalExtent")}


def write_cityjsonseq(objects: list[CityObject], path: Path, transform: dict, extent: list[float] | None,
                      title: str = "Stadsmodel") -> None:
    """CityJSONSeq: the header on the first line, then one CityJSONFeature per line (streamable)."""
    with atomic_open(path) as f:
        f.write(json.dumps(header(transform, extent, title), separators=(",", ":")) + "\n")
        for o in objects:
            f.write(json.dumps(feature(o, transform), separators=(",", ":")) + "\n")
