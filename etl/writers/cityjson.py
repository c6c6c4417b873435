"""The writer of model.city.json (CityJSON 2.0, one shared vertex list) and model.city.jsonl (CityJSONSeq).

Both files are written in one streamed pass over CityJSONFeatures whose vertices are already quantised with the
model's transform: the single-machine build passes the features of its city objects (`quantised_features`), the
tiled build those of its tiles, read tile by tile, so the tiled assembly never holds the model. A feature may
hold several CityObjects (a Building and its BuildingParts); the CityJSON document gets each of them. The reference
system is EPSG:7415 (RD New + NAP); each file appears only when complete (core.atomic).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core.atomic import atomic_open
from core.cityjson import CityObject, encode, features, header, make_transform

TITLE = "Stadsmodel"
_COMPACT = (",", ":")


def _dumps(value: Any) -> bytes:
    """The bytes of ``json.dumps(value, separators=(",", ":"))``, by orjson where they are the same.

    orjson writes the same compact JSON (key order, escapes, shortest round-trip floats) but for text beyond
    printable ASCII (json escapes it: non-ASCII and DEL), floats below 1e-4 (orjson: "0.00001" for "1e-05",
    "5e-9" for "5e-09") and values it refuses (numpy scalars, non-string keys); those go to json. NaN, which
    json writes as NaN and orjson as null, never reaches a model (core.cityjson.json_value).
    """
    try:
        out = orjson.dumps(value)
    except TypeError:
        out = None
    if (out is None or not out.isascii() or b"\x7f" in out or b"0.0000" in out
            or (b"e-" in out and _SHORT_EXPONENT.search(out))):
        return json.dumps(value, separators=_COMPACT).encode()
    return out


_SHORT_EXPONENT = re.compile(rb"\de-\d(?!\d)")


def _dumps_vertices(vertices: np.ndarray | list) -> bytes:
    """A vertex list as ``json.dumps`` writes it: an int64 array (core.cityjson.features) straight from numpy,
    the same digits as its list; a list (a tile's features, read back) as any value."""
    if isinstance(vertices, np.ndarray):
        return orjson.dumps(np.ascontiguousarray(vertices, dtype=np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
    return _dumps(vertices)


def _feature_line(feat: dict) -> tuple[bytes, bytes]:
    """A CityJSONFeature's CityJSONSeq line (the bytes of one json.dumps of it: its vertices come last, as
    core.cityjson makes it) and its encoded vertex list."""
    verts = _dumps_vertices(feat["vertices"])
    rest = _dumps({k: v for k, v in feat.items() if k != "vertices"})
    return rest[:-1] + b',"vertices":' + verts + b"}\n", verts


def _extent(vertices: np.ndarray) -> list[float] | None:
    if not len(vertices):
        return None
    return [round(float(v), 3) for v in (*vertices.min(axis=0), *vertices.max(axis=0))]


def quantised_features(objects: Iterable[CityObject], scale: float) -> tuple[dict, list[float] | None, list[dict]]:
    """The transform (whole-metre translate at the objects' lowest corner), the extent and the CityJSONFeatures of
    `objects` (a Building with its BuildingParts in one feature), quantised with that transform. Each geometry
    is made once."""
    made = [(o, encode(o)) for o in objects]
    chunks = [verts for _, (verts, _) in made if len(verts)]
    vertices = np.vstack(chunks) if chunks else np.zeros((0, 3))
    transform = make_transform(vertices.min(axis=0) if len(vertices) else np.zeros(3), scale)
    quantised = features(made, transform, vertices)
    return transform, _extent(vertices), quantised


def write_cityjsonseq(path: Path, transform: dict, extent: list[float] | None, features: Iterable[dict]) -> None:
    """CityJSONSeq alone: the header on the first line, then one CityJSONFeature per line (a tile's features)."""
    with atomic_open(path, "wb") as f:
        f.write(_dumps(header(transform, extent, TITLE)) + b"\n")
        for feat in features:
            f.write(_feature_line(feat)[0] if isinstance(feat["vertices"], np.ndarray) else _dumps(feat) + b"\n")


def write_model(json_path: Path, seq_path: Path, transform: dict, extent: list[float] | None,
                features: Iterable[dict]) -> int:
    """model.city.json and model.city.jsonl from `features` (quantised with `transform`), in one pass.

    The CityJSON document's vertices come after its objects, so they are staged in a temporary file meanwhile;
    the document has the key order and bytes of one ``json.dumps`` of it. Returns the number of features.
    """
    head = header(transform, extent, TITLE)
    n, objects, base = 0, 0, 0
    with atomic_open(seq_path, "wb") as seq, atomic_open(json_path, "wb") as doc, \
            tempfile.TemporaryFile("w+b", dir=json_path.parent) as vertices:
        seq.write(_dumps(head) + b"\n")
        doc.write(b'{"type":"CityJSON","version":"2.0","transform":' + _dumps(transform) + b',"CityObjects":{')
        for feat in features:
            # The vertex list is most of the bytes: encode it once for both files. A CityJSONFeature has its
            # vertices last (core.cityjson.feature), so the line is the bytes of one json.dumps of `feat`.
            line, text = _feature_line(feat)
            seq.write(line)
            for oid, co in feat["CityObjects"].items():  # the feature's object, then its parts
                if base:
                    co = {**co, "geometry": [{**g, "boundaries": _offset(g["boundaries"], base)}
                                             for g in co["geometry"]]}
                doc.write((b"," if objects else b"") + _dumps(oid) + b":" + _dumps(co))
                objects += 1
            if len(feat["vertices"]):
                vertices.write((b"," if base else b"") + text[1:-1])
                base += len(feat["vertices"])
            n += 1
        doc.write(b'},"vertices":[')
        vertices.seek(0)
        shutil.copyfileobj(vertices, doc, 1 << 20)
        doc.write(b'],"metadata":' + _dumps(head["metadata"]) + b"}")
    return n


def _offset(boundaries: Any, base: int) -> Any:
    """Vertex indices of a feature's own list → indices into the shared list, where its vertices start at `base`."""
    if boundaries and isinstance(boundaries[0], list):
        return [_offset(b, base) for b in boundaries]
    return [i + base for i in boundaries]
