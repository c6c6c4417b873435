"""The bouwenvelop in 3D Tiles (tiles.envelopes via tile_model): on the zoned synthetic district the
`envelopes` and `excess` tilesets are valid (the project's checker and the Khronos glTF validator), hold one
feature per envelope and per building with an excess solid, translucent blue and opaque red; a relative envelope
is left out and listed; a store without the layers gives no such tilesets and no error."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pyogrio
import pytest

from core.products import BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING, STORE_NAME
from tests.tiles import gltf_read
from tiles import tile_model
from tiles.envelopes import ENVELOPE_PROPERTIES, EXCESS_PROPERTIES
from tiles.georef import ecef_to_geodetic
from tiles.validate import validate_tileset


@pytest.fixture(scope="module")
def tiled(zoned_district, tmp_path_factory):
    out = tmp_path_factory.mktemp("envelope-tiles") / "tiles"
    return out, tile_model(zoned_district.model, out)


def _rows(store, sql):
    with sqlite3.connect(store) as con:
        return [r[0] for r in con.execute(sql)]


def _tiled_features(tileset) -> tuple[list[dict], list[dict]]:
    """(every feature's properties, every material) over the tileset's glbs."""
    props, materials = [], []
    for glb, _ in gltf_read.leaf_contents(tileset / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        props += gltf_read.property_table(doc, binary)
        materials += doc["materials"]
    return props, materials


@pytest.mark.usefixtures("gltf_validator")
def test_envelope_and_excess_tilesets_are_valid_and_hold_every_feature(tiled, zoned_district):
    out, index = tiled
    store = zoned_district.model / STORE_NAME
    entries = {t["name"]: t for t in index["tilesets"]}
    assert list(entries) == ["buildings", "buildings-lod12", "terrain", "envelopes", "excess"]
    for name in ("envelopes", "excess"):
        report = validate_tileset(out / name, gltf=True)
        assert [str(p) for p in report.problems] == [], name
    envelopes = _rows(store, f"SELECT object_id FROM {BOUWENVELOP} WHERE relatief = 0 ORDER BY object_id")
    excess = _rows(store, f"SELECT identificatie FROM {BOUWENVELOP_OVERSCHRIJDING} WHERE solid IS NOT NULL")
    assert entries["envelopes"]["features"] == len(envelopes) > 0
    assert entries["excess"]["features"] == len(excess) >= 1
    props, _ = _tiled_features(out / "envelopes")
    assert sorted(p["object_id"] for p in props) == envelopes
    assert set(ENVELOPE_PROPERTIES) <= set(props[0])
    layer = pyogrio.read_dataframe(store, layer=BOUWENVELOP).set_index("object_id")
    for p in props:
        row = layer.loc[p["object_id"]]
        assert p["soort"] == row["soort"] and p["max_bouwhoogte"] == pytest.approx(row["max_bouwhoogte"])
        assert p["peil_nap"] == pytest.approx(row["peil_nap"]) and p["relatief"] == 0
        assert json.loads(p["plan_ids"]) == json.loads(row["plan_ids"])
    props, _ = _tiled_features(out / "excess")
    assert sorted(p["identificatie"] for p in props) == sorted(excess)
    assert set(EXCESS_PROPERTIES) <= set(props[0])
    over = pyogrio.read_dataframe(store, layer=BOUWENVELOP_OVERSCHRIJDING).set_index("identificatie")
    for p in props:
        assert p["status"] == over.loc[p["identificatie"], "status"]
        assert p["max_excess_height_m"] == pytest.approx(over.loc[p["identificatie"], "max_excess_height_m"])
        assert p["excess_volume_m3"] == pytest.approx(over.loc[p["identificatie"], "excess_volume_m3"])
    assert not [s for s in index["skipped"] if s.get("file") == STORE_NAME]  # every envelope has a NAP peil


def test_envelopes_translucent_excess_red(tiled):
    out, _ = tiled
    _, materials = _tiled_features(out / "envelopes")
    for m in materials:
        assert m.get("alphaMode") == "BLEND", m
        r, g, b, a = m["pbrMetallicRoughness"]["baseColorFactor"]
        assert a == pytest.approx(0.35) and b > r  # light blue, see-through
    _, materials = _tiled_features(out / "excess")
    for m in materials:
        assert m.get("alphaMode", "OPAQUE") == "OPAQUE", m
        r, g, b, a = m["pbrMetallicRoughness"]["baseColorFactor"]
        assert a == 1.0 and r > 0.8 and g < 0.2 and b < 0.2  # red


def test_the_excess_lies_where_the_layer_says(tiled, zoned_district):
    """Each excess solid is in the tiles with its own vertical extent (ECEF back to heights)."""
    out, _ = tiled
    store = zoned_district.model / STORE_NAME
    over = pyogrio.read_dataframe(store, layer=BOUWENVELOP_OVERSCHRIJDING)
    over = over[over["status"] == "overschrijdt"]
    heights = {}
    for glb, world in gltf_read.leaf_contents(out / "excess" / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        ecef, fid = gltf_read.vertices_ecef(doc, binary, world)
        ids = [p["identificatie"] for p in gltf_read.property_table(doc, binary)]
        h = ecef_to_geodetic(ecef)[2]  # ellipsoidal: over a building its differences are NAP's
        for i, ident in enumerate(ids):
            heights[ident] = float(h[fid == i].max() - h[fid == i].min())
    for row in over.itertuples():
        solid = json.loads(row.solid)
        zs = [v[2] for v in solid["vertices"]]
        assert heights[row.identificatie] == pytest.approx(max(zs) - min(zs), abs=0.05)


def test_a_relative_envelope_is_left_out_and_listed(zoned_district, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for f in zoned_district.model.iterdir():
        if f.is_file():
            shutil.copy2(f, model / f.name)
    store = model / STORE_NAME
    env = pyogrio.read_dataframe(store, layer=BOUWENVELOP)
    env.loc[0, "relatief"], env.loc[0, "peil_nap"] = 1, None
    pyogrio.write_dataframe(env, store, layer=BOUWENVELOP, driver="GPKG")
    index = tile_model(model, tmp_path / "tiles", lod="1.2")
    entries = {t["name"]: t for t in index["tilesets"]}
    assert entries["envelopes"]["features"] == len(env) - 1
    listed = [s for s in index["skipped"] if s["file"] == STORE_NAME]
    assert [s["feature"] for s in listed] == [env.loc[0, "object_id"]] and "relatief" in listed[0]["reason"]


def test_a_store_without_the_layers_gives_no_envelope_tilesets(built_district, zoned_district, tmp_path):
    index = tile_model(built_district, tmp_path / "tiles", lod="1.2")  # a build without zoning
    assert [t["name"] for t in index["tilesets"]] == ["buildings", "terrain"]
    assert not (tmp_path / "tiles" / "envelopes").exists() and not (tmp_path / "tiles" / "excess").exists()
    # an earlier run's envelope tilesets are removed when the store no longer has the layers
    model = tmp_path / "model"
    model.mkdir()
    for f in zoned_district.model.iterdir():
        if f.is_file():
            shutil.copy2(f, model / f.name)
    assert {"envelopes", "excess"} <= {t["name"] for t in tile_model(model, tmp_path / "t2", lod="1.2")["tilesets"]}
    shutil.copy2(built_district / STORE_NAME, model / STORE_NAME)
    index = tile_model(model, tmp_path / "t2", lod="1.2")
    assert [t["name"] for t in index["tilesets"]] == ["buildings", "terrain"]
    assert not (tmp_path / "t2" / "envelopes").exists() and not (tmp_path / "t2" / "excess").exists()
