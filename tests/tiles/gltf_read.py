"""Read back what tiles/ wrote: glb vertices in ECEF per feature id, and the decoded property table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pygltflib

from tiles.validate.formats import Y_UP_TO_Z_UP, accessor_values, node_matrix
from tiles.validate.volumes import column_major

_DTYPES = {"INT8": "<i1", "INT32": "<i4", "INT64": "<i8", "FLOAT32": "<f4", "FLOAT64": "<f8", "UINT32": "<u4"}


def load(path: Path) -> tuple[dict, bytes]:
    g = pygltflib.GLTF2().load(str(path))
    return json.loads(g.to_json()), g.binary_blob()


def view(doc: dict, binary: bytes, i: int) -> bytes:
    v = doc["bufferViews"][i]
    return binary[v.get("byteOffset", 0): v.get("byteOffset", 0) + v["byteLength"]]


def vertices_ecef(doc: dict, binary: bytes, tile_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ECEF positions, feature id) of every vertex of the single-node glb."""
    node = doc["nodes"][0]
    prim = doc["meshes"][node["mesh"]]["primitives"][0]
    pos = accessor_values(doc, binary, prim["attributes"]["POSITION"]).astype(np.float64)
    fid = accessor_values(doc, binary, prim["attributes"]["_FEATURE_ID_0"])[:, 0].astype(np.int64)
    m = tile_world @ Y_UP_TO_Z_UP @ node_matrix(node)
    return pos @ m[:3, :3].T + m[:3, 3], fid


def property_table(doc: dict, binary: bytes) -> list[dict]:
    ext = doc["extensions"]["EXT_structural_metadata"]
    table = ext["propertyTables"][0]
    props = ext["schema"]["classes"][table["class"]]["properties"]
    n = table["count"]
    cols = {}
    for name, tp in table["properties"].items():
        p = props[name]
        raw = view(doc, binary, tp["values"])
        if p["type"] == "STRING":
            off = np.frombuffer(view(doc, binary, tp["stringOffsets"]), "<u4", count=n + 1)
            vals = [raw[off[i]:off[i + 1]].decode() for i in range(n)]
        elif p["type"] == "BOOLEAN":
            vals = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n].astype(bool).tolist()
        else:
            vals = np.frombuffer(raw, _DTYPES[p["componentType"]], count=n).tolist()
        nd = p.get("noData")
        cols[name] = [None if nd is not None and v == nd else v for v in vals]
    return [{k: cols[k][i] for k in cols} for i in range(n)]


def leaf_contents(tileset: Path) -> list[tuple[Path, np.ndarray]]:
    """(glb path, world matrix) of every content of an explicit tileset."""
    ts = json.loads(tileset.read_text())
    out = []

    def walk(t, parent):
        w = parent @ column_major(t["transform"]) if "transform" in t else parent
        if "content" in t:
            out.append((tileset.parent / t["content"]["uri"], w))
        for c in t.get("children", []):
            walk(c, w)

    walk(ts["root"], np.eye(4))
    return out


def triangles_ecef(doc: dict, binary: bytes, tile_world: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per primitive of the single-node glb: (material name, triangle corners (nt, 3, 3) in ECEF, feature id
    of each triangle)."""
    node = doc["nodes"][0]
    ecef, fid = vertices_ecef(doc, binary, tile_world)
    out = []
    for prim in doc["meshes"][node["mesh"]]["primitives"]:
        tri = accessor_values(doc, binary, prim["indices"]).astype(np.int64).reshape(-1, 3)
        out.append((doc["materials"][prim["material"]]["name"], ecef[tri], fid[tri[:, 0]]))
    return out
