"""`stadsmodel build` and the tiled build with a pand of two footprint polygons (issue 12): a Building and its two
BuildingParts in model.city.json and in one CityJSONSeq feature, the parts' solids and attributes in
building_solids; the tiled build writes exactly what the single-machine build writes.

The district is synth.district's, with two neighbouring panden given as one (a MultiPolygon under the first's
identificatie), as the BAG delivers a pand in pieces; each part's truth is its original pand's."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from core.products import BUILDING_SOLIDS
from etl.build import build_model
from etl.tiled import build_tiled
from tests.etl.roofs.independent import independent_problems
from tests.etl.test_tiled import assert_same_geometry, assert_same_store
from tests.helpers.cityjson import schema_errors, solid_problems


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """(input folder, the merged pand's identificatie, the truth of its two parts by descending area)."""
    from synth.district import write_district

    raw = tmp_path_factory.mktemp("parts") / "raw"
    write_district(raw, buildings=16, seed=5, points_per_m2=4)
    panden = gpd.read_file(raw / "bag.gpkg", layer="pand")
    g = np.asarray(panden.geometry.values, dtype=object)
    d = shapely.distance(g[:, None], g[None, :])
    d[(d < 1.0) | np.eye(len(g), dtype=bool)] = np.inf  # disjoint, not touching
    i, j = sorted(np.unravel_index(int(np.argmin(d)), d.shape))
    merged = panden.copy()
    merged.loc[i, "geometry"] = shapely.MultiPolygon([g[i], g[j]])
    merged = merged.drop(index=j).reset_index(drop=True)
    out = raw.parent / "input"
    out.mkdir()
    for sub in ("bgt", "ahn"):
        (out / sub).symlink_to(raw / sub)
    pyogrio.write_dataframe(merged, out / "bag.gpkg", layer="pand", driver="GPKG")
    pyogrio.write_dataframe(gpd.read_file(raw / "bag.gpkg", layer="verblijfsobject"), out / "bag.gpkg",
                            layer="verblijfsobject", driver="GPKG", append=True)
    truth = json.loads((raw / "truth.json").read_text())["panden"]
    ids = [f"NL.IMBAG.Pand.{panden.loc[k, 'identificatie']}" for k in (i, j)]
    by_area = sorted(zip(ids, (g[i], g[j])), key=lambda t: -t[1].area)
    return out, ids[0], [truth[ident] for ident, _ in by_area]


def _inputs(folder):
    return {"bgt": [folder / "bgt"], "bag": [folder / "bag.gpkg"], "ahn": sorted((folder / "ahn").glob("*.laz"))}


@pytest.fixture(scope="module")
def single(district, tmp_path_factory):
    out = tmp_path_factory.mktemp("parts") / "single"
    build_model(**_inputs(district[0]), out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def tiled(district, tmp_path_factory):
    out = tmp_path_factory.mktemp("parts") / "tiled"
    report = build_tiled(**_inputs(district[0]), out=out, tile_size=100.0, workers=2, processes=False)
    assert report.complete and report.data["tiles"]["total"] >= 4
    return out


def test_the_pand_of_two_polygons_is_a_building_with_two_parts(district, single, cityjson_schema_dir):
    _, ident, truth = district
    doc = json.loads((single / "model.city.json").read_text())
    assert schema_errors(doc, cityjson_schema_dir) == []
    vertices = np.asarray(doc["vertices"], float) * doc["transform"]["scale"] + doc["transform"]["translate"]
    building = doc["CityObjects"][ident]
    parts = [f"{ident}-0", f"{ident}-1"]
    assert building["geometry"] == [] and building["children"] == parts
    assert not any(g["type"] == "MultiSolid" for co in doc["CityObjects"].values() for g in co["geometry"])
    lod22 = 0
    for pid, t in zip(parts, truth):
        part = doc["CityObjects"][pid]
        assert part["type"] == "BuildingPart" and part["parents"] == [ident]
        lods = [g["lod"] for g in part["geometry"]]
        assert lods[0] == "1.2" and lods[-1] == part["attributes"]["b3_lod_gereconstrueerd"], pid
        for g in part["geometry"]:
            assert g["type"] == "Solid" and solid_problems(g["boundaries"], vertices) == [], (pid, g["lod"])
            used = sorted({i for face in g["boundaries"][0] for ring in face for i in ring})
            new = {old: k for k, old in enumerate(used)}
            shell = [[[new[i] for i in ring] for ring in face] for face in g["boundaries"][0]]
            assert independent_problems(vertices[used], {**g, "boundaries": [shell]}) == [], (pid, g["lod"])
        if "2.2" in lods:
            lod22 += 1
            a = part["attributes"]
            assert abs(a["b3_h_goot"] - t["h_goot"]) <= 0.15 and abs(a["b3_h_nok"] - t["h_nok"]) <= 0.15, pid
    assert lod22 >= 1
    # one CityJSONSeq feature: the Building and its parts
    lines = (single / "model.city.jsonl").read_text().splitlines()
    feature = next(json.loads(line) for line in lines[1:] if json.loads(line)["id"] == ident)
    assert schema_errors(feature, cityjson_schema_dir, "cityjsonfeature") == []
    assert list(feature["CityObjects"]) == [ident, *parts]
    # the store: the parts' rows, their attributes on their LoD1.2 rows
    solids = pyogrio.read_dataframe(single / "stadsmodel.gpkg", layer=BUILDING_SOLIDS)
    mine = solids[solids["identificatie"] == ident]
    assert set(mine["part"]) == {0, 1} and solids.loc[solids["identificatie"] != ident, "part"].isna().all()
    assert list(mine.loc[mine["lod"] == "1.2", "part"]) == [0, 1]
    assert mine["attributes"].notna().tolist() == (mine["lod"] == "1.2").tolist()
    store = gpd.read_file(single / "stadsmodel.gpkg", layer="buildings").set_index("identificatie")
    assert store.loc[ident].geometry.geom_type == "MultiPolygon"
    assert store.loc[ident, "b3_lod_gereconstrueerd"] == min(
        (doc["CityObjects"][p]["attributes"]["b3_lod_gereconstrueerd"] for p in parts), key=float)


def test_the_tiled_build_writes_what_the_single_build_writes(single, tiled):
    assert_same_store(tiled / "stadsmodel.gpkg", single / "stadsmodel.gpkg")
    a, b = ((out / "model.city.jsonl").read_text(encoding="utf-8").splitlines() for out in (tiled, single))
    assert a[0] == b[0] and sorted(a[1:]) == sorted(b[1:])
    assert_same_geometry(tiled / "model.city.json", single / "model.city.json", tolerance=0)
    ra, rb = (json.loads((out / "report.json").read_text()) for out in (tiled, single))
    assert ra["counts"]["buildings"] == rb["counts"]["buildings"]
