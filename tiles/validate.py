"""Check a 3D Tiles 1.0 / 1.1 tileset: the project's own checker (the official validator is not
installable here). Used by the tests and by ``stadsmodel tiles validate TILESET``.

What is checked:
- tileset.json structure: asset.version, geometricError, root, one bounding volume per tile of a
  known kind (box / region / sphere) with the right number of values, refine, transform;
- every referenced content exists (external tilesets are checked in turn, in their parent's frame);
- child bounding volumes inside their parent's, content (glTF POSITION bounds, pnts points) inside
  its tile's volume, geometric error not growing down the tree;
- implicit tiling: .subtree files parsed (availability bitstreams or constants), content and child
  subtree availability consistent, every available content and subtree file present;
- glTF / b3dm / pnts content: headers and lengths; EXT_structural_metadata schema classes and
  properties against the property tables (buffer sizes, string offsets), EXT_mesh_features ids
  pointing into existing tables; b3dm batch tables against BATCH_LENGTH;
- optionally (``gltf=True``) the Khronos glTF validator on every glb / b3dm (needs Node.js and the
  npm package ``gltf-validator``).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.config import ROOT
from core.errors import InputError

log = logging.getLogger(__name__)

ABS_TOL = 0.05  # metres: bounding volumes are compared with this slack
_COMPONENT = {5120: ("b", 1), 5121: ("B", 1), 5122: ("h", 2), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
_NUM_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_META_SIZE = {"INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "INT32": 4, "UINT32": 4, "INT64": 8, "UINT64": 8,
              "FLOAT32": 4, "FLOAT64": 8}
_BATCH_SIZE = {"BYTE": 1, "UNSIGNED_BYTE": 1, "SHORT": 2, "UNSIGNED_SHORT": 2, "INT": 4, "UNSIGNED_INT": 4,
               "FLOAT": 4, "DOUBLE": 8}
Y_UP_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


@dataclass(frozen=True)
class Problem:
    where: str  # file and tile / JSON pointer
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


# ---------------------------------------------------------------- bounding volumes


def _is_numbers(v: Any, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)


def _volume_kind(bv: Any) -> str | None:
    if not isinstance(bv, dict):
        return None
    for kind, n in (("box", 12), ("region", 6), ("sphere", 4)):
        if kind in bv:
            return kind if _is_numbers(bv[kind], n) else None
    return None


def _ecef_of_geodetic(lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
    a, f = 6378137.0, 1 / 298.257223563  # WGS84, as the 3D Tiles region
    e2 = f * (2 - f)
    n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    return np.column_stack([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                            (n * (1 - e2) + h) * np.sin(lat)])


def _geodetic_of_ecef(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    lon = np.arctan2(y, x)
    r = np.hypot(x, y)
    lat = np.arctan2(z, r * (1 - e2))
    for _ in range(6):
        n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
        h = r / np.cos(lat) - n
        lat = np.arctan2(z, r * (1 - e2 * n / (n + h)))
    n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    return lon, lat, r / np.cos(lat) - n


def _volume_points(bv: dict, world: np.ndarray) -> np.ndarray:
    """Points (in ECEF / the tileset's world frame) that span a bounding volume."""
    kind = _volume_kind(bv)
    if kind == "box":
        b = np.asarray(bv["box"], dtype=np.float64)
        c, axes = b[:3], b[3:].reshape(3, 3)
        signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=np.float64)
        local = c + signs @ axes
    elif kind == "sphere":
        s = np.asarray(bv["sphere"], dtype=np.float64)
        local = s[:3] + s[3] * np.vstack([np.eye(3), -np.eye(3)])
    else:  # region: radians and heights, never transformed
        w, s, e, n, hmin, hmax = bv["region"]
        lon, lat = np.meshgrid(np.linspace(w, e, 3), np.linspace(s, n, 3))
        lon, lat = lon.ravel(), lat.ravel()
        return np.vstack([_ecef_of_geodetic(lon, lat, np.full(9, h)) for h in (hmin, hmax)])
    return local @ world[:3, :3].T + world[:3, 3]


def _inside(points: np.ndarray, bv: dict, world: np.ndarray) -> float:
    """How far (metres) the farthest of ``points`` lies outside the volume; <= 0 when inside."""
    kind = _volume_kind(bv)
    if kind == "region":
        w, s, e, n, hmin, hmax = bv["region"]
        lon, lat, h = _geodetic_of_ecef(points)
        r = 6378137.0
        out = np.maximum.reduce([(w - lon) * r * np.cos(lat), (lon - e) * r * np.cos(lat), (s - lat) * r,
                                 (lat - n) * r, hmin - h, h - hmax])
        return float(out.max())
    inv = np.linalg.inv(world)
    local = points @ inv[:3, :3].T + inv[:3, 3]
    if kind == "sphere":
        s = np.asarray(bv["sphere"], dtype=np.float64)
        return float((np.linalg.norm(local - s[:3], axis=1) - s[3]).max())
    b = np.asarray(bv["box"], dtype=np.float64)
    axes = b[3:].reshape(3, 3)
    lengths = np.linalg.norm(axes, axis=1)
    unit = np.divide(axes, lengths[:, None], out=np.zeros_like(axes), where=lengths[:, None] > 0)
    d = (local - b[:3]) @ unit.T  # coordinates along the (orthogonal) box axes
    return float((np.abs(d) - lengths).max())


def _transform(t: Any) -> np.ndarray:
    return np.asarray(t, dtype=np.float64).reshape(4, 4).T  # column-major in JSON


# ---------------------------------------------------------------- content


def _glb_chunks(data: bytes, where: str, problems: list[Problem]) -> tuple[dict | None, bytes]:
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


def _view_bytes(doc: dict, binary: bytes, index: Any) -> bytes | None:
    views = doc.get("bufferViews") or []
    if not isinstance(index, int) or not 0 <= index < len(views):
        return None
    v = views[index]
    start = v.get("byteOffset", 0)
    return binary[start:start + v.get("byteLength", 0)]


def _accessor_values(doc: dict, binary: bytes, index: int) -> np.ndarray | None:
    acc = (doc.get("accessors") or [])[index]
    if "bufferView" not in acc or acc.get("componentType") not in _COMPONENT:
        return None
    view = doc["bufferViews"][acc["bufferView"]]
    fmt, size = _COMPONENT[acc["componentType"]]
    n = _NUM_COMPONENTS.get(acc.get("type"), 1)
    stride = view.get("byteStride") or size * n
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(binary, dtype=np.uint8, count=stride * (acc["count"] - 1) + size * n, offset=start) \
        if acc["count"] else np.zeros(0, np.uint8)
    if not acc["count"]:
        return np.zeros((0, n))
    rows = np.lib.stride_tricks.as_strided(raw, shape=(acc["count"], size * n), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(np.dtype(fmt).newbyteorder("<")).reshape(acc["count"], n)


def _node_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return _transform(node["matrix"])
    m = np.eye(4)
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m[:3, :3] = r * np.asarray(node.get("scale", [1, 1, 1]))
    m[:3, 3] = node.get("translation", [0, 0, 0])
    return m


def _gltf_positions(doc: dict, binary: bytes) -> np.ndarray:
    """Every mesh vertex through the node hierarchy, in glTF y-up space (corners of the accessor
    bounds when the data cannot be read)."""
    out = []
    nodes = doc.get("nodes") or []
    scenes = doc.get("scenes") or [{"nodes": list(range(len(nodes)))}]
    stack = [(i, np.eye(4)) for i in scenes[doc.get("scene", 0)].get("nodes", [])]
    while stack:
        i, parent = stack.pop()
        node = nodes[i]
        m = parent @ _node_matrix(node)
        if "mesh" in node:
            for prim in doc["meshes"][node["mesh"]].get("primitives", []):
                ai = prim["attributes"]["POSITION"]
                acc = doc["accessors"][ai]
                p = _accessor_values(doc, binary, ai) if binary else None
                if p is None:
                    if "min" not in acc or "max" not in acc:
                        continue
                    lo, hi = acc["min"], acc["max"]
                    p = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
                p = p.astype(np.float64)
                if acc.get("normalized"):
                    p /= {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}.get(acc["componentType"], 1.0)
                out.append(p @ m[:3, :3].T + m[:3, 3])
        stack += [(c, m) for c in node.get("children", [])]
    return np.vstack(out) if out else np.zeros((0, 3))


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
        for ti, table in enumerate(tables):
            w = f"{where} propertyTables[{ti}]"
            cls = classes.get(table.get("class"))
            if cls is None:
                problems.append(Problem(w, f"class {table.get('class')!r} is not in the schema"))
                continue
            count = table.get("count")
            if not isinstance(count, int) or count < 1:
                problems.append(Problem(w, f"count {count!r} is not a positive integer"))
                continue
            props = cls.get("properties") or {}
            for name, p in props.items():
                if p.get("required") and name not in table.get("properties", {}):
                    problems.append(Problem(w, f"required property {name!r} missing from the table"))
            for name, tp in (table.get("properties") or {}).items():
                p = props.get(name)
                if p is None:
                    problems.append(Problem(w, f"property {name!r} is not in class {table['class']!r}"))
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
                    ids = _accessor_values(doc, binary, acc)
                    if ids is not None and len(ids):
                        nodata = fid.get("nullFeatureId")
                        ids = ids[ids != nodata] if nodata is not None else ids
                        if len(ids) and ids.max() >= tables[t].get("count", 0):
                            problems.append(Problem(w, f"feature id {int(ids.max())} ≥ property table count "
                                                       f"{tables[t].get('count')}"))


def _check_table_property(doc, binary, w, p, tp, count, problems) -> None:
    values = _view_bytes(doc, binary, tp.get("values"))
    if values is None:
        problems.append(Problem(w, f"values bufferView {tp.get('values')!r} does not exist"))
        return
    ptype = p.get("type")
    n_arr = p.get("count", 1) if p.get("array") else 1
    if p.get("array") and "count" not in p:
        return  # variable-length arrays: sizes follow arrayOffsets; not checked
    if ptype == "STRING":
        offsets = _view_bytes(doc, binary, tp.get("stringOffsets"))
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
        need = count * n_arr * _NUM_COMPONENTS.get(ptype, 1) * _META_SIZE[comp]
    if len(values) < need:
        problems.append(Problem(w, f"values hold {len(values)} bytes, {count} rows need {need}"))


def _content_points(path: Path, data: bytes, where: str, problems: list[Problem], tile_world: np.ndarray) -> np.ndarray:
    """Check one content file; return points spanning its geometry in the world frame."""
    magic = data[:4]
    if magic == b"glTF":
        doc, binary = _glb_chunks(data, where, problems)
        if doc is None:
            return np.zeros((0, 3))
        _check_metadata(doc, binary, where, problems, path.parent)
        corners = _gltf_positions(doc, binary)
        world = tile_world @ Y_UP_TO_Z_UP
        rtc = (doc.get("extensions") or {}).get("CESIUM_RTC", {}).get("center")
        if rtc:
            world = world @ _translation(rtc)
        return corners @ world[:3, :3].T + world[:3, 3]
    if magic in (b"b3dm", b"pnts", b"i3dm", b"cmpt"):
        if len(data) < 28:
            problems.append(Problem(where, f"{magic.decode()} shorter than its header"))
            return np.zeros((0, 3))
        length = struct.unpack_from("<I", data, 8)[0]
        if length != len(data):
            problems.append(Problem(where, f"header says {length} bytes, file has {len(data)}"))
            return np.zeros((0, 3))
        if magic == b"b3dm":
            return _check_b3dm(path, data, where, problems, tile_world)
        if magic == b"pnts":
            return _check_pnts(data, where, problems, tile_world)
        return np.zeros((0, 3))  # i3dm / cmpt: header checked only
    problems.append(Problem(where, f"unknown content format (magic {magic!r})"))
    return np.zeros((0, 3))


def _translation(t) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = t
    return m


def _tables(data: bytes, offset: int, jlen: int, blen: int, where: str, what: str, problems) -> tuple[dict, bytes]:
    try:
        js = json.loads(data[offset:offset + jlen]) if jlen else {}
    except ValueError as e:
        problems.append(Problem(where, f"{what} JSON is invalid: {e}"))
        js = {}
    return js, data[offset + jlen: offset + jlen + blen]


def _check_b3dm(path, data, where, problems, tile_world) -> np.ndarray:
    ftj, ftb, btj, btb = struct.unpack_from("<4I", data, 12)
    ft, _ = _tables(data, 28, ftj, ftb, where, "feature table", problems)
    bt, bt_bin = _tables(data, 28 + ftj + ftb, btj, btb, where, "batch table", problems)
    n = ft.get("BATCH_LENGTH")
    if not isinstance(n, int):
        problems.append(Problem(where, "feature table has no BATCH_LENGTH"))
        n = None
    for name, prop in bt.items():
        if name == "extensions" or n is None:
            continue
        if isinstance(prop, list):
            if len(prop) != n:
                problems.append(Problem(where, f"batch table property {name!r} has {len(prop)} values, BATCH_LENGTH {n}"))
        elif isinstance(prop, dict) and "byteOffset" in prop:
            size = _BATCH_SIZE.get(prop.get("componentType"), 0) * _NUM_COMPONENTS.get(prop.get("type"), 1)
            if prop["byteOffset"] + size * n > len(bt_bin):
                problems.append(Problem(where, f"batch table property {name!r} runs past the batch table binary"))
    glb = data[28 + ftj + ftb + btj + btb:]
    world = tile_world
    if "RTC_CENTER" in ft:
        world = world @ _translation(ft["RTC_CENTER"])
    return _content_points(path, glb, where + " (glb)", problems, world)


def _check_pnts(data, where, problems, tile_world) -> np.ndarray:
    ftj, ftb, btj, btb = struct.unpack_from("<4I", data, 12)
    ft, ft_bin = _tables(data, 28, ftj, ftb, where, "feature table", problems)
    n = ft.get("POINTS_LENGTH")
    if not isinstance(n, int):
        problems.append(Problem(where, "feature table has no POINTS_LENGTH"))
        return np.zeros((0, 3))
    if "POSITION" in ft:
        off = ft["POSITION"].get("byteOffset", 0)
        if off + 12 * n > len(ft_bin):
            problems.append(Problem(where, f"POSITION of {n} points runs past the feature table binary"))
            return np.zeros((0, 3))
        pts = np.frombuffer(ft_bin, dtype="<f4", count=3 * n, offset=off).reshape(n, 3).astype(np.float64)
    elif "POSITION_QUANTIZED" in ft:
        off = ft["POSITION_QUANTIZED"].get("byteOffset", 0)
        q = np.frombuffer(ft_bin, dtype="<u2", count=3 * n, offset=off).reshape(n, 3)
        pts = q / 65535.0 * np.asarray(ft["QUANTIZED_VOLUME_SCALE"]) + np.asarray(ft["QUANTIZED_VOLUME_OFFSET"])
    else:
        problems.append(Problem(where, "feature table has neither POSITION nor POSITION_QUANTIZED"))
        return np.zeros((0, 3))
    for name, size in (("RGB", 3), ("RGBA", 4), ("NORMAL", 12)):
        if name in ft and ft[name].get("byteOffset", 0) + size * n > len(ft_bin):
            problems.append(Problem(where, f"{name} of {n} points runs past the feature table binary"))
    if "RTC_CENTER" in ft:
        pts = pts + np.asarray(ft["RTC_CENTER"])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    return box @ tile_world[:3, :3].T + tile_world[:3, 3]


# ---------------------------------------------------------------- the tree


class _Checker:
    def __init__(self, check_content: bool):
        self.problems: list[Problem] = []
        self.check_content = check_content
        self.content_files: list[Path] = []
        self.tiles = 0
        self.contents = 0

    def err(self, where: str, msg: str, severity: str = "error") -> None:
        self.problems.append(Problem(where, msg, severity))

    def tileset(self, path: Path, world: np.ndarray, parent_error: float | None = None, seen: frozenset = frozenset()) -> None:
        where = str(path)
        try:
            ts = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.err(where, "tileset file not found")
            return
        except (OSError, ValueError, UnicodeDecodeError) as e:
            self.err(where, f"not a readable JSON tileset: {e}")
            return
        if not isinstance(ts, dict):
            self.err(where, "tileset JSON is not an object")
            return
        version = (ts.get("asset") or {}).get("version")
        if version not in ("1.0", "1.1"):
            self.err(where, f"asset.version {version!r} is not '1.0' or '1.1'")
        ge = ts.get("geometricError")
        if not isinstance(ge, (int, float)) or ge < 0:
            self.err(where, f"geometricError {ge!r} is not a non-negative number")
            ge = None
        root = ts.get("root")
        if not isinstance(root, dict):
            self.err(where, "no root tile")
            return
        if root.get("refine") not in ("ADD", "REPLACE") and parent_error is None:
            self.err(f"{where} root", "root tile has no refine ('ADD' or 'REPLACE')")
        self.tile(root, path.parent, where, "root", world, None, ge, seen | {path.resolve()})

    def tile(self, t: dict, base: Path, file: str, ptr: str, parent_world: np.ndarray, parent_bv: tuple | None,
             parent_error: float | None, seen: frozenset) -> None:
        self.tiles += 1
        where = f"{file} {ptr}"
        world = parent_world
        if "transform" in t:
            if _is_numbers(t["transform"], 16):
                world = parent_world @ _transform(t["transform"])
            else:
                self.err(where, "transform is not 16 numbers")
        bv = t.get("boundingVolume")
        kind = _volume_kind(bv)
        if kind is None:
            self.err(where, f"boundingVolume {json.dumps(bv)[:80]} is not a valid box (12), region (6) or sphere (4)")
            return
        ge = t.get("geometricError")
        if not isinstance(ge, (int, float)) or ge < 0:
            self.err(where, f"geometricError {ge!r} is not a non-negative number")
            ge = parent_error
        elif parent_error is not None and ge > parent_error + 1e-9:
            self.err(where, f"geometricError {ge} is larger than its parent's {parent_error}")
        if "refine" in t and t["refine"] not in ("ADD", "REPLACE"):
            self.err(where, f"refine {t['refine']!r} is not 'ADD' or 'REPLACE'")
        if parent_bv is not None:
            out = _inside(_volume_points(bv, world), *parent_bv)
            if out > ABS_TOL:
                self.err(where, f"bounding volume reaches {out:.2f} m outside its parent's")
        contents = ([t["content"]] if "content" in t else []) + list(t.get("contents") or [])
        if "implicitTiling" in t:
            self.implicit(t, base, where, world, bv, contents, seen)
        else:
            for content in contents:
                self.content(content, base, where, world, bv, ge, seen)
        for i, child in enumerate(t.get("children") or []):
            self.tile(child, base, file, f"{ptr}.children[{i}]", world, (bv, world), ge, seen)

    def content(self, content: dict, base: Path, where: str, world, bv, ge, seen: frozenset, uri: str | None = None) -> None:
        uri = uri or content.get("uri") or content.get("url")  # 1.0 pre-release used "url"
        if not isinstance(uri, str):
            self.err(where, "content without uri")
            return
        if "://" in uri:
            self.err(where, f"content {uri} is remote, not checked", "warning")
            return
        path = (base / uri.split("?")[0])
        self.contents += 1
        if not path.is_file():
            self.err(where, f"content {uri} does not exist")
            return
        cbv = content.get("boundingVolume")
        if cbv is not None:
            if _volume_kind(cbv) is None:
                self.err(where, f"content {uri}: boundingVolume is not a valid box, region or sphere")
                cbv = None
            elif (out := _inside(_volume_points(cbv, world), bv, world)) > ABS_TOL:
                self.err(where, f"content {uri}: content bounding volume reaches {out:.2f} m outside the tile's")
        if path.suffix.lower() == ".json":
            if path.resolve() in seen:
                self.err(where, f"external tileset {uri} refers back to itself")
            else:
                self.tileset(path, world, ge, seen)
            return
        if not self.check_content:
            return
        self.content_files.append(path)
        data = path.read_bytes()
        pts = _content_points(path, data, str(path), self.problems, world)
        if len(pts):
            for vol, name in ((cbv, "content bounding volume"), (bv, "tile bounding volume")):
                if vol is not None and (out := _inside(pts, vol, world)) > ABS_TOL:
                    self.err(str(path), f"geometry reaches {out:.2f} m outside its {name}")

    # ------------------------------------------------------------ implicit tiling

    def implicit(self, t: dict, base: Path, where: str, world, bv, contents: list, seen: frozenset) -> None:
        it = t["implicitTiling"]
        scheme = it.get("subdivisionScheme")
        if scheme not in ("QUADTREE", "OCTREE"):
            self.err(where, f"implicitTiling.subdivisionScheme {scheme!r} is not QUADTREE or OCTREE")
            return
        levels, sub_levels = it.get("availableLevels"), it.get("subtreeLevels")
        if not (isinstance(levels, int) and levels >= 1 and isinstance(sub_levels, int) and sub_levels >= 1):
            self.err(where, "implicitTiling.availableLevels and subtreeLevels must be positive integers")
            return
        template = (it.get("subtrees") or {}).get("uri")
        if not isinstance(template, str):
            self.err(where, "implicitTiling.subtrees.uri missing")
            return
        if _volume_kind(bv) not in ("box", "region"):
            self.err(where, "an implicit root tile needs a box or region bounding volume")
        octree = scheme == "OCTREE"
        templates = [c.get("uri") for c in contents]
        stack = [(0, 0, 0, 0)]
        while stack:
            level, x, y, z = stack.pop()
            sub_uri = _fill(template, level, x, y, z, octree)
            sub_path = base / sub_uri
            if not sub_path.is_file():
                self.err(where, f"subtree {sub_uri} does not exist")
                continue
            self.subtree(sub_path, level, x, y, z, levels, sub_levels, octree, templates, base, where, world, bv, seen, stack)

    def subtree(self, path: Path, L0: int, x0: int, y0: int, z0: int, levels: int, sub_levels: int, octree: bool,
                templates: list, base: Path, where: str, world, bv, seen, stack: list) -> None:
        sw = str(path)
        data = path.read_bytes()
        if data[:4] == b"subt":
            if len(data) < 24:
                self.err(sw, "subtree shorter than its header")
                return
            _, _, jlen, blen = struct.unpack_from("<4sIQQ", data)
            try:
                js = json.loads(data[24:24 + jlen])
            except ValueError as e:
                self.err(sw, f"subtree JSON is invalid: {e}")
                return
            internal = data[24 + jlen: 24 + jlen + blen]
        else:
            try:
                js = json.loads(data)
            except ValueError as e:
                self.err(sw, f"not a binary (.subtree) or JSON subtree: {e}")
                return
            internal = b""
        buffers = []
        for i, b in enumerate(js.get("buffers") or []):
            if "uri" in b:
                p = path.parent / b["uri"]
                buffers.append(p.read_bytes() if p.is_file() else None)
                if buffers[-1] is None:
                    self.err(sw, f"buffer {i} {b['uri']} does not exist")
            else:
                buffers.append(internal)
            if buffers[-1] is not None and len(buffers[-1]) < b.get("byteLength", 0):
                self.err(sw, f"buffer {i} holds {len(buffers[-1])} bytes, declares {b.get('byteLength')}")
        views = js.get("bufferViews") or []
        branch = 8 if octree else 4
        n_levels = min(sub_levels, levels - L0)
        n_nodes = (branch ** n_levels - 1) // (branch - 1)
        n_children = branch ** n_levels

        def bits(av: Any, n: int, what: str) -> np.ndarray | None:
            if not isinstance(av, dict):
                self.err(sw, f"{what} missing")
                return None
            if "constant" in av:
                return np.full(n, bool(av["constant"]))
            vi = av.get("bitstream", av.get("bufferView"))
            if not isinstance(vi, int) or not 0 <= vi < len(views):
                self.err(sw, f"{what}: bitstream bufferView {vi!r} does not exist")
                return None
            v = views[vi]
            buf = buffers[v.get("buffer", 0)] if v.get("buffer", 0) < len(buffers) else None
            if buf is None:
                return None
            raw = buf[v.get("byteOffset", 0): v.get("byteOffset", 0) + v.get("byteLength", 0)]
            if len(raw) * 8 < n:
                self.err(sw, f"{what}: bitstream of {len(raw) * 8} bits, need {n}")
                return None
            out = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n].astype(bool)
            if "availableCount" in av and int(out.sum()) != av["availableCount"]:
                self.err(sw, f"{what}: availableCount {av['availableCount']} but {int(out.sum())} bits set")
            return out

        tiles = bits(js.get("tileAvailability"), n_nodes, "tileAvailability")
        content_av = [bits(c, n_nodes, f"contentAvailability[{i}]") for i, c in enumerate(js.get("contentAvailability") or [])]
        if tiles is None:
            return
        if templates and len(content_av) != len(templates):
            self.err(sw, f"{len(content_av)} contentAvailability for {len(templates)} contents")
        if not tiles[0]:
            self.err(sw, "the subtree's root tile is not available")
        level_start = 0
        for lv in range(n_levels):
            count = branch ** lv
            idx = np.flatnonzero(tiles[level_start:level_start + count])
            if lv > 0:
                parents = level_start - branch ** (lv - 1) + idx // branch
                orphans = idx[~tiles[parents]]
                for m in orphans[:5]:
                    self.err(sw, f"tile {_coords_str(L0, x0, y0, z0, lv, int(m), octree)} available but its parent is not")
            for ci, cav in enumerate(content_av):
                if cav is None or ci >= len(templates):
                    continue
                cidx = np.flatnonzero(cav[level_start:level_start + count])
                for m in cidx[~tiles[level_start + cidx]][:5]:
                    self.err(sw, f"content at {_coords_str(L0, x0, y0, z0, lv, int(m), octree)} available on an unavailable tile")
                for m in cidx.tolist():
                    gl, gx, gy, gz = _global(L0, x0, y0, z0, lv, m, octree)
                    uri = _fill(templates[ci], gl, gx, gy, gz, octree)
                    self.content({"uri": uri}, base, f"{where} implicit tile {gl}/{gx}/{gy}" + (f"/{gz}" if octree else ""),
                                 world, bv, None, seen, uri)
            level_start += count
        if L0 + n_levels < levels:
            child = bits(js.get("childSubtreeAvailability"), n_children, "childSubtreeAvailability")
            if child is not None:
                for m in np.flatnonzero(child).tolist():
                    stack.append(_global(L0, x0, y0, z0, n_levels, m, octree))


def _deinterleave(m: int, dims: int) -> tuple[int, ...]:
    out = [0] * dims
    bit = 0
    while m:
        for d in range(dims):
            out[d] |= (m & 1) << bit
            m >>= 1
        bit += 1
    return tuple(out)


def _global(L0: int, x0: int, y0: int, z0: int, lv: int, morton: int, octree: bool) -> tuple[int, int, int, int]:
    c = _deinterleave(morton, 3 if octree else 2)
    x = (x0 << lv) + c[0]
    y = (y0 << lv) + c[1]
    z = (z0 << lv) + c[2] if octree else 0
    return L0 + lv, x, y, z


def _coords_str(L0, x0, y0, z0, lv, m, octree) -> str:
    gl, gx, gy, gz = _global(L0, x0, y0, z0, lv, m, octree)
    return f"{gl}/{gx}/{gy}" + (f"/{gz}" if octree else "")


def _fill(template: str, level: int, x: int, y: int, z: int, octree: bool) -> str:
    s = template.replace("{level}", str(level)).replace("{x}", str(x)).replace("{y}", str(y))
    return s.replace("{z}", str(z)) if octree else s


# ---------------------------------------------------------------- glTF validator


def gltf_validator_available() -> bool:
    return shutil.which("node") is not None and (ROOT / "node_modules" / "gltf-validator").is_dir()


def run_gltf_validator(files: list[Path], batch: int = 200) -> list[dict[str, Any]]:
    """Khronos glTF validator reports (errors, warnings, messages) for .glb / .b3dm files."""
    if not gltf_validator_available():
        raise InputError(ROOT / "node_modules" / "gltf-validator",
                         "the glTF validator needs Node.js and 'npm install' (package gltf-validator)")
    script = Path(__file__).with_name("gltf_validator.mjs")
    reports = []
    for i in range(0, len(files), batch):
        chunk = [str(f) for f in files[i:i + batch]]
        res = subprocess.run(["node", str(script), *chunk], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            raise InputError(script, f"glTF validator failed: {res.stderr.strip()[:500]}")
        reports += [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return reports


# ---------------------------------------------------------------- public API


@dataclass
class Report:
    tileset: Path
    problems: list[Problem]
    tiles: int
    contents: int
    content_files: list[Path]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def validate_tileset(tileset: str | Path, check_content: bool = True, gltf: bool = False) -> Report:
    """Check a tileset.json (or a folder holding one) and everything it references.

    :param check_content: open every content file (headers, metadata, geometry inside its volume).
    :param gltf: also run the Khronos glTF validator on every glb / b3dm (problems for its errors).
    """
    path = Path(tileset)
    if path.is_dir():
        path = path / "tileset.json"
    c = _Checker(check_content)
    c.tileset(path, np.eye(4))
    if gltf and c.content_files:
        files = [f for f in c.content_files if f.suffix.lower() in (".glb", ".b3dm")]
        for r in run_gltf_validator(files):
            for m in r["messages"]:
                sev = "error" if m.get("severity") == 0 else "warning"
                c.err(r["file"], f"glTF validator {m.get('code')}: {m.get('message')} ({m.get('pointer', '')})", sev)
    log.info("%s: %d tiles, %d contents, %d problems", path, c.tiles, c.contents, len(c.problems))
    return Report(path, c.problems, c.tiles, c.contents, c.content_files)


def validate_command(tileset: Path, gltf: bool = False) -> int:
    """``stadsmodel tiles validate TILESET|DIR [--gltf]``: print problems; 0 when there are no errors.

    A directory with an ``index.json`` (the output of ``stadsmodel tiles``) checks every tileset in it.
    """
    targets = [tileset]
    if tileset.is_dir() and (tileset / "index.json").is_file() and not (tileset / "tileset.json").is_file():
        index = json.loads((tileset / "index.json").read_text())
        targets = [tileset / t["url"] for t in index.get("tilesets", [])]
    status = 0
    for t in targets:
        report = validate_tileset(t, gltf=gltf)
        for p in report.problems:
            print(p)
        n_err = len(report.errors)
        print(f"{report.tileset}: {report.tiles} tiles, {report.contents} contents, "
              f"{n_err} errors, {len(report.problems) - n_err} warnings")
        if n_err:
            status = 1
    return status
