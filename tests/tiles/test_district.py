"""The model `stadsmodel build` writes for the synthetic district → buildings + terrain tilesets."""

import json

import orjson
import pytest

from tests.tiles import gltf_read
from tiles import tile_model
from tiles.validate import validate_tileset


@pytest.mark.usefixtures("gltf_validator")
def test_built_district_tiles(built_district, tmp_path):
    index = tile_model(built_district, tmp_path / "tiles")
    names = [t["name"] for t in index["tilesets"]]
    assert names == ["buildings", "buildings-lod12", "terrain"]  # the build's LoD2.2, the LoD1.2 blocks
    for name in names:
        report = validate_tileset(tmp_path / "tiles" / name, gltf=True)
        assert [str(p) for p in report.problems] == []
    model_ids, best = set(), []
    for line in (built_district / "model.city.jsonl").read_bytes().splitlines()[1:]:
        for oid, co in orjson.loads(line)["CityObjects"].items():
            if co["type"] == "Building":
                model_ids.add(co.get("attributes", {}).get("identificatie", oid))
                if co["geometry"]:
                    best.append(co["geometry"][-1]["lod"])  # the build writes LoD1.2, 1.3, 2.2 in this order
    lods = {t["name"]: t["lods"] for t in index["tilesets"] if "lods" in t}
    assert lods["buildings"] == {lod: best.count(lod) for lod in sorted(set(best))} and best.count("2.2")
    assert lods["buildings-lod12"] == {"1.2": len(best)}
    tiled = set()
    for glb, _ in gltf_read.leaf_contents(tmp_path / "tiles" / "buildings" / "tileset.json"):
        doc, binary = gltf_read.load(glb)
        tiled |= {r["identificatie"] for r in gltf_read.property_table(doc, binary)}
    # a building the model holds without geometry is reported in the index, never lost silently
    skipped = {s["feature"] for s in index["skipped"]}
    assert all("no geometry" in s["reason"] for s in index["skipped"])
    assert tiled | skipped == model_ids and not tiled & skipped
    assert json.loads((tmp_path / "tiles" / "index.json").read_text())["tilesets"][0]["features"] == len(tiled)


def test_tileset_error_spans_the_district(built_district, tmp_path):
    """CesiumJS renders nothing while the tileset's geometric error is below its screen-space threshold: the
    error must be on the scale of the district, even when all buildings fit in one tile."""
    tile_model(built_district, tmp_path / "tiles")
    for name in ("buildings", "terrain"):
        tileset = json.loads((tmp_path / "tiles" / name / "tileset.json").read_text())
        half = tileset["root"]["boundingVolume"]["box"]
        extent = 2 * (half[3] ** 2 + half[7] ** 2) ** 0.5
        assert tileset["geometricError"] >= 0.9 * extent
