"""Buildings → 3D Tiles: positions back within 1 cm of RD/NAP, properties equal to the model's."""


import numpy as np
import orjson
import pytest

from core.errors import InputError
from synth.model import write_city_model
from tests.conftest import shared_path
from tests.tiles import gltf_read
from tiles import tile_model
from tiles.georef import ecef_to_rdnap
from tiles.validate import validate_tileset


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    d = tmp_path_factory.mktemp("district")
    truth = write_city_model(d / "district.city.jsonl", 1500, seed=5)
    index = tile_model(d / "district.city.jsonl", d / "tiles")
    return d, truth, index


def test_layout_and_index(district):
    d, truth, index = district
    assert (d / "tiles" / "buildings" / "tileset.json").is_file()
    # a LoD1.2-only model: no second tileset for the viewer's LoD switch, it would hold the same blocks
    assert [(t["name"], t["lod"], t["lods"]) for t in index["tilesets"]] == [("buildings", "1.2", {"1.2": len(truth)})]
    assert index["tilesets"][0]["features"] == len(truth)
    assert index["tilesets"][0]["tiles"] > 1  # a real hierarchy, not one tile
    on_disk = orjson.loads((d / "tiles" / "index.json").read_bytes())
    assert on_disk["tilesets"][0]["url"] == "buildings/tileset.json"


def test_tileset_valid(district):
    d, _, _ = district
    report = validate_tileset(d / "tiles" / "buildings")
    assert report.problems == []
    assert report.contents == len(list((d / "tiles" / "buildings" / "content").glob("*.glb")))


@pytest.mark.usefixtures("gltf_validator")
def test_every_glb_passes_the_khronos_validator(district):
    d, _, _ = district
    report = validate_tileset(d / "tiles" / "buildings", gltf=True)
    assert [str(p) for p in report.problems] == []


def test_positions_within_a_centimetre_and_properties_match(district):
    d, truth, _ = district
    by_id = {b["id"]: b for b in truth}
    seen = 0
    for glb, world in gltf_read.leaf_contents(d / "tiles" / "buildings" / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        ecef, fid = gltf_read.vertices_ecef(doc, binary, world)
        rows = gltf_read.property_table(doc, binary)
        # a few buildings per tile: convert back with RDNAPTRANS2018 (slow, point by point)
        for f in range(0, len(rows), max(1, len(rows) // 4)):
            props = rows[f]
            b = by_id[props["identificatie"]]
            rd = ecef_to_rdnap(ecef[fid == f])
            corners = {(x, y) for x, y in b["footprint"]}
            for x, y, z in rd:
                nearest = min(corners, key=lambda c: (c[0] - x) ** 2 + (c[1] - y) ** 2)
                assert np.hypot(nearest[0] - x, nearest[1] - y) < 0.01
                assert min(abs(z - b["ground"]), abs(z - b["roof"])) < 0.01
            # both the ground and the roof are there (every vertex is at one of them, checked above)
            assert np.abs(rd[:, 2] - b["ground"]).min() < 0.01 and np.abs(rd[:, 2] - b["roof"]).min() < 0.01
            a = b["attributes"]
            for key, value in a.items():
                if isinstance(value, float):
                    assert props[key] == pytest.approx(value, abs=1e-4), key
                else:
                    assert props[key] == value, key
            seen += 1
    assert seen >= 20


def test_semantic_primitives_and_extensions(district):
    d, _, _ = district
    glb = next((d / "tiles" / "buildings" / "content").glob("*.glb"))
    doc, _ = gltf_read.load(glb)
    names = [doc["materials"][p["material"]]["name"] for p in doc["meshes"][0]["primitives"]]
    assert names == ["roof", "wall", "ground"]
    assert {"EXT_mesh_features", "EXT_structural_metadata", "KHR_mesh_quantization"} <= set(doc["extensionsUsed"])
    prim = doc["meshes"][0]["primitives"][0]
    assert {"POSITION", "NORMAL", "_FEATURE_ID_0"} <= set(prim["attributes"])


@pytest.mark.usefixtures("gltf_validator")
def test_bring_your_own_3dbag_cityjsonseq(tmp_path):
    src = shared_path("3dbag-cityjsonseq-delft", "delft_subset.city.jsonl")
    index = tile_model(src, tmp_path / "t")
    assert index["tilesets"][0]["features"] == 10
    report = validate_tileset(tmp_path / "t" / "buildings", gltf=True)
    assert [str(p) for p in report.problems] == []
    ids, roofs, tris = set(), 0, 0
    for glb, _ in gltf_read.leaf_contents(tmp_path / "t" / "buildings" / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        rows = gltf_read.property_table(doc, binary)
        ids |= {r["identificatie"] for r in rows}
        assert all(r["b3_dak_type"] for r in rows)  # 3DBAG-only attributes kept
        prims = doc["meshes"][0]["primitives"]
        roofs += sum(doc["materials"][p["material"]]["name"] == "roof" for p in prims)
        tris += sum(doc["accessors"][p["indices"]]["count"] // 3 for p in prims)
    expected = {orjson.loads(line)["id"] for line in src.read_bytes().splitlines()[1:]}
    assert ids == expected
    assert roofs >= 1  # LoD2.2 roof semantics kept as their own primitive
    # choosing LoD 1.2 gives the simpler blocks
    tile_model(src, tmp_path / "lod12", lod="1.2")
    tris12 = 0
    for glb, _ in gltf_read.leaf_contents(tmp_path / "lod12" / "buildings" / "tileset.json"):
        doc, _ = gltf_read.load(glb)
        tris12 += sum(doc["accessors"][p["indices"]]["count"] // 3 for p in doc["meshes"][0]["primitives"])
    assert 0 < tris12 < tris


def test_bring_your_own_3dbag_cityjson_with_building_parts(tmp_path):
    src = shared_path("3dbag-cityjsonseq-delft", "3dbag_b2.city.json")
    index = tile_model(src, tmp_path / "t")
    assert index["tilesets"][0]["features"] == 2
    assert validate_tileset(tmp_path / "t" / "buildings").problems == []


@pytest.mark.parametrize("content, reason", [
    (b'{"type": "FeatureCollection", "features": []}', "not a CityJSON"),
    (b'{"type": "CityJSON", "version": "2.0", "CityObjects": {"a": ', "not valid JSON"),
    (b'{"type": "CityJSON", "version": "1.0", "CityObjects": {}, "vertices": []}', "version 1.0 is not supported"),
    (b'{"type": "CityJSON", "version": "2.0", "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4326"},'
     b' "CityObjects": {}, "vertices": []}', "not RD New"),
])
def test_bad_input_is_a_clear_error(tmp_path, content, reason):
    f = tmp_path / "bad.city.json"
    f.write_bytes(content)
    with pytest.raises(InputError) as e:
        tile_model(f, tmp_path / "out")
    assert reason in str(e.value) and str(f) in str(e.value)
    assert not (tmp_path / "out" / "buildings").exists()


def test_truncated_cityjsonseq_names_the_line(tmp_path):
    f = tmp_path / "cut.city.jsonl"
    write_city_model(f, 3)
    f.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(InputError, match=r"line 4: not valid JSON"):
        tile_model(f, tmp_path / "out")


def test_missing_model(tmp_path):
    with pytest.raises(InputError, match="no model.city.jsonl"):
        tile_model(tmp_path, tmp_path / "out")


def test_worker_processes_write_the_same_tiles(tmp_path, monkeypatch):
    from tiles import tiler

    src = tmp_path / "district.city.jsonl"
    write_city_model(src, 1500, seed=2)  # 16 tiles
    monkeypatch.setattr(tiler, "MIN_PARALLEL_TILES", 2)
    tile_model(src, tmp_path / "one", jobs=1)
    tile_model(src, tmp_path / "two", jobs=2)
    one = sorted((tmp_path / "one" / "buildings").rglob("*.*"))
    assert len(one) > 10
    for f in one:
        assert f.read_bytes() == (tmp_path / "two" / f.relative_to(tmp_path / "one")).read_bytes(), f.name


def test_unusable_geometry_is_skipped_with_its_reason(tmp_path):
    from synth.model import HEADER, feature, footprints

    good = [feature(b) for b in footprints(4, seed=3)]
    bad_index, bad_vertex, bad_ring = (orjson.loads(orjson.dumps(f)) for f in good[1:4])
    next(iter(bad_index["CityObjects"].values()))["geometry"][0]["boundaries"][0][2][0][1] = 99
    bad_vertex["vertices"][3] = [1, "x", 2]
    next(iter(bad_ring["CityObjects"].values()))["geometry"][0]["boundaries"][0][1] = 7
    src = tmp_path / "bad.city.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(x) for x in [HEADER, good[0], bad_index, bad_vertex, bad_ring]) + b"\n")
    index = tile_model(src, tmp_path / "t")
    assert index["tilesets"][0]["features"] == 1 and index["tilesets"][0]["lods"] == {"1.2": 1}
    reasons = {s["feature"]: s["reason"] for s in index["skipped"]}
    assert "vertex that does not exist" in reasons[bad_index["id"]]
    assert "not [x, y, z] numbers" in reasons[bad_vertex["id"]]
    assert "not lists of vertex indices" in reasons[bad_ring["id"]]
    assert validate_tileset(tmp_path / "t" / "buildings").problems == []
