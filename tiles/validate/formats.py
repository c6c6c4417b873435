"""Parsing of tile content: binary glTF (chunks, accessors, node transforms) and the b3dm / pnts tables.

Readers only, with no judgement beyond what they need to go on: the checks are tiles/validate/content.py's.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from tiles.validate.report import Problem
from tiles.validate.volumes import column_major

_COMPONENT = {5120: ("b", 1), 5121: ("B", 1), 5122: ("h", 2), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
NUM_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_NORMALISED_MAX = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}
Y_UP_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


def glb_chunks(data: bytes, where: str, problems: list[Problem]) -> tuple[dict | None, bytes]:
    """The JSON document and the binary chunk of a glb (None and b"" when it is not a readable glb)."""
    if len(data) < 20 or data[:4] != b"glTF":
        problems.append(Problem(where, "not a binary glTF (no 'glTF' magic)"))
        return None, b""
    _, version, length = struct.unpack_from("<4sII", data)
    if version != 2:
        problems.append(Problem(where, f"glTF version {version}, expected 2"))
    if length != len(data):
        problems.append(Problem(where, f"glb header says {length} bytes, content has {len(data)}"))
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    if jtype != b"JSON":
        problems.append(Problem(where, "first glb chunk is not JSON"))
        return None, b""
    try:
        doc = json.loads(data[20:20 + jlen])
    except ValueError as e:
        problems.append(Problem(where, f"glb JSON chunk is not valid JSON: {e}"))
        return None, b""
    binary = b""
    off = 20 + jlen
    if off + 8 <= len(data):
        blen, btype = struct.unpack_from("<I4s", data, off)
        if btype == b"BIN\0":
            binary = data[off + 8: off + 8 + blen]
    return doc, binary


def view_bytes(doc: dict, binary: bytes, index: Any) -> bytes | None:
    """The bytes of a bufferView, None when there is no such view."""
    views = doc.get("bufferViews") or []
    if not isinstance(index, int) or not 0 <= index < len(views):
        return None
    v = views[index]
    start = v.get("byteOffset", 0)
    return binary[start:start + v.get("byteLength", 0)]


def accessor_values(doc: dict, binary: bytes, index: int) -> np.ndarray | None:
    """An accessor's values as (count, components), None when it has no data of a known type."""
    acc = (doc.get("accessors") or [])[index]
    if "bufferView" not in acc or acc.get("componentType") not in _COMPONENT:
        return None
    view = doc["bufferViews"][acc["bufferView"]]
    fmt, size = _COMPONENT[acc["componentType"]]
    n = NUM_COMPONENTS.get(acc.get("type"), 1)
    if not acc["count"]:
        return np.zeros((0, n))
    stride = view.get("byteStride") or size * n
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(binary, dtype=np.uint8, count=stride * (acc["count"] - 1) + size * n, offset=start)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(acc["count"], size * n), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(np.dtype(fmt).newbyteorder("<")).reshape(acc["count"], n)


def node_matrix(node: dict) -> np.ndarray:
    """A glTF node's local transform (``matrix``, or translation · rotation · scale)."""
    if "matrix" in node:
        return column_major(node["matrix"])
    m = np.eye(4)
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m[:3, :3] = r * np.asarray(node.get("scale", [1, 1, 1]))
    m[:3, 3] = node.get("translation", [0, 0, 0])
    return m


def translation(t) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = t
    return m


def gltf_positions(doc: dict, binary: bytes) -> np.ndarray:
    """Every mesh vertex through the node hierarchy, in glTF y-up space (corners of the accessor
    bounds when the data cannot be read)."""
    out = []
    nodes = doc.get("nodes") or []
    scenes = doc.get("scenes") or [{"nodes": list(range(len(nodes)))}]
    stack = [(i, np.eye(4)) for i in scenes[doc.get("scene", 0)].get("nodes", [])]
    while stack:
        i, parent = stack.pop()
        node = nodes[i]
        m = parent @ node_matrix(node)
        if "mesh" in node:
            for prim in doc["meshes"][node["mesh"]].get("primitives", []):
                ai = prim["attributes"]["POSITION"]
                acc = doc["accessors"][ai]
                p = accessor_values(doc, binary, ai) if binary else None
                if p is None:
                    if "min" not in acc or "max" not in acc:
                        continue
                    lo, hi = acc["min"], acc["max"]
                    p = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
                p = p.astype(np.float64)
                if acc.get("normalized"):
                    p /= _NORMALISED_MAX.get(acc["componentType"], 1.0)
                out.append(p @ m[:3, :3].T + m[:3, 3])
        stack += [(c, m) for c in node.get("children", [])]
    return np.vstack(out) if out else np.zeros((0, 3))


def table_lengths(data: bytes) -> tuple[int, int, int, int]:
    """The four table lengths of a b3dm / pnts header: feature table JSON and binary, batch table JSON and binary."""
    return struct.unpack_from("<4I", data, 12)


def table(data: bytes, offset: int, jlen: int, blen: int, where: str, what: str,
          problems: list[Problem]) -> tuple[dict, bytes]:
    """A feature or batch table of a b3dm / pnts: its JSON header and its binary body."""
    try:
        js = json.loads(data[offset:offset + jlen]) if jlen else {}
    except ValueError as e:
        problems.append(Problem(where, f"{what} JSON is invalid: {e}"))
        js = {}
    return js, data[offset + jlen: offset + jlen + blen]
