"""A pand whose footprint has several polygons (issue 12): a Building without geometry of its own and one
BuildingPart per polygon, each with its own LoD1.2, LoD1.3 and LoD2.2 Solids and roof attributes, the
building's attributes aggregated over them; in CityJSON and CityJSONSeq valid by the official schemas, every
Solid valid by etl.roofs.validity and by both independent checks; no MultiSolid anywhere."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from core.cityjson import building_object, lod12_solid
from core.products import BUILDING_SOLIDS
from etl.roofs.buildings import SOLID_COLUMNS, SWITCHED_OFF, aggregate_parts, area_roofs
from etl.roofs.reconstruction import RoofConfig, RoofModel
from etl.roofs.validity import solid_errors
from etl.writers.cityjson import quantised_features, write_model
from etl.writers.store import StoreLayer, write_store
from tests.etl.roofs.independent import independent_problems
from tests.etl.roofs.parts import IDENT, ROOF_PERCENTILE, two_houses
from tests.helpers.cityjson import schema_errors, solid_problems


@pytest.fixture(scope="module")
def houses():
    return two_houses()


@pytest.fixture(scope="module")
def few():
    return two_houses(few_points=True)


def _written(tmp_path, *objects):
    json_path, seq_path = tmp_path / "model.city.json", tmp_path / "model.city.jsonl"
    write_model(json_path, seq_path, *quantised_features(list(objects), 0.001))
    doc = json.loads(json_path.read_text())
    vertices = np.asarray(doc["vertices"], float) * doc["transform"]["scale"] + doc["transform"]["translate"]
    return doc, vertices, [json.loads(line) for line in seq_path.read_text().splitlines()]


def _local(geometry: dict, vertices: np.ndarray) -> tuple[np.ndarray, dict]:
    used = sorted({i for face in geometry["boundaries"][0] for ring in face for i in ring})
    new = {old: k for k, old in enumerate(used)}
    shell = [[[new[i] for i in ring] for ring in face] for face in geometry["boundaries"][0]]
    return vertices[used], {**geometry, "boundaries": [shell]}


def _check_solids(co: dict, vertices: np.ndarray, where: str) -> None:
    for g in co["geometry"]:
        assert g["type"] == "Solid", (where, g["lod"])
        assert solid_problems(g["boundaries"], vertices) == [], (where, g["lod"])
        local = _local(g, vertices)
        assert solid_errors(*local) == [], (where, g["lod"])
        assert independent_problems(*local) == [], (where, g["lod"])


def test_two_houses_are_a_building_with_two_parts(houses, tmp_path, cityjson_schema_dir):
    doc, vertices, seq = _written(tmp_path, houses.building())
    assert schema_errors(doc, cityjson_schema_dir) == []
    parts = [f"{IDENT}-0", f"{IDENT}-1"]
    assert list(doc["CityObjects"]) == [IDENT, *parts]
    building = doc["CityObjects"][IDENT]
    assert building["type"] == "Building" and building["geometry"] == [] and building["children"] == parts
    assert building["attributes"]["identificatie"] == IDENT
    for pid, house in zip(parts, houses.houses):
        part = doc["CityObjects"][pid]
        assert part["type"] == "BuildingPart" and part["parents"] == [IDENT], pid
        assert [g["lod"] for g in part["geometry"]] == ["1.2", "1.3", "2.2"], pid
        _check_solids(part, vertices, pid)
        # each part stands on its own polygon, with its own roof: the truth of its own house
        used = vertices[sorted({i for g in part["geometry"] for f in g["boundaries"][0] for r in f for i in r})]
        assert shapely.contains_xy(house.footprint.buffer(0.002), used[:, 0], used[:, 1]).all(), pid
        a = part["attributes"]
        assert a["b3_lod_gereconstrueerd"] == "2.2" and a["b3_lod_terugval_reden"] is None, pid
        assert abs(a["b3_h_goot"] - house.truth.h_goot) <= 0.15 and abs(a["b3_h_nok"] - house.truth.h_nok) <= 0.15
        assert a["b3_dak_type"] == "slanted" and a["b3_val3dity_lod22"] == [], pid
        lod12_roof = max(vertices[i, 2] for f in part["geometry"][0]["boundaries"][0] for r in f for i in r)
        assert a[f"b3_h_dak_{ROOF_PERCENTILE}p"] == pytest.approx(lod12_roof, abs=0.001), pid
    # the building aggregates its parts
    a, p = building["attributes"], [doc["CityObjects"][pid]["attributes"] for pid in parts]
    assert a["b3_h_nok"] == max(x["b3_h_nok"] for x in p) and a["b3_h_goot"] == min(x["b3_h_goot"] for x in p)
    assert a["b3_volume_lod22"] == pytest.approx(sum(x["b3_volume_lod22"] for x in p), abs=0.11)
    assert min(x["b3_rmse_lod22"] for x in p) <= a["b3_rmse_lod22"] <= max(x["b3_rmse_lod22"] for x in p)
    assert a["b3_lod_gereconstrueerd"] == "2.2" and a["b3_dak_type"] == "slanted" and a["b3_val3dity_lod22"] == []
    # CityJSONSeq: one feature, the Building and its parts, the feature's id the building's
    head, feature = seq
    assert schema_errors(head, cityjson_schema_dir) == []
    assert schema_errors(feature, cityjson_schema_dir, "cityjsonfeature") == []
    assert feature["id"] == IDENT and list(feature["CityObjects"]) == [IDENT, *parts]


def test_a_part_with_too_few_points_falls_back_alone(few, tmp_path, cityjson_schema_dir):
    doc, vertices, _ = _written(tmp_path, few.building())
    assert schema_errors(doc, cityjson_schema_dir) == []
    big, small = (doc["CityObjects"][f"{IDENT}-{k}"] for k in (0, 1))
    assert [g["lod"] for g in big["geometry"]] == ["1.2", "1.3", "2.2"]
    assert [g["lod"] for g in small["geometry"]] == ["1.2"]
    _check_solids(big, vertices, "big")
    _check_solids(small, vertices, "small")
    assert big["attributes"]["b3_lod_gereconstrueerd"] == "2.2"
    assert abs(big["attributes"]["b3_h_nok"] - few.houses[0].truth.h_nok) <= 0.15
    assert small["attributes"]["b3_lod_gereconstrueerd"] == "1.2"
    assert small["attributes"]["b3_lod_terugval_reden"].startswith("too few points for LoD1.3/2.2: ")
    assert small["attributes"]["b3_h_goot"] is None and small["attributes"]["b3_val3dity_lod12"] == []
    building = doc["CityObjects"][IDENT]["attributes"]
    assert building["b3_lod_gereconstrueerd"] == "1.2"
    assert building["b3_lod_terugval_reden"].startswith("too few points for LoD1.3/2.2: part 1, ")
    assert building["b3_h_nok"] is None and building["b3_volume_lod22"] is None, "a part's ridge is unknown"
    assert building["b3_rmse_lod22"] == big["attributes"]["b3_rmse_lod22"]
    assert few.roofs.counts() == {"best": {"1.2": 1}, "fallback_reasons": {"too few points for LoD1.3/2.2": 1}}


def test_a_single_polygon_building_keeps_its_geometry(houses, tmp_path):
    house = houses.houses[0]
    roofs = area_roofs(np.array([house.footprint], dtype=object), _grouped(house.points), np.array([house.z_ground]),
                       np.array([True]), RoofConfig(), lod12_roof=np.array([10.0]), roof_percentile=ROOF_PERCENTILE)
    assert [s["part"] for s in roofs.solids[0]] == [None, None]
    attributes = {**houses.attributes, **roofs.columns.iloc[0].to_dict(), "b3_h_dak_70p": 10.0}
    doc, _, _ = _written(tmp_path, building_object(attributes, house.footprint, ROOF_PERCENTILE, roofs.solids[0]))
    assert list(doc["CityObjects"]) == [IDENT]
    co = doc["CityObjects"][IDENT]
    assert [g["lod"] for g in co["geometry"]] == ["1.2", "1.3", "2.2"] and "children" not in co


def _grouped(points):
    from etl.lifting import FootprintPoints

    return FootprintPoints(points, np.array([0]), np.array([len(points)]))


def test_no_multisolid_anywhere():
    with pytest.raises(ValueError, match="BuildingPart"):
        lod12_solid(MultiPolygon([box(0, 0, 5, 5), box(10, 0, 15, 5)]), 0.0, 3.0)
    _, geometry = lod12_solid(MultiPolygon([box(0, 0, 5, 5)]), 0.0, 3.0)
    assert geometry["type"] == "Solid"


def test_switched_off_every_part_gets_the_buildings_block(houses, tmp_path, cityjson_schema_dir):
    off = area_roofs(np.array([houses.footprint], dtype=object), None, np.array([houses.z_ground]), np.array([True]),
                     None, lod12_roof=np.array([10.0]), roof_percentile=ROOF_PERCENTILE)
    assert [(s["part"], s["geometry"]["lod"]) for s in off.solids[0]] == [(0, "1.2"), (1, "1.2")]
    assert off.columns.loc[0, "b3_lod_gereconstrueerd"] == "1.2"
    assert off.columns.loc[0, "b3_lod_terugval_reden"] == SWITCHED_OFF
    attributes = {**houses.attributes, **off.columns.iloc[0].to_dict(), "b3_h_dak_70p": 10.0}
    doc, vertices, _ = _written(tmp_path, building_object(attributes, houses.footprint, ROOF_PERCENTILE,
                                                          off.solids[0]))
    assert schema_errors(doc, cityjson_schema_dir) == []
    for k in (0, 1):
        part = doc["CityObjects"][f"{IDENT}-{k}"]
        _check_solids(part, vertices, k)
        assert part["attributes"]["b3_lod_terugval_reden"] == SWITCHED_OFF
        assert part["attributes"]["b3_h_dak_70p"] == 10.0


def test_a_store_without_parts_still_gives_one_solid_per_polygon(houses, tmp_path):
    """A store built before BuildingParts (no part rows): each polygon a part at the building's block."""
    o = building_object(houses.attributes, houses.footprint, ROOF_PERCENTILE, [])
    assert o.geometry is None and [p.id for p in o.parts] == [f"{IDENT}-0", f"{IDENT}-1"]
    assert all(p.geometry(0)[1]["type"] == "Solid" for p in o.parts)


def test_an_old_stores_solids_stay_with_the_largest_polygon(houses):
    """A store built before BuildingParts reconstructed only the largest polygon and kept its LoD1.3/2.2 without a
    part: they become part 0's, after its LoD1.2 block; the other polygon is a part with its block only."""
    rows = houses.roofs.solid_rows([IDENT])
    own = [{"vertices": json.loads(r.solid)["vertices"], "geometry": json.loads(r.solid)["geometry"]}
           for r in rows.itertuples() if r.part == 0 and r.lod != "1.2"]
    o = building_object(houses.attributes, houses.footprint, ROOF_PERCENTILE, own)
    assert o.geometry is None and [p.id for p in o.parts] == [f"{IDENT}-0", f"{IDENT}-1"]
    assert [g["lod"] for g in o.parts[0].geometry(0)[1]] == ["1.2", "1.3", "2.2"]
    assert o.parts[1].geometry(0)[1]["lod"] == "1.2"


def test_store_rows_of_the_parts(houses, tmp_path):
    rows = houses.roofs.solid_rows([IDENT])
    assert list(rows.columns) == SOLID_COLUMNS and str(rows["part"].dtype) == "Int64"
    assert list(zip(rows["part"], rows["lod"])) == [(0, "1.2"), (0, "1.3"), (0, "2.2"), (1, "1.2"), (1, "1.3"),
                                                    (1, "2.2")]
    # one home for a part's attributes: its LoD1.2 row
    assert list(rows["attributes"].notna()) == [True, False, False, True, False, False]
    assert json.loads(rows["attributes"][0])["b3_val3dity_lod22"] == [], "plain JSON: the lists themselves"
    store = tmp_path / "store.gpkg"
    write_store(store, {BUILDING_SOLIDS: StoreLayer.whole(rows)})
    with sqlite3.connect(store) as con:
        types = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({BUILDING_SOLIDS})")}
    assert types == {"fid": "INTEGER", "identificatie": "TEXT", "part": "INTEGER", "lod": "TEXT", "solid": "TEXT",
                     "attributes": "TEXT"}
    back = pyogrio.read_dataframe(store, layer=BUILDING_SOLIDS)
    assert list(back["part"]) == [0, 0, 0, 1, 1, 1]


def test_aggregation_rules():
    def part(dak, goot, nok, best="2.2", reason=None):
        return {"b3_dak_type": dak, "b3_h_goot": goot, "b3_h_nok": nok, "b3_hellingshoek_min": 0.0,
                "b3_hellingshoek_max": 0.0, "b3_lod_gereconstrueerd": best, "b3_lod_terugval_reden": reason,
                **{f"b3_{m}_{key}": v for key in ("lod12", "lod13", "lod22")
                   for m, v in (("rmse", 0.1), ("volume", 10.0), ("val3dity", []))}}

    models = [RoofModel("horizontal", rmse_points={"1.2": 10, "1.3": 10, "2.2": 10}) for _ in range(2)]
    config = RoofConfig()
    flat = aggregate_parts(models, [part("horizontal", 5.0, 5.0), part("horizontal", 5.05, 5.05)], config)
    assert flat["b3_dak_type"] == "horizontal" and flat["b3_h_goot"] == 5.0 and flat["b3_h_nok"] == 5.05
    assert flat["b3_volume_lod22"] == 20.0 and flat["b3_rmse_lod22"] == pytest.approx(0.1)
    steps = aggregate_parts(models, [part("horizontal", 5.0, 5.0), part("horizontal", 8.0, 8.0)], config)
    assert steps["b3_dak_type"] == "multiple horizontal"
    unknown = [part("horizontal", 5.0, 5.0), part("could not detect", None, None, "1.2", "no roof plane found: x")]
    mixed = aggregate_parts(models, unknown, config)
    assert mixed["b3_dak_type"] == "could not detect" and mixed["b3_h_nok"] is None
    assert mixed["b3_lod_gereconstrueerd"] == "1.2"
    assert mixed["b3_lod_terugval_reden"] == "no roof plane found: part 1, x"
