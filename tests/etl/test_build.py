"""`stadsmodel build` end to end: on a synthetic district with known truth, and on real AHN + BAG/BGT crops."""

from __future__ import annotations

import json
import re
import sqlite3

import geopandas as gpd
import laspy
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from etl.build import build_model
from stadsmodel.cli import main
from tests.conftest import shared_path
from tests.helpers.cityjson import schema_errors, solid_problems


def _model(built_district):
    return json.loads((built_district / "model.city.json").read_text())


def _vertices(doc) -> np.ndarray:
    t = doc["transform"]
    return np.asarray(doc["vertices"], dtype=float) * t["scale"] + t["translate"]


def test_building_without_points_is_kept_and_flagged(synth_input, built_district):
    truth = json.loads((synth_input / "truth.json").read_text())["panden"]
    no_points = [k for k, v in truth.items() if not v["has_points"]]
    assert no_points, "the synthetic district should hold a pand without roof points"
    b = gpd.read_file(built_district / "stadsmodel.gpkg", layer="buildings").set_index("identificatie")
    assert set(truth) == set(b.index), "every BAG pand is in the store, none dropped"
    for pid in no_points:
        assert bool(b.loc[pid, "b3_reconstructie_onvolledig"])
        assert "dakpunten" in b.loc[pid, "b3_onvolledig_reden"]
    doc = _model(built_district)
    assert all(pid in doc["CityObjects"] for pid in truth)
    assert doc["CityObjects"][no_points[0]]["geometry"] == []
    # the report counts per kind of reason, without each building's own figures
    report = json.loads((built_district / "report.json").read_text())["counts"]["buildings"]
    assert sum(report["flag_reasons"].values()) == report["flagged"] == int(b["b3_reconstructie_onvolledig"].sum())
    assert report["flag_reasons"] and not any(re.search("[0-9]", reason) for reason in report["flag_reasons"])
    assert any(reason.startswith("te weinig dakpunten (n punten") for reason in report["flag_reasons"])


def test_cityjson_is_schema_valid_with_closed_outward_solids(built_district, cityjson_schema_dir):
    doc = _model(built_district)
    assert schema_errors(doc, cityjson_schema_dir) == []
    assert doc["metadata"]["referenceSystem"].endswith("/EPSG/0/7415")
    verts = _vertices(doc)
    solids = 0
    types = {co["type"] for co in doc["CityObjects"].values()}
    assert {"Building", "Road", "WaterBody", "PlantCover", "LandUse", "Bridge"} <= types
    for oid, co in doc["CityObjects"].items():
        for g in co["geometry"]:
            if g["type"] == "Solid":
                assert g["lod"] in ("1.2", "1.3", "2.2")
                assert solid_problems(g["boundaries"], verts) == [], oid
                surfaces = [s["type"] for s in g["semantics"]["surfaces"]]
                assert {"GroundSurface", "RoofSurface", "WallSurface"} == set(surfaces)
                solids += 1
    assert solids >= 50


def test_cityjsonseq_matches_cityjson(built_district, cityjson_schema_dir):
    doc = _model(built_district)
    lines = (built_district / "model.city.jsonl").read_text().splitlines()
    head = json.loads(lines[0])
    assert head["type"] == "CityJSON" and head["transform"] == doc["transform"]
    features = [json.loads(line) for line in lines[1:]]
    assert len(features) == len(doc["CityObjects"])
    for f in features[:40]:
        assert schema_errors(f, cityjson_schema_dir, "cityjsonfeature") == []
        co = f["CityObjects"][f["id"]]
        assert co["attributes"] == doc["CityObjects"][f["id"]]["attributes"]


def test_terrain_lifted_like_3dfier(synth_input, built_district):
    """Water is flat at the water level, bridge decks sit on the bridge points, roads follow the ground."""
    truth = json.loads((synth_input / "truth.json").read_text())
    doc = _model(built_district)
    verts = _vertices(doc)
    water = [co for co in doc["CityObjects"].values() if co["type"] == "WaterBody"
             and co["attributes"]["object_type"] == "waterdeel"]
    assert water
    for co in water:
        idx = np.concatenate([np.ravel(r) for s in co["geometry"][0]["boundaries"] for r in s])
        z = verts[idx, 2]
        assert np.ptp(z) < 0.001 and abs(z[0] - truth["water_level"]) < 0.05
    bridges = {co["attributes"]["identificatie"]: co for co in doc["CityObjects"].values() if co["type"] == "Bridge"}
    assert bridges.keys() == truth["bridges"].keys()
    for bid, co in bridges.items():
        idx = np.concatenate([np.ravel(r) for s in co["geometry"][0]["boundaries"] for r in s])
        deck = verts[idx, 2]
        assert np.ptp(deck) < 0.001, "a deck is flat"
        assert abs(deck[0] - truth["bridges"][bid]["h_dek"]) < 0.05, "the deck sits on the bridge points"
    # the road on the bridge (relatieveHoogteligging 1) is lifted with the deck, not draped on the water
    on_bridge = [co for co in doc["CityObjects"].values() if co["type"] == "Road"
                 and co["attributes"]["relatieve_hoogteligging"] == 1]
    assert len(on_bridge) >= len(truth["bridges"]) > 0, "every bridge carries a road (the loop below checks them)"
    deck_heights = [b["h_dek"] for b in truth["bridges"].values()]
    for co in on_bridge:
        idx = np.concatenate([np.ravel(r) for s in co["geometry"][0]["boundaries"] for r in s])
        assert min(abs(verts[idx, 2].mean() - h) for h in deck_heights) < 0.05


def test_store_layers_indexes_and_rasters(built_district):
    con = sqlite3.connect(built_district / "stadsmodel.gpkg")
    tables = {r[0] for r in con.execute("select table_name from gpkg_contents")}
    assert {"buildings", "addresses", "bgt_wegdeel", "bgt_waterdeel", "bgt_pand"} <= tables
    rtrees = {r[0] for r in con.execute("select name from sqlite_master where name like 'rtree_%' and type='table'")}
    assert "rtree_buildings_geom" in rtrees
    n_addr = con.execute("select count(*) from addresses").fetchone()[0]
    assert n_addr >= 60
    cols = {r[1] for r in con.execute("pragma table_info(buildings)")}
    assert {"identificatie", "oorspronkelijkbouwjaar", "status", "gebruiksdoel", "b3_h_maaiveld", "b3_h_dak_50p",
            "b3_h_dak_70p", "b3_h_dak_max", "b3_h_dak_min", "b3_n_punten", "b3_reconstructie_onvolledig"} <= cols
    for name in ("dtm.tif", "dsm.tif"):
        with rasterio.open(built_district / name) as ds:
            assert ds.res == (0.5, 0.5) and ds.crs.to_epsg() == 28992
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG", f"{name} is not cloud-optimised"
    report = json.loads((built_district / "report.json").read_text())
    assert report["counts"]["buildings"]["out"] == con.execute("select count(*) from buildings").fetchone()[0]
    assert report["counts"]["ahn"]["points"] > 0 and report["timings_s"]["total"] > 0


def test_bad_files_are_reported_not_fatal(synth_input, tmp_path):
    """A truncated LAZ and a LAZ in another CRS are reported by name; the rest is built; exit status 3."""
    lazs = sorted((synth_input / "ahn").glob("*.laz"))
    truncated = tmp_path / "truncated.laz"
    data = lazs[0].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    wrong = tmp_path / "utm.laz"
    src = laspy.read(lazs[-1])
    header = laspy.LasHeader(point_format=src.header.point_format.id, version=str(src.header.version))
    header.offsets, header.scales = [500000.0, 5800000.0, 0.0], src.header.scales
    las = laspy.LasData(header)
    las.x = np.asarray(src.x) - 155000 + 500000  # the same points in UTM-like coordinates
    las.y = np.asarray(src.y) - 463000 + 5800000
    las.z, las.classification = src.z, src.classification
    las.write(wrong)
    out = tmp_path / "model"
    code = main(["build", "--bgt", str(synth_input / "bgt"), "--bag", str(synth_input / "bag.gpkg"),
                 "--ahn", *map(str, lazs[1:]), str(truncated), str(wrong), "--out", str(out)])
    assert code == 3
    report = json.loads((out / "report.json").read_text())
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert "truncated" in reasons[str(truncated)] or "corrupt" in reasons[str(truncated)]
    assert "outside RD New" in reasons[str(wrong)]
    assert report["counts"]["buildings"]["out"] == len(json.loads((synth_input / "truth.json").read_text())["panden"])


def test_missing_input_is_a_clear_error(synth_input, tmp_path, capsys):
    code = main(["build", "--bgt", str(synth_input / "bgt"), "--ahn", str(tmp_path / "nope.laz"),
                 "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2
    assert "nope.laz" in err and "not found" in err and "Traceback" not in err
    assert not (tmp_path / "m" / "model.city.json").exists()


def test_footprints_from_bgt_when_no_bag(synth_input, tmp_path):
    out = tmp_path / "model"
    report = build_model([synth_input / "bgt"], [], sorted((synth_input / "ahn").glob("*.laz")), out)
    b = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings")
    truth = json.loads((synth_input / "truth.json").read_text())["panden"]
    assert set(b["identificatie"]) == set(truth), "BGT pand carries identificatieBAGPND"
    assert report.data["counts"]["bag"]["footprint_source"] == "BGT pand"


def _csv_polygons(path) -> list[shapely.Polygon]:
    return [shapely.Polygon(json.loads(p)) for p in pd.read_csv(path)["polygon"]]


def test_real_amsterdam_tile_heights_match_an_independent_computation(tmp_path):
    """Real AHN (LAS 1.2, no CRS in the header) over real BAG footprints in Amsterdam Oud-West: the roof
    statistics agree with numpy's over the building points inside each footprint (exact shapely test). Footprints
    are registered to the points (etl.footprint_index.register_footprints, at most 0.5 m), so a point count lies
    between those of the footprint shrunk and grown by 0.6 m, and the 70th percentile within 5 cm of numpy's."""
    base = shared_path("amsterdam-ai-urban-pointcloud")
    polys = _csv_polygons(base / "bag" / "bag_buildings_demo.csv")
    # The crop carries no BAG ids: number them, so they can be told apart.
    ids = [f"036310000000{i:04d}" for i in range(len(polys))]
    bag = tmp_path / "panden.geojson"
    gpd.GeoDataFrame({"identificatie": ids, "oorspronkelijkbouwjaar": 1900, "status": "Pand in gebruik"},
                     geometry=polys, crs="EPSG:28992").to_file(bag, driver="GeoJSON")
    roads = tmp_path / "bgt.gpkg"
    road_polys = _csv_polygons(base / "bgt" / "bgt_roads_demo.csv")
    gpd.GeoDataFrame({"identificatie": [f"G0363.{i}" for i in range(len(road_polys))], "functie": "rijbaan lokale weg"},
                     geometry=road_polys, crs="EPSG:28992").to_file(roads, layer="wegdeel")
    lazs = sorted((base / "ahn").glob("*.laz"))
    out = tmp_path / "model"
    build_model([roads], [bag], lazs, out)
    b = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings").set_index("identificatie")

    pts = [laspy.read(p) for p in lazs]
    x, y, z = (np.concatenate([getattr(p, axis) for p in pts]) for axis in "xyz")
    cls = np.concatenate([p.classification for p in pts])
    roof = cls == 6
    geoms = b.geometry
    inside = {k: roof & shapely.contains_xy(geoms[k], x, y) for k in geoms.index}
    n_containing = np.sum(list(inside.values()), axis=0)
    checked = 0
    for key, mask in inside.items():
        # The crop's footprints overlap in places: a point in two footprints counts for one of them.
        exclusive = mask & (n_containing == 1)
        deep = roof & shapely.contains_xy(shapely.buffer(geoms[key], -0.6), x, y) & (n_containing == 1)
        near = roof & shapely.contains_xy(shapely.buffer(geoms[key], 0.6), x, y)
        assert deep.sum() <= b.loc[key, "b3_n_punten"] <= near.sum()
        if mask.sum() < 5:
            assert bool(b.loc[key, "b3_reconstructie_onvolledig"])
            continue
        if exclusive.sum() != mask.sum() or bool(b.loc[key, "b3_reconstructie_onvolledig"]):
            continue
        zz = z[mask]
        assert b.loc[key, "b3_h_dak_70p"] == pytest.approx(np.percentile(zz, 70), abs=0.05)
        assert zz.min() <= b.loc[key, "b3_h_dak_min"] <= b.loc[key, "b3_h_dak_70p"] <= b.loc[key, "b3_h_dak_max"] \
            <= zz.max()
        assert -2 < b.loc[key, "b3_h_maaiveld"] < 3  # Amsterdam street level is around NAP
        checked += 1
    assert checked >= 5
