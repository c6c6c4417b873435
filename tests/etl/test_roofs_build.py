"""`stadsmodel build` with roofs (issue 12): every building's LoD1.2, LoD1.3 and LoD2.2 in CityJSON, the roof
columns and the building_solids table in the store, the fallbacks counted in report.json; on real Amsterdam AHN
the LoD2.2 roofs fit the points better than the LoD1.2 blocks."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from core.products import BUILDING_SOLIDS
from etl.build import build_model
from etl.roofs.buildings import NO_LOD12, REAL_COLUMNS, TEXT_COLUMNS
from tests.conftest import shared_path
from tests.etl.roofs.independent import independent_problems
from tests.etl.test_build import _csv_polygons
from tests.helpers.cityjson import solid_problems


def _model(out):
    doc = json.loads((out / "model.city.json").read_text())
    t = doc["transform"]
    return doc, np.asarray(doc["vertices"], dtype=float) * t["scale"] + t["translate"]


def _local(geometry: dict, vertices: np.ndarray) -> tuple[np.ndarray, dict]:
    """A geometry with its own vertex list (indices from 0), as the roof checks take it."""
    used = sorted({i for face in geometry["boundaries"][0] for ring in face for i in ring})
    new = {old: k for k, old in enumerate(used)}
    shell = [[[new[i] for i in ring] for ring in face] for face in geometry["boundaries"][0]]
    return vertices[used], {**geometry, "boundaries": [shell]}


def test_every_building_has_its_lods_in_order_and_every_solid_is_valid(built_district):
    doc, verts = _model(built_district)
    store = gpd.read_file(built_district / "stadsmodel.gpkg", layer="buildings").set_index("identificatie")
    made = {"1.2": 0, "1.3": 0, "2.2": 0}
    for oid, co in doc["CityObjects"].items():
        # a building of several polygons has its geometry on its BuildingParts, each with its own best LoD
        if co["type"] not in ("Building", "BuildingPart") or co.get("children"):
            continue
        lods = [g["lod"] for g in co["geometry"]]
        best = store.loc[oid, "b3_lod_gereconstrueerd"] if co["type"] == "Building" else \
            co["attributes"]["b3_lod_gereconstrueerd"]
        assert co["attributes"]["b3_lod_gereconstrueerd"] == (None if pd.isna(best) else best)
        if not lods:
            assert pd.isna(best) and store.loc[oid, "b3_lod_terugval_reden"] == NO_LOD12
            continue
        assert lods[0] == "1.2" and lods == sorted(lods) and lods[-1] == best, oid
        for g in co["geometry"]:
            assert g["type"] == "Solid", oid
            assert solid_problems(g["boundaries"], verts) == [], (oid, g["lod"])
            if g["lod"] != "1.2":
                # independent of both etl.roofs.validity and the helper: edges by coordinates, earcut volume,
                # planarity within 1 cm
                assert independent_problems(*_local(g, verts)) == [], (oid, g["lod"])
            made[g["lod"]] += 1
        if best == "2.2":
            assert co["attributes"]["b3_val3dity_lod22"] == [], "the list itself in CityJSON, JSON text in the store"
    assert made["2.2"] >= 0.9 * made["1.2"] >= 45, made


def test_store_has_the_roof_columns_and_the_solids_table(built_district):
    gpkg = built_district / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as con:
        types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(buildings)")}
        assert all(types[c] == "REAL" for c in REAL_COLUMNS), types
        assert all(types[c] == "TEXT" for c in TEXT_COLUMNS), types
        assert types["b3_reconstructie_onvolledig"] == "BOOLEAN", "the lifting flag keeps its meaning and type"
        assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = ?",
                           (BUILDING_SOLIDS,)).fetchone() == ("attributes",)
        assert con.execute("SELECT count(*) FROM gpkg_geometry_columns WHERE table_name = ?",
                           (BUILDING_SOLIDS,)).fetchone() == (0,)
        assert {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({BUILDING_SOLIDS})")} == {
            "fid": "INTEGER", "identificatie": "TEXT", "part": "INTEGER", "lod": "TEXT", "solid": "TEXT",
            "attributes": "TEXT"}
        assert con.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = '{BUILDING_SOLIDS}'"
                           " AND sql LIKE '%identificatie%'").fetchone() == (1,)
    store = gpd.read_file(gpkg, layer="buildings").set_index("identificatie")
    solids = pyogrio.read_dataframe(gpkg, layer=BUILDING_SOLIDS)
    doc, verts = _model(built_district)
    # every stored solid is the building's CityJSON geometry of that LoD, to the millimetre
    for row in solids.itertuples():
        solid = json.loads(row.solid)
        owner = row.identificatie if pd.isna(row.part) else f"{row.identificatie}-{int(row.part)}"
        geometry = next(g for g in doc["CityObjects"][owner]["geometry"] if g["lod"] == row.lod)
        ours, theirs = np.asarray(solid["vertices"]), _local(geometry, verts)[0]
        assert solid["geometry"]["lod"] == row.lod and len(ours) == len(np.unique(ours, axis=0))
        assert np.abs(np.unique(ours, axis=0) - np.unique(theirs, axis=0)).max() < 0.0015, row.identificatie
    counts = solids.groupby("lod").size().to_dict()
    assert counts["2.2"] == (store["b3_lod_gereconstrueerd"] == "2.2").sum()
    # the val3dity lists as JSON text; NULL where that LoD was not made
    lod22 = store[store["b3_lod_gereconstrueerd"] == "2.2"]
    assert (lod22["b3_val3dity_lod22"] == "[]").all() and (lod22["b3_rmse_lod22"] >= 0).all()
    assert (lod22["b3_h_nok"] >= lod22["b3_h_goot"]).all()
    assert store.loc[store["b3_lod_gereconstrueerd"].isna(), "b3_val3dity_lod12"].isna().all()


def test_report_counts_best_lods_and_fallback_reasons(built_district):
    report = json.loads((built_district / "report.json").read_text())
    lod = report["counts"]["buildings"]["lod"]
    assert sum(lod["best"].values()) == report["counts"]["buildings"]["out"]
    assert lod["best"]["none"] == lod["fallback_reasons"]["no LoD1.2"] == report["counts"]["buildings"]["flagged"]
    assert all(":" not in reason for reason in lod["fallback_reasons"]), "kinds, without measured values"
    doc, _ = _model(built_district)
    # a single-polygon building's LoD1.3 and LoD2.2, every LoD of a BuildingPart
    assert report["counts"]["store"][BUILDING_SOLIDS] == sum(
        g["lod"] != "1.2" or co["type"] == "BuildingPart" for co in doc["CityObjects"].values()
        if co["type"] in ("Building", "BuildingPart") for g in co["geometry"])
    assert report["timings_s"]["roofs"] > 0 and report["throughput"]["roofs_buildings_per_s"] > 0


def test_without_lod22_the_build_makes_blocks_only(synth_input, tmp_path):
    import yaml

    from core.config import DEFAULT_PIPELINE

    cfg = yaml.safe_load(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    cfg["roofs"]["lod22"] = False
    config = tmp_path / "pipeline.yml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = tmp_path / "model"
    build_model([synth_input / "bgt"], [synth_input / "bag.gpkg"], sorted((synth_input / "ahn").glob("*.laz")), out,
                config_path=config, progress=False)
    doc, _ = _model(out)
    buildings = [co for co in doc["CityObjects"].values() if co["type"] == "Building"]
    assert {g["lod"] for co in buildings for g in co["geometry"]} == {"1.2"}
    store = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings")
    assert set(store["b3_lod_gereconstrueerd"].dropna()) == {"1.2"} and store["b3_h_goot"].isna().all()
    assert len(pyogrio.read_dataframe(out / "stadsmodel.gpkg", layer=BUILDING_SOLIDS)) == 0


def test_real_amsterdam_lod22_fits_the_points_better_than_lod12(tmp_path):
    """The build on real AHN over real BAG footprints (Amsterdam Oud-West, both crops): the median RMSE of the
    LoD2.2 roofs is below that of the LoD1.2 blocks, over the same points."""
    base = shared_path("amsterdam-ai-urban-pointcloud")
    polys = _csv_polygons(base / "bag" / "bag_buildings_demo.csv")
    bag = tmp_path / "panden.geojson"
    gpd.GeoDataFrame({"identificatie": [f"036310000000{i:04d}" for i in range(len(polys))],
                      "oorspronkelijkbouwjaar": 1900, "status": "Pand in gebruik"},
                     geometry=polys, crs="EPSG:28992").to_file(bag, driver="GeoJSON")
    roads = tmp_path / "bgt.gpkg"
    road_polys = _csv_polygons(base / "bgt" / "bgt_roads_demo.csv")
    gpd.GeoDataFrame({"identificatie": [f"G0363.{i}" for i in range(len(road_polys))], "functie": "rijbaan"},
                     geometry=road_polys, crs="EPSG:28992").to_file(roads, layer="wegdeel")
    out = tmp_path / "model"
    build_model([roads], [bag], sorted((base / "ahn").glob("*.laz")), out, progress=False)
    b = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings")
    lod22 = b[b["b3_lod_gereconstrueerd"] == "2.2"]
    assert len(lod22) >= 8
    median12, median22 = float(lod22["b3_rmse_lod12"].median()), float(lod22["b3_rmse_lod22"].median())
    print(f"real Amsterdam: {len(lod22)} of {len(b)} buildings LoD2.2; median b3_rmse_lod12 {median12:.2f} m, "
          f"b3_rmse_lod22 {median22:.2f} m")
    assert median22 < 0.7 * median12
