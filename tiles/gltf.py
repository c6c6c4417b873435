"""Write one tile's triangles as a binary glTF 2.0 (.glb) with per-feature ids and properties.

- positions quantised to UNSIGNED_SHORT with the node's translation/scale (KHR_mesh_quantization)
  when that keeps every vertex within :data:`MAX_QUANTISATION_ERROR`, float32 otherwise;
- normals as normalised BYTE (KHR_mesh_quantization);
- ``_FEATURE_ID_0`` per vertex + EXT_mesh_features, pointing into an EXT_structural_metadata
  property table (one row per feature of the tile);
- one primitive per surface class (roof, wall, ground, or terrain type), sharing the vertex data,
  each with its own material colour.

glTF is y-up; 3D Tiles rotates glTF content to z-up, so local ENU (e, n, u) is written as (e, u, -n).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tiles.mesh import Mesh, column_extent
from tiles.metadata import TileProperties

MAX_QUANTISATION_ERROR = 0.002  # metres, per axis: half a quantisation step

_BYTE, _UBYTE, _SHORT, _USHORT, _UINT, _FLOAT = 5120, 5121, 5122, 5123, 5125, 5126
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
GENERATOR = "stadsmodel tiles"


def enu_to_yup(a: np.ndarray) -> np.ndarray:
    return np.column_stack([a[:, 0], a[:, 2], -a[:, 1]])


class _Bin:
    """The BIN chunk: buffer views appended with the alignment their use needs."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.views: list[dict[str, Any]] = []

    def add(self, data: bytes, align: int = 4, target: int | None = None, stride: int | None = None) -> int:
        pad = (-self.size) % align
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target:
            view["target"] = target
        if stride:
            view["byteStride"] = stride
        self.parts.append(data)
        self.size += len(data)
        self.views.append(view)
        return len(self.views) - 1

    def bytes(self) -> bytes:
        data = b"".join(self.parts)
        return data + b"\0" * ((-len(data)) % 4)


def glb_bytes(mesh: Mesh, table: TileProperties, materials: list[tuple[str, tuple[float, float, float]]]) -> bytes:
    """The .glb of a tile: ``mesh.vertex_feature`` numbers the rows of ``table``; ``materials[c]`` is
    (name, rgb) or (name, rgba) for surface class c (alpha < 1: alphaMode BLEND)."""
    pos = enu_to_yup(mesh.positions)
    nrm = enu_to_yup(mesh.normals.astype(np.float64))
    nv = len(pos)
    lo, hi = column_extent(pos)
    extent = float((hi - lo).max())
    step = extent / 65535.0 if extent > 0 else 1.0
    quantised = step / 2 <= MAX_QUANTISATION_ERROR
    b = _Bin()
    accessors: list[dict[str, Any]] = []
    extensions_used = ["EXT_mesh_features", "EXT_structural_metadata"]
    node: dict[str, Any] = {"mesh": 0, "translation": lo.tolist()}

    if quantised:
        q = np.rint((pos - lo) / step).astype(np.uint16)
        padded = np.zeros((nv, 4), np.uint16)
        padded[:, :3] = q
        view = b.add(padded.tobytes(), target=_ARRAY_BUFFER, stride=8)
        qlo, qhi = column_extent(q)
        accessors.append({"bufferView": view, "componentType": _USHORT, "count": nv, "type": "VEC3",
                          "min": qlo.tolist(), "max": qhi.tolist()})
        node["scale"] = [step, step, step]
        n8 = np.zeros((nv, 4), np.int8)
        n8[:, :3] = np.clip(np.rint(nrm * 127.0), -127, 127)
        view = b.add(n8.tobytes(), target=_ARRAY_BUFFER, stride=4)
        accessors.append({"bufferView": view, "componentType": _BYTE, "normalized": True, "count": nv, "type": "VEC3"})
        extensions_used.append("KHR_mesh_quantization")
    else:
        f = (pos - lo).astype(np.float32)
        view = b.add(f.tobytes(), target=_ARRAY_BUFFER)
        flo, fhi = column_extent(f)
        accessors.append({"bufferView": view, "componentType": _FLOAT, "count": nv, "type": "VEC3",
                          "min": flo.tolist(), "max": fhi.tolist()})
        view = b.add(nrm.astype(np.float32).tobytes(), target=_ARRAY_BUFFER)
        accessors.append({"bufferView": view, "componentType": _FLOAT, "count": nv, "type": "VEC3"})

    nfeat = table.count
    if nfeat <= 65535:
        fid = np.zeros((nv, 2), np.uint16)
        fid[:, 0] = mesh.vertex_feature
        view = b.add(fid.tobytes(), target=_ARRAY_BUFFER, stride=4)
        accessors.append({"bufferView": view, "componentType": _USHORT, "count": nv, "type": "SCALAR"})
    else:
        view = b.add(mesh.vertex_feature.astype(np.float32).tobytes(), target=_ARRAY_BUFFER)
        accessors.append({"bufferView": view, "componentType": _FLOAT, "count": nv, "type": "SCALAR"})
    attributes = {"POSITION": 0, "NORMAL": 1, "_FEATURE_ID_0": 2}

    order = np.argsort(mesh.triangle_class, kind="stable")
    tri = mesh.triangles[order]
    cls = mesh.triangle_class[order]
    index_type, index_dtype = (_USHORT, np.uint16) if nv <= 65535 else (_UINT, np.uint32)
    index_view = b.add(tri.astype(index_dtype).tobytes(), target=_ELEMENT_ARRAY_BUFFER)
    primitives, gl_materials = [], []
    classes, starts = np.unique(cls, return_index=True)
    ends = np.append(starts[1:], len(cls))
    size = np.dtype(index_dtype).itemsize
    for c, s, e in zip(classes.tolist(), starts.tolist(), ends.tolist()):
        accessors.append({"bufferView": index_view, "byteOffset": s * 3 * size, "componentType": index_type,
                          "count": (e - s) * 3, "type": "SCALAR"})
        name, rgb = materials[c]  # rgb, or rgba: an alpha below 1 is a translucent (alpha-blended) material
        colour = [*rgb[:3], float(rgb[3]) if len(rgb) > 3 else 1.0]
        material = {"name": name, "pbrMetallicRoughness": {
            "baseColorFactor": colour, "metallicFactor": 0.0, "roughnessFactor": 0.9}, "doubleSided": True}
        if colour[3] < 1.0:
            material["alphaMode"] = "BLEND"
        gl_materials.append(material)
        primitives.append({"attributes": attributes, "indices": len(accessors) - 1, "material": len(gl_materials) - 1,
                           "mode": 4, "extensions": {"EXT_mesh_features": {"featureIds": [
                               {"featureCount": nfeat, "attribute": 0, "propertyTable": 0}]}}})

    properties = {}
    for name, parts in table.columns:
        # a bufferView may not be empty (e.g. a column of only empty strings): keep one byte
        prop = {"values": b.add(parts["values"] or b"\0", align=8)}
        if "stringOffsets" in parts:
            prop["stringOffsets"] = b.add(parts["stringOffsets"], align=8)
        properties[name] = prop

    binary = b.bytes()
    doc = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "extensionsUsed": extensions_used,
        "extensionsRequired": ["KHR_mesh_quantization"] if quantised else [],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [node],
        "meshes": [{"primitives": primitives}],
        "materials": gl_materials,
        "accessors": accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": len(binary)}],
        "extensions": {"EXT_structural_metadata": {
            "schema": table.schema,
            "propertyTables": [{"class": table.class_name, "count": nfeat, "properties": properties}]}},
    }
    if not doc["extensionsRequired"]:
        del doc["extensionsRequired"]
    js = orjson.dumps(doc)
    js += b" " * ((-len(js)) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<I4s", len(js), b"JSON"), js,
                     struct.pack("<I4s", len(binary), b"BIN\0"), binary])


def write_glb(path: Path, mesh: Mesh, table: TileProperties, materials) -> int:
    data = glb_bytes(mesh, table, materials)
    path.write_bytes(data)
    return len(data)
