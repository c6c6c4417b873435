"""Read a city model (CityJSON 1.1/2.0 or CityJSONSeq) into flat surface arrays for tiling.

Each feature's chosen geometry is flattened into rings of vertex indices, with per-ring and
per-surface tables (numpy arrays): this is what lets tiles/mesh.py triangulate a whole district
with numpy instead of per-triangle Python loops. Reading is the one place with Python per feature,
so it does the least it can there: the parsed boundary lists are collected as they are and turned
into arrays a batch of features at a time (:class:`_SetBuilder`), which also checks the indices.

Buildings: a top-level ``Building`` with its own geometry or with ``BuildingPart`` children (3DBAG, and
``stadsmodel build`` for a footprint of several polygons), one feature with the Building's id and attributes;
geometry from the LoD asked for, or the best lower LoD the building has (a LoD2.2 model keeps its LoD1.2
block where the roof could not be reconstructed), part by part (a part without that LoD takes its own best
lower one); without a LoD asked for, the highest it has. Several LoDs are read in one pass, each into its
own SurfaceSet.
Terrain: Road, WaterBody, PlantCover, LandUse, Bridge, ... as lifted by the ETL.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core.crs import RD_NAP, RD_NEW
from core.errors import InputError, SkipLog
from core.products import MODEL_JSON, MODEL_JSONL
from tiles.mesh import concat_ranges
from tiles.metadata import Attributes

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

# EPSG codes a CityJSON referenceSystem URI may end in: RD New + NAP, or RD New alone
RD_EPSG_CODES = tuple(crs.removeprefix("EPSG:") for crs in (RD_NAP, RD_NEW))

BATCH_BLOCKS = 512  # CityJSONSeq features gathered before they become arrays: bounded Python memory


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector. Parsed JSON and the attribute tables make no reference
    cycles, yet their millions of objects would make the collector rescan everything read so far,
    again and again (a third of the reading time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class SurfaceSet:
    """Flattened surfaces of many features, in RD New + NAP metres.

    Rings of one feature are contiguous, and so are its surfaces; ``vertices`` holds only vertices
    that some ring uses.
    """

    vertices: np.ndarray  # (nv, 3) float64 RD x, y, NAP height
    ring_vertices: np.ndarray  # (n,) int64 index into vertices, ring after ring
    ring_lengths: np.ndarray  # (nrings,) int64
    surface_rings: np.ndarray  # (nsurfaces,) rings per surface (1 = no holes)
    surface_class: np.ndarray  # (nsurfaces,) roof/wall/ground or terrain type
    surface_feature: np.ndarray  # (nsurfaces,) feature index
    attributes: Attributes  # per feature, incl. the key

    def __len__(self) -> int:
        return len(self.attributes)

    def ring_positions(self) -> np.ndarray:
        """Positions (n, 3) float64 of every ring vertex, in RD/NAP metres."""
        return self.vertices[self.ring_vertices]

    def feature_ranges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each feature's surfaces, rings and ring vertices start (each (nfeatures + 1,))."""
        surf = np.searchsorted(self.surface_feature, np.arange(len(self) + 1))
        ring = np.concatenate([[0], np.cumsum(self.surface_rings)])[surf]
        vert = np.concatenate([[0], np.cumsum(self.ring_lengths)])[ring]
        return surf, ring, vert

    def subset(self, features: np.ndarray, ranges: tuple[np.ndarray, np.ndarray, np.ndarray]) -> SurfaceSet:
        """The surfaces of the given features (sorted indices), numbered 0..n-1, sharing the vertices;
        without attributes."""
        surf, ring, vert = ranges
        s = concat_ranges(surf[features], surf[features + 1])
        nsurf = surf[features + 1] - surf[features]
        return SurfaceSet(self.vertices, self.ring_vertices[concat_ranges(vert[features], vert[features + 1])],
                          self.ring_lengths[concat_ranges(ring[features], ring[features + 1])],
                          self.surface_rings[s], self.surface_class[s], np.repeat(np.arange(len(features)), nsurf),
                          Attributes())


@dataclass
class CityModel:
    path: Path
    buildings: SurfaceSet  # the first LoD asked for
    terrain: SurfaceSet
    skipped: SkipLog
    version: str
    lod: str | None
    # per LoD asked for (None: the highest per building): its buildings, and how many were tiled at which LoD
    building_lods: dict[str | None, SurfaceSet] = field(default_factory=dict)
    lod_counts: dict[str | None, dict[str, int]] = field(default_factory=dict)


def lod_key(lod: Any) -> float:
    """A LoD as a number to order by ("2.2" → 2.2; not a number: -1)."""
    try:
        return float(lod)
    except (TypeError, ValueError):
        return -1.0


def choose_lod(lods: list[str], wanted: str | None) -> str | None:
    """The LoD to tile of a building that has ``lods``: ``wanted`` or else the best lower one (None if it
    has none that low); without ``wanted``, the highest."""
    if wanted is None:
        return lods[0] if len(lods) == 1 else max(lods, key=lod_key)
    if wanted in lods:
        return wanted
    lower = [lod for lod in lods if lod_key(lod) <= lod_key(wanted)]
    return max(lower, key=lod_key) if lower else None


def _check_header(path: Path, doc: Any, where: str) -> tuple[str, np.ndarray, np.ndarray]:
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise InputError(path, f"{where} is not a CityJSON object (no \"type\": \"CityJSON\")")
    version = str(doc.get("version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise InputError(path, f"CityJSON version {version or '(missing)'} is not supported (supported: "
                               f"{', '.join(SUPPORTED_VERSIONS)}; upgrade with 'cjio FILE upgrade save OUT')")
    tr = doc.get("transform")
    if tr:
        scale = np.asarray(tr["scale"], dtype=np.float64)
        shift = np.asarray(tr["translate"], dtype=np.float64)
    else:
        scale, shift = np.ones(3), np.zeros(3)
    crs = str((doc.get("metadata") or {}).get("referenceSystem", ""))
    if crs and not any(code in crs for code in RD_EPSG_CODES):
        raise InputError(path, f"referenceSystem {crs} is not RD New (+ NAP) ({RD_NAP} / {RD_NEW}); reproject first")
    return version, scale, shift


def _surfaces_of(geom: dict, classes: list[int] | None, default: int) -> tuple[list, list[int]]:
    """A geometry's surfaces (each a list of rings) and the class of each, whatever the geometry type.

    :param classes: class per entry of the geometry's ``semantics.surfaces``; None to give all ``default``.
    """
    gtype = geom.get("type")
    b = geom.get("boundaries") or []
    vals = (geom.get("semantics") or {}).get("values") if classes is not None else None
    if gtype in ("MultiSurface", "CompositeSurface"):
        shells, shell_vals = [b], [vals]
    elif gtype == "Solid":
        shells, shell_vals = b, vals or [None] * len(b)
    elif gtype in ("MultiSolid", "CompositeSolid"):
        shells = [shell for solid in b for shell in solid]
        shell_vals = [v for i, solid in enumerate(b) for v in ((vals[i] if vals else None) or [None] * len(solid))]
    else:
        raise ValueError(f"geometry type {gtype!r} is not supported for tiling")
    if len(shells) == 1 and shell_vals[0] is None:  # the common cases first: one shell, all or no semantics
        surfaces, out = shells[0], [default] * len(shells[0])
    elif len(shells) == 1 and None not in shell_vals[0]:
        surfaces, out = shells[0], list(map(classes.__getitem__, shell_vals[0]))
    else:
        surfaces, out = [], []
        for shell, sv in zip(shells, shell_vals):
            surfaces += shell
            out += [default] * len(shell) if sv is None else [default if v is None else classes[v] for v in sv]
    if len(out) != len(surfaces):
        raise ValueError(f"{len(out)} semantic values for {len(surfaces)} surfaces")
    return surfaces, out


class _SetBuilder:
    """Collects the surfaces of one SurfaceSet: the parsed lists as they are per batch (a couple of
    list.extend per feature), numpy arrays per finished batch (:meth:`flush`)."""

    def __init__(self, path: Path, scale: np.ndarray, shift: np.ndarray, skipped: SkipLog):
        self.path, self.scale, self.shift, self.skipped = path, scale, shift, skipped
        self.attributes = Attributes()
        self._chunks: list[tuple[np.ndarray, ...]] = []  # ring and surface arrays per finished batch
        self._vertex_chunks: list[np.ndarray] = []
        self._nverts = 0  # vertices in finished batches
        self.lod_counts: Counter = Counter()  # features kept per LoD of their geometry
        self._new_batch()

    def _new_batch(self) -> None:
        self.block_vertices: list[list] = []  # vertex list of every block used in this batch
        self.surfaces: list[list] = []  # the parsed surfaces (lists of rings) themselves, not copies
        self.classes: list[int] = []  # per surface
        self.feature_surfaces: list[int] = []  # surfaces per feature
        self.feature_block: list[int] = []  # block (in this batch) whose vertices the feature indexes
        self.feature_ids: list[str] = []
        self.feature_attrs: list[dict[str, Any]] = []
        self.feature_lods: list[str | None] = []
        self._block_used = False

    @property
    def pending_blocks(self) -> int:
        return len(self.block_vertices)

    def start_block(self, vertices: list) -> None:
        self._block_vertices = vertices
        self._block_used = False

    def add(self, oid: str, surfaces: list, classes: list[int], attrs: dict[str, Any], lod: str | None = None) -> None:
        """Add a feature from its surfaces (lists of rings of vertex indices) and their classes (of its
        geometry of this LoD)."""
        if not self._block_used:
            self.block_vertices.append(self._block_vertices)
            self._block_used = True
        self.surfaces += surfaces
        self.classes += classes
        self.feature_surfaces.append(len(surfaces))
        self.feature_block.append(len(self.block_vertices) - 1)
        self.feature_ids.append(oid)
        self.feature_attrs.append(attrs)
        self.feature_lods.append(lod)

    def flush(self) -> None:
        """Turn the batch into arrays. Rings of fewer than 3 vertices are dropped, and so is a surface
        whose outer ring is; features whose vertices or indices are unusable are skipped."""
        if not self.feature_attrs:
            self._new_batch()
            return
        try:
            verts, surf_nring, ring_len, idx = self._arrays()
        except (TypeError, ValueError, OverflowError):
            self._drop_unusable()
            verts, surf_nring, ring_len, idx = self._arrays()
        block_nv = np.fromiter(map(len, self.block_vertices), np.int64, len(self.block_vertices))
        feat_nsurf = np.asarray(self.feature_surfaces, dtype=np.int64)
        feat_block = np.asarray(self.feature_block, dtype=np.int64)
        surf_feat = np.repeat(np.arange(len(feat_nsurf)), feat_nsurf)
        ring_surf = np.repeat(np.arange(len(surf_nring)), surf_nring)
        # degenerate rings; a surface goes with its outer ring
        ring_ok = ring_len >= 3
        first_ring = np.concatenate([[0], np.cumsum(surf_nring)[:-1]])
        surf_keep = (surf_nring > 0) & ring_ok[np.minimum(first_ring, len(ring_ok) - 1)] if len(ring_ok) else \
            np.zeros(len(surf_nring), bool)
        ring_keep = ring_ok & surf_keep[ring_surf]
        vert_keep = np.repeat(ring_keep, ring_len)
        # indices must point into the feature's own block
        vert_feat = np.repeat(surf_feat[ring_surf], ring_len)
        vert_nv = block_nv[feat_block[vert_feat]]
        bad = vert_keep & ((idx < 0) | (idx >= vert_nv))
        if bad.any():
            for f in np.unique(vert_feat[bad]).tolist():
                self.skipped.add(self.path, self.feature_ids[f],
                                 "geometry not usable: boundary refers to a vertex that does not exist")
            feat_ok = np.ones(len(feat_nsurf), bool)
            feat_ok[vert_feat[bad]] = False
            surf_keep &= feat_ok[surf_feat]
            ring_keep &= surf_keep[ring_surf]
            vert_keep &= np.repeat(ring_keep, ring_len)
        else:
            feat_ok = None
        block_start = np.concatenate([[0], np.cumsum(block_nv)[:-1]])
        idx = (idx + block_start[feat_block[vert_feat]])[vert_keep] + self._nverts
        surf_rings = np.bincount(ring_surf[ring_keep], minlength=len(surf_nring))[surf_keep]
        surf_class = np.asarray(self.classes, dtype=np.int64)[surf_keep]
        surf_feat = surf_feat[surf_keep]
        attrs, lods = self.feature_attrs, self.feature_lods
        if feat_ok is not None:
            surf_feat = (np.cumsum(feat_ok) - 1)[surf_feat]
            attrs = [a for a, ok in zip(attrs, feat_ok.tolist()) if ok]
            lods = [lod for lod, ok in zip(lods, feat_ok.tolist()) if ok]
        self.lod_counts.update(lods)
        self._chunks.append((idx, ring_len[ring_keep], surf_rings, surf_class, surf_feat + len(self.attributes)))
        self._vertex_chunks.append(verts * self.scale + self.shift)
        self._nverts += len(verts)
        self.attributes.add(attrs)
        self._new_batch()

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Vertices (n, 3), rings per surface, ring lengths and the vertex indices of all rings of the
        batch. :raises TypeError, ValueError: something in the batch is not a number where it should be."""
        vertices = list(chain.from_iterable(self.block_vertices))
        if set(map(len, vertices)) - {3}:
            raise ValueError("a vertex is not [x, y, z]")
        verts = np.fromiter(chain.from_iterable(vertices), np.float64, 3 * len(vertices)).reshape(-1, 3)
        surfaces = self.surfaces
        surf_nring = np.fromiter(map(len, surfaces), np.int64, len(surfaces))
        rings = list(chain.from_iterable(surfaces))
        ring_len = np.fromiter(map(len, rings), np.int64, len(rings))
        idx = np.fromiter(chain.from_iterable(rings), np.int64, int(ring_len.sum()))
        return verts, surf_nring, ring_len, idx

    def _drop_unusable(self) -> None:
        """The slow path: find the features whose vertices or boundaries are not numbers, report them
        and take them out of the batch."""
        bad_block = [not _is_vertex_list(vs) for vs in self.block_vertices]
        keep_surfaces, keep_classes, end = [], [], 0
        kept = {name: [] for name in ("feature_surfaces", "feature_block", "feature_ids", "feature_attrs",
                                      "feature_lods")}
        for n, b, oid, attrs, lod in zip(self.feature_surfaces, self.feature_block, self.feature_ids,
                                         self.feature_attrs, self.feature_lods):
            surfaces, classes = self.surfaces[end:end + n], self.classes[end:end + n]
            end += n
            if bad_block[b]:
                reason = "vertices are not [x, y, z] numbers"
            elif not all(_is_index_rings(srf) for srf in surfaces):
                reason = "boundary is not lists of vertex indices"
            else:
                keep_surfaces += surfaces
                keep_classes += classes
                for name, value in zip(kept, (n, b, oid, attrs, lod)):
                    kept[name].append(value)
                continue
            self.skipped.add(self.path, oid, f"geometry not usable: {reason}")
        self.surfaces, self.classes = keep_surfaces, keep_classes
        for name, values in kept.items():
            setattr(self, name, values)
        self.block_vertices = [[] if bad else vs for vs, bad in zip(self.block_vertices, bad_block)]

    def finish(self) -> SurfaceSet:
        self.flush()
        chunks = self._chunks
        if not chunks:
            z = np.zeros(0, np.int64)
            return SurfaceSet(np.zeros((0, 3)), z, z, z, z, z, self.attributes)
        idx, ring_len, surf_rings, surf_class, surf_feat = (np.concatenate(c) for c in zip(*chunks))
        verts = np.concatenate(self._vertex_chunks)
        # keep only the vertices that rings use (a CityJSON file shares one vertex list between
        # buildings and terrain, and 3DBAG features carry several LoDs)
        used = np.zeros(len(verts), bool)
        used[idx] = True
        if not used.all():
            renumber = np.cumsum(used) - 1
            verts, idx = verts[used], renumber[idx]
        return SurfaceSet(verts, idx, ring_len, surf_rings, surf_class, surf_feat, self.attributes)


def _is_vertex_list(vertices: Any) -> bool:
    return isinstance(vertices, list) and all(
        isinstance(v, list) and len(v) == 3 and all(isinstance(c, (int, float)) and abs(c) < 1e300 for c in v)
        for v in vertices)


def _is_index_rings(surface: Any) -> bool:
    return isinstance(surface, list) and all(
        isinstance(r, list) and all(isinstance(i, int) and 0 <= i < 2**62 for i in r) for r in surface)


class _Reader:
    def __init__(self, path: Path, lods: tuple[str | None, ...], scale: np.ndarray, shift: np.ndarray):
        self.path = path
        self.lods = lods
        self.skipped = SkipLog()
        # each LoD's buildings log their own skips (a broken geometry would be reported once per LoD)
        self.buildings = {lod: _SetBuilder(path, scale, shift, SkipLog()) for lod in lods}
        self.terrain = _SetBuilder(path, scale, shift, self.skipped)

    def add_block(self, cityobjects: dict, vertices: list) -> None:
        """Add the CityObjects that share one vertex list (a CityJSONFeature, or a whole CityJSON)."""
        for b in self.buildings.values():
            b.start_block(vertices)
        self.terrain.start_block(vertices)
        for oid, co in cityobjects.items():
            if co.get("parents"):
                continue  # a part: handled through its parent
            ctype = co.get("type", "")
            try:
                if ctype in BUILDING_TYPES:
                    self._add_building(oid, co, cityobjects)
                elif ctype in TERRAIN_CLASS:
                    self._add_terrain(oid, co)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
                self.skipped.add(self.path, oid, f"geometry not usable: {e}")
        for b in (*self.buildings.values(), self.terrain):
            if b.pending_blocks >= BATCH_BLOCKS:
                b.flush()

    def _add_building(self, oid: str, co: dict, cityobjects: dict) -> None:
        owners = [co]
        for c in co.get("children") or ():
            part = cityobjects.get(c)
            if part is not None and part.get("type") in BUILDING_PART_TYPES:
                owners.append(part)
        owned = [(o.get("geometry") or [], [str(g.get("lod")) for g in o.get("geometry") or ()]) for o in owners]
        lods = [lod for _, owner_lods in owned for lod in owner_lods]
        if not lods:
            self.skipped.add(self.path, oid, "building has no geometry")
            return
        attrs = co.get("attributes") or {}  # the parsed dict is ours to extend (its columns are copied)
        attrs.setdefault("identificatie", oid)
        for wanted, builder in self.buildings.items():
            lod = choose_lod(lods, wanted)
            if lod is None:
                has = ", ".join(sorted(set(lods), key=lod_key))
                builder.skipped.add(self.path, oid, f"no LoD {wanted} geometry or lower (has {has})")
                continue
            surfaces, classes, tiled = [], [], []
            for geoms, owner_lods in owned:
                # a part without this LoD (its roof could not be made) takes its best lower one, down to LoD1:
                # a LoD0 of the Building itself (3DBAG) is a footprint, not a volume beside its parts' solids
                own = lod if lod in owner_lods else choose_lod(owner_lods, lod) if owner_lods else None
                if own is None or (own != lod and lod_key(own) < 1):
                    continue
                tiled.append(own)
                for g, glod in zip(geoms, owner_lods):
                    if glod == own:
                        types = (g.get("semantics") or {}).get("surfaces")
                        semantic = [SEMANTIC_CLASS.get(t.get("type"), _WALL) for t in types] if types else None
                        s, c = _surfaces_of(g, semantic, _WALL)
                        surfaces += s
                        classes += c
            # counted at the lowest LoD any of its parts is tiled at
            builder.add(oid, surfaces, classes, attrs, min(tiled, key=lod_key))

    def _add_terrain(self, oid: str, co: dict) -> None:
        geoms = co.get("geometry") or []
        g = max(geoms, key=lambda g: lod_key(g.get("lod"))) if geoms else None
        if not g or not g.get("boundaries"):
            self.skipped.add(self.path, oid, "terrain object has no geometry")
            return
        surfaces, classes = _surfaces_of(g, None, TERRAIN_CLASS[co["type"]])
        attrs = co.get("attributes") or {}
        attrs.setdefault("identificatie", oid)
        attrs.setdefault("object_type", co["type"])
        self.terrain.add(oid, surfaces, classes, attrs)


def _loads(path: Path, text: bytes, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InputError(path, f"{where}: not valid JSON ({e})") from None


def model_file(path: str | Path) -> Path:
    """The CityJSON(Seq) file of a model: the file itself, or the one in a ``stadsmodel build`` directory.

    :raises InputError: no such file.
    """
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_JSONL, MODEL_JSON):
            if (path / name).is_file():
                return path / name
        raise InputError(path, f"no {MODEL_JSONL} or {MODEL_JSON} in this directory")
    if not path.is_file():
        raise InputError(path, "file not found")
    return path


def read_model(path: str | Path, lod: str | None | tuple[str | None, ...] = None) -> CityModel:
    """Read a CityJSON (.json) or CityJSONSeq (.jsonl) file, or a model directory.

    :param lod: LoD of building geometry to tile (e.g. "1.2", "2.2"), falling back per building to the best
        lower LoD it has; default the highest per building. Several (a tuple): one SurfaceSet each, in one pass.
    :raises InputError: missing file, not CityJSON, unsupported version, wrong CRS, malformed JSON.
    """
    lods = tuple(lod) if isinstance(lod, (tuple, list)) else (lod,)
    path = model_file(path)
    with path.open("rb") as f, paused_gc():
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
            r = _Reader(path, lods, scale, shift)
            for n, line in enumerate(f, start=2):
                if line.isspace():
                    continue
                feat = _loads(path, line, f"line {n}")
                if not isinstance(feat, dict) or feat.get("type") != "CityJSONFeature":
                    r.skipped.add(path, f"line {n}", "not a CityJSONFeature")
                    continue
                r.add_block(feat.get("CityObjects") or {}, feat.get("vertices") or [])
        else:
            doc = _loads(path, first + f.read(), "file")
            version, scale, shift = _check_header(path, doc, "the document")
            r = _Reader(path, lods, scale, shift)
            r.add_block(doc.get("CityObjects") or {}, doc.get("vertices") or [])
    building_lods = {lod: b.finish() for lod, b in r.buildings.items()}
    terrain = r.terrain.finish()
    # one list of what was left out: a feature skipped for every LoD is listed once
    skipped, seen = r.skipped, set()
    for b in r.buildings.values():
        for s in b.skipped.items:
            if (s.feature, s.reason) not in seen:
                seen.add((s.feature, s.reason))
                skipped.items.append(s)
    for s in skipped.items:
        log.warning("skipped %s", s)
    buildings = building_lods[lods[0]]
    log.info("%s: %d buildings, %d terrain objects, %d skipped", path, len(buildings), len(terrain), len(skipped))
    return CityModel(path, buildings, terrain, skipped, version, lods[0], building_lods,
                     {lod: dict(sorted(b.lod_counts.items(), key=lambda kv: lod_key(kv[0])))
                      for lod, b in r.buildings.items()})
