"""etl.envelopes on small hand-made plans: pieces and the most restrictive value, bad input reported (never an
exception, never a wrong envelope), the DTM peil and the relative fallback, and the store layer itself."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import MultiPolygon, Polygon, box

from core.crs import RD_NEW
from core.envelope import mesh_from_solid, top_heights
from core.products import BOUWENVELOP, STORE_NAME
from etl.envelopes import EnvelopeReport, build_envelopes, write_envelopes
from etl.zoning.store import write_layers

X0, Y0 = 120000.0, 480000.0


def _frame(rows):
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=RD_NEW) if rows else None


def _vlak(oid, geom):
    return {"object_id": oid, "identificatie": oid, "plan_id": "P", "geometry": geom}


def _mv(oid, geom, bouw=None, goot=None, dak=None, plan="P"):
    waarden = [{"waardetype": "maximum dakhelling (graden)", "waarde": f"{dak:g}"}] if dak is not None else []
    return {"object_id": oid, "identificatie": oid, "plan_id": plan, "max_bouwhoogte": bouw, "max_goothoogte": goot,
            "waarden": json.dumps(waarden), "geometry": geom}


def _build(vlakken=(), mvs=(), norms=(), dtm=None):
    report = EnvelopeReport()
    rows = build_envelopes(_frame(list(vlakken)), _frame(list(mvs)), _frame(list(norms)), dtm, report)
    return rows, report


def test_one_bouwvlak_one_maatvoering():
    vlak = box(X0, Y0, X0 + 10, Y0 + 8)
    rows, report = _build([_vlak("BV", vlak)], [_mv("MV", vlak, bouw=10.0, goot=6.0, dak=45.0)])
    assert len(rows) == 1 and not report.skipped and not report.conflicts
    r = rows[0]
    assert (r["max_bouwhoogte"], r["max_goothoogte"], r["max_dakhelling"]) == (10.0, 6.0, 45.0)
    assert r["soort"] == "bouwvlak" and r["vlak_id"] == "BV" and json.loads(r["bron_object_ids"]) == ["MV"]
    assert r["relatief"] == 1 and r["peil_nap"] is None and "relatief" in r["peil_methode"]
    assert r["geometry"].equals(vlak)
    mesh = mesh_from_solid(json.loads(r["solid"]))
    assert mesh.vertices[:, 2].min() == 0.0 and mesh.vertices[:, 2].max() == pytest.approx(10.0)  # 6 + 4·tan45 < 10
    assert r["hoogte_boven_peil"] == pytest.approx(10.0)


def test_overlapping_maatvoeringen_split_the_bouwvlak_most_restrictive_wins():
    vlak = box(X0, Y0, X0 + 20, Y0 + 10)
    rows, report = _build([_vlak("BV", vlak)], [_mv("MV-a", box(X0, Y0, X0 + 12, Y0 + 10), bouw=12.0, goot=7.0),
                                                 _mv("MV-b", box(X0 + 8, Y0, X0 + 20, Y0 + 10), bouw=9.0, goot=8.0,
                                                     plan="Q")])
    pieces = {(r["max_bouwhoogte"], r["max_goothoogte"]): r for r in rows}
    assert set(pieces) == {(12.0, 7.0), (9.0, 7.0), (9.0, 8.0)}
    assert pieces[(9.0, 7.0)]["geometry"].equals(box(X0 + 8, Y0, X0 + 12, Y0 + 10).normalize()) or \
        pieces[(9.0, 7.0)]["geometry"].symmetric_difference(box(X0 + 8, Y0, X0 + 12, Y0 + 10)).area < 1e-6
    assert json.loads(pieces[(9.0, 7.0)]["plan_ids"]) == ["P", "Q"]
    assert sum(r["geometry"].area for r in rows) == pytest.approx(vlak.area)
    conflicts = {c["value"]: c for c in report.conflicts}
    assert conflicts["max_bouwhoogte"]["values"] == [9.0, 12.0] and conflicts["max_bouwhoogte"]["chosen"] == 9.0
    assert conflicts["max_goothoogte"]["chosen"] == 7.0 and conflicts["max_goothoogte"]["sources"] == ["MV-a", "MV-b"]


def test_bouwvlak_without_heights_gets_no_envelope_and_is_reported():
    rows, report = _build([_vlak("BV-1", box(X0, Y0, X0 + 5, Y0 + 5)), _vlak("BV-2", box(X0 + 9, Y0, X0 + 14, Y0 + 5))],
                          [_mv("MV", box(X0 + 9, Y0, X0 + 14, Y0 + 5), bouw=8.0),
                           _mv("MV-lagen", box(X0, Y0, X0 + 5, Y0 + 5))])  # only bouwlagen: no volume
    assert [r["vlak_id"] for r in rows] == ["BV-2"]
    assert any(s["object_id"] == "BV-1" and "no envelope" in s["reason"] for s in report.skipped)


def test_self_intersecting_plan_polygon_is_repaired_and_reported():
    bowtie = Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])
    rows, report = _build([_vlak("BV-bowtie", bowtie)], [_mv("MV", box(X0, Y0, X0 + 10, Y0 + 10), bouw=6.0)])
    assert [s["object_id"] for s in report.repaired] == ["BV-bowtie"]
    assert "make_valid" in report.repaired[0]["reason"]
    vlak = [r for r in rows if r["soort"] == "bouwvlak"]
    assert len(vlak) == 1 and vlak[0]["geometry"].is_valid
    assert vlak[0]["geometry"].area == pytest.approx(50.0)  # the two triangles, not a wrong bowtie area of 0
    # the rest of the maatvoering, outside the bouwvlak, is an area of its own
    assert sum(r["geometry"].area for r in rows if r["soort"] == "maatvoering") == pytest.approx(50.0)


def test_degenerate_polygon_is_refused_with_its_id():
    line_like = Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0)])
    rows, report = _build([_vlak("BV-flat", line_like)], [_mv("MV", box(X0, Y0, X0 + 9, Y0 + 9), bouw=6.0)])
    assert any(s["object_id"] == "BV-flat" and "refused" in s["reason"] for s in report.skipped)
    assert [r["soort"] for r in rows] == ["maatvoering"]  # the maatvoering itself, without a bouwvlak


@pytest.mark.parametrize("bouw, goot, dak, reason", [(-3.0, None, None, "max_bouwhoogte -3"),
                                                     (9.0, 5.0, 120.0, "max_dakhelling 120")])
def test_unusable_values_are_ignored_with_their_id(bouw, goot, dak, reason):
    vlak = box(X0, Y0, X0 + 8, Y0 + 8)
    rows, report = _build([_vlak("BV", vlak)], [_mv("MV-bad", vlak, bouw=bouw, goot=goot, dak=dak)])
    assert any(s["object_id"] == "MV-bad" and reason in s["reason"] for s in report.skipped)
    for r in rows:  # what remains is what the plan validly says
        assert r["max_dakhelling"] is None and r["max_bouwhoogte"] in (None, 9.0)


def test_ow_norms_per_werkingsgebied():
    gebied = MultiPolygon([box(X0, Y0, X0 + 30, Y0 + 30)])
    base = {"plan_id": "/akn/nl/act/x", "locatie": "gebied-1", "geometry": gebied, "naam": "bouwhoogte"}
    norms = [{**base, "object_id": "n1@gebied-1", "type": "MaximumBouwhoogte", "eenheid": "Meter",
              "kwantitatieve_waarde": 13.0},
             {**base, "object_id": "n2@gebied-1", "type": "MaximumBouwhoogte", "eenheid": "Meter",
              "kwantitatieve_waarde": 11.0},
             {**base, "object_id": "n3@gebied-1", "type": "MaximumBouwhoogte", "eenheid": "Bouwlagen",
              "kwantitatieve_waarde": 3.0},
             {**base, "object_id": "n4@gebied-1", "type": "MaximumBouwhoogte", "eenheid": None,
              "kwantitatieve_waarde": None}]
    rows, report = _build(norms=norms)
    assert len(rows) == 1 and rows[0]["soort"] == "werkingsgebied" and rows[0]["max_bouwhoogte"] == 11.0
    assert rows[0]["vlak_id"] == "gebied-1"
    assert json.loads(rows[0]["bron_object_ids"]) == ["n1@gebied-1", "n2@gebied-1"]
    reasons = {s["object_id"]: s["reason"] for s in report.skipped}
    assert "not metres" in reasons["n3@gebied-1"] and "without a quantitative value" in reasons["n4@gebied-1"]


def _dtm(path: Path, z: np.ndarray):
    with rasterio.open(path, "w", driver="GTiff", height=z.shape[0], width=z.shape[1], count=1, dtype="float32",
                       crs="EPSG:28992", transform=from_origin(X0 - 5, Y0 + 25, 0.5, 0.5), nodata=-9999) as ds:
        ds.write(z.astype("float32"), 1)


def test_write_envelopes_peil_from_the_dtm_and_the_store_layer(tmp_path):
    gpkg = tmp_path / STORE_NAME
    vlak = MultiPolygon([box(X0, Y0, X0 + 10, Y0 + 10)])
    write_layers(gpkg, {"bouwvlak": [_vlak("BV", vlak)],
                        "maatvoering": [_mv("MV", vlak, bouw=9.0, goot=5.0, dak=30.0)]}, "P")
    z = np.full((60, 60), 1.0)
    z[:, 30:] = 3.0  # the eastern part of the bouwvlak is higher: median of the cells inside
    z[0, 0] = -9999  # nodata outside is not ground
    _dtm(tmp_path / "dtm.tif", z)
    report = write_envelopes(tmp_path)
    assert report.envelopes == 1 and not report.relative
    layer = pyogrio.read_dataframe(gpkg, layer=BOUWENVELOP)
    row = layer.iloc[0]
    inside = z[10:30, 10:30]  # cells whose centres lie inside the bouwvlak (row 10..29, col 10..29)
    assert row["peil_nap"] == pytest.approx(float(np.median(inside)))
    assert "mediaan DTM" in row["peil_methode"] and row["relatief"] == 0
    mesh = mesh_from_solid(json.loads(row["solid"]))
    assert mesh.vertices[:, 2].min() == pytest.approx(row["peil_nap"])
    assert top_heights(mesh, np.array([[X0 + 5, Y0 + 5]]))[0] == pytest.approx(row["peil_nap"] + 5 + 5 * np.tan(
        np.radians(30)), abs=0.01)
    assert pyogrio.read_info(gpkg, layer=BOUWENVELOP)["geometry_type"] == "MultiPolygon"
    # the zoning layers changed (the plan is gone): a rerun empties the layer, no stale envelope stays
    write_layers(gpkg, {"bouwvlak": [], "maatvoering": []}, "P")
    assert write_envelopes(tmp_path).envelopes == 0
    assert len(pyogrio.read_dataframe(gpkg, layer=BOUWENVELOP)) == 0


def test_a_draft_plan_makes_its_own_envelope_and_never_restricts_the_plan_in_force(tmp_path):
    """In force: bouwvlak + 12 m. A draft (ontwerp) of another plan lays 6 m over half of it, and an older version
    of the plan in force (superseded by the later one) 4 m over all of it: the law's envelope stays 12 m whole,
    the draft gets one of its own (ontwerp = 1), the old version none, and the clash counts the draft only when
    asked."""
    from core.clash import in_force

    gpkg = tmp_path / STORE_NAME
    vlak = box(X0, Y0, X0 + 20, Y0 + 10)
    half = box(X0, Y0, X0 + 10, Y0 + 10)

    def plan(rec, plan_id, status, datum):
        return rec | {"plan_id": plan_id, "plan_status": status, "plan_datum": datum}

    write_layers(gpkg, {"bouwvlak": [plan(_vlak("BV", MultiPolygon([vlak])), "NL.IMRO.1.BP1-VG02", "vastgesteld",
                                          "2020-01-01")],
                        "maatvoering": [plan(_mv("MV", MultiPolygon([vlak]), bouw=12.0), "NL.IMRO.1.BP1-VG02",
                                             "vastgesteld", "2020-01-01")]}, "new")
    write_layers(gpkg, {"maatvoering": [plan(_mv("OLD", MultiPolygon([vlak]), bouw=4.0), "NL.IMRO.1.BP1-VG01",
                                             "vastgesteld", "2010-01-01")]}, "old")
    write_layers(gpkg, {"bouwvlak": [plan(_vlak("DBV", MultiPolygon([half])), "NL.IMRO.1.BP2-ON01", "ontwerp",
                                          "2024-01-01")],
                        "maatvoering": [plan(_mv("DMV", MultiPolygon([half]), bouw=6.0), "NL.IMRO.1.BP2-ON01",
                                             "ontwerp", "2024-01-01")]}, "draft")
    report = write_envelopes(tmp_path)
    layer = pyogrio.read_dataframe(gpkg, layer=BOUWENVELOP).set_index("vlak_id")
    assert sorted(layer.index) == ["BV", "DBV"]
    law, draft = layer.loc["BV"], layer.loc["DBV"]
    assert (law["max_bouwhoogte"], law["ontwerp"], json.loads(law["plan_ids"])) == (12.0, 0, ["NL.IMRO.1.BP1-VG02"])
    assert law.geometry.equals(MultiPolygon([vlak]))
    assert (draft["max_bouwhoogte"], draft["ontwerp"], json.loads(draft["plan_ids"])) == (6.0, 1,
                                                                                          ["NL.IMRO.1.BP2-ON01"])
    assert {"object_id": "NL.IMRO.1.BP1-VG01", "reason": "plan superseded by a later version: no envelope"} in \
        report.skipped
    rows = [(dict(r), r.geometry) for _, r in layer.reset_index().iterrows()]
    assert [r["vlak_id"] for r, _ in in_force(rows)] == ["BV"]
    assert sorted(r["vlak_id"] for r, _ in in_force(rows, include_ontwerp=True)) == ["BV", "DBV"]


def test_no_store_nothing_written(tmp_path):
    report = write_envelopes(tmp_path)
    assert report.envelopes == 0 and "no store" in report.skipped[0]["reason"]
    assert not (tmp_path / STORE_NAME).exists()
