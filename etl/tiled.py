"""The tiled ETL: the same lifting as `etl.build`, cut into spatial tiles that Dask runs, resumable.

Stages, named after what they produce:

1. ``source_partitions``: every vector source (each BGT file, the BAG input as a whole) is read once, in its
   own task, and its features are cut into per-tile parts by their representative point (a point on the
   surface, so a feature belongs to exactly one tile). Cached by the source's path, size and mtime.
2. ``point_cloud_header``: every LAZ header is inspected (extent, count), one task per file. Each tile gets a
   window: the tile plus the extent of its features plus `etl.build.lift_margin`, so no building is cut, the
   maaiveld ring is complete and the interpolated DTM equals the single-machine one cell for cell. The window's
   raster grid is the model grid's cells inside it (`window_grid`): where the model grid ends, at the edge of
   the data, the tile's grid ends too, so a BGT surface reaching beyond the points is lifted as in one piece.
   ``point_bins``: one task per LAZ file decodes it once and writes, for every tile window it overlaps, the
   points inside (``points/<file>/<tile>.pts``, with a SHA-256 per bin in ``bins.json``). Windows overlap
   and LAZ sheets do not follow the tile grid, so tiles reading the LAZ files themselves would decode most
   points two or three times; decoding is the dearest step of the ETL.
3. ``tile_outputs``: per tile of a fixed RD New grid, one task lifts the tile's footprints and BGT features
   with `etl.build.lift_area` from the tile's point bins. It writes
   ``features.city.jsonl`` (CityJSONSeq), ``store-<layer>.pkl`` (the store's layers), ``dtm.tif``/``dsm.tif`` (the
   tile's cells) and, last, ``done.json`` with the hash of everything that went in.
4. ``model products``: model.city.json, model.city.jsonl, stadsmodel.gpkg, dtm.tif, dsm.tif from the tiles in
   tile order, streamed tile by tile into the writers the single-machine build uses (`etl.writers`); report.json.

A tile is done when its ``done.json`` holds the hash of its inputs now: the content digest of its vector
parts and of its point bins, its bounds, window and grid, the pipeline configuration and the code version. A
re-run skips done tiles; every file is written under a temporary name and moved into place, so a run killed at
any moment, run again, gives byte-identical products. A tile whose point cloud is corrupt
fails alone: it is reported with the file and the reason and retried on the next run; the rest completes.
Bins are kept after their tile is done (so are the tile parts): about 21 bytes per point and window, the
price of a resume that never decodes a LAZ file twice.

Every work file (parts, bins, tile outputs, manifest.json) lives in ``OUT/.work/`` (`WORK_DIR`), never in
``OUT/tiles/``: that folder is what `stadsmodel serve` publishes at /tiles/ (earlier builds kept their work files
there; a build removes those, see `remove_legacy_work_files`).

Store parts are pickled GeoDataFrames, not GeoPackages: a GeoPackage round trip through pyogrio without
pyarrow turns nullable integer and boolean columns into floats and objects, and the assembled store would
then differ from the single-machine one. Inputs and the output folder must be on a filesystem that every
Dask worker sees at the same paths.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import pickle
import re
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from tqdm import tqdm

from core.atomic import atomic_open, atomic_path, temporary_sibling, write_json
from core.cityjson import make_transform
from core.config import ROOT, pipeline_config
from core.crs import RD_NEW
from core.errors import InputError, LiftingError, SkipLog, StadsmodelError
from core.lasfile import LasFile, inspect_las
from core.products import (
    ADDRESSES,
    BGT_PREFIX,
    BUILDING_SOLIDS,
    BUILDINGS,
    DSM_NAME,
    DTM_NAME,
    MODEL_JSON,
    MODEL_JSONL,
    STORE_NAME,
)
from etl.boxes import Box, intersection, overlaps, union
from etl.build import (
    BuildReport,
    Stopwatch,
    bag_footprints,
    bgt_layers_from,
    build_counts,
    check_inputs,
    clean_geometries,
    empty_addresses,
    flag_reasons,
    footprints_from_bgt,
    lift_area,
    lift_margin,
    model_grid,
    model_section,
    modelled_area,
    point_clouds_over,
    store_layers,
    write_report,
    xy_box,
)
from etl.grid import GridSpec
from etl.readers.ahn import PointChunk, iter_point_chunks
from etl.roofs.buildings import empty_solids
from etl.writers.cityjson import quantised_features, write_cityjsonseq, write_model
from etl.writers.publish import Publication, output_folder, unusable_reason
from etl.writers.raster import write_cog
from etl.writers.store import StoreLayer, write_store

log = logging.getLogger(__name__)

# The build's own work files (manifest.json, sources/<key>/, points/<file>/, <tile key>/), below the output
# folder but hidden and apart from OUT/tiles/, which `stadsmodel serve` publishes: pickles, point bins and
# absolute input paths are not a product.
WORK_DIR = ".work"
MANIFEST = "manifest.json"
LEGACY_WORK_DIR = "tiles"   # where earlier builds kept them, in the served folder: see remove_legacy_work_files
DEFAULT_TILE_SIZE = 1000
TILE_FEATURES = "features.city.jsonl"  # a tile's CityJSONSeq, with a transform of its own
BGT_SUFFIXES = (".gml", ".xml", ".zip", ".gpkg", ".sqlite", ".db", ".geojson", ".json", ".fgb", ".shp")
# The code whose change invalidates every tile: the ground floor, the whole ETL and the default configuration
# (not synth/, tiles/ or services/, which no tile runs).
_CODE = ("core/*.py", "etl/**/*.py", "config/pipeline.yml")


# --- identities and hashes ----------------------------------------------------------------------------------
def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def code_files() -> list[Path]:
    """The files `code_version` digests."""
    return sorted({f for pattern in _CODE for f in ROOT.glob(pattern)})


def code_version() -> str:
    """Package version plus a digest of the ETL's source files (a code change re-runs every tile)."""
    h = hashlib.sha256()
    for f in code_files():
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return f"{importlib.metadata.version('stadsmodel')}+{h.hexdigest()[:12]}"


def file_fingerprint(path: Path) -> list[list]:
    """(path, size, mtime in ns) of a file, or of every file below a folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    return out


@dataclass(frozen=True)
class TileGrid:
    """The fixed RD New tile grid; a tile's key is its lower-left corner in metres, ``"<x>_<y>"``."""

    size: float

    def keys(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix = np.floor(np.asarray(x) / self.size).astype(np.int64)
        iy = np.floor(np.asarray(y) / self.size).astype(np.int64)
        return np.array([self._key(a, b) for a, b in zip(ix, iy)], dtype=object)

    def _key(self, ix: int, iy: int) -> str:
        return f"{_num(ix * self.size)}_{_num(iy * self.size)}"

    def bounds(self, key: str) -> Box:
        x0, y0 = (float(v) for v in key.split("_"))
        return (x0, y0, x0 + self.size, y0 + self.size)

    def covering(self, minx: float, miny: float, maxx: float, maxy: float) -> list[str]:
        """Keys of every tile the box touches."""
        return [self._key(ix, iy)
                for ix in range(math.floor(minx / self.size), math.floor(maxx / self.size) + 1)
                for iy in range(math.floor(miny / self.size), math.floor(maxy / self.size) + 1)]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def tile_order(key: str) -> tuple[float, float]:
    x, y = key.split("_")
    return (float(y), float(x))  # row by row, south to north, west to east


# --- work files (each written atomically, core.atomic) -------------------------------------------------------
def _write_json(path: Path, data: Any) -> None:
    write_json(path, data, indent=1)


def _write_pickle(path: Path, data: Any) -> str:
    """Pickle `data` atomically; returns the SHA-256 of the bytes written (a content digest for free)."""
    blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_open(path, "wb") as f:
        f.write(blob)
    return hashlib.sha256(blob).hexdigest()


def _read_pickle(path: Path) -> Any:
    with path.open("rb") as f:
        return pickle.load(f)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files of a run that was killed: never part of a product, safe to drop."""
    for tmp in folder.glob(".*.tmp-*"):
        tmp.unlink(missing_ok=True)


_TILE_KEY = re.compile(r"-?\d+(\.\d+)?_-?\d+(\.\d+)?")
# Folder pattern → the names of the work files an earlier build wrote there (temporaries: ".*.tmp-*").
_LEGACY_WORK_FILES = (
    ("sources", re.compile(r"[0-9a-f]{20}"), re.compile(r"summary\.json|schema\.pkl|.+\.pkl")),
    ("points", re.compile(r"[0-9a-f]{16}"), re.compile(r"bins\.json|.+\.pts")),
    ("", _TILE_KEY, re.compile(r"done\.json|features\.city\.jsonl|store-.+\.pkl|dtm\.tif|dsm\.tif")),
)


def remove_legacy_work_files(out: Path) -> int:
    """Remove the work files an earlier tiled build left in OUT/tiles/ (served at /tiles/) and its manifest.

    Only files this module wrote, recognised by folder and file name, are removed, and folders only when that
    leaves them empty: 3D Tiles a user made in OUT/tiles/ (buildings/, terrain/, index.json, …) stay. Returns
    the number of files removed.
    """
    legacy, removed = out / LEGACY_WORK_DIR, 0
    for parent, folder_name, file_name in _LEGACY_WORK_FILES:
        base = legacy / parent if parent else legacy
        if not base.is_dir():
            continue
        for folder in base.iterdir():
            if not (folder.is_dir() and folder_name.fullmatch(folder.name)):
                continue
            for f in folder.iterdir():
                if f.is_file() and (file_name.fullmatch(f.name) or ".tmp-" in f.name and f.name.startswith(".")):
                    f.unlink()
                    removed += 1
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        if parent:
            with contextlib.suppress(OSError):
                base.rmdir()
    old_manifest = out / MANIFEST
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, AttributeError):
        if {"code_version", "tiles"} <= json.loads(old_manifest.read_text(encoding="utf-8")).keys():
            old_manifest.unlink()
            removed += 1
    with contextlib.suppress(OSError):
        legacy.rmdir()  # only when empty: nothing else was in it
    if removed:
        log.info("removed %d work files of an earlier tiled build from %s", removed, legacy)
    return removed


# --- stage 1: vector sources cut into tile parts -----------------------------------------------------------
@dataclass(frozen=True)
class VectorSource:
    """One unit of vector input read by one task: a BGT file, or the BAG input as a whole (its PND, VBO and
    NUM files are joined, so they are read together)."""

    kind: str                  # "bgt" | "bag"
    paths: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.paths[0] if len(self.paths) == 1 else f"{self.paths[0]} (+{len(self.paths) - 1})"

    def key(self, cfg_hash: str, code: str, grid: TileGrid) -> str:
        fp = [file_fingerprint(Path(p)) for p in self.paths]
        return _sha([self.kind, fp, cfg_hash, code, grid.size])[:20]


def vector_sources(bgt: Sequence[Path], bag: Sequence[Path]) -> list[VectorSource]:
    """BGT folders are split into their files so each is read (and re-read when it changes) on its own."""
    sources = []
    for p in map(Path, bgt):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in BGT_SUFFIXES)
            sources += [VectorSource("bgt", (str(f),)) for f in files] or [VectorSource("bgt", (str(p),))]
        else:
            sources.append(VectorSource("bgt", (str(p),)))
    if bag:
        sources.append(VectorSource("bag", tuple(str(p) for p in bag)))
    return sources


def _tile_of_features(grid: TileGrid, frame: gpd.GeoDataFrame) -> np.ndarray:
    """The tile of each feature: that of a point on its surface (None where it has no geometry)."""
    geoms = frame.geometry.values
    keys = np.full(len(frame), None, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        pts = shapely.point_on_surface(geoms[ok])
        keys[ok] = grid.keys(shapely.get_x(pts), shapely.get_y(pts))
    return keys


def source_partitions(source: VectorSource, key: str, config_path: str | None, tile_size: float,
                      work: str) -> dict:
    """Read one vector source and write its per-tile parts; returns the summary (cached in summary.json).

    A source that cannot be read at all gives {"error": ...} and writes nothing, so it is retried next run.
    """
    folder = Path(work) / "sources" / key
    summary_path = folder / "summary.json"
    if summary_path.exists():
        return json.loads(summary_path.read_text(encoding="utf-8"))
    cfg = pipeline_config(config_path)
    grid = TileGrid(tile_size)
    skipped, notes = SkipLog(), []
    t0 = time.perf_counter()
    try:
        if source.kind == "bgt":
            layers, counts_in = bgt_layers_from([Path(p) for p in source.paths], cfg, skipped)
            frames = {f"{BGT_PREFIX}{t}": layer for t, layer in layers.items()}
        else:
            footprints, addresses, counts_in = bag_footprints([Path(p) for p in source.paths], cfg, skipped)
            frames = {"panden": footprints, "verblijfsobjecten": addresses}
    except StadsmodelError as e:
        log.warning("%s", e)
        return {"source": source.label, "kind": source.kind, "error": str(e),
                "file": getattr(e, "path", source.label)}
    folder.mkdir(parents=True, exist_ok=True)
    tile_keys = {name: _tile_of_features(grid, frame) for name, frame in frames.items()}
    if "verblijfsobjecten" in frames:
        _place_addresses_without_location(frames, tile_keys, skipped, source.label)
    tiles: dict[str, dict] = {}
    rows = {name: pd.Series(keys).dropna().groupby(lambda i, k=keys: k[i]).indices if len(keys) else {}
            for name, keys in tile_keys.items()}  # tile → row positions, per layer (one pass, not one per tile)
    every = sorted({k for groups in rows.values() for k in groups}, key=tile_order)
    for tile in every:
        # Without the source's row index: the digest is then that of the tile's features alone, so a feature
        # added elsewhere in the file leaves this tile's part, and the tile, untouched.
        part = {name: frame.iloc[rows[name][tile]].reset_index(drop=True)
                for name, frame in frames.items() if tile in rows[name]}
        tiles[tile] = {"digest": _write_pickle(folder / f"{tile}.pkl", part),
                       "bounds": list(union([f.total_bounds for f in part.values()])),
                       "counts": {name: int(len(f)) for name, f in part.items()}}
    _write_pickle(folder / "schema.pkl", {name: frame.iloc[:0] for name, frame in frames.items()})
    summary = {
        "source": source.label, "kind": source.kind, "key": key, "counts_in": counts_in,
        "layers": {name: int(len(f)) for name, f in frames.items()},
        "layer_bounds": {name: list(f.total_bounds) for name, f in frames.items() if len(f)},
        "tiles": tiles, "skipped": skipped.as_json(), "notes": notes,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    _write_json(summary_path, summary)  # last: its presence means the parts are complete
    return summary


def _place_addresses_without_location(frames, tile_keys, skipped: SkipLog, label: str) -> None:
    """An address without a location goes to the tile of its pand; without either, it is reported."""
    vbo, keys = frames["verblijfsobjecten"], tile_keys["verblijfsobjecten"]
    missing = pd.isna(keys)
    if not missing.any():
        return
    pand_tile = dict(zip(frames["panden"]["identificatie"], tile_keys["panden"]))
    for i in np.flatnonzero(missing):
        keys[i] = pand_tile.get(vbo["pand_identificatie"].iloc[i])
        if keys[i] is None:
            skipped.add(label, str(vbo["identificatie"].iloc[i]),
                        "verblijfsobject without location and without a known pand: not placed in any tile")


# --- stage 2: point cloud headers -------------------------------------------------------------------------
def point_cloud_header(path: str) -> dict:
    """The header of one LAZ file and its fingerprint, or the reason it is refused."""
    try:
        info = inspect_las(path)
    except InputError as e:
        return {"path": path, "error": e.reason}
    st = Path(path).stat()
    return {"path": path, "info": info, "fingerprint": [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]}


# --- stage 2b: point bins -----------------------------------------------------------------------------------
POINT_RECORD = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f4"), ("c", "u1")])  # as decoded: exact coordinates
BINS = "bins.json"


@dataclass(frozen=True)
class PointBin:
    """The points of one LAZ file that fall in one tile's window (a flat file of POINT_RECORDs)."""

    path: Path
    point_count: int
    source: str            # the LAZ file


def read_point_bin(point_bin: PointBin, chunk_points: int) -> Iterator[PointChunk]:
    """Stream a bin in chunks (memory-mapped: a tile never holds all its points at once)."""
    records = np.memmap(point_bin.path, dtype=POINT_RECORD, mode="r")
    for start in range(0, len(records), chunk_points):
        r = records[start:start + chunk_points]
        yield PointChunk(np.ascontiguousarray(r["x"]), np.ascontiguousarray(r["y"]), np.ascontiguousarray(r["z"]),
                         np.ascontiguousarray(r["c"]))


def point_bins_folder(work: Path, laz: str) -> Path:
    return work / "points" / hashlib.sha256(str(Path(laz).resolve()).encode()).hexdigest()[:16]


def point_bins(info: LasFile, fingerprint: list, windows: dict[str, Box],
               folder: str, chunk_points: int, code: str) -> dict:
    """Decode one LAZ file once and write, per tile whose window it overlaps, the points inside that window.

    Tiles then read only their bins, so a point is decoded once however many tile windows hold it. Returns
    the summary written last as bins.json: per tile the point count and the SHA-256 of its bin, which go into
    the tile's hash. Cached while the file, the windows and the code are unchanged. A file that cannot be
    read completely gives {"error": ...} and leaves no bins, so its tiles fail and are retried next run.
    """
    folder_path = Path(folder)
    summary_path = folder_path / BINS
    identity = _sha({"fingerprint": fingerprint, "code": code, "windows": windows})
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        cached = json.loads(summary_path.read_text(encoding="utf-8"))
        if cached.get("identity") == identity and all(
                (folder_path / f"{k}.pts").exists() for k, b in cached["bins"].items() if b["count"]):
            return cached
    folder_path.mkdir(parents=True, exist_ok=True)
    summary_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    temps = {k: temporary_sibling(folder_path / f"{k}.pts") for k in windows}
    outs = {k: t.open("wb") for k, t in temps.items()}
    digests = {k: hashlib.sha256() for k in windows}
    counts = dict.fromkeys(windows, 0)
    decoded, error = 0, None
    try:
        for chunk in iter_point_chunks(info, chunk_points):
            decoded += len(chunk.x)
            if not len(chunk.x):
                continue
            cx0, cx1, cy0, cy1 = chunk.x.min(), chunk.x.max(), chunk.y.min(), chunk.y.max()
            for k, (x0, y0, x1, y1) in windows.items():
                if cx1 < x0 or cx0 >= x1 or cy1 < y0 or cy0 >= y1:
                    continue
                inside = (chunk.x >= x0) & (chunk.x < x1) & (chunk.y >= y0) & (chunk.y < y1)  # as lifting's clip
                n = int(np.count_nonzero(inside))
                if not n:
                    continue
                rec = np.empty(n, dtype=POINT_RECORD)
                rec["x"], rec["y"], rec["z"], rec["c"] = (chunk.x[inside], chunk.y[inside], chunk.z[inside],
                                                          chunk.classification[inside])
                data = rec.tobytes()
                outs[k].write(data)
                digests[k].update(data)
                counts[k] += n
    except InputError as e:
        error = e
    finally:
        for f in outs.values():
            f.close()
    if error is not None:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        log.warning("%s", error)
        return {"path": str(info.path), "error": error.reason}
    for k, tmp in temps.items():
        if counts[k]:
            os.replace(tmp, folder_path / f"{k}.pts")
        tmp.unlink(missing_ok=True)
    summary = {"identity": identity, "path": str(info.path), "points": decoded,
               "bins": {k: {"count": counts[k], "sha256": digests[k].hexdigest()} for k in sorted(windows)},
               "seconds": round(time.perf_counter() - t0, 3)}
    _write_json(summary_path, summary)  # last: its presence means every bin is complete
    return summary


# --- stage 3: one tile -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TileJob:
    key: str
    bounds: Box
    window: Box                                 # the points read: tile ∪ feature extents, plus the margin
    parts: tuple[str, ...]                      # pickled vector parts of the sources that touch the tile
    schemas: tuple[str, ...]
    ahn: tuple[str, ...]                        # the LAZ files whose extent overlaps the window
    footprint_source: str
    config_path: str | None
    hash: str                                   # of every input: vector parts, point bins, config, code
    folder: str
    grid: GridSpec                              # the window's raster grid: the model grid's cells in the window
    points: tuple[PointBin, ...] = ()           # the tile's non-empty point bins


class TileFailed(StadsmodelError):
    """A tile could not be built from its inputs (e.g. a corrupt point cloud); the others go on."""

    def __init__(self, tile: str, reason: str, files: list[str]):
        self.tile, self.reason, self.files = tile, reason, files
        super().__init__(f"tile {tile}: {reason}")


def tile_done(folder: Path, tile_hash: str) -> dict | None:
    """The tile's done.json when it was built from exactly these inputs, else None."""
    try:
        done = json.loads((folder / "done.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return done if done.get("hash") == tile_hash else None


def tile_outputs(job: TileJob) -> dict:
    """Build one tile; returns what its done.json holds (or {"failed": ...} for a tile that could not be built)."""
    folder = Path(job.folder)
    cached = tile_done(folder, job.hash)
    if cached is not None:
        return cached | {"executed": False}
    t0 = time.perf_counter()
    cfg = pipeline_config(job.config_path)
    try:
        return _build_tile(job, cfg, folder, t0)
    except TileFailed as e:
        log.warning("%s", e)
        return {"key": job.key, "hash": job.hash, "failed": e.reason, "files": e.files, "executed": True}
    except StadsmodelError as e:
        log.warning("tile %s: %s", job.key, e)
        return {"key": job.key, "hash": job.hash, "failed": str(e), "files": [], "executed": True}


def _load_parts(job: TileJob) -> dict[str, gpd.GeoDataFrame]:
    layers: dict[str, list[gpd.GeoDataFrame]] = collections.defaultdict(list)
    for part in job.parts:
        for name, frame in _read_pickle(Path(part)).items():
            layers[name].append(frame)
    templates: dict[str, gpd.GeoDataFrame] = {}
    for schema in job.schemas:
        for name, frame in _read_pickle(Path(schema)).items():
            templates.setdefault(name, frame)
    out = {}
    for name, template in templates.items():
        frames = layers.get(name) or [template]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
        # Feature order within a tile: by identifier, whatever the order of files and features in the input.
        out[name] = gpd.GeoDataFrame(frame.sort_values("identificatie", kind="stable").reset_index(drop=True),
                                     geometry="geometry", crs=RD_NEW)
    return out


def _build_tile(job: TileJob, cfg: dict, folder: Path, t0: float) -> dict:
    layers = _load_parts(job)
    skipped = SkipLog()
    bgt_layers = {name.removeprefix(BGT_PREFIX): frame for name, frame in layers.items()
                  if name.startswith(BGT_PREFIX)}
    bgt_layers = {t: bgt_layers[t] for t in cfg["bgt"] if t in bgt_layers}
    if job.footprint_source == "BAG":
        footprints = layers.get("panden")
        addresses = layers.get("verblijfsobjecten")
    else:
        pand = bgt_layers.get("pand")
        footprints = footprints_from_bgt(pand) if pand is not None else None
        if footprints is not None:
            footprints = clean_geometries(footprints, float(cfg["cityjson_scale"]), "BGT pand", skipped)
            footprints = footprints.sort_values("identificatie", kind="stable").reset_index(drop=True)
        addresses = None
    if footprints is None:
        footprints = gpd.GeoDataFrame({"identificatie": pd.Series(dtype=object)},
                                      geometry=gpd.GeoSeries([], crs=RD_NEW), crs=RD_NEW)
    spec = job.grid
    before = len(skipped)
    # No `clip`: the bins hold exactly the window's points already. Without it lift_area fills the DTM as the
    # single-machine build does at the model grid's edges, where the tile's grid ends too (see window_grid).
    stages: dict[str, float] = {}
    # The tile's roofs in this task: the tiles themselves spread the work over Dask's workers.
    area = lift_area(footprints, bgt_layers, list(job.points), spec, cfg, skipped, job.footprint_source,
                     watch=Stopwatch(stages), home=job.bounds, progress=False, read_chunks=read_point_bin)
    if area.scan.files_read < len(job.points):
        bad = skipped.items[before:]
        raise TileFailed(job.key, "; ".join(str(s) for s in bad) or "a point cloud could not be read completely",
                         sorted({s.path for s in bad}))
    folder.mkdir(parents=True, exist_ok=True)
    objects = area.objects
    # The tile's features with a transform of their own (whole-metre translate, so tiles re-quantise exactly).
    transform, extent, features = quantised_features(objects, float(cfg["cityjson_scale"]))
    write_cityjsonseq(folder / TILE_FEATURES, transform, extent, features)
    store = store_layers(area.buildings, area.roofs.solid_rows(area.buildings["identificatie"]), addresses,
                         area.bgt_layers)
    for name, frame in store.items():  # one file per layer: assembly reads each layer of each tile once
        _write_pickle(folder / f"store-{name}.pkl", frame)
    nodata = float(cfg["rasters"]["nodata"])
    home_grid = window_grid(job.bounds, spec)
    dtm_cells = _write_tile_raster(folder / DTM_NAME, area.dtm_filled, spec, home_grid, nodata)
    _write_tile_raster(folder / DSM_NAME, area.dsm, spec, home_grid, nodata)
    buildings = area.buildings
    done = {
        "key": job.key, "hash": job.hash, "bounds": list(job.bounds), "window": list(job.window),
        "code_version": code_version(),
        "inputs": {"ahn": list(job.ahn), "parts": list(job.parts)},
        "counts": {
            "buildings": int(len(buildings)),
            "with_geometry": sum(o.has_geometry for o in area.building_objects),
            "flag_reasons": dict(flag_reasons(buildings)),
            "lod_best": area.roofs.counts()["best"],
            "lod_fallback_reasons": area.roofs.counts()["fallback_reasons"],
            "bgt_read": {t: int(len(layer)) for t, layer in area.bgt_layers.items()},
            "bgt_lifted": {t: len(layer.objects) for t, layer in area.lifted.items()},
            "store": {name: int(len(frame)) for name, frame in store.items()},
            "points_loaded": area.scan.points_read, "points": area.scan.points_in_home,
            "dtm_cells": dtm_cells,  # the tile's DTM cells with a height (a model without any is not usable)
            "points_per_class": {str(c): n for c, n in sorted(area.scan.points_per_class.items())},
        },
        "cityjson": {"transform": transform, "extent": extent, "objects": len(objects)},
        "skipped": skipped.as_json(), "notes": area.notes,
        "seconds": round(time.perf_counter() - t0, 3),
        "stages_s": stages,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker": _worker_name(),
    }
    _write_json(folder / "done.json", done)  # last: the tile is complete
    return done | {"executed": True}


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().name if isinstance(get_worker().name, str) else str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _write_tile_raster(path: Path, grid: np.ndarray, spec: GridSpec, tile: GridSpec, nodata: float) -> int:
    """The tile's own cells (`tile`, part of the window grid `spec`) as a plain GeoTIFF; none for a tile
    beyond the model grid, which has no cells. Returns how many of the cells hold a value."""
    path.unlink(missing_ok=True)
    if not tile.width or not tile.height:
        return 0
    col0 = int(round((tile.minx - spec.minx) / spec.resolution))
    row0 = int(round((spec.maxy - tile.maxy) / spec.resolution))
    cells = grid[row0:row0 + tile.height, col0:col0 + tile.width]
    profile = {"driver": "GTiff", "width": tile.width, "height": tile.height, "count": 1, "dtype": "float32",
               "crs": RD_NEW, "transform": tile.transform, "nodata": nodata, "compress": "DEFLATE", "zlevel": 1,
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as ds:
            ds.write(cells.astype(np.float32), 1)
    return int(np.count_nonzero(cells != nodata))


# --- stage 4: the model products from the tiles, through the writers of etl.build --------------------------
def _model_features(folders: list[str], transform: dict) -> Iterator[dict]:
    """Every feature of the tiles, in tile order, quantised with the model's `transform` (one tile at a time)."""
    for folder in folders:
        with (Path(folder) / TILE_FEATURES).open(encoding="utf-8") as f:
            shift = _shift(json.loads(f.readline()), transform)
            for line in f:
                feat = json.loads(line)
                if any(shift) and feat["vertices"]:
                    feat["vertices"] = (np.asarray(feat["vertices"], dtype=np.int64) + shift).tolist()
                yield feat


def _shift(head: dict, transform: dict) -> list[int]:
    """The integer shift from a tile's quantised vertices to the model's (exact: whole-metre translates)."""
    return [int(round((a - b) / s)) for a, b, s in
            zip(head["transform"]["translate"], transform["translate"], transform["scale"])]


def model_transform(done: list[dict], scale: float) -> tuple[dict, list | None]:
    """The model's transform and extent from the tiles': translate = the smallest whole-metre translate."""
    with_vertices = [d["cityjson"] for d in done if d["cityjson"]["extent"]]
    if not with_vertices:
        return make_transform(np.zeros(3), scale), None
    translate = np.min([c["transform"]["translate"] for c in with_vertices], axis=0)
    ext = np.asarray([c["extent"] for c in with_vertices])
    extent = [*ext[:, :3].min(axis=0).tolist(), *ext[:, 3:].max(axis=0).tolist()]
    return {"scale": [scale] * 3, "translate": [float(v) for v in translate]}, extent


def assemble_cityjson(folders: list[str], done: list[dict], out: str, scale: float) -> int:
    """model.city.json and model.city.jsonl from the tiles' features, streamed tile by tile."""
    transform, extent = model_transform(done, scale)
    return write_model(Path(out) / MODEL_JSON, Path(out) / MODEL_JSONL, transform, extent,
                       _model_features(folders, transform))


def _store_parts(folders: list[str], name: str) -> Iterator[gpd.GeoDataFrame]:
    for folder in folders:
        part = Path(folder) / f"store-{name}.pkl"
        if part.exists():
            yield _read_pickle(part)


def assemble_store(folders: list[str], layer_names: list[str], templates: dict[str, gpd.GeoDataFrame], out: str,
                   as_of: str) -> dict[str, int]:
    """stadsmodel.gpkg from the tiles' store parts, layer by layer, tile by tile (bounded memory).

    :param as_of: the timestamp GDAL writes as last_change, so the file is reproducible.
    """
    return write_store(Path(out) / STORE_NAME,
                       {name: StoreLayer(templates[name], _store_parts(folders, name)) for name in layer_names},
                       as_of=as_of)


def assemble_raster(folders: list[str], name: str, spec: GridSpec, nodata: float, out: str) -> None:
    """A COG over the whole model grid from the tiles' cells (one tile in memory at a time); a tile beyond the
    model grid (only BGT there) has no cells."""
    parts = [Path(folder) / name for folder in folders if (Path(folder) / name).exists()]
    write_cog(Path(out) / name, spec, nodata, parts=parts)


def window_grid(window: Sequence[float], model: GridSpec) -> GridSpec:
    """The cells of the model's raster grid that a window touches (as `GridSpec.covering`, clipped to it).

    A tile's grid ends where the model grid ends, as the single-machine build's does: a vertex beyond the data
    then has no DTM cell in either build (instead of an extrapolated one in the tile only), and the DTM fill is
    padded alike at that edge. Empty (width or height 0) for a window wholly beyond the model grid.
    """
    res = model.resolution
    c0 = max(0, math.floor((window[0] - model.minx) / res))
    c1 = min(model.width, math.floor((window[2] - model.minx) / res) + 1)
    r0 = max(0, math.floor((model.maxy - window[3]) / res))
    r1 = min(model.height, math.floor((model.maxy - window[1]) / res) + 1)
    return GridSpec(model.minx + c0 * res, model.maxy - r0 * res, max(c1 - c0, 0), max(r1 - r0, 0), res)


# --- the orchestration ------------------------------------------------------------------------------------
@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None, processes: bool = True):
    """A client on an existing cluster (`scheduler`), or on a local cluster of `workers` single-threaded workers."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            log.info("Dask cluster %s, dashboard: %s", scheduler, client.dashboard_link)
            yield client
        return
    with LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=processes,
                      dashboard_address=None, silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client


@dataclass
class _Plan:
    jobs: list[TileJob]
    laz: dict[str, dict]          # path → header (info, fingerprint) of every usable LAZ file
    spec: GridSpec | None
    layer_names: list[str]
    templates: dict[str, gpd.GeoDataFrame]
    summaries: list[dict]
    headers: list[dict]
    footprint_source: str
    refused: SkipLog              # point clouds that do not reach the modelled area


def _plan(cfg: dict, config_path: str | None, grid: TileGrid, summaries: list[dict], headers: list[dict],
          work: Path, has_bag: bool) -> _Plan:
    cfg_hash, code = _sha(cfg), code_version()
    good = [s for s in summaries if "error" not in s]
    files = [h for h in headers if "info" in h]
    if not files:
        raise LiftingError("no usable point cloud: every AHN input was refused (see report)")
    footprint_source = "BAG" if has_bag else "BGT pand"
    if has_bag and not any("error" not in s for s in summaries if s["kind"] == "bag"):
        raise LiftingError("no footprints: the BAG input could not be read (see the messages above)")
    fp_layer = "panden" if has_bag else f"{BGT_PREFIX}pand"
    fp_bounds = [s["layer_bounds"][fp_layer] for s in good if fp_layer in s.get("layer_bounds", {})]
    if not fp_bounds:
        raise LiftingError("no footprints: the BAG/BGT input holds no usable pand")
    # The modelled area, the point clouds that reach it and the model's raster grid: those of the
    # single-machine build, from the extents the sources' summaries hold (the functions need only extents).
    footprints_box = _box_frame(union(fp_bounds))
    bgt_boxes = {f"{s['key']}/{name}": _box_frame(b) for s in good
                 for name, b in s.get("layer_bounds", {}).items() if name.startswith(BGT_PREFIX)}
    area = modelled_area(footprints_box, bgt_boxes, cfg)
    refused = SkipLog()
    reaching = {str(f.path) for f in point_clouds_over([f["info"] for f in files], area, refused)}
    files = [f for f in files if str(f["info"].path) in reaching]
    spec = model_grid(footprints_box, [f["info"] for f in files], area, cfg["rasters"]["resolution"])
    # Each point cloud's extent as far as the grid reaches: a header may claim far more than its points cover.
    ahn_bounds = [intersection(xy_box(f["info"]), spec.bounds) for f in files]

    templates: dict[str, gpd.GeoDataFrame] = {}
    schema_paths = []
    for s in good:
        schema = work / "sources" / s["key"] / "schema.pkl"
        schema_paths.append(str(schema))
        for name, frame in _read_pickle(schema).items():
            templates.setdefault(name, frame)
    bgt_names = [f"{BGT_PREFIX}{t}" for t in cfg["bgt"] if f"{BGT_PREFIX}{t}" in templates]
    layer_names = [BUILDINGS, BUILDING_SOLIDS, ADDRESSES, *bgt_names]

    by_tile: dict[str, list[tuple[dict, dict]]] = collections.defaultdict(list)
    for s in good:
        for tile, part in s["tiles"].items():
            by_tile[tile].append((s, part))
    keys = set(by_tile)
    for b in filter(None, ahn_bounds):  # tiles with points but no features still get their DTM/DSM cells
        keys.update(k for k in grid.covering(*b) if overlaps(grid.bounds(k), spec.bounds)
                    and overlaps(grid.bounds(k), b) and not _touch_only(grid.bounds(k), b))
    margin = lift_margin(cfg)
    jobs = []
    for key in sorted(keys, key=tile_order):
        bounds = grid.bounds(key)
        parts = sorted(by_tile.get(key, []), key=lambda sp: sp[0]["source"])  # stable while files change
        core = union([bounds] + [p["bounds"] for _, p in parts])
        window = (core[0] - margin, core[1] - margin, core[2] + margin, core[3] + margin)
        ahn = sorted((f for f in files if overlaps(window, xy_box(f["info"]))), key=lambda f: f["path"])
        tile_grid = window_grid(window, spec)
        # The hash of everything but the points; `with_points` adds the content hash of the tile's bins.
        tile_hash = _sha({"code": code, "config": cfg_hash, "bounds": bounds, "window": window,
                          "grid": dataclasses.astuple(tile_grid),
                          "footprints": footprint_source,
                          # the source by name, not by its cache key: that changes with any change to the
                          # file, and would re-run every tile the file reaches instead of the changed ones
                          "parts": [[s["source"], p["digest"]] for s, p in parts]})
        jobs.append(TileJob(key, bounds, window,
                            tuple(str(work / "sources" / s["key"] / f"{key}.pkl") for s, _ in parts),
                            tuple(schema_paths), tuple(str(f["info"].path) for f in ahn), footprint_source,
                            config_path, tile_hash, str(work / key), tile_grid))
    return _Plan(jobs, {str(f["info"].path): f for f in files}, spec, layer_names, templates, summaries, headers,
                 footprint_source, refused)


def _point_bins(client, plan: _Plan, work: Path, chunk_points: int, code: str) -> dict[str, dict]:
    """One task per LAZ file: its points cut into the windows of the tiles it overlaps."""
    windows: dict[str, dict[str, tuple]] = collections.defaultdict(dict)
    for job in plan.jobs:
        for path in job.ahn:
            windows[path][job.key] = job.window
    futures = {path: client.submit(point_bins, plan.laz[path]["info"], plan.laz[path]["fingerprint"], w,
                                   str(point_bins_folder(work, path)), chunk_points, code, pure=False,
                                   key=f"points-{point_bins_folder(work, path).name}")
               for path, w in sorted(windows.items())}
    return dict(zip(futures, client.gather(list(futures.values()))))


def _with_points(jobs: list[TileJob], bins: dict[str, dict], work: Path) -> tuple[list[TileJob], dict[str, dict]]:
    """Each tile with its point bins and its final hash (the content hash of its bins added), and the tiles
    that cannot be built because a LAZ file they need could not be read, as failed results."""
    out, unreadable = [], {}
    for job in jobs:
        points, digests, errors = [], [], []
        for path in job.ahn:
            summary = bins[path]
            if "error" in summary:
                errors.append((path, summary["error"]))
                continue
            b = summary["bins"][job.key]
            if b["count"]:
                points.append(PointBin(point_bins_folder(work, path) / f"{job.key}.pts", b["count"], path))
                digests.append([path, b["count"], b["sha256"]])
        job = dataclasses.replace(job, hash=_sha({"tile": job.hash, "points": digests}), points=tuple(points))
        out.append(job)
        if errors:
            unreadable[job.key] = {"key": job.key, "hash": job.hash, "executed": True,
                                   "failed": "; ".join(f"{path}: {reason}" for path, reason in errors),
                                   "files": [path for path, _ in errors]}
    return out, unreadable


def _box_frame(box: Sequence[float]) -> gpd.GeoDataFrame:
    """A frame whose total_bounds is `box`."""
    return gpd.GeoDataFrame(geometry=[shapely.box(*box)], crs=RD_NEW)


def _touch_only(a, b) -> bool:
    """Boxes that share only an edge: a LAZ sheet ending on a tile line adds no points to the next tile."""
    return a[0] == b[2] or b[0] == a[2] or a[1] == b[3] or b[1] == a[3]


def _as_of(paths: Sequence[Path]) -> str:
    """The newest input's mtime (UTC): the timestamp the store records, the same on every re-run."""
    newest = max(f[2] for p in paths for f in file_fingerprint(Path(p)))
    return dt.datetime.fromtimestamp(newest // 10**9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_tiled(bgt: Sequence[Path], bag: Sequence[Path], ahn: Sequence[Path], out: Path,
                config_path: str | Path | None = None, tile_size: float = DEFAULT_TILE_SIZE,
                workers: int | None = None, scheduler: str | None = None, processes: bool = True,
                progress: bool | None = None) -> BuildReport:
    """The ETL in tiles on Dask: the same products as `etl.build.build_model`, resumable.

    :param tile_size: tile edge in metres (a multiple of the raster resolution).
    :param workers: local cluster size (default 1); ignored with `scheduler`.
    :param scheduler: address of an existing Dask scheduler, e.g. ``tcp://host:8786``.
    :param processes: local workers as processes (default) or threads in this process.
    :raises InputError: a named input does not exist.
    :raises LiftingError: nothing usable remains (no point cloud, no footprints).
    """
    t_start = time.perf_counter()
    config_path = str(config_path) if config_path else None
    cfg = pipeline_config(config_path)
    res = float(cfg["rasters"]["resolution"])
    if tile_size <= 0 or not math.isclose(tile_size / res, round(tile_size / res)):
        raise StadsmodelError(f"--tile-size {tile_size}: must be a positive multiple of the raster resolution "
                              f"({res} m)")
    check_inputs(bgt, bag, ahn)
    out = output_folder(out)
    work = out / WORK_DIR
    (work / "sources").mkdir(parents=True, exist_ok=True)
    remove_legacy_work_files(out)
    for folder in (out, work, *(f for f in work.glob("*") if f.is_dir()), *work.glob("*/*/")):
        _remove_stale_temporaries(folder)
    grid = TileGrid(float(tile_size))
    cfg_hash, code = _sha(cfg), code_version()
    timings: dict[str, float] = {}

    # Products are staged and published only when the run gave a usable model (etl.writers.publish); the work
    # files stay in `work`, outside the staging folder, so a re-run resumes from them.
    with Publication(out) as publication, dask_client(workers, scheduler, processes) as client:
        stage = str(publication.staging)
        t = time.perf_counter()
        sources = vector_sources(bgt, bag)
        source_keys = [s.key(cfg_hash, code, grid) for s in sources]
        f_sources = [client.submit(source_partitions, s, k, config_path, grid.size, str(work), pure=False,
                                   key=f"source-{k}") for s, k in zip(sources, source_keys)]
        f_headers = client.map(point_cloud_header, [str(p) for p in ahn], pure=False)
        summaries, headers = client.gather(f_sources), client.gather(f_headers)
        timings["read inputs"] = round(time.perf_counter() - t, 3)
        plan = _plan(cfg, config_path, grid, summaries, headers, work, bool(bag))

        t = time.perf_counter()
        bins = _point_bins(client, plan, work, int(cfg["lifting"]["chunk_points"]), code)
        plan.jobs, unreadable = _with_points(plan.jobs, bins, work)
        timings["point bins"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        results: dict[str, dict] = dict(unreadable)
        todo, reused = [], 0
        for job in plan.jobs:
            if job.key in unreadable:
                continue
            cached = tile_done(Path(job.folder), job.hash)
            if cached is not None:
                results[job.key] = cached | {"executed": False}
                reused += 1
            else:
                todo.append(job)
        log.info("%d tiles of %g m: %d done before, %d to build, %d without their point cloud", len(plan.jobs),
                 grid.size, reused, len(todo), len(unreadable))
        manifest = _Manifest(work / MANIFEST, plan, code, cfg_hash, grid)
        manifest.update(results, force=True)
        from distributed import as_completed

        futures = [client.submit(tile_outputs, job, pure=False, key=f"tile-{job.key}-{job.hash[:12]}")
                   for job in todo]
        with tqdm(total=len(plan.jobs), initial=len(results), unit="tile", desc="tiles",
                  disable=not progress if progress is not None else None) as bar:
            for fut in as_completed(futures):
                try:
                    r = fut.result()
                except Exception as e:  # a bug, not bad input: report it on the tile, keep the others going
                    key = fut.key.split("-")[1]
                    log.exception("tile %s: unexpected error", key)
                    r = {"key": key, "failed": f"unexpected error: {type(e).__name__}: {e}", "files": [],
                         "executed": True}
                results[r["key"]] = r
                manifest.update({r["key"]: r})
                bar.update(1)
        manifest.update({}, force=True)
        timings["tiles"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        order = [j for j in plan.jobs if "failed" not in results[j.key]]
        folders = [j.folder for j in order]
        done = [results[j.key] for j in order]
        scale = float(cfg["cityjson_scale"])
        nodata = float(cfg["rasters"]["nodata"])
        products = [client.submit(assemble_cityjson, folders, done, stage, scale, pure=False),
                    client.submit(assemble_store, folders, plan.layer_names, _templates(plan), stage,
                                  _as_of([*bgt, *bag, *ahn]), pure=False),
                    client.submit(assemble_raster, folders, DTM_NAME, plan.spec, nodata, stage, pure=False),
                    client.submit(assemble_raster, folders, DSM_NAME, plan.spec, nodata, stage, pure=False)]
        _, store_counts, _, _ = client.gather(products)
        timings["assemble"] = round(time.perf_counter() - t, 3)

        timings["total"] = round(time.perf_counter() - t_start, 3)
        decoded = sum(b["points"] for b in bins.values() if "error" not in b)
        report = _report(cfg, plan, results, store_counts, timings, bgt, bag, ahn, grid, code, decoded)
        write_report(publication.staging, report)
        publication.publish(unusable_reason(report["counts"]["buildings"]["with_geometry"],
                                            any(d["counts"]["dtm_cells"] for d in done)))
    failed = report["tiles"]["failed"]
    log.info("tiled model written to %s: %d tiles (%d built now, %d failed), %d buildings, %.1f s", out,
             len(plan.jobs), len(report["tiles"]["executed"]), len(failed), report["counts"]["buildings"]["out"],
             timings["total"])
    return BuildReport(report, timings)


def _templates(plan: _Plan) -> dict[str, gpd.GeoDataFrame]:
    """An empty frame per store layer, for layers no tile has rows in."""
    out = {}
    for name in plan.layer_names:
        if name == BUILDINGS:
            out[name] = gpd.GeoDataFrame({"identificatie": pd.Series(dtype=object)},
                                         geometry=gpd.GeoSeries([], crs=RD_NEW), crs=RD_NEW)
        elif name == BUILDING_SOLIDS:
            out[name] = empty_solids()
        elif name == ADDRESSES:
            out[name] = plan.templates.get("verblijfsobjecten", empty_addresses())
        else:
            out[name] = plan.templates[name]
    return out


class _Manifest:
    """manifest.json: every tile with its input hash and state; rewritten (atomically) as tiles finish."""

    def __init__(self, path: Path, plan: _Plan, code: str, cfg_hash: str, grid: TileGrid):
        self.path, self.last = path, 0.0
        self.data = {"code_version": code, "config_hash": cfg_hash, "tile_size": grid.size,
                     "tiles": {j.key: {"hash": j.hash, "bounds": list(j.bounds), "window": list(j.window),
                                       "ahn": list(j.ahn), "state": "pending"} for j in plan.jobs},
                     "sources": {s.get("key", s["source"]): {"source": s["source"], "kind": s["kind"],
                                                              "error": s.get("error")} for s in plan.summaries}}

    def update(self, results: dict[str, dict], force: bool = False) -> None:
        for key, r in results.items():
            entry = self.data["tiles"][key]
            entry["state"] = "failed" if "failed" in r else "done"
            if "failed" in r:
                entry["reason"], entry["files"] = r["failed"], r.get("files", [])
        now = time.monotonic()
        if force or now - self.last > 1.0:  # a national run has tens of thousands of tiles
            _write_json(self.path, self.data)
            self.last = now


def _report(cfg, plan: _Plan, results: dict[str, dict], store_counts, timings, bgt, bag, ahn, grid: TileGrid,
            code: str, decoded: int) -> dict:
    skipped = SkipLog()
    for s in plan.summaries:
        if "error" in s:
            skipped.add(s["file"], None, s["error"].removeprefix(f"{s['file']}: "))
        for item in s.get("skipped", []):
            skipped.add(item["file"], item["feature"], item["reason"])
    for h in plan.headers:
        if "error" in h:
            skipped.add(h["path"], None, h["error"])
    skipped.extend(plan.refused)
    done = [results[j.key] for j in plan.jobs if "failed" not in results[j.key]]
    failed = [{"tile": j.key, "reason": results[j.key]["failed"], "files": results[j.key].get("files", [])}
              for j in plan.jobs if "failed" in results[j.key]]
    for d in done:
        for item in d["skipped"]:
            skipped.add(item["file"], item["feature"], item["reason"])
    for f in failed:
        for path in f["files"] or ["(tile)"]:
            skipped.add(path, None, f"tile {f['tile']} not built: {f['reason']}")

    def total(field_name: str) -> collections.Counter:
        c: collections.Counter = collections.Counter()
        for d in done:
            c.update(d["counts"][field_name])
        return c

    bgt_in: collections.Counter = collections.Counter()
    bag_in: collections.Counter = collections.Counter()
    for s in plan.summaries:
        if "error" not in s:
            (bgt_in if s["kind"] == "bgt" else bag_in).update(s["counts_in"])
    points = sum(d["counts"]["points"] for d in done)
    loaded = sum(d["counts"]["points_loaded"] for d in done)
    buildings_out = sum(d["counts"]["buildings"] for d in done)
    roofs_s = sum(d.get("stages_s", {}).get("roofs", 0.0) for d in done)
    counts = build_counts(
        cfg, dict(bgt_in), dict(total("bgt_read")), dict(total("bgt_lifted")), dict(bag_in), plan.footprint_source,
        buildings_out, sum(d["counts"]["with_geometry"] for d in done), total("flag_reasons"),
        {"best": dict(sorted(total("lod_best").items())),
         "fallback_reasons": dict(sorted(total("lod_fallback_reasons").items()))},
        {"files": len(plan.laz), "files_refused": len(plan.headers) - len(plan.laz), "points": points,
         "points_decoded": decoded, "points_loaded_by_tiles": loaded,
         "points_per_class": {int(k): v for k, v in sorted(total("points_per_class").items(),
                                                           key=lambda kv: int(kv[0]))}},
        store_counts)
    workers: dict[str, float] = {}
    for r in results.values():
        if r.get("executed") and "peak_rss_mib" in r:
            workers[r["worker"]] = max(workers.get(r["worker"], 0.0), r["peak_rss_mib"])
    executed = sorted((k for k, r in results.items() if r.get("executed")), key=tile_order)
    return {
        "complete": len(skipped) == 0 and not failed,
        "inputs": {"bgt": [str(p) for p in bgt], "bag": [str(p) for p in bag], "ahn": [str(p) for p in ahn]},
        "model": model_section(cfg),
        "counts": counts,
        "tiles": {"size_m": grid.size, "total": len(plan.jobs), "done": len(done), "executed": executed,
                  "reused": len(done) - sum(1 for d in done if d.get("executed")), "failed": failed,
                  "code_version": code},
        "skipped_count": len(skipped),
        "skipped": skipped.as_json(),
        "notes": [n for d in done for n in d["notes"]],
        "timings_s": timings,
        "throughput": {"points_per_s": round(points / max(timings["total"], 1e-9)),
                       "buildings_per_s": round(buildings_out / max(timings["total"], 1e-9)),
                       # per CPU: the tiles' roof stages added up (the tiles run side by side)
                       "roofs_buildings_per_s": round(buildings_out / max(roofs_s, 1e-9), 1)},
        "peak_rss_mib_per_worker": dict(sorted(workers.items())),
    }
