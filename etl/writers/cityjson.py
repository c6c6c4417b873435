"""The writer of model.city.json (CityJSON 2.0, one shared vertex list) and model.city.jsonl (CityJSONSeq).

Both files are written in one streamed pass over CityJSONFeatures whose vertices are already quantised with the
model's transform: the single-machine build passes the features of its city objects (`quantised_features`), the
tiled build those of its tiles, read tile by tile, so the tiled assembly never holds the model. A feature may
hold several CityObjects (a Building and its BuildingParts); the CityJSON document gets each of them. The reference
system is EPSG:7415 (RD New + NAP); each file appears only when complete (core.atomic).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_open
from core.cityjson import CityObject, encode, feature, header, make_transform

TITLE = "Stadsmodel"
_COMPACT = (",", ":")


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
    features = [feature(o, transform, encoded) for o, encoded in made]
    return transform, _extent(vertices), features


def write_cityjsonseq(path: Path, transform: dict, extent: list[float] | None, features: Iterable[dict]) -> None:
    """CityJSONSeq alone: the header on the first line, then one CityJSONFeature per line (a tile's features)."""
    with atomic_open(path) as f:
        f.write(json.dumps(header(transform, extent, TITLE), separators=_COMPACT) + "\n")
        for feat in features:
            f.write(json.dumps(feat, separators=_COMPACT) + "\n")


def write_model(json_path: Path, seq_path: Path, transform: dict, extent: list[float] | None,
                features: Iterable[dict]) -> int:
    """model.city.json and model.city.jsonl from `features` (quantised with `transform`), in one pass.

    The CityJSON document's vertices come after its objects, so they are staged in a temporary file meanwhile;
    the document has the key order and bytes of one ``json.dumps`` of it. Returns the number of features.
    """
    head = header(transform, extent, TITLE)
    n, objects, base = 0, 0, 0
    with atomic_open(seq_path) as seq, atomic_open(json_path) as doc, \
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=json_path.parent) as vertices:
        seq.write(json.dumps(head, separators=_COMPACT) + "\n")
        doc.write('{"type":"CityJSON","version":"2.0","transform":' + json.dumps(transform, separators=_COMPACT)
                  + ',"CityObjects":{')
        for feat in features:
            # The vertex list is most of the bytes: encode it once for both files. A CityJSONFeature has its
            # vertices last (core.cityjson.feature), so the line is the bytes of one json.dumps of `feat`.
            verts = feat["vertices"]
            text = json.dumps(verts, separators=_COMPACT)
            rest = json.dumps({k: v for k, v in feat.items() if k != "vertices"}, separators=_COMPACT)
            seq.write(rest[:-1] + ',"vertices":' + text + "}\n")
            for oid, co in feat["CityObjects"].items():  # the feature's object, then its parts
                co = {**co, "geometry": [{**g, "boundaries": _offset(g["boundaries"], base)} for g in co["geometry"]]}
                doc.write(("," if objects else "") + json.dumps(oid) + ":" + json.dumps(co, separators=_COMPACT))
                objects += 1
            if verts:
                vertices.write(("," if base else "") + text[1:-1])
                base += len(verts)
            n += 1
        doc.write('},"vertices":[')
        vertices.seek(0)
        shutil.copyfileobj(vertices, doc, 1 << 20)
        doc.write('],"metadata":' + json.dumps(head["metadata"], separators=_COMPACT) + "}")
    return n


def _offset(boundaries: Any, base: int) -> Any:
    """Vertex indices of a feature's own list → indices into the shared list, where its vertices start at `base`."""
    if boundaries and isinstance(boundaries[0], list):
        return [_offset(b, base) for b in boundaries]
    return [i + base for i in boundaries]
