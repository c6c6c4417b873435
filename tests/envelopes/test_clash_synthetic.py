"""The clash on the synthetic district (tests/conftest.py zoned_district, synth/plan.py): the pand built over its
maximum bouwhoogte shows its known excess, the others within their envelope none; every excess volume and
height agrees with an independent numeric integration (the building's own RoofSurfaces on a 10 cm grid against
the analytic envelope formula) within 5 % and 0.1 m."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely

from core.gpkg import gpkg_geometries
from core.products import BOUWENVELOP, STORE_NAME
from etl.envelopes import write_envelopes
from services.envelopes import clash
from services.processes.location_check import Store
from tests.envelopes.helpers import allowed_top, grid, roof_top

STEP = 0.1


@pytest.fixture(scope="module")
def district(zoned_district, tmp_path_factory):
    """A copy of the zoned district with its envelopes written (the shared fixture stays as it was)."""
    model = shutil.copytree(zoned_district.model, tmp_path_factory.mktemp("envelopes") / "model")
    report = write_envelopes(model)
    truth = json.loads((zoned_district.plan_files[0].parent.parent / "truth.json").read_text())["panden"]
    con = sqlite3.connect(model / STORE_NAME)
    con.row_factory = sqlite3.Row
    yield {"model": model, "report": report, "store": Store(model / STORE_NAME), "con": con, "truth": truth,
           "expected": zoned_district.expected["panden"],
           "vlakken": pyogrio.read_dataframe(model / STORE_NAME, layer="bouwvlak").set_index("object_id"),
           "envelopes": pyogrio.read_dataframe(model / STORE_NAME, layer=BOUWENVELOP)}
    con.close()


def _building(con, pid):
    row = dict(con.execute("SELECT * FROM buildings WHERE identificatie = ?", (pid,)).fetchone())
    footprint = gpkg_geometries([row.pop("geom")])[0]
    solids = [dict(r) for r in con.execute("SELECT lod, part, solid FROM building_solids WHERE identificatie = ?",
                                           (pid,))]
    return row, footprint, solids


def _reference(district, footprint, solids):
    """(excess volume m³, max excess height m) of the LoD2.2 roof above the envelopes, on a 10 cm grid."""
    solid = json.loads(next(s["solid"] for s in solids if s["lod"] == "2.2"))
    cells = grid(footprint, STEP)
    # the highest excess often stands on a wall (a gable against the bouwvlak's edge): sample just inside it too
    ring = footprint.buffer(-0.001).boundary
    edge = np.array([ring.interpolate(d).coords[0][:2] for d in np.arange(0, ring.length, 0.02)])
    volume, height = 0.0, 0.0
    env = district["envelopes"]
    for e in env[env.intersects(footprint)].itertuples():
        dak = None if np.isnan(e.max_dakhelling) else e.max_dakhelling
        goot = None if np.isnan(e.max_goothoogte) else e.max_goothoogte
        vlak = district["vlakken"].loc[e.vlak_id].geometry
        for pts, weight in ((cells, STEP ** 2), (edge, 0.0)):
            inside = shapely.contains_xy(e.geometry, pts[:, 0], pts[:, 1])
            if not inside.any():
                continue
            top = allowed_top(pts[inside], e.peil_nap, e.max_bouwhoogte, goot, dak, vlak)
            over = np.clip(np.nan_to_num(roof_top(solid, pts[inside]) - top, nan=0.0), 0, None)
            volume += over.sum() * weight
            height = max(height, float(over.max()))
    return volume, height


def _panden_with_envelopes(district):
    return [(pid, e) for pid, e in sorted(district["expected"].items())
            if e["max_bouwhoogte"] is not None and e["measured_height_truth"] is not None]


def test_every_bouwvlak_with_a_maatvoering_has_an_envelope_on_the_dtm(district):
    report, env = district["report"], district["envelopes"]
    assert report.per_kind == {"bouwvlak": report.envelopes}
    for pid, e in district["expected"].items():
        footprint = _building(district["con"], pid)[1]
        covered = footprint.intersection(shapely.union_all(list(env[env.intersects(footprint)].geometry)))
        # a pand in a bouwvlak with a maatvoering stands inside envelopes; the others (Centrum) at most touch
        # the neighbour's maatvoering in the 1 m around it
        assert covered.area == pytest.approx(footprint.area if e["max_bouwhoogte"] is not None else 0.0, abs=0.01)
    assert not report.relative and set(env["relatief"]) == {0}
    # the synthetic bouwvlakken of neighbours overlap in the 1 m around both: there the stricter maatvoering
    # holds, reported as a conflict
    assert report.conflicts and all(c["chosen"] == min(c["values"]) for c in report.conflicts)
    for pid, _ in _panden_with_envelopes(district):
        t = district["truth"][pid]
        rows = env[env.intersects(_building(district["con"], pid)[1])]
        assert (rows["peil_nap"] - t["h_maaiveld"]).abs().max() < 0.1  # the DTM median is the pand's maaiveld


def test_the_pand_over_its_bouwhoogte_shows_its_known_excess(district):
    over = [(pid, e) for pid, e in _panden_with_envelopes(district) if e["compliance"] == "overschrijdt"]
    assert len(over) == 1
    pid, exp = over[0]
    row, footprint, solids = _building(district["con"], pid)
    out = clash(district["store"], row, footprint, solids)
    assert out["status"] == "overschrijdt" and out["solid_lod"] == "2.2"
    env = out["envelopes"][0]
    assert env["max_bouwhoogte"] == exp["max_bouwhoogte"]
    t = district["truth"][pid]
    truth = t["h_dak_max"] - (env["peil_nap"] + exp["max_bouwhoogte"])  # 1.5 m by construction, ± the peil
    assert out["max_excess_height_m"] == pytest.approx(truth, abs=0.1)
    volume, height = _reference(district, footprint, solids)
    assert out["excess_above_m3"] == pytest.approx(volume, rel=0.05)
    assert out["max_excess_height_m"] == pytest.approx(height, abs=0.1)
    assert out["excess_solid"]["geometry"]["type"] == "Solid"


def test_every_clash_agrees_with_the_numeric_integration(district):
    seen = {"overschrijdt": 0, "binnen_envelop": 0}
    for pid, exp in _panden_with_envelopes(district):
        row, footprint, solids = _building(district["con"], pid)
        out = clash(district["store"], row, footprint, solids)
        assert out is not None and out["solid_lod"] == "2.2", pid
        volume, height = _reference(district, footprint, solids)
        seen[out["status"]] += 1
        if volume < 1.0:  # below a cubic metre the grid's 10 cm cells are the error, not the solid
            assert out["excess_above_m3"] < 1.0 and out["max_excess_height_m"] == pytest.approx(height, abs=0.1), pid
        else:
            assert out["excess_above_m3"] == pytest.approx(volume, rel=0.05), pid
            assert out["max_excess_height_m"] == pytest.approx(height, abs=0.1), pid
        assert out["excess_outside_m3"] < 0.05, pid  # every pand stands inside its bouwvlak
        flat = exp["max_dakhelling"] is None
        if flat and exp["compliance"] == "binnen_maximum":  # 2.5 m headroom, no roof pitch in the plan
            assert out["status"] == "binnen_envelop" and out["excess_volume_m3"] < 0.05, pid
    assert seen["overschrijdt"] >= 1 and seen["binnen_envelop"] >= 10


def test_no_envelope_no_clash_and_unmeasured_heights_say_so(district):
    con, store = district["con"], district["store"]
    outside = next(pid for pid, e in sorted(district["expected"].items()) if not e["in_bouwvlak"])
    assert clash(store, *_building(con, outside)) is None
    unmeasured = next(pid for pid, e in sorted(district["expected"].items())
                      if e["in_bouwvlak"] and e["measured_height_truth"] is None)
    out = clash(store, *_building(con, unmeasured))
    assert out["status"] == "onbekend" and "heights not measured" in out["reason"]["en"]


def test_a_planned_solid_is_measured_like_a_building(district):
    """core.clash.clash_mesh (the what-if's entry) on the LoD1.2 block of every pand in an envelope gives the
    numbers clash_building gives that pand without its LoD2.2 solid; a block raised 2 m over the maximum
    bouwhoogte sticks out at least 2 m; a solid outside every envelope, or not closed, says so."""
    from core.clash import clash_building, clash_mesh
    from core.envelope import TriMesh, block_mesh
    from services.envelopes import envelopes_at

    checked = 0
    for pid, _ in _panden_with_envelopes(district):
        row, footprint, _ = _building(district["con"], pid)
        if row["b3_h_maaiveld"] is None or row["b3_h_dak_70p"] is None:
            continue
        candidates = envelopes_at(district["store"], footprint)
        as_building = clash_building(candidates, row, footprint, [])
        planned = clash_mesh(candidates, block_mesh(footprint, row["b3_h_maaiveld"], row["b3_h_dak_70p"]),
                             footprint, row["b3_h_maaiveld"])
        assert as_building["solid_lod"] == "1.2" and planned["solid_lod"] == "ontwerp"
        for key in ("status", "excess_volume_m3", "excess_above_m3", "excess_outside_m3", "max_excess_height_m"):
            assert planned[key] == as_building[key], (pid, key)
        checked += 1
    assert checked >= 3

    pid, _ = next((p, e) for p, e in _panden_with_envelopes(district) if e["compliance"] == "overschrijdt")
    row, footprint, _ = _building(district["con"], pid)
    candidates = envelopes_at(district["store"], footprint)
    env = next(rec for rec, geom in candidates if rec["soort"] == "bouwvlak" and geom.intersects(footprint))
    inner = footprint.buffer(-0.5)
    top = env["peil_nap"] + env["max_bouwhoogte"] + 2.0
    raised = clash_mesh(candidates, block_mesh(inner, row["b3_h_maaiveld"], top), inner, row["b3_h_maaiveld"])
    assert raised["status"] == "overschrijdt" and raised["max_excess_height_m"] >= 2.0 - 0.02

    far = shapely.box(0, 0, 10, 10)  # RD (0, 0): no envelope there
    outside = clash_mesh(candidates, block_mesh(far, 0.0, 5.0), far, 0.0)
    assert outside["status"] == "onbekend" and outside["envelopes"] == [] and "bouwenvelop" in outside["reason"]["en"]
    block = block_mesh(inner, row["b3_h_maaiveld"], top)
    open_box = TriMesh(block.vertices, block.triangles[:-1])  # one triangle missing: not closed
    with pytest.raises(ValueError):
        clash_mesh(candidates, open_box, inner, row["b3_h_maaiveld"])
