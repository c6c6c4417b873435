"""Checks of one content file (glb, b3dm, pnts): headers and lengths, EXT_structural_metadata property tables
against their schema, EXT_mesh_features ids against the tables, b3dm batch tables against BATCH_LENGTH; and
the points that span its geometry, for the checker to compare with the tile's bounding volume.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from tiles.validate.formats import (
    NUM_COMPONENTS,
    Y_UP_TO_Z_UP,
    accessor_values,
    glb_chunks,
    gltf_positions,
    table,
    table_lengths,
    translation,
    view_bytes,
)
from tiles.validate.report import Problem

_META_SIZE = {"INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "INT32": 4, "UINT32": 4, "INT64": 8, "UINT64": 8,
              "FLOAT32": 4, "FLOAT64": 8}
_BATCH_SIZE = {"BYTE": 1, "UNSIGNED_BYTE": 1, "SHORT": 2, "UNSIGNED_SHORT": 2, "INT": 4, "UNSIGNED_INT": 4,
               "FLOAT": 4, "DOUBLE": 8}
_NO_POINTS = np.zeros((0, 3))


def content_points(path: Path, data: bytes, where: str, problems: list[Problem], tile_world: np.ndarray) -> np.ndarray:
    """Check one content file; return points spanning its geometry in the world frame."""
    magic = data[:4]
    if magic == b"glTF":
        doc, binary = glb_chunks(data, where, problems)
        if doc is None:
            return _NO_POINTS
        _check_metadata(doc, binary, where, problems, path.parent)
        corners = gltf_positions(doc, binary)
        world = tile_world @ Y_UP_TO_Z_UP
        rtc = (doc.get("extensions") or {}).get("CESIUM_RTC", {}).get("center")
        if rtc:
            world = world @ translation(rtc)
        return corners @ world[:3, :3].T + world[:3, 3]
    if magic in (b"b3dm", b"pnts", b"i3dm", b"cmpt"):
        if len(data) < 28:
            problems.append(Problem(where, f"{magic.decode()} shorter than its header"))
            return _NO_POINTS
        length = struct.unpack_from("<I", data, 8)[0]
        if length != len(data):
            problems.append(Problem(where, f"header says {length} bytes, file has {len(data)}"))
            return _NO_POINTS
        if magic == b"b3dm":
            return _check_b3dm(path, data, where, problems, tile_world)
        if magic == b"pnts":
            return _check_pnts(data, where, problems, tile_world)
        return _NO_POINTS  # i3dm / cmpt: header checked only
    problems.append(Problem(where, f"unknown content format (magic {magic!r})"))
    return _NO_POINTS


def _check_metadata(doc: dict, binary: bytes, where: str, problems: list[Problem], base: Path) -> None:
    ext = (doc.get("extensions") or {}).get("EXT_structural_metadata")
    used = doc.get("extensionsUsed") or []
    tables = []
    if ext is not None:
        if "EXT_structural_metadata" not in used:
            problems.append(Problem(where, "EXT_structural_metadata present but not in extensionsUsed"))
        schema = ext.get("schema")
        if schema is None and "schemaUri" in ext:
            try:
                schema = json.loads((base / ext["schemaUri"]).read_text())
            except (OSError, ValueError) as e:
                problems.append(Problem(where, f"schemaUri {ext['schemaUri']} unreadable: {e}"))
                schema = {}
        if not isinstance(schema, dict):
            problems.append(Problem(where, "EXT_structural_metadata has no schema or schemaUri"))
            schema = {}
        classes = schema.get("classes") or {}
        tables = ext.get("propertyTables") or []
        for ti, ptable in enumerate(tables):
            w = f"{where} propertyTables[{ti}]"
            cls = classes.get(ptable.get("class"))
            if cls is None:
                problems.append(Problem(w, f"class {ptable.get('class')!r} is not in the schema"))
                continue
            count = ptable.get("count")
            if not isinstance(count, int) or count < 1:
                problems.append(Problem(w, f"count {count!r} is not a positive integer"))
                continue
            props = cls.get("properties") or {}
            for name, p in props.items():
                if p.get("required") and name not in ptable.get("properties", {}):
                    problems.append(Problem(w, f"required property {name!r} missing from the table"))
            for name, tp in (ptable.get("properties") or {}).items():
                p = props.get(name)
                if p is None:
                    problems.append(Problem(w, f"property {name!r} is not in class {ptable['class']!r}"))
                    continue
                _check_table_property(doc, binary, f"{w}.{name}", p, tp, count, problems)
    for mi, mesh in enumerate(doc.get("meshes") or []):
        for pi, prim in enumerate(mesh.get("primitives") or []):
            mf = (prim.get("extensions") or {}).get("EXT_mesh_features")
            if not mf:
                continue
            for fi, fid in enumerate(mf.get("featureIds") or []):
                w = f"{where} meshes[{mi}].primitives[{pi}] featureIds[{fi}]"
                t = fid.get("propertyTable")
                if t is not None and not (isinstance(t, int) and 0 <= t < len(tables)):
                    problems.append(Problem(w, f"propertyTable {t} does not exist"))
                    continue
                if "attribute" in fid and t is not None:
                    acc = prim.get("attributes", {}).get(f"_FEATURE_ID_{fid['attribute']}")
                    if acc is None:
                        problems.append(Problem(w, f"attribute _FEATURE_ID_{fid['attribute']} missing"))
                        continue
                    ids = accessor_values(doc, binary, acc)
                    if ids is not None and len(ids):
                        nodata = fid.get("nullFeatureId")
                        ids = ids[ids != nodata] if nodata is not None else ids
                        if len(ids) and ids.max() >= tables[t].get("count", 0):
                            problems.append(Problem(w, f"feature id {int(ids.max())} ≥ property table count "
                                                       f"{tables[t].get('count')}"))


def _check_table_property(doc, binary, w, p, tp, count, problems) -> None:
    """One property of a property table: its buffers hold what ``count`` rows of its type need."""
    values = view_bytes(doc, binary, tp.get("values"))
    if values is None:
        problems.append(Problem(w, f"values bufferView {tp.get('values')!r} does not exist"))
        return
    ptype = p.get("type")
    n_arr = p.get("count", 1) if p.get("array") else 1
    if p.get("array") and "count" not in p:
        return  # variable-length arrays: sizes follow arrayOffsets; not checked
    if ptype == "STRING":
        offsets = view_bytes(doc, binary, tp.get("stringOffsets"))
        if offsets is None:
            problems.append(Problem(w, "STRING property without a valid stringOffsets bufferView"))
            return
        size = _META_SIZE[tp.get("stringOffsetType", "UINT32")]
        n = count * n_arr + 1
        if len(offsets) < n * size:
            problems.append(Problem(w, f"stringOffsets hold {len(offsets) // size} offsets, need {n}"))
            return
        dt = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}[size]
        off = np.frombuffer(offsets, dtype=dt, count=n)
        if (np.diff(off.astype(np.int64)) < 0).any() or int(off[-1]) > len(values):
            problems.append(Problem(w, f"string offsets decrease or run past the {len(values)} value bytes"))
        return
    if ptype == "BOOLEAN":
        need = math.ceil(count * n_arr / 8)
    elif ptype == "ENUM":
        need = count * n_arr * _META_SIZE.get(p.get("enumType", "UINT16"), 2)
    else:
        comp = p.get("componentType")
        if comp not in _META_SIZE:
            problems.append(Problem(w, f"componentType {comp!r} is not valid for {ptype}"))
            return
        need = count * n_arr * NUM_COMPONENTS.get(ptype, 1) * _META_SIZE[comp]
    if len(values) < need:
        problems.append(Problem(w, f"values hold {len(values)} bytes, {count} rows need {need}"))




def _check_b3dm(path, data, where, problems, tile_world) -> np.ndarray:
    ftj, ftb, btj, btb = table_lengths(data)
    ft, _ = table(data, 28, ftj, ftb, where, "feature table", problems)
    bt, bt_bin = table(data, 28 + ftj + ftb, btj, btb, where, "batch table", problems)
    n = ft.get("BATCH_LENGTH")
    if not isinstance(n, int):
        problems.append(Problem(where, "feature table has no BATCH_LENGTH"))
        n = None
    for name, prop in bt.items():
        if name == "extensions" or n is None:
            continue
        if isinstance(prop, list):
            if len(prop) != n:
                problems.append(Problem(where, f"batch table property {name!r} has {len(prop)} values, "
                                               f"BATCH_LENGTH {n}"))
        elif isinstance(prop, dict) and "byteOffset" in prop:
            size = _BATCH_SIZE.get(prop.get("componentType"), 0) * NUM_COMPONENTS.get(prop.get("type"), 1)
            if prop["byteOffset"] + size * n > len(bt_bin):
                problems.append(Problem(where, f"batch table property {name!r} runs past the batch table binary"))
    glb = data[28 + ftj + ftb + btj + btb:]
    world = tile_world
    if "RTC_CENTER" in ft:
        world = world @ translation(ft["RTC_CENTER"])
    return content_points(path, glb, where + " (glb)", problems, world)


def _check_pnts(data, where, problems, tile_world) -> np.ndarray:
    ftj, ftb, btj, btb = table_lengths(data)
    ft, ft_bin = table(data, 28, ftj, ftb, where, "feature table", problems)
    n = ft.get("POINTS_LENGTH")
    if not isinstance(n, int):
        problems.append(Problem(where, "feature table has no POINTS_LENGTH"))
        return _NO_POINTS
    if "POSITION" in ft:
        off = ft["POSITION"].get("byteOffset", 0)
        if off + 12 * n > len(ft_bin):
            problems.append(Problem(where, f"POSITION of {n} points runs past the feature table binary"))
            return _NO_POINTS
        pts = np.frombuffer(ft_bin, dtype="<f4", count=3 * n, offset=off).reshape(n, 3).astype(np.float64)
    elif "POSITION_QUANTIZED" in ft:
        off = ft["POSITION_QUANTIZED"].get("byteOffset", 0)
        q = np.frombuffer(ft_bin, dtype="<u2", count=3 * n, offset=off).reshape(n, 3)
        pts = q / 65535.0 * np.asarray(ft["QUANTIZED_VOLUME_SCALE"]) + np.asarray(ft["QUANTIZED_VOLUME_OFFSET"])
    else:
        problems.append(Problem(where, "feature table has neither POSITION nor POSITION_QUANTIZED"))
        return _NO_POINTS
    for name, size in (("RGB", 3), ("RGBA", 4), ("NORMAL", 12)):
        if name in ft and ft[name].get("byteOffset", 0) + size * n > len(ft_bin):
            problems.append(Problem(where, f"{name} of {n} points runs past the feature table binary"))
    if "RTC_CENTER" in ft:
        pts = pts + np.asarray(ft["RTC_CENTER"])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    return box @ tile_world[:3, :3].T + tile_world[:3, 3]
