"""The build's roof stage (etl.roofs.buildings): the same roofs on worker processes as in one process, in
building order; buildings without a LoD1.2 block get none; the store's column types and the solids' JSON."""

from __future__ import annotations

import json

import numpy as np

from etl.lifting import FootprintPoints
from etl.roofs import buildings as stage
from etl.roofs.buildings import NO_LOD12, REAL_COLUMNS, TEXT_COLUMNS, area_roofs
from etl.roofs.reconstruction import RoofConfig
from synth.roofs import roof_buildings


def _area(n: int):
    roofs = roof_buildings(n, seed=3, nuisance_share=0.3)
    counts = np.array([len(b.points) for b in roofs])
    points = FootprintPoints(np.vstack([b.points for b in roofs]), np.r_[0, np.cumsum(counts)[:-1]], counts)
    footprints = np.array([b.footprint for b in roofs], dtype=object)
    return footprints, points, np.array([b.z_ground for b in roofs])


def test_worker_processes_give_the_roofs_of_one_process(monkeypatch):
    footprints, points, ground = _area(12)
    has_lod12 = np.ones(len(footprints), bool)
    has_lod12[4] = False
    one = area_roofs(footprints, points, ground, has_lod12, RoofConfig(), workers=1)
    monkeypatch.setattr(stage, "MIN_PARALLEL", 0)
    monkeypatch.setattr(stage, "BATCH", 5)  # several tasks, so the order of their results matters
    two = area_roofs(footprints, points, ground, has_lod12, RoofConfig(), workers=2)
    assert one.columns.equals(two.columns) and one.solids == two.solids
    assert list(one.columns.columns) == TEXT_COLUMNS + REAL_COLUMNS
    assert all(one.columns[c].dtype == float for c in REAL_COLUMNS)
    # the building without a block has no roof of its own, and says why
    assert one.solids[4] == [] and one.columns.loc[4, "b3_lod_terugval_reden"] == NO_LOD12
    assert one.columns.loc[4, "b3_lod_gereconstrueerd"] is None
    rows = one.solid_rows([f"pand{i}" for i in range(len(footprints))])
    assert set(rows["lod"]) == {"1.3", "2.2"}
    for text in rows["solid"]:
        solid = json.loads(text)
        assert set(solid) == {"vertices", "geometry"} and solid["geometry"]["type"] == "Solid"
        assert np.array_equal(np.round(solid["vertices"], 3), solid["vertices"]), "millimetres"
    assert one.counts()["best"]["2.2"] >= 8


def test_switched_off_the_blocks_stay_and_nothing_is_reconstructed():
    footprints, points, ground = _area(3)
    off = area_roofs(footprints, None, ground, np.ones(3, bool), None)
    assert off.solids == [[], [], []]
    assert list(off.columns["b3_lod_gereconstrueerd"]) == ["1.2"] * 3
    assert off.columns["b3_h_goot"].isna().all() and off.columns["b3_val3dity_lod12"].isna().all()
