"""`stadsmodel build`: BGT + BAG + AHN → the 3D city model and its store.

Stages, named after what they produce: footprints (BAG, or BGT pand) and BGT layers → one streamed pass over
the points (DTM/DSM grids, roof heights per footprint, water/bridge heights per BGT polygon) → building heights
→ lifted BGT surfaces → outputs. Bad features are skipped and reported in report.json; bad files too, as long as
something usable remains.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from core.atomic import write_json
from core.cityjson import CityObject, building_object, has_lod12_block
from core.config import pipeline_config
from core.crs import RD_NEW
from core.errors import InputError, LiftingError, SkipLog
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
    REPORT_NAME,
    STORE_NAME,
)
from etl.boxes import Box, intersection
from etl.footprint_index import FootprintIndex
from etl.grid import ElevationGrids, GridSpec
from etl.lifting import PointScan, SurfaceIndex, building_heights, maaiveld_heights, scan_point_clouds
from etl.readers.ahn import PointChunk, iter_point_chunks
from etl.readers.bag import normalise_id, read_bag
from etl.readers.bgt import read_bgt
from etl.roofs.buildings import AreaRoofs, area_roofs, roof_config
from etl.terrain import LiftedLayer, lift_layer, surface_lift_method
from etl.writers.cityjson import quantised_features, write_model
from etl.writers.publish import Publication, unusable_reason
from etl.writers.raster import write_cog
from etl.writers.store import StoreLayer, write_store

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    data: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return bool(self.data.get("complete"))


class Stopwatch:
    """Times named stages into `timings` (report.json) and logs each as it starts."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log.info("%s …", name)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t, 3)


# Allocations between two young-generation garbage collections during a build (Python's default: 2,000). The
# build makes some hundred thousand small objects that live until the outputs are written (attributes, boundary
# lists, features); at the default every collection walks them again, some 6 % of the build's time. Cycles are
# still collected, only less often.
BUILD_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's garbage-collection threshold to BUILD_GC_THRESHOLD, restored on leaving."""
    before = gc.get_threshold()
    gc.set_threshold(BUILD_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def check_inputs(bgt: Sequence[Path], bag: Sequence[Path], ahn: Sequence[Path]) -> None:
    """Refuse a missing input before any work."""
    _check_paths("bgt", bgt)
    _check_paths("ahn", ahn)
    if bag:
        _check_paths("bag", bag)


def _check_paths(kind: str, paths: Sequence[Path]) -> None:
    if not paths:
        raise InputError(f"--{kind}", "no input given")
    for p in paths:
        if not Path(p).exists():
            raise InputError(p, f"{kind.upper()} input not found")


def footprints_from_bgt(panden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Building footprints when no BAG is given: BGT pand, identified by its BAG id where it carries one."""
    bag_ids = panden.get("identificatie_bag_pnd", pd.Series(None, index=panden.index, dtype=object))
    ids = [normalise_id(bag_id, "PND") or f"NL.IMGeo.Pand.{lokaal_id}"
           for bag_id, lokaal_id in zip(bag_ids, panden["identificatie"])]
    out = gpd.GeoDataFrame({"identificatie": ids, "status": panden.get("bgt_status"),
                            "bron": panden.get("bron")}, geometry=panden.geometry.values, crs=RD_NEW)
    return out.drop_duplicates("identificatie")


POLYGONS = (3, 6)          # shapely type ids: Polygon, MultiPolygon
POLYGONS_AND_LINES = (1, 3, 5, 6)


def clean_geometries(frame: gpd.GeoDataFrame, scale: float, source: str, skipped: SkipLog,
                     allowed_types: tuple[int, ...] = POLYGONS) -> gpd.GeoDataFrame:
    """Snap to the output grid (mm) so quantised vertices never collapse an edge; drop what becomes invalid."""
    geoms = shapely.set_precision(frame.geometry.values, scale)
    bad = shapely.is_empty(geoms) | ~shapely.is_valid(geoms) | ~np.isin(shapely.get_type_id(geoms), allowed_types)
    for fid in frame.loc[bad, "identificatie"].astype(str):
        skipped.add(source, fid, "geometry is empty, invalid or of an unexpected type after snapping to 1 mm")
    frame = frame.loc[~bad].copy()
    # Keep the snapped coordinates but not the 1 mm precision model GEOS attaches: it would round every later
    # buffer and segmentation too, and is lost when a geometry is pickled (tile parts, Dask), so the tiled and
    # single-machine builds would sample the DTM at points half a millimetre apart.
    frame.geometry = shapely.set_precision(geoms[~bad], 0.0)
    return frame


def _inspect_point_clouds(paths: Sequence[Path], skipped: SkipLog) -> list[LasFile]:
    files, refused = [], []
    for p in paths:
        try:
            files.append(inspect_las(p))
        except InputError as e:
            log.warning("%s", e)
            skipped.add(e.path, None, e.reason)
            refused.append(str(e))
    if not files:
        raise LiftingError("no usable point cloud, every AHN input was refused: " + "; ".join(refused))
    return files


@dataclass
class VectorInputs:
    """Footprints, addresses and BGT layers, read and snapped to the output grid."""

    footprints: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame | None
    bgt_layers: dict[str, gpd.GeoDataFrame]
    footprint_source: str
    bgt_counts_in: dict[str, int]
    bag_counts_in: dict[str, int]


def bgt_layers_from(paths: Sequence[Path], cfg: dict,
                    skipped: SkipLog) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, int]]:
    """The configured BGT layers of `paths`; the ones that become CityJSON surfaces snapped to the output grid."""
    result = read_bgt(list(paths), object_types=list(cfg["bgt"]), skip_broken_files=True)
    skipped.extend(result.skipped)
    layers = {}
    for t, layer_cfg in cfg["bgt"].items():
        layer = result.layers.get(t)
        if layer is None:
            continue
        if layer_cfg.get("cityjson") is not None and len(layer):
            layer = clean_geometries(layer, float(cfg["cityjson_scale"]), f"BGT {t}", skipped,
                                     POLYGONS_AND_LINES).reset_index(drop=True)
        layers[t] = layer
    return layers, result.counts_in


def bag_footprints(paths: Sequence[Path], cfg: dict,
                   skipped: SkipLog) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, int]]:
    """BAG panden (snapped footprints) and verblijfsobjecten."""
    result = read_bag(list(paths))
    skipped.extend(result.skipped)
    footprints = clean_geometries(result.panden, float(cfg["cityjson_scale"]), "BAG", skipped)
    return footprints.reset_index(drop=True), result.verblijfsobjecten, result.counts_in


def read_vector_inputs(bgt: Sequence[Path], bag: Sequence[Path], cfg: dict, skipped: SkipLog,
                       watch: Stopwatch) -> VectorInputs:
    with watch.stage("read BGT"):
        bgt_layers, bgt_counts_in = bgt_layers_from(bgt, cfg, skipped)
    with watch.stage("read BAG"):
        if bag:
            footprints, addresses, bag_counts_in = bag_footprints(bag, cfg, skipped)
            footprint_source = "BAG"
        else:
            if "pand" not in bgt_layers:
                raise LiftingError("no footprints: give --bag, or BGT input with pand")
            footprints = clean_geometries(footprints_from_bgt(bgt_layers["pand"]), float(cfg["cityjson_scale"]),
                                          "BGT pand", skipped).reset_index(drop=True)
            addresses, footprint_source, bag_counts_in = None, "BGT pand", {}
    if len(footprints) == 0:
        raise LiftingError("no footprints: the BAG/BGT input holds no usable pand")
    return VectorInputs(footprints, addresses, bgt_layers, footprint_source, bgt_counts_in, bag_counts_in)


# The DTM used for lifting is interpolated under buildings and in gaps up to this far (m). A tile's point
# window reaches this far beyond what it lifts, so tiled and single-machine results agree cell for cell.
DTM_FILL_DISTANCE = 50.0


def lift_margin(cfg: dict) -> float:
    """How far (m) beyond a footprint or BGT polygon the points that lift it can lie."""
    lift_cfg = cfg["lifting"]
    return DTM_FILL_DISTANCE + float(lift_cfg["maaiveld_ring_offset"]) + 2.0 + 2 * float(cfg["rasters"]["resolution"])


def modelled_area(footprints: gpd.GeoDataFrame, bgt_layers: dict[str, gpd.GeoDataFrame], cfg: dict) -> Box:
    """The area the model covers: its footprints and BGT features, plus the distance lifting looks beyond them."""
    boxes = np.array([footprints.total_bounds] + [layer.total_bounds for layer in bgt_layers.values() if len(layer)])
    m = lift_margin(cfg)
    return (float(boxes[:, 0].min() - m), float(boxes[:, 1].min() - m),
            float(boxes[:, 2].max() + m), float(boxes[:, 3].max() + m))


def xy_box(f: LasFile) -> Box:
    """The extent in plan a point cloud's header claims."""
    return f.bounds[0], f.bounds[1], f.bounds[3], f.bounds[4]


def point_clouds_over(files: Sequence[LasFile], area: Box, skipped: SkipLog) -> list[LasFile]:
    """The point clouds whose header extent reaches the modelled area; the others are reported and skipped
    (an empty file, or a tile of somewhere else, adds nothing but work)."""
    kept, refused = [], []
    for f in files:
        box = xy_box(f)
        if f.point_count == 0:
            reason = "the file holds no points"
        elif not np.all(np.isfinite(box)):
            reason = f"the header gives no finite extent ({', '.join(map(str, box))})"
        elif intersection(box, area) is None:
            reason = (f"its extent {box[0]:.0f},{box[1]:.0f} – {box[2]:.0f},{box[3]:.0f} does not overlap the "
                      f"modelled area {area[0]:.0f},{area[1]:.0f} – {area[2]:.0f},{area[3]:.0f}: nothing to lift")
        else:
            kept.append(f)
            continue
        log.warning("%s: skipped, %s", f.path, reason)
        skipped.add(f.path, None, f"point cloud skipped: {reason}")
        refused.append(f"{f.path}: {reason}")
    if not kept:
        raise LiftingError("no usable point cloud over the footprints and BGT: " + "; ".join(refused))
    return kept


def model_grid(footprints: gpd.GeoDataFrame, files: Sequence[LasFile], area: Box, resolution: float) -> GridSpec:
    """The DTM/DSM grid: the footprints and the point clouds' extents, each point cloud cut to the modelled area.

    A header's extent is never trusted beyond the area (a header may claim anything): the grid's size is bounded
    by the vector data actually read.
    """
    boxes = [tuple(footprints.total_bounds)] + [intersection(xy_box(f), area) for f in files]
    b = np.array([box for box in boxes if box is not None])
    return GridSpec.covering(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max(), resolution)


@dataclass
class LiftedArea:
    """Everything lifting produces for one area (a whole build, or one tile with its buffer)."""

    buildings: gpd.GeoDataFrame           # footprints + 3DBAG height attributes + roof columns
    building_objects: list[CityObject]
    roofs: AreaRoofs
    bgt_layers: dict[str, gpd.GeoDataFrame]  # with h_min/h_max on the lifted layers
    lifted: dict[str, LiftedLayer]
    notes: list[dict]
    scan: PointScan
    spec: GridSpec
    dtm_filled: np.ndarray
    dsm: np.ndarray

    @property
    def objects(self) -> list[CityObject]:
        return self.building_objects + [o for layer in self.lifted.values() for o in layer.objects]


def lift_area(footprints: gpd.GeoDataFrame, bgt_layers: dict[str, gpd.GeoDataFrame], files: Sequence[LasFile],
              spec: GridSpec, cfg: dict, skipped: SkipLog, footprint_source: str = "BAG",
              watch: Stopwatch | None = None, clip: Box | None = None, home: Box | None = None,
              progress: bool | None = None,
              read_chunks: Callable[[Any, int], Iterator[PointChunk]] = iter_point_chunks,
              roof_workers: int = 1) -> LiftedArea:
    """The core of the ETL: one streamed pass over the points of `files` → DTM/DSM on `spec`, building
    heights and LoD1.2 solids, the roofs (LoD1.3/2.2, `etl.roofs.buildings`), lifted BGT surfaces. The
    single-machine build runs it once over everything, its roofs on `roof_workers` processes; the tiled build
    once per tile (`clip`: the tile's point window, `home`: the tile, where points are counted,
    `read_chunks`: reads the tile's point bins instead of LAZ files).
    """
    watch = watch or Stopwatch({})
    lift_cfg, classes, raster_cfg = cfg["lifting"], cfg["classes"], cfg["rasters"]
    surfaces_frames, surface_methods = [], {}
    for t, layer in bgt_layers.items():
        layer_cfg = cfg["bgt"][t]
        if layer_cfg.get("cityjson") is None:
            continue
        hl = layer["relatieve_hoogteligging"].to_numpy() if "relatieve_hoogteligging" in layer else np.zeros(len(layer))
        surface_methods[t] = surface_lift_method(layer_cfg, pd.to_numeric(pd.Series(hl), errors="coerce").to_numpy())
        surfaces_frames.append((t, layer))
    bgt_layers = dict(bgt_layers)

    with watch.stage("scan points"):
        grids = ElevationGrids(spec)
        buildings_index = FootprintIndex(footprints.geometry.values, resolution=lift_cfg["label_resolution"])
        # Water and bridge polygons: the points of their own class inside them give their height.
        surf_offsets = dict(zip([t for t, _ in surfaces_frames],
                                np.cumsum([0] + [len(layer) for _, layer in surfaces_frames]).tolist()))
        n_surfaces = sum(len(layer) for _, layer in surfaces_frames)
        surface_indexes = []
        for t, layer in surfaces_frames:
            method = surface_methods[t]
            sel = np.flatnonzero((method == "flat") | (method == "bridge"))
            if len(sel):
                point_class = np.where(method[sel] == "bridge", classes["bridge"][0], classes["water"][0])
                surface_indexes.append(SurfaceIndex(
                    FootprintIndex(layer.geometry.values[sel], resolution=lift_cfg["label_resolution"]),
                    point_class, surf_offsets[t] + sel))
        total = sum(f.point_count for f in files)
        with tqdm(total=total, unit="pt", unit_scale=True, desc="points",
                  disable=not progress if progress is not None else None) as bar:
            scan = scan_point_clouds(files, grids, buildings_index, surface_indexes, classes,
                                     int(lift_cfg["chunk_points"]), skipped, on_progress=bar.update,
                                     clip=clip, home=home, read_chunks=read_chunks,
                                     keep_roof_xy=bool(cfg["roofs"]["lod22"]))

    nodata = float(raster_cfg["nodata"])
    with watch.stage("rasters"):
        dtm = grids.dtm(nodata)
        # Interpolate under buildings and water-less gaps, for lifting and the DTM product. A tile's window
        # already reaches the fill distance beyond all it uses; the whole area's grid ends at the data.
        dtm_filled = grids.dtm(nodata, fill_distance_cells=int(DTM_FILL_DISTANCE / spec.resolution),
                               pad=clip is None)
        dsm = grids.dsm(nodata)

    with watch.stage("building heights"):
        percentiles = sorted(set(lift_cfg["roof_percentiles"]) | {lift_cfg["lod12_roof_percentile"]})
        roofs = scan.roofs.summary(len(footprints), percentiles)
        maaiveld = maaiveld_heights(footprints.geometry.values, dtm, dtm_filled, spec, nodata,
                                    lift_cfg["maaiveld_ring_offset"], lift_cfg["maaiveld_sample_spacing"],
                                    lift_cfg["maaiveld_percentile"])
        heights = building_heights(footprints.geometry.values, roofs, maaiveld, lift_cfg)
        buildings = gpd.GeoDataFrame(
            pd.concat([footprints.drop(columns="geometry").reset_index(drop=True), heights], axis=1),
            geometry=footprints.geometry.values, crs=RD_NEW)
        buildings["bron"] = buildings.get("bron", footprint_source)

    with watch.stage("lift BGT surfaces"):
        surface_summary = scan.surfaces.summary(n_surfaces, [50])
        lifted, notes = {}, []
        for t, layer in surfaces_frames:
            if len(layer) == 0:
                continue
            lifted[t] = lift_layer(t, layer, surface_methods[t], cfg["bgt"][t]["cityjson"], surface_summary,
                                   surf_offsets[t], dtm_filled, spec, nodata, lift_cfg["maaiveld_sample_spacing"] * 2)
            bgt_layers[t] = layer.assign(h_min=lifted[t].h_min, h_max=lifted[t].h_max)
            notes += [{"feature": fid, "note": note} for fid, note in lifted[t].notes]

    roof_p = int(lift_cfg["lod12_roof_percentile"])
    with watch.stage("roofs"):
        z_roof = buildings[f"b3_h_dak_{roof_p}p"].to_numpy(dtype=float)
        z_ground = buildings["b3_h_maaiveld"].to_numpy(dtype=float)
        has_lod12 = has_lod12_block(z_ground, z_roof, buildings.geometry.values)
        lod22 = bool(cfg["roofs"]["lod22"])
        roofs = area_roofs(buildings.geometry.values, scan.roofs.per_footprint(len(buildings)) if lod22 else None,
                           z_ground, has_lod12, roof_config(cfg) if lod22 else None, roof_workers,
                           lod12_roof=z_roof, roof_percentile=roof_p)
        buildings = gpd.GeoDataFrame(pd.concat([buildings.drop(columns="geometry"), roofs.columns], axis=1),
                                     geometry=buildings.geometry.values, crs=RD_NEW)
    building_objects = [building_object(rec, geom, roof_p, solids) for rec, geom, solids in
                        zip(buildings.drop(columns="geometry").to_dict("records"), buildings.geometry.values,
                            roofs.solids)]
    return LiftedArea(buildings, building_objects, roofs, bgt_layers, lifted, notes, scan, spec, dtm_filled, dsm)


def store_layers(buildings: gpd.GeoDataFrame, solids: pd.DataFrame, addresses: gpd.GeoDataFrame | None,
                 bgt_layers: dict[str, gpd.GeoDataFrame]) -> dict[str, pd.DataFrame]:
    """The store's layers, in the store's order."""
    layers = {BUILDINGS: buildings, BUILDING_SOLIDS: solids,
              ADDRESSES: addresses if addresses is not None else empty_addresses()}
    layers.update({f"{BGT_PREFIX}{t}": layer for t, layer in bgt_layers.items()})
    return layers


REASON_FIGURE = re.compile(r"\d+(?:\.\d+)?")


def flag_reasons(buildings: pd.DataFrame) -> collections.Counter:
    """How many buildings are flagged b3_reconstructie_onvolledig, per kind of reason: the reason with its
    figures as n ("te weinig dakpunten (n punten, n per m²)"), since each building's own figures would give
    nearly every flagged building a line of its own. The building keeps its figures in b3_onvolledig_reden."""
    flagged = buildings["b3_reconstructie_onvolledig"].astype(bool)
    return collections.Counter(REASON_FIGURE.sub("n", r) for r in buildings.loc[flagged, "b3_onvolledig_reden"])


def build_counts(cfg: dict, bgt_counts_in: dict, bgt_read: dict[str, int], bgt_lifted: dict[str, int],
                 bag_counts_in: dict, footprint_source: str, buildings_out: int, with_geometry: int,
                 reasons: collections.Counter, lod: dict, ahn: dict, store_counts: dict) -> dict:
    """The `counts` section of report.json (shared by the single-machine and the tiled build)."""
    return {
        "bgt": {t: {"in": bgt_counts_in.get(t, 0), "read": bgt_read.get(t, 0), "lifted": bgt_lifted.get(t, 0)}
                for t in cfg["bgt"]},
        "bag": {"in": bag_counts_in, "footprint_source": footprint_source},
        "buildings": {"out": int(buildings_out), "with_geometry": int(with_geometry),
                      "flagged": int(sum(reasons.values())), "flag_reasons": dict(sorted(reasons.items())),
                      "lod": lod},
        "ahn": ahn,
        "store": store_counts,
    }


def model_section(cfg: dict) -> dict:
    """The `model` section of report.json: how the products model a building (the services' f=cityjson builds
    the same LoD1.2 solid from the store with it)."""
    return {"lod12_roof_percentile": int(cfg["lifting"]["lod12_roof_percentile"])}


def write_report(out: Path, report: dict) -> None:
    write_json(out / REPORT_NAME, report)


def build_model(bgt: Sequence[Path], bag: Sequence[Path], ahn: Sequence[Path], out: Path,
                config_path: str | Path | None = None, progress: bool | None = None) -> BuildReport:
    """Run the ETL and write model.city.json(l), stadsmodel.gpkg, dtm.tif, dsm.tif and report.json into `out`.

    The products are written into a staging folder and replace those in `out` only when the model is usable
    (`etl.writers.publish`); plan layers that `zoning import` wrote into the store in `out` are kept.

    :param progress: show a progress bar (default: when stderr is a terminal).
    :raises InputError: a named input does not exist or cannot be read at all, or `out` is a file.
    :raises LiftingError: nothing usable remains (no point cloud, no footprints); `ModelNotPublished` when the run
        ended without a usable model (the products in `out` are then left as they were).
    """
    cfg = pipeline_config(config_path)
    raster_cfg = cfg["rasters"]
    scale = float(cfg["cityjson_scale"])
    check_inputs(bgt, bag, ahn)
    out = Path(out)
    skipped = SkipLog()
    timings: dict[str, float] = {}
    watch = Stopwatch(timings)
    t_start = time.perf_counter()

    with fewer_collections(), Publication(out) as publication:
        stage = publication.staging
        vectors = read_vector_inputs(bgt, bag, cfg, skipped, watch)
        footprints = vectors.footprints
        with watch.stage("inspect AHN"):
            area = modelled_area(footprints, vectors.bgt_layers, cfg)
            files = point_clouds_over(_inspect_point_clouds(ahn, skipped), area, skipped)
        spec = model_grid(footprints, files, area, raster_cfg["resolution"])
        lifted = lift_area(footprints, vectors.bgt_layers, files, spec, cfg, skipped, vectors.footprint_source,
                           watch=watch, progress=progress, roof_workers=int(cfg["roofs"].get("workers", 1)))
        buildings, scan = lifted.buildings, lifted.scan

        with watch.stage("write CityJSON"):
            write_model(stage / MODEL_JSON, stage / MODEL_JSONL, *quantised_features(lifted.objects, scale))

        with watch.stage("write store"):
            layers = store_layers(buildings, lifted.roofs.solid_rows(buildings["identificatie"]), vectors.addresses,
                                  lifted.bgt_layers)
            store_counts = write_store(stage / STORE_NAME, {n: StoreLayer.whole(f) for n, f in layers.items()})

        nodata = float(raster_cfg["nodata"])
        with watch.stage("write rasters"):
            write_cog(stage / DTM_NAME, spec, nodata, lifted.dtm_filled)
            write_cog(stage / DSM_NAME, spec, nodata, lifted.dsm)

        timings["total"] = round(time.perf_counter() - t_start, 3)
        with_geometry = sum(o.has_geometry for o in lifted.building_objects)
        counts = build_counts(
            cfg, vectors.bgt_counts_in, {t: int(len(layer)) for t, layer in lifted.bgt_layers.items()},
            {t: len(layer.objects) for t, layer in lifted.lifted.items()}, vectors.bag_counts_in,
            vectors.footprint_source, len(buildings), with_geometry, flag_reasons(buildings), lifted.roofs.counts(),
            {"files": len(files), "files_read_completely": scan.files_read, "points": scan.points_read,
             "points_per_class": scan.points_per_class}, store_counts)
        report = {
            "complete": len(skipped) == 0,
            "inputs": {"bgt": [str(p) for p in bgt], "bag": [str(p) for p in bag], "ahn": [str(p) for p in ahn]},
            "model": model_section(cfg),
            "counts": counts,
            "skipped_count": len(skipped),
            "skipped": skipped.as_json(),
            "notes": lifted.notes,
            "timings_s": timings,
            "throughput": {"points_per_s": round(scan.points_read / max(timings["total"], 1e-9)),
                           "buildings_per_s": round(len(buildings) / max(timings["total"], 1e-9)),
                           "roofs_buildings_per_s": round(len(buildings) / max(timings["roofs"], 1e-9), 1)},
        }
        write_report(stage, report)
        publication.publish(unusable_reason(with_geometry, bool((lifted.dtm_filled != nodata).any())))
    log.info("model written to %s: %d buildings (%d flagged), %d points, %d skipped, %.1f s",
             out, len(buildings), counts["buildings"]["flagged"], scan.points_read, len(skipped), timings["total"])
    return BuildReport(report, timings)


def empty_addresses() -> gpd.GeoDataFrame:
    cols = ["identificatie", "pand_identificatie", "openbareruimte", "huisnummer", "huisletter",
            "huisnummertoevoeging", "postcode", "woonplaats", "gebruiksdoel", "oppervlakte", "status"]
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in cols}, geometry=gpd.GeoSeries([], crs=RD_NEW),
                            crs=RD_NEW)
