"""LoD1.3 / LoD2.2 buildings (etl.roofs on synth.roofs point clouds) → 3D Tiles: valid tilesets, the roof
mesh is the CityJSON's roof faces (triangle count and area), closed and outward (its volume is the solid's),
and every building in the LoD asked for or the best lower one it has."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from bench.tiles_build import write_roof_district
from tests.tiles import gltf_read
from tiles import tile_model
from tiles.model import choose_lod
from tiles.validate import validate_tileset

N = 45  # every roof shape of synth.roofs several times; every 10th building has too few points for a roof


@pytest.fixture(scope="module")
def roofs(tmp_path_factory):
    d = tmp_path_factory.mktemp("roofs")
    truth = write_roof_district(d / "roofs.city.jsonl", N, seed=3)
    index = tile_model(d / "roofs.city.jsonl", d / "tiles")
    return d, {b["id"]: b for b in truth}, index


def _newell_area(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.cross(points, np.roll(points, -1, axis=0)).sum(axis=0))) / 2


def _straight_corners(ring: np.ndarray) -> int:
    """Vertices of a ring on the straight line between their neighbours (a wall's T-junction): earcut may
    make a triangle without area there, which the mesh leaves out."""
    twice_area = np.linalg.norm(np.cross(ring - np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0) - ring), axis=1)
    return int((twice_area < 1e-6).sum())


def _expected(building: dict, lod: str | None) -> dict:
    """Triangles (at most, at least) and area per surface class of the geometry the tiles should hold for
    this LoD."""
    geoms = building["geometry"]
    chosen = choose_lod([g["lod"] for g in geoms], lod)
    out = {"lod": chosen, "roof": [0, 0, 0.0], "wall": [0, 0, 0.0], "ground": [0, 0, 0.0]}
    for g in geoms:
        if g["lod"] != chosen:
            continue
        surfaces = g["semantics"]["surfaces"]
        for shell, values in zip(g["boundaries"], g["semantics"]["values"]):
            for rings, v in zip(shell, values):
                kind = {"RoofSurface": "roof", "GroundSurface": "ground"}.get(surfaces[v]["type"], "wall")
                area = _newell_area(building["vertices"][rings[0]])
                area -= sum(_newell_area(building["vertices"][r]) for r in rings[1:])
                n = sum(map(len, rings)) + 2 * (len(rings) - 1) - 2  # triangles of n corners, h holes: n + 2h - 2
                out[kind][0] += n
                out[kind][1] += n - sum(_straight_corners(building["vertices"][r]) for r in rings)
                out[kind][2] += area
    return out


def _tiled(tileset) -> dict[str, dict]:
    """Per building id: its triangles per surface class (ECEF corners) from the glbs."""
    per = {}
    for glb, world in gltf_read.leaf_contents(tileset):
        doc, binary = gltf_read.load(glb)
        ids = [r["identificatie"] for r in gltf_read.property_table(doc, binary)]
        for kind, tri, fid in gltf_read.triangles_ecef(doc, binary, world):
            for f in np.unique(fid):
                per.setdefault(ids[f], {})[kind] = tri[fid == f]
    return per


def _area(tri: np.ndarray) -> float:
    return float(np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()) / 2


def _volume(tri: np.ndarray) -> float:
    c = tri.reshape(-1, 3).mean(axis=0)
    a, b, d = tri[:, 0] - c, tri[:, 1] - c, tri[:, 2] - c
    return float(np.einsum("ij,ij->i", a, np.cross(b, d)).sum()) / 6


def test_lod22_and_lod12_tilesets_in_the_index(roofs):
    d, truth, index = roofs
    entries = {t["name"]: t for t in index["tilesets"]}
    assert list(entries) == ["buildings", "buildings-lod12"]
    best = [choose_lod([g["lod"] for g in b["geometry"]], None) for b in truth.values()]
    assert entries["buildings"]["lod"] == "2.2"
    assert entries["buildings"]["lods"] == {lod: best.count(lod) for lod in ("1.2", "2.2")}
    assert 0 < entries["buildings"]["lods"]["1.2"] < N / 5  # the buildings with too few points
    assert entries["buildings-lod12"]["lod"] == "1.2" and entries["buildings-lod12"]["lods"] == {"1.2": N}
    assert all(t["features"] == N for t in entries.values())
    on_disk = orjson.loads((d / "tiles" / "index.json").read_bytes())
    assert [t["url"] for t in on_disk["tilesets"]] == ["buildings/tileset.json", "buildings-lod12/tileset.json"]


@pytest.mark.usefixtures("gltf_validator")
@pytest.mark.parametrize("name", ["buildings", "buildings-lod12"])
def test_tilesets_pass_both_validators(roofs, name):
    d, _, _ = roofs
    report = validate_tileset(d / "tiles" / name, gltf=True)
    assert [str(p) for p in report.problems] == []
    assert report.contents >= 1


@pytest.mark.parametrize("name, lod", [("buildings", None), ("buildings-lod12", "1.2")])
def test_meshes_are_the_cityjson_faces_closed_and_outward(roofs, name, lod):
    d, truth, _ = roofs
    tiled = _tiled(d / "tiles" / name / "tileset.json")
    assert set(tiled) == set(truth)
    sloped = 0
    for pid, b in truth.items():
        want = _expected(b, lod)
        got = tiled[pid]
        for kind in ("roof", "wall", "ground"):
            most, least, area = want[kind]
            # roofs exactly; a ground or wall polygon with a straight corner may lose a triangle without area
            assert (len(got[kind]) == most) if kind == "roof" else (least <= len(got[kind]) <= most), (pid, kind)
            assert _area(got[kind]) == pytest.approx(area, rel=2e-3), (pid, kind)
        # closed and outward: the triangles enclose the solid's volume, positively
        volume = b["attributes"][f"b3_volume_lod{want['lod'].replace('.', '')}"]
        assert _volume(np.concatenate(list(got.values()))) == pytest.approx(volume, rel=3e-3, abs=0.2), pid
        roof_z = got["roof"].reshape(-1, 3) - got["roof"].reshape(-1, 3).mean(axis=0)
        sloped += want["lod"] == "2.2" and b["attributes"]["b3_dak_type"] == "slanted" and np.ptp(roof_z[:, 2]) > 1
    if lod is None:
        assert sloped >= N / 3, "the LoD2.2 tileset holds sloped roofs"


def test_roof_attributes_in_the_property_table(roofs):
    d, truth, _ = roofs
    rows = []
    for glb, _ in gltf_read.leaf_contents(d / "tiles" / "buildings" / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        props = doc["extensions"]["EXT_structural_metadata"]["schema"]["classes"]["building"]["properties"]
        assert props["b3_h_goot"]["componentType"] == props["b3_h_nok"]["componentType"] == "FLOAT32"
        assert props["b3_dak_type"]["type"] == props["b3_val3dity_lod22"]["type"] == "STRING"
        rows += gltf_read.property_table(doc, binary)
    for r in rows:
        a = truth[r["identificatie"]]["attributes"]
        assert r["b3_dak_type"] == a["b3_dak_type"]
        assert r["b3_lod_gereconstrueerd"] == a["b3_lod_gereconstrueerd"]
        for key in ("b3_h_goot", "b3_h_nok", "b3_rmse_lod22"):
            assert r[key] == (None if a[key] is None else pytest.approx(a[key], abs=1e-4)), key
        # the validity lists as the store keeps them: "[]" checked and valid, no data (None) not made
        assert r["b3_val3dity_lod22"] == (None if a["b3_val3dity_lod22"] is None else orjson.dumps(
            a["b3_val3dity_lod22"]).decode())
    assert {r["b3_val3dity_lod22"] for r in rows} >= {"[]", None}


def test_one_lod_asked_for_falls_back_per_building(roofs, tmp_path):
    d, truth, _ = roofs
    index = tile_model(d / "roofs.city.jsonl", tmp_path / "t13", lod="1.3")
    assert [t["name"] for t in index["tilesets"]] == ["buildings"]
    best13 = [choose_lod([g["lod"] for g in b["geometry"]], "1.3") for b in truth.values()]
    assert index["tilesets"][0]["lods"] == {lod: best13.count(lod) for lod in ("1.2", "1.3")}
    tiled = _tiled(tmp_path / "t13" / "buildings" / "tileset.json")
    for pid, b in truth.items():
        most, least, area = _expected(b, "1.3")["roof"]
        assert least <= len(tiled[pid]["roof"]) <= most and _area(tiled[pid]["roof"]) == pytest.approx(area, rel=2e-3)
    # several LoDs in the order asked: the first is "buildings"
    index = tile_model(d / "roofs.city.jsonl", tmp_path / "t", lod=["1.2", "2.2"])
    assert [(t["name"], t["lod"]) for t in index["tilesets"]] == [("buildings", "1.2"), ("buildings-lod22", "2.2")]
    assert validate_tileset(tmp_path / "t" / "buildings-lod22").problems == []


def test_a_building_without_a_low_enough_lod_is_skipped_with_its_reason(tmp_path):
    src = tmp_path / "only22.city.jsonl"
    truth = write_roof_district(src, 3, seed=4, few_points_every=0)
    lines = src.read_bytes().splitlines()
    first = orjson.loads(lines[1])
    co = first["CityObjects"][first["id"]]
    co["geometry"] = [g for g in co["geometry"] if g["lod"] == "2.2"]  # a LoD2.2-only building
    src.write_bytes(b"\n".join([lines[0], orjson.dumps(first), *lines[2:]]) + b"\n")
    index = tile_model(src, tmp_path / "t")
    by_name = {t["name"]: t for t in index["tilesets"]}
    assert by_name["buildings"]["features"] == 3 and by_name["buildings-lod12"]["features"] == 2
    assert index["skipped"] == [{"file": src.name, "feature": truth[0]["id"],
                                 "reason": "no LoD 1.2 geometry or lower (has 2.2)"}]


def test_a_building_of_several_parts_is_one_feature_with_every_parts_geometry(tmp_path):
    """A Building with BuildingPart children (a footprint of two polygons, one with too few points for a roof):
    one tile feature with the Building's id and attributes, holding each part at its own best LoD."""
    from etl.writers.cityjson import quantised_features, write_model
    from tests.etl.roofs.parts import IDENT, two_houses

    model = tmp_path / "model"
    model.mkdir()
    write_model(model / "model.city.json", model / "model.city.jsonl",
                *quantised_features([two_houses(few_points=True).building()], 0.001))
    index = tile_model(model / "model.city.jsonl", tmp_path / "tiles")
    buildings = {t["name"]: t for t in index["tilesets"]}["buildings"]
    assert buildings["features"] == 1 and buildings["lods"] == {"1.2": 1}, "counted at its lowest part's LoD"
    tiled = _tiled(tmp_path / "tiles" / "buildings" / "tileset.json")
    assert list(tiled) == [IDENT]
    doc = orjson.loads((model / "model.city.json").read_bytes())
    vertices = np.asarray(doc["vertices"], float) * doc["transform"]["scale"] + doc["transform"]["translate"]
    parts = [doc["CityObjects"][c] for c in doc["CityObjects"][IDENT]["children"]]
    want = [_expected({"geometry": p["geometry"], "vertices": vertices}, None) for p in parts]
    assert [w["lod"] for w in want] == ["2.2", "1.2"]
    for kind in ("roof", "wall", "ground"):
        assert _area(tiled[IDENT][kind]) == pytest.approx(sum(w[kind][2] for w in want), rel=2e-3), kind
    volume = sum(p["attributes"][f"b3_volume_lod{w['lod'].replace('.', '')}"] for p, w in zip(parts, want))
    assert _volume(np.concatenate(list(tiled[IDENT].values()))) == pytest.approx(volume, rel=3e-3, abs=0.2)
    rows = [r for glb, _ in gltf_read.leaf_contents(tmp_path / "tiles" / "buildings" / "tileset.json")
            for r in gltf_read.property_table(*gltf_read.load(glb))]
    assert [(r["identificatie"], r["b3_lod_gereconstrueerd"]) for r in rows] == [(IDENT, "1.2")]
