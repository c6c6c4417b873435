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
- the content itself (tiles/validate/content.py): glTF / b3dm / pnts headers, metadata, feature ids;
- optionally (``gltf=True``) the Khronos glTF validator on every glb / b3dm (tiles/validate/gltf_validator.py).
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.products import TILES_INDEX
from tiles.validate.content import content_points
from tiles.validate.gltf_validator import run_gltf_validator
from tiles.validate.report import Problem, Report
from tiles.validate.volumes import column_major, distance_outside, is_numbers, volume_kind, volume_points

log = logging.getLogger(__name__)

ABS_TOL = 0.05  # metres: bounding volumes are compared with this slack


def validate_tileset(tileset: str | Path, check_content: bool = True, gltf: bool = False) -> Report:
    """Check a tileset.json (or a folder holding one) and everything it references.

    :param check_content: open every content file (headers, metadata, geometry inside its volume).
    :param gltf: also run the Khronos glTF validator on every glb / b3dm (problems for its errors).
    :raises ToolMissing: ``gltf`` without Node.js or the npm package gltf-validator.
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


def tileset_targets(path: Path) -> list[Path]:
    """The tilesets to check for a path: a folder written by ``stadsmodel tiles`` (an index.json and no
    tileset.json of its own) stands for every tileset its index lists; anything else for itself."""
    path = Path(path)
    index = path / TILES_INDEX
    if path.is_dir() and index.is_file() and not (path / "tileset.json").is_file():
        try:
            entries = json.loads(index.read_text(encoding="utf-8")).get("tilesets", [])
            return [path / t["url"] for t in entries]
        except (ValueError, AttributeError, TypeError, KeyError) as err:
            raise InputError(index, f"not an index of tilesets (a 'tilesets' list of entries with a 'url'): "
                                    f"{type(err).__name__}: {err}") from None
    return [path]


class _Checker:
    """Walks one tileset tree (and the external tilesets it refers to), collecting Problems and counts."""

    def __init__(self, check_content: bool):
        self.problems: list[Problem] = []
        self.check_content = check_content
        self.content_files: list[Path] = []
        self.tiles = 0
        self.contents = 0

    def err(self, where: str, msg: str, severity: str = "error") -> None:
        self.problems.append(Problem(where, msg, severity))

    def tileset(self, path: Path, world: np.ndarray, parent_error: float | None = None,
                seen: frozenset = frozenset()) -> None:
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
            if is_numbers(t["transform"], 16):
                world = parent_world @ column_major(t["transform"])
            else:
                self.err(where, "transform is not 16 numbers")
        bv = t.get("boundingVolume")
        kind = volume_kind(bv)
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
            out = distance_outside(volume_points(bv, world), *parent_bv)
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

    def content(self, content: dict, base: Path, where: str, world, bv, ge, seen: frozenset,
                uri: str | None = None) -> None:
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
            if volume_kind(cbv) is None:
                self.err(where, f"content {uri}: boundingVolume is not a valid box, region or sphere")
                cbv = None
            elif (out := distance_outside(volume_points(cbv, world), bv, world)) > ABS_TOL:
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
        pts = content_points(path, data, str(path), self.problems, world)
        if len(pts):
            for vol, name in ((cbv, "content bounding volume"), (bv, "tile bounding volume")):
                if vol is not None and (out := distance_outside(pts, vol, world)) > ABS_TOL:
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
        if volume_kind(bv) not in ("box", "region"):
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
            self.subtree(sub_path, level, x, y, z, levels, sub_levels, octree, templates, base, where, world, bv, seen,
                         stack)

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
        content_av = [bits(c, n_nodes, f"contentAvailability[{i}]")
                      for i, c in enumerate(js.get("contentAvailability") or [])]
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
                    tile = _coords_str(L0, x0, y0, z0, lv, int(m), octree)
                    self.err(sw, f"tile {tile} available but its parent is not")
            for ci, cav in enumerate(content_av):
                if cav is None or ci >= len(templates):
                    continue
                cidx = np.flatnonzero(cav[level_start:level_start + count])
                for m in cidx[~tiles[level_start + cidx]][:5]:
                    tile = _coords_str(L0, x0, y0, z0, lv, int(m), octree)
                    self.err(sw, f"content at {tile} available on an unavailable tile")
                for m in cidx.tolist():
                    gl, gx, gy, gz = _global(L0, x0, y0, z0, lv, m, octree)
                    uri = _fill(templates[ci], gl, gx, gy, gz, octree)
                    at = f"{where} implicit tile {gl}/{gx}/{gy}" + (f"/{gz}" if octree else "")
                    self.content({"uri": uri}, base, at, world, bv, None, seen, uri)
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


