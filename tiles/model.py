"""Read a city model (CityJSON 1.1/2.0 or CityJSONSeq) into flat surface arrays for tiling.

Each feature's chosen geometry is flattened into rings (vertex positions repeated per surface, so
each surface can carry its own normal), with per-ring and per-surface tables: this is what lets
tiles/mesh.py triangulate a whole district with numpy instead of per-triangle Python loops.

Buildings: a top-level ``Building`` with its own geometry or with ``BuildingPart`` children (3DBAG);
attributes come from the Building, geometry from the highest LoD present unless one is asked for.
Terrain: Road, WaterBody, PlantCover, LandUse, Bridge, ... as lifted by the ETL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

from stadsmodel.errors import InputError, SkipLog

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("1.1", "2.0")

# Semantic surface → surface class, one glTF primitive (material) per class.
BUILDING_SURFACE_CLASSES = ("roof", "wall", "ground")
_ROOF, _WALL, _GROUND = 0, 1, 2
SEMANTIC_CLASS = {
    "RoofSurface": _ROOF,
    "GroundSurface": _GROUND,
    "OuterFloorSurface": _GROUND,
    "WallSurface": _WALL,
    "ClosureSurface": _WALL,
    "OuterCeilingSurface": _WALL,
    "Door": _WALL,
    "Window": _WALL,
}

BUILDING_TYPES = ("Building",)
BUILDING_PART_TYPES = ("BuildingPart", "BuildingInstallation")
# Terrain-like CityObject types, in the order of their surface class (one primitive each).
TERRAIN_TYPES = (
    "TINRelief", "LandUse", "PlantCover", "SolitaryVegetationObject", "WaterBody", "Road",
    "Railway", "TransportSquare", "Waterway", "Bridge", "BridgePart", "OtherConstruction",
    "GenericCityObject", "CityFurniture",
)
TERRAIN_CLASS = {t: i for i, t in enumerate(TERRAIN_TYPES)}


@dataclass
class SurfaceSet:
    """Flattened surfaces of many features, in RD New + NAP metres.

    Vertices of one feature are contiguous, and so are its rings and surfaces.
    """

    vertices: list = field(default_factory=list)  # raw [x, y, z] of all features (see _blocks)
    ring_vertices: list[int] = field(default_factory=list)  # vertex index (feature-local) per ring vertex
    ring_lengths: list[int] = field(default_factory=list)
    ring_feature_offset: list[int] = field(default_factory=list)  # where the ring's feature vertices start
    surface_rings: list[int] = field(default_factory=list)  # rings per surface (1 = no holes)
    surface_class: list[int] = field(default_factory=list)
    surface_feature: list[int] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)  # attributes incl. the key, per feature
    feature_types: list[str] = field(default_factory=list)
    # per feature-block transform (CityJSONSeq features share the header's transform)
    _blocks: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    _pending: bool = False  # rings were added whose block vertices are not appended yet
    _pending_first_ring: int = 0

    def __len__(self) -> int:
        return len(self.features)

    def ring_positions(self) -> np.ndarray:
        """Positions (n, 3) float64 of every ring vertex, in RD/NAP metres."""
        if not self.ring_vertices:
            return np.zeros((0, 3))
        raw = np.array(self.vertices, dtype=np.float64).reshape(-1, 3)
        scale = np.ones_like(raw)
        shift = np.zeros_like(raw)
        bounds = [b[0] for b in self._blocks] + [len(raw)]
        for (start, s, t), end in zip(self._blocks, bounds[1:]):
            scale[start:end] = s
            shift[start:end] = t
        real = raw * scale + shift
        lengths = np.asarray(self.ring_lengths, dtype=np.int64)
        offsets = np.repeat(np.asarray(self.ring_feature_offset, dtype=np.int64), lengths)
        idx = np.asarray(self.ring_vertices, dtype=np.int64) + offsets
        return real[idx]


@dataclass
class CityModel:
    path: Path
    buildings: SurfaceSet
    terrain: SurfaceSet
    skipped: SkipLog
    version: str
    lod: str | None


def _lod_key(lod: Any) -> float:
    try:
        return float(lod)
    except (TypeError, ValueError):
        return -1.0


def _check_header(path: Path, doc: Any, where: str) -> tuple[str, np.ndarray, np.ndarray]:
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise InputError(path, f"{where} is not a CityJSON object (no \"type\": \"CityJSON\")")
    version = str(doc.get("version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise InputError(path, f"CityJSON version {version or '(missing)'} is not supported "
                               f"(supported: {', '.join(SUPPORTED_VERSIONS)}; upgrade with 'cjio FILE upgrade save OUT')")
    tr = doc.get("transform")
    if tr:
        scale = np.asarray(tr["scale"], dtype=np.float64)
        shift = np.asarray(tr["translate"], dtype=np.float64)
    else:
        scale, shift = np.ones(3), np.zeros(3)
    crs = str((doc.get("metadata") or {}).get("referenceSystem", ""))
    if crs and not any(code in crs for code in ("7415", "28992")):
        raise InputError(path, f"referenceSystem {crs} is not RD New (+ NAP) (EPSG:7415 / 28992); reproject first")
    return version, scale, shift


def _surfaces_of(geom: dict) -> Iterator[tuple[list, Any]]:
    """(surface rings, semantic value) of a geometry's boundary, whatever its type."""
    gtype = geom.get("type")
    b = geom.get("boundaries") or []
    vals = (geom.get("semantics") or {}).get("values")
    if gtype in ("MultiSurface", "CompositeSurface"):
        for i, s in enumerate(b):
            yield s, (vals[i] if vals else None)
    elif gtype == "Solid":
        for si, shell in enumerate(b):
            sv = vals[si] if vals else None
            for i, s in enumerate(shell):
                yield s, (sv[i] if sv else None)
    elif gtype in ("MultiSolid", "CompositeSolid"):
        for di, solid in enumerate(b):
            dv = vals[di] if vals else None
            for si, shell in enumerate(solid):
                sv = dv[si] if dv else None
                for i, s in enumerate(shell):
                    yield s, (sv[i] if sv else None)
    else:
        raise ValueError(f"geometry type {gtype!r} is not supported for tiling")


class _Reader:
    def __init__(self, path: Path, lod: str | None):
        self.path = path
        self.lod = lod
        self.buildings = SurfaceSet()
        self.terrain = SurfaceSet()
        self.skipped = SkipLog()

    def add_block(self, cityobjects: dict, vertices: list, scale: np.ndarray, shift: np.ndarray) -> None:
        """Add the CityObjects that share one vertex list (a CityJSONFeature, or a whole CityJSON)."""
        for oid, co in cityobjects.items():
            if co.get("parents"):
                continue  # a part: handled through its parent
            ctype = co.get("type", "")
            try:
                if ctype in BUILDING_TYPES:
                    self._add_building(oid, co, cityobjects)
                elif ctype in TERRAIN_CLASS:
                    self._add_terrain(oid, co)
            except (ValueError, TypeError, KeyError, IndexError) as e:
                self.skipped.add(self.path, oid, f"geometry not usable: {e}")
        # vertices are shared by everything in the block: append them once to each set that used them
        for target in (self.buildings, self.terrain):
            if target._pending:
                start = len(target.vertices)
                target._blocks.append((start, scale, shift))
                for r in range(target._pending_first_ring, len(target.ring_feature_offset)):
                    target.ring_feature_offset[r] = start
                target.vertices.extend(vertices)
                target._pending = False

    def _emit(self, target: SurfaceSet, surfaces: list[tuple[list, int]], attrs: dict, ctype: str) -> None:
        if not target._pending:
            target._pending = True
            target._pending_first_ring = len(target.ring_lengths)
        fi = len(target.features)
        rv, rl, rfo = target.ring_vertices, target.ring_lengths, target.ring_feature_offset
        sr, sc, sf = target.surface_rings, target.surface_class, target.surface_feature
        for rings, cls in surfaces:
            n = 0
            for ring in rings:
                if len(ring) >= 3:
                    rv.extend(ring)
                    rl.append(len(ring))
                    rfo.append(0)  # set when the block's vertices are appended
                    n += 1
                elif n == 0:
                    break  # a degenerate outer ring: drop the surface
            if n:
                sr.append(n)
                sc.append(cls)
                sf.append(fi)
        target.features.append(attrs)
        target.feature_types.append(ctype)

    def _add_building(self, oid: str, co: dict, cityobjects: dict) -> None:
        owners = [co] + [cityobjects[c] for c in co.get("children") or [] if c in cityobjects
                         and cityobjects[c].get("type") in BUILDING_PART_TYPES]
        all_geoms = [g for o in owners for g in o.get("geometry") or []]
        if not all_geoms:
            self.skipped.add(self.path, oid, "building has no geometry")
            return
        lods = sorted({str(g.get("lod")) for g in all_geoms}, key=_lod_key)
        lod = self.lod if self.lod is not None else lods[-1]
        if lod not in lods:
            self.skipped.add(self.path, oid, f"no LoD {lod} geometry (has {', '.join(lods)})")
            return
        surfaces = []
        for o in owners:
            for g in o.get("geometry") or []:
                if str(g.get("lod")) != lod:
                    continue
                types = [s.get("type") for s in (g.get("semantics") or {}).get("surfaces", [])]
                for rings, sem in _surfaces_of(g):
                    cls = SEMANTIC_CLASS.get(types[sem], _WALL) if sem is not None else _WALL
                    surfaces.append((rings, cls))
        attrs = dict(co.get("attributes") or {})
        attrs.setdefault("identificatie", oid)
        self._emit(self.buildings, surfaces, attrs, "Building")

    def _add_terrain(self, oid: str, co: dict) -> None:
        geoms = co.get("geometry") or []
        g = max(geoms, key=lambda g: _lod_key(g.get("lod"))) if geoms else None
        if not g or not g.get("boundaries"):
            self.skipped.add(self.path, oid, "terrain object has no geometry")
            return
        cls = TERRAIN_CLASS[co["type"]]
        surfaces = [(rings, cls) for rings, _ in _surfaces_of(g)]
        attrs = dict(co.get("attributes") or {})
        attrs.setdefault("identificatie", oid)
        attrs.setdefault("object_type", co["type"])
        self._emit(self.terrain, surfaces, attrs, co["type"])


def _loads(path: Path, text: bytes, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InputError(path, f"{where}: not valid JSON ({e})") from None


def read_model(path: str | Path, lod: str | None = None) -> CityModel:
    """Read a CityJSON (.json) or CityJSONSeq (.jsonl) file, or a model directory.

    :param lod: LoD of building geometry to tile (e.g. "1.2", "2.2"); default the highest per building.
    :raises InputError: missing file, not CityJSON, unsupported version, wrong CRS, malformed JSON.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("model.city.jsonl", "model.city.json"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise InputError(path, "no model.city.jsonl or model.city.json in this directory")
    if not path.is_file():
        raise InputError(path, "file not found")
    r = _Reader(path, lod)
    with path.open("rb") as f:
        first = f.readline()
        is_seq = False
        if first.strip():
            try:
                head = orjson.loads(first)
                is_seq = isinstance(head, dict) and head.get("type") == "CityJSON" and not head.get("CityObjects")
            except orjson.JSONDecodeError:
                is_seq = False
        if is_seq:
            version, scale, shift = _check_header(path, head, "line 1")
            for n, line in enumerate(f, start=2):
                if not line.strip():
                    continue
                feat = _loads(path, line, f"line {n}")
                if not isinstance(feat, dict) or feat.get("type") != "CityJSONFeature":
                    r.skipped.add(path, f"line {n}", "not a CityJSONFeature")
                    continue
                r.add_block(feat.get("CityObjects") or {}, feat.get("vertices") or [], scale, shift)
        else:
            doc = _loads(path, first + f.read(), "file")
            version, scale, shift = _check_header(path, doc, "the document")
            r.add_block(doc.get("CityObjects") or {}, doc.get("vertices") or [], scale, shift)
    for s in r.skipped.items:
        log.warning("skipped %s", s)
    log.info("%s: %d buildings, %d terrain objects, %d skipped", path, len(r.buildings), len(r.terrain), len(r.skipped))
    return CityModel(path, r.buildings, r.terrain, r.skipped, version, lod)
