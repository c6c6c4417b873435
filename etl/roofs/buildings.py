"""The roofs of an area's buildings: the build's stage between the building heights and the outputs.

Each building whose LoD1.2 block the build made gets `reconstruct` on its registered roof points
(`etl.lifting.RoofPoints.per_footprint`) with `b3_h_maaiveld` as its ground. `reconstruct` is a pure function
of its inputs, so the buildings may be spread over processes (the single-machine build) or tiles (the tiled
build) and give the same roofs; results come back in building order.

A footprint of several polygons (`core.cityjson.footprint_parts`, largest first) is reconstructed polygon by
polygon, each a BuildingPart with its own solids and roof attributes; the building's roof columns aggregate
its parts (`aggregate_parts`, docs/roofs.md "Buildings of several parts").

The outputs are the store's columns (README "The store": RoofModel's best LoD is `b3_lod_gereconstrueerd`, its
reason `b3_lod_terugval_reden`; the val3dity lists as JSON text) and the rows of the `building_solids` table.
"""

from __future__ import annotations

import collections
import json
import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import shapely

from core.cityjson import footprint_parts, lod12_solid
from etl.lifting import FootprintPoints
from etl.roofs.reconstruction import RoofConfig, RoofModel, reconstruct
from etl.roofs.validity import signed_volume, solid_errors

LODS = (("1.2", "lod12"), ("1.3", "lod13"), ("2.2", "lod22"))
TEXT_COLUMNS = ["b3_dak_type", "b3_lod_gereconstrueerd", "b3_lod_terugval_reden",
                *(f"b3_val3dity_{key}" for _, key in LODS)]
REAL_COLUMNS = ["b3_h_goot", "b3_h_nok", "b3_hellingshoek_min", "b3_hellingshoek_max",
                *(f"b3_rmse_{key}" for _, key in LODS), *(f"b3_volume_{key}" for _, key in LODS)]
# part: NULL for a single-polygon building's LoD1.3/2.2, else the BuildingPart's k; attributes: the part's
# roof attributes (JSON text), on its LoD1.2 row only
SOLID_COLUMNS = ["identificatie", "part", "lod", "solid", "attributes"]
# Why a building has no roof of its own (the build made no LoD1.2, or was told not to reconstruct).
NO_LOD12 = "no LoD1.2: heights unknown, see b3_onvolledig_reden"
SWITCHED_OFF = "LoD1.3/2.2 not made: roofs.lod22 is false"
BATCH = 32  # buildings per task: few round trips, and still an even spread over the workers
MIN_PARALLEL = 4 * BATCH  # fewer buildings are done in this process: starting workers costs more
MEASURED_TYPES = ("horizontal", "multiple horizontal", "slanted")


def roof_config(cfg: dict) -> RoofConfig:
    """RoofConfig from the pipeline configuration's `roofs` section; its LoD1.2 percentile is lifting's."""
    names = {f.name for f in fields(RoofConfig)}
    tuned = {k: v for k, v in cfg["roofs"].items() if k in names}
    return RoofConfig(**tuned, lod12_percentile=float(cfg["lifting"]["lod12_roof_percentile"]))


@dataclass
class AreaRoofs:
    columns: pd.DataFrame  # per building (the area's order): TEXT_COLUMNS + REAL_COLUMNS
    # per building its stored solids {"part", "vertices", "geometry", "attributes"} in part and LoD order: a
    # single-polygon building's LoD1.3 and LoD2.2 (part None), or every LoD of each of its parts
    solids: list[list[dict]]

    def solid_rows(self, identificatie: Sequence[str]) -> pd.DataFrame:
        """The building_solids rows: one per building (or part) and LoD, the solid as compact JSON."""
        rows = [(ident, s["part"], s["geometry"]["lod"],
                 json.dumps({"vertices": s["vertices"], "geometry": s["geometry"]}, separators=(",", ":")),
                 None if s["attributes"] is None else json.dumps(s["attributes"], separators=(",", ":")))
                for ident, solids in zip(identificatie, self.solids) for s in solids]
        if not rows:
            return empty_solids()
        frame = pd.DataFrame(rows, columns=SOLID_COLUMNS)
        frame["part"] = frame["part"].astype("Int64")
        return frame

    def counts(self) -> dict:
        """report.json's counts.buildings.lod: buildings per best LoD made ("none": no geometry) and per
        fallback reason (the reason's kind, without the measured values)."""
        best = collections.Counter(v if isinstance(v, str) else "none"
                                   for v in self.columns["b3_lod_gereconstrueerd"])
        reasons = collections.Counter(r.split(":")[0] for r in self.columns["b3_lod_terugval_reden"]
                                      if isinstance(r, str))
        return {"best": dict(sorted(best.items())), "fallback_reasons": dict(sorted(reasons.items()))}


def empty_solids() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "part" else object) for c in SOLID_COLUMNS})


def area_roofs(footprints: np.ndarray, points: FootprintPoints | None, maaiveld: np.ndarray, has_lod12: np.ndarray,
               config: RoofConfig | None, workers: int = 1, lod12_roof: np.ndarray | None = None,
               roof_percentile: int = 70) -> AreaRoofs:
    """The roofs of the buildings `footprints` (their order): `has_lod12` marks those the build made a LoD1.2
    block for; only those are reconstructed. `config` None (roofs.lod22 false) reconstructs none.

    :param lod12_roof: the build's LoD1.2 roof heights (``b3_h_dak_<roof_percentile>p``, roof_percentile =
        lifting.lod12_roof_percentile): the block a BuildingPart gets when it has no LoD1.2 of its own (no
        roof points of its own, roofs switched off). None: such a part has no block.
    """
    n = len(footprints)
    lod12_roof = np.full(n, np.nan) if lod12_roof is None else np.asarray(lod12_roof, dtype=float)
    rows: list[tuple[dict, list[dict]]] = [({}, [])] * n
    if config is not None and points is not None:
        todo = np.flatnonzero(has_lod12)
    else:  # switched off: only the buildings of several parts, for their parts' blocks
        todo = np.array([i for i in np.flatnonzero(has_lod12) if len(footprint_parts(footprints[i])) > 1], np.int64)
    empty = np.zeros((0, 3))
    tasks = [[(points.of(i) if points is not None else empty, footprints[i], float(maaiveld[i]), float(lod12_roof[i]))
              for i in todo[k:k + BATCH]] for k in range(0, len(todo), BATCH)]
    if workers > 1 and len(todo) >= MIN_PARALLEL:
        # spawn: a forked child would inherit the parent's threads' locks (GDAL, BLAS) mid-use
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_reconstruct_batch, tasks, [config] * len(tasks), [roof_percentile] * len(tasks)))
    else:
        done = [_reconstruct_batch(task, config, roof_percentile) for task in tasks]
    for i, row in zip(todo, (r for batch in done for r in batch)):
        rows[i] = row
    columns = pd.DataFrame([attributes for attributes, _ in rows], columns=TEXT_COLUMNS + REAL_COLUMNS,
                           index=pd.RangeIndex(n))
    for c in TEXT_COLUMNS:
        columns[c] = columns[c].astype(object).where(columns[c].notna(), None)
    unmade = np.flatnonzero(~np.asarray(has_lod12, bool))
    columns.loc[unmade, "b3_lod_terugval_reden"] = NO_LOD12
    if config is None:
        made = np.flatnonzero(has_lod12)
        columns.loc[made, "b3_lod_gereconstrueerd"] = "1.2"
        columns.loc[made, "b3_lod_terugval_reden"] = SWITCHED_OFF
    for c in REAL_COLUMNS:
        columns[c] = columns[c].astype(float)
    return AreaRoofs(columns, [solids for _, solids in rows])


def _reconstruct_batch(task: list[tuple[np.ndarray, object, float, float]], config: RoofConfig | None,
                       roof_percentile: int) -> list[tuple[dict, list]]:
    return [_building_roof(points, footprint, z_ground, z_roof, config, roof_percentile)
            for points, footprint, z_ground, z_roof in task]


def _building_roof(points: np.ndarray, footprint, z_ground: float, z_roof: float, config: RoofConfig | None,
                   roof_percentile: int) -> tuple[dict, list[dict]]:
    """One building's store columns and stored solids (plain values: they cross a process boundary)."""
    polygons = footprint_parts(footprint)
    if len(polygons) > 1:
        return _parts_roof(points, polygons, z_ground, z_roof, config, roof_percentile)
    model = reconstruct(points, footprint, z_ground, config)
    attributes = _as_columns(model.attributes())
    # The build made this building's LoD1.2 block, whatever reconstruct thought of its own
    attributes["b3_lod_gereconstrueerd"] = model.best_lod or "1.2"
    solids = [_stored(None, factory, None) for factory in (model.lod13, model.lod22) if factory is not None]
    return attributes, solids


def _as_columns(attributes: dict) -> dict:
    """RoofModel's attributes as store columns: the val3dity lists as JSON text."""
    out = dict(attributes)
    for _, key in LODS:
        errors = out[f"b3_val3dity_{key}"]
        out[f"b3_val3dity_{key}"] = None if errors is None else json.dumps(errors)
    return out


def _stored(part: int | None, factory, attributes: dict | None) -> dict:
    vertices, geometry = factory(0)
    return {"part": part, "vertices": np.round(vertices, 3).tolist(), "geometry": geometry, "attributes": attributes}


def _parts_roof(points: np.ndarray, polygons: list, z_ground: float, z_roof: float, config: RoofConfig | None,
                roof_percentile: int) -> tuple[dict, list[dict]]:
    """A building of several polygons: each polygon reconstructed as a BuildingPart of its own (its LoD1.2
    block, LoD1.3 and LoD2.2, from the points inside it), the building's columns aggregated over them."""
    models, part_attributes, solids = [], [], []
    for k, polygon in enumerate(polygons):
        if config is not None:
            model = reconstruct(points, polygon, z_ground, config)
        else:
            model = RoofModel(None, reason=SWITCHED_OFF)
        attributes = model.attributes()
        # the block at the part's own roof height, else (no points of its own, roofs off) at the building's
        h12 = model.h_lod12 if model.lod12 is not None else z_roof
        lod12 = None
        if math.isfinite(h12) and math.isfinite(z_ground) and h12 > z_ground:
            lod12 = _lod12_block(shapely.orient_polygons(polygon), z_ground, round(h12, 3))
            errors = solid_errors(*lod12(0))
            if config is not None:
                attributes["b3_val3dity_lod12"] = errors
                attributes["b3_volume_lod12"] = round(signed_volume(lod12(0)[0], lod12(0)[1]["boundaries"][0]), 1) \
                    if not errors else None
            if errors:
                lod12 = None
                attributes["b3_lod_terugval_reden"] = attributes["b3_lod_terugval_reden"] or \
                    f"LoD1.2 solid invalid: errors {errors}"
        attributes["b3_lod_gereconstrueerd"] = model.best_lod if lod12 is not None and model.best_lod else \
            "1.2" if lod12 is not None else None
        attributes[f"b3_h_dak_{roof_percentile}p"] = round(h12, 3) if lod12 is not None else None
        models.append(model)
        part_attributes.append(attributes)
        if lod12 is not None:
            solids.append(_stored(k, lod12, attributes))
            # a part without a valid block is no BuildingPart: its reason reaches the building's
            solids += [_stored(k, f, None) for f in (model.lod13, model.lod22) if f is not None]
    if config is None:
        return {c: None for c in TEXT_COLUMNS + REAL_COLUMNS}, solids
    return _as_columns(aggregate_parts(models, part_attributes, config)), solids


def _lod12_block(polygon, z_ground: float, z_roof: float):
    """The part's LoD1.2 block with the vertices the store writes (millimetres), so the check sees those."""
    vertices, geometry = lod12_solid(polygon, z_ground, z_roof)
    vertices = np.round(vertices, 3)

    def factory(base: int = 0):
        return vertices, {**geometry, "boundaries": [[[[i + base for i in ring] for ring in face]
                                                      for face in geometry["boundaries"][0]]]}
    return factory


def aggregate_parts(models: Sequence[RoofModel], parts: Sequence[dict], config: RoofConfig) -> dict:
    """A building's roof attributes from its parts' (`parts[k]`: part k's attributes, val3dity as lists; the
    models give the points each RMSE was taken over). One rule each (docs/roofs.md):

    - b3_h_nok: the highest part's; b3_h_goot, b3_hellingshoek_min: the lowest; b3_hellingshoek_max: the
      highest; each unknown (null) when a part's is (a part without roof planes may be the highest or lowest)
    - b3_dak_type: slanted when a part is; all parts horizontal: horizontal, or multiple horizontal when one
      part is or their heights differ by more than merge_distance; else could not detect (no points: all parts)
    - b3_rmse_lodX: pooled over the parts with LoD X, weighted by the points each was taken over
    - b3_volume_lodX: the sum, when every part has LoD X
    - b3_val3dity_lodX: the union of the parts' codes (null: no part tried LoD X)
    - b3_lod_gereconstrueerd: the lowest best LoD of the parts (a polygon without a valid block is no part)
    - b3_lod_terugval_reden: that of the part with the lowest best LoD that has one (the first such part),
      as ``<kind>: part <k>[, <detail>]``, so report.json counts it by its kind
    """
    def known(key: str) -> list | None:
        values = [p[key] for p in parts]
        return None if any(v is None for v in values) else values

    out: dict = {}
    goot, nok = known("b3_h_goot"), known("b3_h_nok")
    pitch_min, pitch_max = known("b3_hellingshoek_min"), known("b3_hellingshoek_max")
    out["b3_h_goot"] = min(goot) if goot else None
    out["b3_h_nok"] = max(nok) if nok else None
    out["b3_hellingshoek_min"] = min(pitch_min) if pitch_min else None
    out["b3_hellingshoek_max"] = max(pitch_max) if pitch_max else None
    types = [p["b3_dak_type"] for p in parts]
    if "slanted" in types:
        out["b3_dak_type"] = "slanted"
    elif all(t in MEASURED_TYPES for t in types):
        several = "multiple horizontal" in types or max(goot) - min(goot) > config.merge_distance
        out["b3_dak_type"] = "multiple horizontal" if several else "horizontal"
    else:
        out["b3_dak_type"] = "no points" if all(t == "no points" for t in types) else "could not detect"
    for lod, key in LODS:
        pooled = [(m.rmse_points[lod], p[f"b3_rmse_{key}"]) for m, p in zip(models, parts)
                  if p[f"b3_rmse_{key}"] is not None and math.isfinite(p[f"b3_rmse_{key}"]) and m.rmse_points[lod]]
        weight = sum(n for n, _ in pooled)
        out[f"b3_rmse_{key}"] = round(math.sqrt(sum(n * r * r for n, r in pooled) / weight), 3) if weight else None
        volumes = known(f"b3_volume_{key}")
        out[f"b3_volume_{key}"] = round(sum(volumes), 1) if volumes else None
        codes = [p[f"b3_val3dity_{key}"] for p in parts if p[f"b3_val3dity_{key}"] is not None]
        out[f"b3_val3dity_{key}"] = sorted(set().union(*codes)) if codes else None
    rank = {None: -1.0, "1.2": 1.2, "1.3": 1.3, "2.2": 2.2}
    bests = [p["b3_lod_gereconstrueerd"] for p in parts if p["b3_lod_gereconstrueerd"]]  # without: no part
    out["b3_lod_gereconstrueerd"] = min(bests, key=rank.__getitem__) if bests else None
    failing = [(rank[p["b3_lod_gereconstrueerd"]], k) for k, p in enumerate(parts) if p["b3_lod_terugval_reden"]]
    out["b3_lod_terugval_reden"] = None
    if failing:
        k = min(failing)[1]
        kind, _, detail = parts[k]["b3_lod_terugval_reden"].partition(":")
        out["b3_lod_terugval_reden"] = f"{kind}: part {k}" + (f", {detail.strip()}" if detail.strip() else "")
    return out
