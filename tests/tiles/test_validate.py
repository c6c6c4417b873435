"""The tileset checker on the pg2b3dm samples and on tilesets broken on purpose."""

import json
import re
import shutil
from pathlib import Path

import pytest

from core.errors import InputError, ToolMissing
from synth.model import write_city_model
from tests.conftest import shared_path
from tiles import tile_model
from tiles.validate import gltf_validator, tileset_targets, validate_tileset


def test_sibbe_partial_reports_exactly_the_missing_tiles():
    report = validate_tileset(shared_path("pg2b3dm-3dtiles", "3dbag-sibbe-1.1-PARTIAL"))
    missing = sorted(p.message for p in report.problems)
    assert missing == [f"content content/{t}.glb does not exist" for t in ("1_0_0", "1_0_1", "2_3_3")]
    assert report.contents == 6  # 6 available contents in the subtrees, 3 of them present


def test_amsterdam_b3dm_only_genuine_issues():
    report = validate_tileset(shared_path("pg2b3dm-3dtiles", "amsterdam-b3dm-1.0"))
    assert report.contents == 10
    # pg2b3dm's boxes there are metres too small for most of their b3dm (checked by hand: 1.b3dm's
    # vertices reach y = -2468.06 in the tileset frame, its box ends at -2458.48); nothing else is wrong
    overflow = {Path(p.where).name: p.message for p in report.problems}
    assert len(overflow) == len(report.problems), "one problem per content file"
    assert sorted(overflow, key=lambda n: int(n.split(".")[0])) == [f"{i}.b3dm" for i in (1, 2, 3, 4, 6, 7, 8, 9, 10)]
    assert all(re.fullmatch(r"geometry reaches \d+\.\d\d m outside its tile bounding volume", m)
               for m in overflow.values())
    assert overflow["1.b3dm"] == "geometry reaches 9.58 m outside its tile bounding volume"


@pytest.fixture()
def small_tileset(tmp_path):
    write_city_model(tmp_path / "m.city.jsonl", 400, seed=2)
    tile_model(tmp_path / "m.city.jsonl", tmp_path / "t")
    return tmp_path / "t" / "buildings"


def _edit(ts_dir: Path, fn):
    p = ts_dir / "tileset.json"
    ts = json.loads(p.read_text())
    fn(ts)
    p.write_text(json.dumps(ts))


def test_good_tileset_has_no_problems(small_tileset):
    report = validate_tileset(small_tileset)
    assert report.problems == []
    assert report.contents == len(list((small_tileset / "content").glob("*.glb"))) > 1
    assert report.tiles > report.contents  # a root without content above the leaves


def test_missing_content_reported(small_tileset):
    victim = sorted((small_tileset / "content").glob("*.glb"))[0]
    victim.unlink()
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert msgs == [f"content content/{victim.name} does not exist"]


def metres(pattern: str, message: str) -> float:
    """The distance a message of this form reports (the message must match the whole pattern)."""
    match = re.fullmatch(pattern, message)
    assert match, message
    return float(match[1])


def test_child_outside_parent_and_growing_error_reported(small_tileset):
    def break_it(ts):
        child = ts["root"]["children"][0]
        child["boundingVolume"]["box"][0] += 5000.0
        child["geometricError"] = ts["root"]["geometricError"] * 10

    _edit(small_tileset, break_it)
    ts = json.loads((small_tileset / "tileset.json").read_text())
    child = ts["root"]["children"][0]
    problems = validate_tileset(small_tileset).problems
    at_child = sorted(p.message for p in problems if p.where.endswith("root.children[0]"))
    assert len(at_child) == 2
    # moved 5 km east, out of a root box of half-width 200 m
    assert 4500 < metres(r"bounding volume reaches (\d+\.\d\d) m outside its parent's", at_child[0]) < 5000
    assert at_child[1] == (f"geometricError {child['geometricError']} is larger than its parent's "
                           f"{ts['root']['geometricError']}")
    # the child's content no longer fits the moved box, by about the 5 km it moved; nothing else is wrong
    others = [p for p in problems if not p.where.endswith("root.children[0]")]
    assert [Path(p.where).name for p in others] == [Path(child["content"]["uri"]).name]
    assert 4500 < metres(r"geometry reaches (\d+\.\d\d) m outside its tile bounding volume", others[0].message) < 5000


def test_structure_errors(small_tileset):
    def break_it(ts):
        ts["asset"]["version"] = "2.0"
        ts["root"]["boundingVolume"]["box"] = [1, 2]

    _edit(small_tileset, break_it)
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert any("asset.version '2.0'" in m for m in msgs)
    assert any("is not a valid box" in m for m in msgs)


def _edit_glb(small_tileset: Path, old: bytes, new: bytes) -> Path:
    """Replace bytes in the first glb's JSON chunk, keeping its length (so the glb stays well-formed)."""
    assert len(old) == len(new)
    glb = sorted((small_tileset / "content").glob("*.glb"))[0]
    data = glb.read_bytes()
    assert old in data
    glb.write_bytes(data.replace(old, new, 1))
    return glb


def test_property_table_mismatch_reported(small_tileset):
    # rename the class the property table points to
    _edit_glb(small_tileset, b'"class":"building"', b'"class":"buildinX"')
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert msgs == ["class 'buildinX' is not in the schema"]


def test_property_not_in_class_reported(small_tileset):
    _edit_glb(small_tileset, b'"oorspronkelijkbouwjaar":{"values"', b'"oorspronkelijkbouwjaaX":{"values"')
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert "property 'oorspronkelijkbouwjaaX' is not in class 'building'" in msgs
    assert set(msgs) <= {"property 'oorspronkelijkbouwjaaX' is not in class 'building'",
                         "required property 'oorspronkelijkbouwjaar' missing from the table"}


def test_feature_ids_beyond_the_property_table_reported(small_tileset):
    glb = sorted((small_tileset / "content").glob("*.glb"))[0]
    count = re.search(rb'"propertyTables":\[\{"class":"building","count":(\d+)', glb.read_bytes())[1]
    assert int(count) > 1
    # the table now claims one row, the primitives still point at all of them (padded: same JSON length)
    _edit_glb(small_tileset, b'"count":' + count + b",", b'"count":1' + b" " * (len(count) - 1) + b",")
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert msgs and all(re.fullmatch(r"feature id \d+ ≥ property table count 1", m) for m in msgs)
    assert f"feature id {int(count) - 1} ≥ property table count 1" in msgs


def test_tileset_targets_expand_a_tiles_folder(small_tileset):
    tiles_dir = small_tileset.parent  # written by tile_model: index.json beside buildings/
    assert tileset_targets(tiles_dir) == [small_tileset / "tileset.json"]
    assert tileset_targets(small_tileset) == [small_tileset]  # a tileset folder stands for itself
    assert validate_tileset(tileset_targets(tiles_dir)[0]).errors == []
    shutil.rmtree(small_tileset / "content")
    assert validate_tileset(small_tileset).errors


@pytest.mark.parametrize("index", ["{not json", '{"tilesets": [{"name": "buildings"}]}', '["buildings"]'])
def test_a_broken_index_is_refused_naming_it(tmp_path, index):
    (tmp_path / "index.json").write_text(index, encoding="utf-8")
    with pytest.raises(InputError, match="index.json: not an index of tilesets"):
        tileset_targets(tmp_path)


def test_glTF_validator_missing_is_a_missing_tool(small_tileset, monkeypatch, tmp_path):
    # the npm package is looked for where `npm ci` puts it; a checkout without it says how to get it
    monkeypatch.setattr(gltf_validator, "PACKAGE_DIR", tmp_path / "node_modules" / "gltf-validator")
    with pytest.raises(ToolMissing, match="npm ci"):
        validate_tileset(small_tileset, gltf=True)
