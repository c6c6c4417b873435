"""``f=cityjson`` serves every LoD the build made: [LoD1.2, LoD1.3, LoD2.2] per Building, the LoD1.3/2.2 solids
read from the store's building_solids table, on the GeoPackage and on PostGIS (copied by `stadsmodel load`).

The store is tests/services/roofs.py's: synthetic roofs reconstructed by etl.roofs, so the solid each building
must carry is known exactly (RoofModel.lod13/lod22, what the build writes to model.city.json and the store).
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.helpers.cityjson import schema_errors, solid_problems
from tests.services.conftest import LiveServer
from tests.services.roofs import solid_faces as _faces
from tests.services.test_built_store_postgis import fresh_database

pytestmark = pytest.mark.xdist_group("roof_store")


@pytest.fixture(scope="module")
def roof_postgis(postgis_dsn, roof_store) -> tuple[str, dict]:
    from services.load import load_postgis

    dsn = fresh_database(postgis_dsn, "roof_store")
    return dsn, load_postgis(roof_store[0], dsn)


@pytest.fixture(scope="module")
def gpkg_live(roof_store):
    with LiveServer(roof_store[0]) as live:
        yield live


@pytest.fixture(scope="module")
def postgis_live(roof_store, roof_postgis):
    with LiveServer(roof_store[0], postgres=roof_postgis[0]) as live:
        yield live


@pytest.fixture(params=["geopackage", "postgis"], scope="module")
def live(request):
    return request.getfixturevalue("gpkg_live" if request.param == "geopackage" else "postgis_live")


def _expected(pand) -> dict[str, tuple[dict, np.ndarray]]:
    """LoD → (geometry, vertices) the reconstruction made for the pand."""
    made = {"1.3": pand.model.lod13, "2.2": pand.model.lod22}
    return {lod: (g, v) for lod, f in made.items() if f is not None for v, g in [f(0)]}


def _seq(live: LiveServer, **params) -> tuple[dict, list[dict]]:
    r = httpx.get(f"{live.url}/api/collections/buildings/items", params={"f": "cityjson", "limit": 100, **params},
                  timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("application/city+json-seq")
    head, *features = [json.loads(line) for line in r.text.splitlines()]
    return head, features


def test_cityjsonseq_carries_every_lod(live, roof_store, cityjson_schema_dir):
    head, features = _seq(live)
    assert schema_errors(head, cityjson_schema_dir) == []
    scale, translate = np.asarray(head["transform"]["scale"]), np.asarray(head["transform"]["translate"])
    panden = {p.identificatie: p for p in roof_store[1].values()}
    assert sorted(f["id"] for f in features) == sorted(panden)
    lod22_seen = 0
    for feat in features:
        assert schema_errors(feat, cityjson_schema_dir, "cityjsonfeature") == [], feat["id"]
        pand = panden[feat["id"]]
        building = feat["CityObjects"][feat["id"]]
        expected = _expected(pand)
        assert [g["lod"] for g in building["geometry"]] == ["1.2", *expected], feat["id"]
        vertices = np.asarray(feat["vertices"]).reshape(-1, 3) * scale + translate
        for g in building["geometry"]:
            assert g["type"] == "Solid" and solid_problems(g["boundaries"], vertices) == [], (feat["id"], g["lod"])
            if g["lod"] in expected:
                geometry, verts = expected[g["lod"]]
                assert _faces(g, vertices) == _faces(geometry, verts), (feat["id"], g["lod"])
        lod22_seen += "2.2" in expected
        for lod in ("12", "13", "22"):  # JSON text in the store, the list itself in CityJSON
            value = building["attributes"][f"b3_val3dity_lod{lod}"]
            assert value is None or value == [], (feat["id"], lod)
        assert building["attributes"]["b3_lod_gereconstrueerd"] == pand.model.best_lod
    assert lod22_seen >= 4


def test_single_item_has_real_coordinates(live, roof_store, cityjson_schema_dir):
    pand = roof_store[1]["schilddak"]
    r = httpx.get(f"{live.url}/api/collections/buildings/items/{pand.identificatie}", params={"f": "cityjson"},
                  timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("application/city+json")
    doc = r.json()
    assert schema_errors(doc, cityjson_schema_dir, "cityjsonfeature") == []
    geometries = doc["CityObjects"][pand.identificatie]["geometry"]
    assert [g["lod"] for g in geometries] == ["1.2", "1.3", "2.2"]
    geometry, verts = _expected(pand)["2.2"]
    assert _faces(geometries[2], np.asarray(doc["vertices"])) == _faces(geometry, verts)


def test_a_building_without_solids_is_lod12_only(live, roof_store):
    pand = roof_store[1]["zonder_dak"]
    _, features = _seq(live, filter=f"identificatie = '{pand.identificatie}'")
    assert [g["lod"] for g in features[0]["CityObjects"][pand.identificatie]["geometry"]] == ["1.2"]


def test_solids_are_no_collection_and_json_text_stays_text(live, roof_store):
    """building_solids is an attributes table, not a collection; the val3dity lists are strings in GeoJSON and
    in the queryables (a filter on them is a text comparison)."""
    r = httpx.get(f"{live.url}/api/collections", params={"f": "json"}, timeout=30)
    assert "building_solids" not in {c["id"] for c in r.json()["collections"]}
    q = httpx.get(f"{live.url}/api/collections/buildings/queryables", params={"f": "json"}, timeout=30).json()
    assert q["properties"]["b3_val3dity_lod22"]["type"] == "string"
    assert q["properties"]["b3_h_goot"]["type"] == "number"
    r = httpx.get(f"{live.url}/api/collections/buildings/items", timeout=30,
                  params={"f": "json", "filter": "b3_val3dity_lod22 = '[]' AND b3_lod_gereconstrueerd = '2.2'"})
    assert r.status_code == 200, r.text[:300]
    expected = {p.identificatie for p in roof_store[1].values() if p.model.best_lod == "2.2"}
    assert {f["properties"]["identificatie"] for f in r.json()["features"]} == expected
    assert all(f["properties"]["b3_val3dity_lod22"] == "[]" for f in r.json()["features"])


def test_load_copies_the_solids_with_an_index(roof_postgis, roof_store):
    import psycopg

    dsn, counts = roof_postgis
    assert counts["building_solids"] == sum(len(_expected(p)) for p in roof_store[1].values())
    with psycopg.connect(dsn) as con:
        columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = 'building_solids' ORDER BY ordinal_position")]
        indexes = [r[0] for r in con.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'building_solids'")]
    assert {"identificatie", "lod", "solid"} <= set(columns)
    assert any("(identificatie)" in i for i in indexes), indexes


# --- a pand of several footprint polygons: a Building and its BuildingParts, from the store's part rows -------
PARTS_IDS = ("NL.IMBAG.Pand.0599100000000001", "NL.IMBAG.Pand.0599100000000002")
SINGLE_ID = "NL.IMBAG.Pand.0599100000000003"  # one of the houses alone: its solids' part is NULL


@pytest.fixture(scope="module")
def parts_store(tmp_path_factory):
    """(model directory, {id: the Building object the build writes}) of a store with two pands of two polygons
    each (tests/etl/roofs/parts.py; the second with a part of too few points) and a single-polygon one,
    through the build's roof stage and store writer."""
    import geopandas as gpd

    from core.cityjson import building_object
    from core.products import BUILDING_SOLIDS, BUILDINGS, STORE_NAME
    from etl.lifting import FootprintPoints
    from etl.roofs.buildings import area_roofs
    from etl.roofs.reconstruction import RoofConfig
    from etl.writers.store import StoreLayer, write_store
    from tests.etl.roofs.parts import ROOF_PERCENTILE, two_houses

    model = tmp_path_factory.mktemp("parts") / "model"
    model.mkdir()
    made = [two_houses(few_points=few, ident=ident) for ident, few in zip(PARTS_IDS, (False, True))]
    rows = [{**m.attributes, "geometry": m.footprint} for m in made]
    solids = [m.roofs.solid_rows([ident]) for m, ident in zip(made, PARTS_IDS)]
    objects = {ident: m.building() for ident, m in zip(PARTS_IDS, made)}
    house = made[0].houses[0]
    roof = round(float(np.percentile(house.points[:, 2], ROOF_PERCENTILE)), 3)
    single = area_roofs(np.array([house.footprint], dtype=object),
                        FootprintPoints(house.points, np.array([0]), np.array([len(house.points)])),
                        np.array([house.z_ground]), np.array([True]), RoofConfig(), lod12_roof=np.array([roof]))
    attributes = {**made[0].attributes, "identificatie": SINGLE_ID, "b3_h_dak_70p": roof,
                  **single.columns.iloc[0].to_dict()}
    rows.append({**attributes, "geometry": house.footprint})
    solids.append(single.solid_rows([SINGLE_ID]))
    objects[SINGLE_ID] = building_object(attributes, house.footprint, ROOF_PERCENTILE, single.solids[0])
    write_store(model / STORE_NAME, {BUILDINGS: StoreLayer.whole(gpd.GeoDataFrame(rows, crs="EPSG:28992")),
                                     BUILDING_SOLIDS: StoreLayer.whole(pd.concat(solids, ignore_index=True))})
    return model, objects


@pytest.fixture(scope="module")
def parts_live(parts_store, postgis_dsn):
    from services.load import load_postgis

    dsn = fresh_database(postgis_dsn, "parts_store")
    load_postgis(parts_store[0], dsn)
    with LiveServer(parts_store[0]) as gpkg, LiveServer(parts_store[0], postgres=dsn) as postgis:
        yield {"geopackage": gpkg, "postgis": postgis}


def _objects_in_metres(feat: dict, vertices: np.ndarray) -> dict:
    """Per CityObject: its type, parents/children, attributes and each geometry's faces in metres."""
    return {oid: (co["type"], co.get("parents"), co.get("children"), co["attributes"],
                  [(g["lod"], _faces(g, vertices)) for g in co["geometry"]])
            for oid, co in feat["CityObjects"].items()}


@pytest.mark.parametrize("backend", ["geopackage", "postgis"])
def test_building_parts_round_trip_through_the_store(parts_live, parts_store, backend, cityjson_schema_dir):
    from core.cityjson import encode
    from etl.roofs.buildings import REAL_COLUMNS, TEXT_COLUMNS

    live = parts_live[backend]
    head, features = _seq(live)
    assert schema_errors(head, cityjson_schema_dir) == []
    scale, translate = np.asarray(head["transform"]["scale"]), np.asarray(head["transform"]["translate"])
    assert sorted(f["id"] for f in features) == sorted([*PARTS_IDS, SINGLE_ID])
    for feat in features:
        assert schema_errors(feat, cityjson_schema_dir, "cityjsonfeature") == [], feat["id"]
        building = parts_store[1][feat["id"]]
        verts, objects = encode(building)  # what model.city.jsonl holds for it
        expected = _objects_in_metres({"CityObjects": objects}, np.round(verts, 3))
        got = _objects_in_metres(feat, np.asarray(feat["vertices"]).reshape(-1, 3) * scale + translate)
        assert list(got) == ([feat["id"]] if feat["id"] == SINGLE_ID else [feat["id"], f"{feat['id']}-0",
                                                                           f"{feat['id']}-1"])
        for oid in expected:
            assert got[oid][:3] == expected[oid][:3], oid
            assert got[oid][4] == expected[oid][4], oid
            # a part's attributes from its row's JSON as they are; the Building's roof columns from the store
            keys = TEXT_COLUMNS + REAL_COLUMNS if oid == feat["id"] else list(expected[oid][3])
            assert {k: got[oid][3].get(k) for k in keys} == {k: expected[oid][3][k] for k in keys}, oid
            for g in feat["CityObjects"][oid]["geometry"]:
                assert g["type"] == "Solid"
                assert solid_problems(g["boundaries"], np.asarray(feat["vertices"]) * scale + translate) == []
    # a single item: real coordinates, the same objects
    r = httpx.get(f"{live.url}/api/collections/buildings/items/{PARTS_IDS[1]}", params={"f": "cityjson"}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    doc = r.json()
    assert schema_errors(doc, cityjson_schema_dir, "cityjsonfeature") == []
    small = doc["CityObjects"][f"{PARTS_IDS[1]}-1"]
    assert [g["lod"] for g in small["geometry"]] == ["1.2"]
    assert small["attributes"]["b3_lod_terugval_reden"].startswith("too few points")
    assert [g["lod"] for g in doc["CityObjects"][f"{PARTS_IDS[1]}-0"]["geometry"]] == ["1.2", "1.3", "2.2"]
