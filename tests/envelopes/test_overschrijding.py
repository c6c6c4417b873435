"""The store layer `bouwenvelop_overschrijding` (etl.envelopes.overschrijding) on the zoned synthetic district
(tests/conftest.py zoned_district: its `zoning import` wrote the envelopes and the layer): one row per pand in an
envelope, with the location check's numbers (building.bouwenvelop), the known excess of the pand built over its
maximum, a failing pand as onbekend with its reason, and the layer remade after every published build."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pyogrio
import pytest

from core.gpkg import gpkg_geometries
from core.products import BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING, STORE_NAME
from etl.envelopes import overschrijding, write_envelopes
from etl.writers.publish import Publication
from services.processes.location_check import check_location, open_store

NUMBERS = ("excess_volume_m3", "excess_above_m3", "excess_outside_m3", "max_excess_height_m")


def _null(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)  # pyogrio reads a NULL text as None or NaN


@pytest.fixture(scope="module")
def layer(zoned_district):
    """The layer as the zoned district's import wrote it (read only: the shared fixture stays as it is)."""
    frame = pyogrio.read_dataframe(zoned_district.model / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING)
    return frame.set_index("identificatie", drop=False)


def _truth(zoned_district) -> dict:
    return json.loads((zoned_district.plan_files[0].parent.parent / "truth.json").read_text())["panden"]


def test_one_row_per_pand_in_an_envelope_with_the_location_checks_numbers(zoned_district, layer):
    store = open_store(zoned_district.model)
    expected = zoned_district.expected["panden"]
    assert layer.index.is_unique and set(layer.index) <= set(expected)
    checked = 0
    for pid, e in sorted(expected.items()):
        answer = check_location(store, *e["point"], activities=[])
        assert answer["building"]["identificatie"] == pid
        env = answer["building"]["bouwenvelop"]
        if env is None:  # in no envelope: no row
            assert pid not in layer.index, pid
            continue
        row = layer.loc[pid]
        assert row["status"] == env["status"], pid
        assert (None if _null(row["solid_lod"]) else row["solid_lod"]) == env.get("solid_lod"), pid
        assert json.loads(row["envelope_ids"]) == [x["object_id"] for x in env["envelopes"]], pid
        for k in NUMBERS:
            if env.get(k) is None:
                assert _null(row[k]), (pid, k)  # not measured
            else:
                assert row[k] == pytest.approx(env[k], abs=1e-3), (pid, k)
        if env["status"] == "onbekend":
            assert row["reden"] == env["reason"]["nl"], pid
        else:
            assert _null(row["reden"]), pid
        checked += 1
    assert checked == len(layer) and checked >= 20
    # every pand in a bouwvlak with a maatvoering lies in an envelope and has a row
    assert {pid for pid, e in expected.items() if e["max_bouwhoogte"] is not None} <= set(layer.index)


def test_the_known_excess_and_the_excess_solid(zoned_district, layer):
    truth = _truth(zoned_district)
    over = [pid for pid, e in sorted(zoned_district.expected["panden"].items())
            if e["compliance"] == "overschrijdt" and e["max_bouwhoogte"] is not None
            and e["measured_height_truth"] is not None]
    assert len(over) == 1
    pid = over[0]
    row = layer.loc[pid]
    env = pyogrio.read_dataframe(zoned_district.model / STORE_NAME, layer=BOUWENVELOP)
    vlak = env[env["object_id"] == json.loads(row["envelope_ids"])[0]].iloc[0]
    known = truth[pid]["h_dak_max"] - (vlak["peil_nap"] + vlak["max_bouwhoogte"])  # 1.5 m by construction ± peil
    assert row["status"] == "overschrijdt" and row["solid_lod"] == "2.2"
    assert row["max_excess_height_m"] == pytest.approx(known, abs=0.1)
    assert row["excess_above_m3"] > 100
    solid = json.loads(row["solid"])
    assert solid["geometry"]["type"] == "Solid" and len(solid["vertices"]) >= 4
    # the excess lies on top of the pand, above the envelope's bouwhoogte
    zs = [v[2] for v in solid["vertices"]]
    assert min(zs) == pytest.approx(vlak["peil_nap"] + vlak["max_bouwhoogte"], abs=0.05)
    assert max(zs) == pytest.approx(truth[pid]["h_dak_max"], abs=0.1)
    # a solid only where there is an excess to draw; the footprint is the pand's
    for r in layer.itertuples():
        assert (not _null(r.solid)) == (r.status == "overschrijdt" or r.excess_volume_m3 > 0.05), r.identificatie
    with sqlite3.connect(zoned_district.model / STORE_NAME) as con:
        blob = con.execute("SELECT geom FROM buildings WHERE identificatie = ?", (pid,)).fetchone()[0]
    assert gpkg_geometries([blob])[0].symmetric_difference(row.geometry).area < 1e-6
    assert pyogrio.read_info(zoned_district.model / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING)[
        "geometry_type"] == "MultiPolygon"


def test_the_zoning_report_counts_the_layer(zoned_district, layer):
    counts = zoned_district.report["envelopes"]["overschrijding"]
    assert counts["written"] and counts["buildings"] == len(layer)
    assert counts["per_status"] == {s: int(n) for s, n in layer["status"].value_counts().items()}
    assert counts["with_solid"] == int(layer["solid"].notna().sum())
    assert counts["per_status"].get("overschrijdt", 0) >= 1 and counts["per_status"].get("binnen_envelop", 0) >= 10
    assert {o["identificatie"] for o in counts["onbekend"]} == set(layer.index[layer["status"] == "onbekend"])


def test_a_failing_pand_is_onbekend_with_its_reason(zoned_district, layer, tmp_path, monkeypatch):
    model = shutil.copytree(zoned_district.model, tmp_path / "model")
    victim = sorted(layer.index[layer["status"] == "binnen_envelop"])[0]
    real = overschrijding.clash_building

    def clash(envelopes, building, footprint, solids, cache=None):
        if building["identificatie"] == victim:
            raise RuntimeError("manifold3d says no")
        return real(envelopes, building, footprint, solids, cache=cache)

    monkeypatch.setattr(overschrijding, "clash_building", clash)
    report = write_envelopes(model)
    out = pyogrio.read_dataframe(model / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING).set_index("identificatie")
    assert len(out) == len(layer)
    assert out.loc[victim, "status"] == "onbekend" and "manifold3d says no" in out.loc[victim, "reden"]
    assert json.loads(out.loc[victim, "envelope_ids"])  # the envelopes it lies in are still named
    assert {"identificatie": victim, "reden": out.loc[victim, "reden"]} in report.overschrijding.onbekend
    others = out.drop(index=victim)
    assert (others["status"] == layer.drop(index=victim).loc[others.index, "status"]).all()


def test_the_layer_follows_every_published_build(zoned_district, built_district, tmp_path):
    """A rebuild publishes a store with other buildings: the carried-over envelopes are remade on its DTM and the
    clash on its buildings (etl.writers.publish → write_envelopes). Here the new build lost the LoD2.2 solids of
    the pand over its maximum: its row now measures its LoD1.2 block."""
    out = shutil.copytree(zoned_district.model, tmp_path / "out")
    pid = next(pid for pid, e in sorted(zoned_district.expected["panden"].items())
               if e["compliance"] == "overschrijdt" and e["max_bouwhoogte"] is not None
               and e["measured_height_truth"] is not None)
    with Publication(out) as publication:
        for f in built_district.iterdir():
            if f.is_file():
                shutil.copy2(f, publication.staging / f.name)
        with sqlite3.connect(publication.staging / STORE_NAME) as con:
            assert BOUWENVELOP not in {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
            con.execute("DELETE FROM building_solids WHERE identificatie = ? AND lod = '2.2'", (pid,))
        publication.publish()
    before = pyogrio.read_dataframe(zoned_district.model / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING)
    after = pyogrio.read_dataframe(out / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING).set_index("identificatie")
    assert set(after.index) == set(before["identificatie"])
    assert before.set_index("identificatie").loc[pid, "solid_lod"] == "2.2"
    assert after.loc[pid, "solid_lod"] == "1.2"
    assert after.loc[pid, "status"] == "overschrijdt"  # the block (70th percentile roof) is over as well


def test_a_store_without_buildings_gets_no_layer_and_an_emptied_one_no_stale_rows(tmp_path, zoned_district):
    from shapely.geometry import MultiPolygon, box

    from etl.zoning.store import write_layers
    from tests.envelopes.test_store import X0, Y0, _mv, _vlak

    assert write_envelopes(tmp_path / "none").overschrijding.written is False  # no store at all
    zoning_only = tmp_path / "zoning"
    zoning_only.mkdir()
    vlak = MultiPolygon([box(X0, Y0, X0 + 10, Y0 + 10)])
    write_layers(zoning_only / STORE_NAME, {"bouwvlak": [_vlak("BV", vlak)],
                                            "maatvoering": [_mv("MV", vlak, bouw=9.0)]}, "P")
    report = write_envelopes(zoning_only)
    assert report.envelopes == 1 and not report.overschrijding.written and "buildings" in report.overschrijding.note
    assert BOUWENVELOP_OVERSCHRIJDING not in pyogrio.list_layers(zoning_only / STORE_NAME)[:, 0]
    # a store whose buildings are gone: the layer is emptied, no stale row stays
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy2(zoned_district.model / STORE_NAME, model / STORE_NAME)
    pyogrio.write_dataframe(pyogrio.read_dataframe(model / STORE_NAME, layer="buildings").iloc[:0],
                            model / STORE_NAME, layer="buildings", driver="GPKG")
    report = write_envelopes(model).overschrijding
    assert report.written and report.buildings == 0
    assert len(pyogrio.read_dataframe(model / STORE_NAME, layer=BOUWENVELOP_OVERSCHRIJDING)) == 0
