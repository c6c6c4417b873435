"""The roofs of an area's buildings: the build's stage between the building heights and the outputs.

Each building whose LoD1.2 block the build made gets `reconstruct` on its registered roof points
(`etl.lifting.RoofPoints.per_footprint`) with `b3_h_maaiveld` as its ground. `reconstruct` is a pure function
of its inputs, so the buildings may be spread over processes (the single-machine build) or tiles (the tiled
build) and give the same roofs; results come back in building order.

The outputs are the store's columns (README "The store": RoofModel's best LoD is `b3_lod_gereconstrueerd`, its
reason `b3_lod_terugval_reden`; the val3dity lists as JSON text) and the rows of the `building_solids` table.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from etl.lifting import FootprintPoints
from etl.roofs.reconstruction import RoofConfig, reconstruct

LODS = (("1.2", "lod12"), ("1.3", "lod13"), ("2.2", "lod22"))
TEXT_COLUMNS = ["b3_dak_type", "b3_lod_gereconstrueerd", "b3_lod_terugval_reden",
                *(f"b3_val3dity_{key}" for _, key in LODS)]
REAL_COLUMNS = ["b3_h_goot", "b3_h_nok", "b3_hellingshoek_min", "b3_hellingshoek_max",
                *(f"b3_rmse_{key}" for _, key in LODS), *(f"b3_volume_{key}" for _, key in LODS)]
SOLID_COLUMNS = ["identificatie", "lod", "solid"]
# Why a building has no roof of its own (the build made no LoD1.2, or was told not to reconstruct).
NO_LOD12 = "no LoD1.2: heights unknown, see b3_onvolledig_reden"
SWITCHED_OFF = "LoD1.3/2.2 not made: roofs.lod22 is false"
BATCH = 32  # buildings per task: few round trips, and still an even spread over the workers
MIN_PARALLEL = 4 * BATCH  # fewer buildings are done in this process: starting workers costs more


def roof_config(cfg: dict) -> RoofConfig:
    """RoofConfig from the pipeline configuration's `roofs` section; its LoD1.2 percentile is lifting's."""
    names = {f.name for f in fields(RoofConfig)}
    tuned = {k: v for k, v in cfg["roofs"].items() if k in names}
    return RoofConfig(**tuned, lod12_percentile=float(cfg["lifting"]["lod12_roof_percentile"]))


@dataclass
class AreaRoofs:
    columns: pd.DataFrame  # per building (the area's order): TEXT_COLUMNS + REAL_COLUMNS
    solids: list[list[dict]]  # per building: its LoD1.3 and LoD2.2 solids {"vertices", "geometry"}, LoD order

    def solid_rows(self, identificatie: Sequence[str]) -> pd.DataFrame:
        """The building_solids rows: one per building and LoD, the solid as compact JSON."""
        rows = [(ident, s["geometry"]["lod"], json.dumps(s, separators=(",", ":")))
                for ident, solids in zip(identificatie, self.solids) for s in solids]
        return pd.DataFrame(rows, columns=SOLID_COLUMNS) if rows else empty_solids()

    def counts(self) -> dict:
        """report.json's counts.buildings.lod: buildings per best LoD made ("none": no geometry) and per
        fallback reason (the reason's kind, without the measured values)."""
        best = collections.Counter(v if isinstance(v, str) else "none"
                                   for v in self.columns["b3_lod_gereconstrueerd"])
        reasons = collections.Counter(r.split(":")[0] for r in self.columns["b3_lod_terugval_reden"]
                                      if isinstance(r, str))
        return {"best": dict(sorted(best.items())), "fallback_reasons": dict(sorted(reasons.items()))}


def empty_solids() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SOLID_COLUMNS})


def area_roofs(footprints: np.ndarray, points: FootprintPoints | None, maaiveld: np.ndarray, has_lod12: np.ndarray,
               config: RoofConfig | None, workers: int = 1) -> AreaRoofs:
    """The roofs of the buildings `footprints` (their order): `has_lod12` marks those the build made a LoD1.2
    block for; only those are reconstructed. `config` None (roofs.lod22 false) reconstructs none."""
    n = len(footprints)
    rows: list[tuple[dict, list[dict]]] = [({}, [])] * n
    todo = np.flatnonzero(has_lod12) if config is not None and points is not None else np.empty(0, np.int64)
    tasks = [[(points.of(i), footprints[i], float(maaiveld[i])) for i in todo[k:k + BATCH]]
             for k in range(0, len(todo), BATCH)]
    if workers > 1 and len(todo) >= MIN_PARALLEL:
        # spawn: a forked child would inherit the parent's threads' locks (GDAL, BLAS) mid-use
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_reconstruct_batch, tasks, [config] * len(tasks)))
    else:
        done = [_reconstruct_batch(task, config) for task in tasks]
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


def _reconstruct_batch(task: list[tuple[np.ndarray, object, float]], config: RoofConfig) -> list[tuple[dict, list]]:
    return [_building_roof(points, footprint, z_ground, config) for points, footprint, z_ground in task]


def _building_roof(points: np.ndarray, footprint, z_ground: float, config: RoofConfig) -> tuple[dict, list[dict]]:
    """One building's store columns and stored solids (plain values: they cross a process boundary)."""
    model = reconstruct(points, footprint, z_ground, config)
    attributes = model.attributes()
    for _, key in LODS:
        errors = attributes[f"b3_val3dity_{key}"]
        attributes[f"b3_val3dity_{key}"] = None if errors is None else json.dumps(errors)
    # The build made this building's LoD1.2 block, whatever reconstruct thought of its own
    attributes["b3_lod_gereconstrueerd"] = model.best_lod or "1.2"
    solids = []
    for factory in (model.lod13, model.lod22):
        if factory is not None:
            vertices, geometry = factory(0)
            solids.append({"vertices": np.round(vertices, 3).tolist(), "geometry": geometry})
    return attributes, solids
