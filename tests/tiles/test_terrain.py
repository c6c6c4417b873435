"""Terrain surfaces (3D rings following the DTM, holes kept) → a terrain tileset coloured per type."""

import orjson
import pytest

from core.crs import CITYJSON_CRS_URI
from tests.tiles import gltf_read
from tiles import tile_model
from tiles.validate import validate_tileset


def _surface(oid, ctype, rings_rd, attrs):
    verts, rings = [], []
    for ring in rings_rd:
        rings.append(list(range(len(verts), len(verts) + len(ring))))
        verts += [[round((x - 84000) * 1000), round((y - 446000) * 1000), round(z * 1000)] for x, y, z in ring]
    return {"type": "CityJSONFeature", "id": oid, "CityObjects": {oid: {
        "type": ctype, "attributes": attrs, "geometry": [{"type": "MultiSurface", "lod": "1", "boundaries": [rings]}]}},
        "vertices": verts}


@pytest.fixture(scope="module")
def terrain_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("terrain")
    header = {"type": "CityJSON", "version": "2.0",
              "transform": {"scale": [0.001] * 3, "translate": [84000.0, 446000.0, 0.0]},
              "metadata": {"referenceSystem": CITYJSON_CRS_URI},
              "CityObjects": {}, "vertices": []}
    # a sloping road with a hole (a traffic island), heights varying per vertex: not planar
    road = [[(84000, 446000, 0.2), (84100, 446000, 0.9), (84100, 446030, 1.3), (84050, 446045, 0.4),
             (84000, 446030, 0.1)],
            [(84040, 446010, 0.5), (84040, 446020, 0.6), (84060, 446020, 0.7), (84060, 446010, 0.6)]]
    water = [[(84000, 446050, -0.4), (84100, 446050, -0.4), (84100, 446090, -0.4), (84000, 446090, -0.4)]]
    grass = [[(84100, 446000, 0.9), (84160, 446000, 1.5), (84160, 446090, 2.0), (84100, 446090, 1.1)]]
    feats = [
        _surface("bgt.wegdeel.1", "Road", road, {"identificatie": "G0503.1", "object_type": "wegdeel",
                                                 "functie": "rijbaan lokale weg", "relatieve_hoogteligging": 0}),
        _surface("bgt.waterdeel.1", "WaterBody", water, {"identificatie": "G0503.2", "object_type": "waterdeel",
                                                         "functie": "watervlakte", "relatieve_hoogteligging": 0}),
        _surface("bgt.begroeid.1", "PlantCover", grass, {"identificatie": "G0503.3",
                                                         "object_type": "begroeidterreindeel",
                                                         "functie": "grasland overig", "relatieve_hoogteligging": 0}),
    ]
    f = d / "terrain.city.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(x) for x in [header, *feats]) + b"\n")
    index = tile_model(f, d / "tiles")
    return d, index


@pytest.mark.usefixtures("gltf_validator")
def test_terrain_tileset(terrain_model):
    d, index = terrain_model
    assert [t["name"] for t in index["tilesets"]] == ["terrain"]
    report = validate_tileset(d / "tiles" / "terrain", gltf=True)
    assert [str(p) for p in report.problems] == []
    (glb, world), = gltf_read.leaf_contents(d / "tiles" / "terrain" / "tileset.json")
    doc, binary = gltf_read.load(glb)
    names = {doc["materials"][p["material"]]["name"] for p in doc["meshes"][0]["primitives"]}
    assert names == {"Road", "WaterBody", "PlantCover"}
    colours = {m["name"]: m["pbrMetallicRoughness"]["baseColorFactor"] for m in doc["materials"]}
    assert colours["WaterBody"][2] > colours["WaterBody"][0]  # water is blue
    assert colours["PlantCover"][1] > colours["PlantCover"][0]  # vegetation is green
    rows = gltf_read.property_table(doc, binary)
    assert sorted(r["object_type"] for r in rows) == ["begroeidterreindeel", "waterdeel", "wegdeel"]


def test_road_hole_kept_and_heights_follow_vertices(terrain_model):
    d, _ = terrain_model
    (glb, world), = gltf_read.leaf_contents(d / "tiles" / "terrain" / "tileset.json")
    doc, binary = gltf_read.load(glb)
    ecef, fid = gltf_read.vertices_ecef(doc, binary, world)
    rows = gltf_read.property_table(doc, binary)
    road = [i for i, r in enumerate(rows) if r["object_type"] == "wegdeel"][0]
    prim = [p for p in doc["meshes"][0]["primitives"] if doc["materials"][p["material"]]["name"] == "Road"][0]
    from tiles.validate.formats import accessor_values

    tri = accessor_values(doc, binary, prim["indices"])[:, 0].reshape(-1, 3)
    assert (fid[tri] == road).all()
    # area of the road triangles in the local frame = outer ring minus the island (20 × 10 m)
    local = (ecef - world[:3, 3]) @ world[:3, :3]
    a, b, c = local[tri[:, 0]], local[tri[:, 1]], local[tri[:, 2]]
    area = 0.5 * abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]).sum()
    outer = 100 * 30 + 0.5 * 100 * 15  # rectangle + the triangle on top
    assert area == pytest.approx(outer - 200, rel=1e-3)
