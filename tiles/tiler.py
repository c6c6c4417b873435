"""City model → 3D Tiles 1.1 tilesets (buildings, terrain) and the index of what was written.

A quadtree over feature centroids (RD metres) splits until a leaf holds at most ``capacity``
features and spans at most ``max_leaf_size`` metres (small enough for 16-bit positions to stay
within a few millimetres). Leaves carry one .glb each; inner tiles are empty and only refine
(``ADD``), with a geometric error that shrinks with their size, so a client loads only the
leaves in view and near enough. Bounding boxes are computed from the vertices, in the tileset's
local east-north-up frame, and each parent's box is the union of its children's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import time
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from core.atomic import atomic_open
from core.crs import RD_NAP
from core.errors import TilingError
from core.products import STORE_NAME, TILES_INDEX
from tiles.envelopes import envelope_sets, remove_stale
from tiles.georef import LocalFrame, ecef_to_geodetic
from tiles.gltf import write_glb
from tiles.mesh import column_extent, triangulate
from tiles.metadata import FeatureTable, TileProperties
from tiles.model import (
    BUILDING_SURFACE_CLASSES,
    TERRAIN_TYPES,
    CityModel,
    SurfaceSet,
    lod_key,
    model_file,
    paused_gc,
    read_model,
)
from tiles.pointcloud import tile_pointcloud
from tiles.summary import TilesetSummary

log = logging.getLogger(__name__)

BUILDING_COLOURS = {"roof": (0.70, 0.31, 0.25), "wall": (0.93, 0.91, 0.86), "ground": (0.55, 0.55, 0.55)}
TERRAIN_COLOURS = {
    "TINRelief": (0.62, 0.58, 0.48), "LandUse": (0.72, 0.69, 0.58), "PlantCover": (0.42, 0.62, 0.30),
    "SolitaryVegetationObject": (0.30, 0.52, 0.24), "WaterBody": (0.25, 0.48, 0.78), "Road": (0.45, 0.45, 0.47),
    "Railway": (0.38, 0.33, 0.30), "TransportSquare": (0.58, 0.58, 0.60), "Waterway": (0.25, 0.48, 0.78),
    "Bridge": (0.60, 0.55, 0.50), "BridgePart": (0.60, 0.55, 0.50), "OtherConstruction": (0.66, 0.66, 0.66),
    "GenericCityObject": (0.70, 0.70, 0.70), "CityFurniture": (0.50, 0.50, 0.55),
}
BUILDING_MATERIALS = [(name, BUILDING_COLOURS[name]) for name in BUILDING_SURFACE_CLASSES]
TERRAIN_MATERIALS = [(name, TERRAIN_COLOURS[name]) for name in TERRAIN_TYPES]

CAPACITY = 600  # features per leaf tile
MAX_LEAF_SIZE = 250.0  # metres
BOX_PADDING = 0.01  # metres, against rounding in the clients' box tests
MIN_PARALLEL_TILES = 32  # fewer tiles are written in process: starting workers would cost more
PARALLEL_MIN_BYTES = 20_000_000  # smaller models (< some 20,000 buildings): workers would cost more than they save
PARALLEL_WINDOW = 16  # tiles handed to the workers and not yet done


@dataclass
class _Node:
    level: int
    x: int
    y: int
    items: np.ndarray | None = None
    children: list[_Node] = field(default_factory=list)
    box_min: np.ndarray | None = None
    box_max: np.ndarray | None = None
    error: float = 0.0
    uri: str | None = None


def _quadtree(xy: np.ndarray, capacity: int, max_size: float) -> _Node:
    lo, hi = column_extent(xy)
    size = float(max((hi - lo).max(), 1.0)) * (1 + 1e-9)
    # a root of max_size × 2^k makes leaves of max_size itself, not of up to half of it: fewer, fuller tiles
    size = max_size * 2.0 ** np.ceil(np.log2(size / max_size)) if size > max_size else size

    def split(node: _Node, items: np.ndarray, x0: float, y0: float, s: float) -> None:
        if (len(items) <= capacity and s <= max_size) or node.level >= 24:
            node.items = items
            return
        h = s / 2
        qx = (xy[items, 0] >= x0 + h).astype(int)
        qy = (xy[items, 1] >= y0 + h).astype(int)
        for dy in (0, 1):
            for dx in (0, 1):
                sub = items[(qx == dx) & (qy == dy)]
                if len(sub):
                    child = _Node(node.level + 1, node.x * 2 + dx, node.y * 2 + dy)
                    split(child, sub, x0 + dx * h, y0 + dy * h, h)
                    node.children.append(child)

    root = _Node(0, 0, 0)
    split(root, np.arange(len(xy)), float(lo[0]), float(lo[1]), size)
    return root


def _leaves(node: _Node) -> list[_Node]:
    return [node] if node.items is not None else [leaf for c in node.children for leaf in _leaves(c)]


def _box(lo: np.ndarray, hi: np.ndarray) -> list[float]:
    c = (lo + hi) / 2
    h = ((hi - lo) / 2 + BOX_PADDING).tolist()
    return [*c.tolist(), h[0], 0.0, 0.0, 0.0, h[1], 0.0, 0.0, 0.0, h[2]]


def _finish(node: _Node) -> None:
    """Parents' boxes enclose their children; geometric error shrinks down the tree."""
    for c in node.children:
        _finish(c)
    if node.children:
        node.box_min = np.min([c.box_min for c in node.children], axis=0)
        node.box_max = np.max([c.box_max for c in node.children], axis=0)
        # an empty parent is refined when its leaves would be a few pixels on screen
        diag = float(np.linalg.norm((node.box_max - node.box_min)[:2]))
        node.error = max(diag / 20.0, max(c.error for c in node.children) * 1.5, 1.0)


def _tile_json(node: _Node) -> dict[str, Any]:
    t: dict[str, Any] = {"boundingVolume": {"box": _box(node.box_min, node.box_max)},
                         "geometricError": round(node.error, 3), "refine": "ADD"}
    if node.uri:
        t["content"] = {"uri": node.uri}
    if node.children:
        t["children"] = [_tile_json(c) for c in node.children]
    return t


def tile_surfaces(surfaces: SurfaceSet, frame: LocalFrame, out: Path, name: str, class_name: str,
                  materials: list, capacity: int = CAPACITY, max_leaf_size: float = MAX_LEAF_SIZE,
                  pool: Executor | None = None) -> TilesetSummary:
    """Write ``out/tileset.json`` and ``out/content/*.glb`` for one set of features.

    :param pool: worker processes (:func:`tile_pool`) to triangulate and write the tiles; None: in process.
    """
    t0 = time.perf_counter()
    ranges = surfaces.feature_ranges()
    vert = ranges[2]
    counts = vert[1:] - vert[:-1]
    has_geom = np.flatnonzero(counts > 0)
    if len(has_geom) < len(surfaces):
        log.warning("%s: %d features without usable surfaces left out", name, len(surfaces) - len(has_geom))
    if not len(has_geom):
        raise TilingError(f"{name}: no feature has usable geometry to tile")
    # centroids in RD: the mean of each feature's ring vertices
    rd = surfaces.vertices
    starts = vert[has_geom]
    centroids = np.column_stack([np.add.reduceat(rd[:, axis][surfaces.ring_vertices], starts) for axis in (0, 1)])
    centroids /= counts[has_geom, None]
    table = FeatureTable(surfaces.attributes, class_name)
    # the tileset's frame, each vertex converted once (a vertex is on several rings)
    local = dataclasses.replace(surfaces, vertices=frame.to_local(rd))

    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "content").mkdir(parents=True)
    try:
        root, total_bytes = _write_tiles(tmp, name, local, ranges, has_geom, centroids, table, materials,
                                         capacity, max_leaf_size, pool)
        tileset = {
            "asset": {"version": "1.1", "generator": "stadsmodel tiles"},
            # CesiumJS draws nothing while this error is below its screen-space threshold, so it must be on
            # the scale of the whole extent (a one-tile district would otherwise only show from ~45 m).
            "geometricError": round(max(root.error * 2, float(np.linalg.norm(root.box_max - root.box_min)), 1.0), 3),
            "root": _tile_json(root) | {"transform": frame.enu_to_ecef.T.ravel().tolist()},  # column-major
        }
        data = orjson.dumps(tileset, option=orjson.OPT_INDENT_2)
        (tmp / "tileset.json").write_bytes(data)
        total_bytes += len(data)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    nleaves = len(_leaves(root))
    dt = time.perf_counter() - t0
    log.info("%s: %d features in %d tiles, %.1f MB, %.1f s", name, len(has_geom), nleaves, total_bytes / 1e6, dt)
    return TilesetSummary(name, out / "tileset.json", int(len(has_geom)), nleaves, total_bytes, dt)


def _write_leaf(path: Path, ring_positions: np.ndarray, ring_lengths: np.ndarray, surface_rings: np.ndarray,
                surface_class: np.ndarray, surface_feature: np.ndarray, table: TileProperties,
                materials: list) -> tuple[int, np.ndarray, np.ndarray]:
    """Triangulate one tile and write its .glb; returns its size and bounding box (local ENU).

    A tile at a time keeps the arrays small: they stay in the CPU caches and in memory the allocator
    reuses, which a whole district's arrays would not. Runs in a worker process when there are many."""
    mesh = triangulate(ring_positions, ring_lengths, surface_rings, surface_class, surface_feature)
    size = write_glb(path, mesh, table, materials)
    lo, hi = column_extent(mesh.positions)
    return size, lo, hi


def _write_tiles(tmp: Path, name: str, local: SurfaceSet, ranges, has_geom: np.ndarray, centroids: np.ndarray,
                 table: FeatureTable, materials: list, capacity: int, max_leaf_size: float,
                 pool: Executor | None) -> tuple[_Node, int]:
    root = _quadtree(centroids, capacity, max_leaf_size)
    leaves = _leaves(root)

    def job(leaf: _Node) -> tuple:
        feats = np.sort(has_geom[leaf.items])
        sub = local.subset(feats, ranges)
        leaf.uri = f"content/{leaf.level}_{leaf.x}_{leaf.y}.glb"
        return (tmp / leaf.uri, sub.ring_positions(), sub.ring_lengths, sub.surface_rings, sub.surface_class,
                sub.surface_feature, table.for_tile(feats), materials)

    def done(leaf: _Node, result: tuple[int, np.ndarray, np.ndarray]) -> int:
        leaf.box_min, leaf.box_max = result[1], result[2]
        return result[0]

    total_bytes = 0
    if pool is None or len(leaves) < MIN_PARALLEL_TILES:
        for i, leaf in enumerate(leaves):
            total_bytes += done(leaf, _write_leaf(*job(leaf)))
            if (i + 1) % 100 == 0:
                log.info("%s: %d/%d tiles", name, i + 1, len(leaves))
    else:
        # the parent cuts the tiles' arrays while the workers triangulate and write; a bounded
        # window of tiles in flight keeps memory flat
        pending: deque[tuple[_Node, Future]] = deque()
        try:
            for i, leaf in enumerate(leaves):
                pending.append((leaf, pool.submit(_write_leaf, *job(leaf))))
                while len(pending) > PARALLEL_WINDOW:
                    leaf, future = pending.popleft()
                    total_bytes += done(leaf, future.result())
                if (i + 1) % 100 == 0:
                    log.info("%s: %d/%d tiles", name, i + 1, len(leaves))
            while pending:
                leaf, future = pending.popleft()
                total_bytes += done(leaf, future.result())
        finally:
            # after an error: no worker may still write into the directory that is then removed
            for _, future in pending:
                future.cancel()
            wait([future for _, future in pending])
    _finish(root)
    return root, total_bytes


def tile_pool(jobs: int | None = None) -> Executor | None:
    """Worker processes for writing tiles (None for one job). Started ahead, so that they are ready
    by the time the model is read; forkserver, as forking a process with threads is not safe."""
    jobs = jobs if jobs is not None else len(os.sched_getaffinity(0))
    if jobs <= 1:
        return None
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"))
    for _ in range(jobs):
        pool.submit(_ready)  # start the workers now: they import this module while the model is read
    return pool


def _ready() -> None:
    pass


def _bounds(sets: list[SurfaceSet]) -> tuple[float, float, float, float, float]:
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for s in sets:
        if len(s.vertices):
            vlo, vhi = column_extent(s.vertices)
            lo, hi = np.minimum(lo, vlo), np.maximum(hi, vhi)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), float((lo[2] + hi[2]) / 2)


# LoDs `tile_model` writes building tilesets for by default: the highest each building has (LoD2.2 from
# `stadsmodel build`) as "buildings", and the LoD1.2 blocks as "buildings-lod12" for the viewer's LoD switch
DEFAULT_LODS = (None, "1.2")


def building_tileset_name(lod: str | None, first: bool) -> str:
    """The first LoD's tileset is "buildings" (the one every client knows); others say their LoD."""
    if first:
        return "buildings"
    return "buildings-highest" if lod is None else f"buildings-lod{lod.replace('.', '')}"


def _lods(lod: str | None | list[str | None] | tuple[str | None, ...]) -> tuple[str | None, ...]:
    if lod is None:
        return DEFAULT_LODS
    wanted = (lod,) if isinstance(lod, str) else tuple(lod)
    if not wanted:
        return DEFAULT_LODS
    return tuple(dict.fromkeys(None if w is None else str(w) for w in wanted))


def tile_model(model: Path, out: Path, ahn: list[Path] | None = None,
               lod: str | None | list[str | None] | tuple[str | None, ...] = None,
               jobs: int | None = None) -> dict[str, Any]:
    """Tile a city model (and optionally AHN point clouds) into ``out``: buildings/, terrain/,
    pointcloud/ tilesets and ``out/index.json``; for a model directory whose stadsmodel.gpkg has the bouwenvelop
    layers also envelopes/ and excess/ (tiles.envelopes; what it leaves out is in the index's ``skipped``).
    Returns the index.

    :param model: model directory written by ``stadsmodel build``, or a CityJSON / CityJSONSeq file.
    :param lod: building LoD(s) to tile, e.g. "1.2", "2.2" or ["2.2", "1.2"]: each building in that LoD or the
        best lower one it has. The first is ``buildings/``, every further one ``buildings-lod<NN>/`` (left out
        when it would hold the very same geometry as the first). Default :data:`DEFAULT_LODS`: the highest each
        building has, and LoD1.2. Index entries of building tilesets say their ``lod`` and, in ``lods``, how
        many buildings each LoD gave.
    :param jobs: processes that write tiles (default: the CPUs this process may use; 1 for small models), and
        py3dtiles' workers for the point clouds (default: tiles.pointcloud.DEFAULT_JOBS).
    :raises InputError: bad model or point cloud input. :raises TilingError: nothing to tile.
    """
    lods = _lods(lod)
    out = Path(out)
    mesh_jobs = jobs
    if mesh_jobs is None and model_file(model).stat().st_size < PARALLEL_MIN_BYTES:
        mesh_jobs = 1
    pool = tile_pool(mesh_jobs)
    with paused_gc(), pool or contextlib.nullcontext():  # paused: many objects, no cycles
        cm: CityModel = read_model(model, lod=lods)
        sets = [s for s in (*cm.building_lods.values(), cm.terrain) if len(s)]
        if not sets and not ahn:
            raise TilingError(f"{cm.path}: no buildings or terrain objects to tile")
        out.mkdir(parents=True, exist_ok=True)
        summaries: list[TilesetSummary] = []
        frame = None
        if sets:
            minx, miny, maxx, maxy, zmid = _bounds(sets)
            frame = LocalFrame((minx, miny, maxx, maxy), centre_nap=round(zmid, 1))
        lod_entries: dict[str, dict[str, Any]] = {}
        for i, (wanted, buildings) in enumerate(cm.building_lods.items()):
            counts = cm.lod_counts[wanted]
            if not len(buildings) or (i and len(counts) == 1 and counts == cm.lod_counts[lods[0]]):
                continue  # an extra LoD that is the first one's geometry over again (a LoD1.2-only model)
            name = building_tileset_name(wanted, first=not i)
            summaries.append(tile_surfaces(buildings, frame, out / name, name, "building", BUILDING_MATERIALS,
                                           pool=pool))
            shown = wanted if wanted is not None else max(counts, key=lod_key, default=None)
            lod_entries[name] = {"lod": shown, "lods": counts}
        if len(cm.terrain):
            summaries.append(tile_surfaces(cm.terrain, frame, out / "terrain", "terrain", "terrain", TERRAIN_MATERIALS,
                                           pool=pool))
        # the bouwenvelop and the buildings' excess (tiles.envelopes), when the model's store has those layers
        store, written = Path(model) / STORE_NAME, []
        if frame is not None and Path(model).is_dir() and store.is_file():
            envelope_tilesets, envelope_skips = envelope_sets(store)
            for e in envelope_tilesets:
                try:
                    summaries.append(tile_surfaces(e.surfaces, frame, out / e.name, e.name, e.class_name,
                                                   e.materials, pool=pool))
                    written.append(e.name)
                except TilingError as err:  # no solid with usable surfaces: no such tileset, said in the index
                    envelope_skips.add(store.name, None, str(err))
            cm.skipped.extend(envelope_skips)
        remove_stale(out, written)  # an earlier run's envelopes/ or excess/ the index no longer names
    if ahn:
        summaries.append(tile_pointcloud([Path(p) for p in ahn], out / "pointcloud", jobs=jobs))
    index = {
        "generator": "stadsmodel tiles",
        "model": cm.path.name,  # published at /tiles/index.json: a file name, never a path of this machine
        "crs": f"EPSG:4978 (ECEF, via RDNAPTRANS2018 from {RD_NAP})",
        "tilesets": [s.as_json(out) | lod_entries.get(s.name, {}) for s in summaries],
        "skipped": [dict(s, file=Path(s["file"]).name) if s.get("file") else s for s in cm.skipped.as_json()],
    }
    if frame is not None:
        lon, lat, h = ecef_to_geodetic(frame.origin_ecef[None, :])
        index["origin"] = {"rd": frame.origin_rd.tolist(), "lon": float(lon[0]), "lat": float(lat[0]),
                           "height": float(h[0])}
    with atomic_open(out / TILES_INDEX, "wb") as f:  # serve publishes it: never half-written
        f.write(orjson.dumps(index, option=orjson.OPT_INDENT_2))
    return index
