"""The tileset checker on the pg2b3dm samples and on tilesets broken on purpose."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import shared_path
from tests.tiles.synthetic import write_district
from tiles import tile_model
from tiles.validate import validate_command, validate_tileset


def test_sibbe_partial_reports_exactly_the_missing_tiles():
    report = validate_tileset(shared_path("pg2b3dm-3dtiles", "3dbag-sibbe-1.1-PARTIAL"))
    missing = sorted(p.message for p in report.problems)
    assert missing == [f"content content/{t}.glb does not exist" for t in ("1_0_0", "1_0_1", "2_3_3")]
    assert report.contents == 6  # 6 available contents in the subtrees, 3 of them present


def test_amsterdam_b3dm_only_genuine_issues():
    report = validate_tileset(shared_path("pg2b3dm-3dtiles", "amsterdam-b3dm-1.0"))
    assert report.contents == 10
    assert not [p for p in report.problems if "does not exist" in p.message]
    # pg2b3dm's boxes there are metres too small for some of their b3dm (checked by hand: 1.b3dm's
    # vertices reach y = -2468.06 in the tileset frame, its box ends at -2458.48); nothing else is wrong
    assert all("outside its tile bounding volume" in p.message for p in report.problems)


@pytest.fixture()
def small_tileset(tmp_path):
    write_district(tmp_path / "m.city.jsonl", 400, seed=2)
    tile_model(tmp_path / "m.city.jsonl", tmp_path / "t")
    return tmp_path / "t" / "buildings"


def _edit(ts_dir: Path, fn):
    p = ts_dir / "tileset.json"
    ts = json.loads(p.read_text())
    fn(ts)
    p.write_text(json.dumps(ts))


def test_missing_content_reported(small_tileset):
    victim = sorted((small_tileset / "content").glob("*.glb"))[0]
    victim.unlink()
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert msgs == [f"content content/{victim.name} does not exist"]


def test_child_outside_parent_and_growing_error_reported(small_tileset):
    def break_it(ts):
        child = ts["root"]["children"][0]
        child["boundingVolume"]["box"][0] += 5000.0
        child["geometricError"] = ts["root"]["geometricError"] * 10

    _edit(small_tileset, break_it)
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert any("outside its parent's" in m for m in msgs)
    assert any("larger than its parent's" in m for m in msgs)
    assert any("geometry reaches" in m for m in msgs)  # the content no longer fits the moved box


def test_structure_errors(small_tileset):
    _edit(small_tileset, lambda ts: (ts["asset"].update(version="2.0"), ts["root"]["boundingVolume"].update(box=[1, 2])))
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert any("asset.version '2.0'" in m for m in msgs)
    assert any("is not a valid box" in m for m in msgs)


def test_property_table_mismatch_reported(small_tileset):
    glb = sorted((small_tileset / "content").glob("*.glb"))[0]
    data = bytearray(glb.read_bytes())
    # rename the class the property table points to, keeping the JSON length
    i = data.index(b'"class":"building"')
    data[i:i + 18] = b'"class":"buildinX"'
    glb.write_bytes(bytes(data))
    msgs = [p.message for p in validate_tileset(small_tileset).problems]
    assert msgs == ["class 'buildinX' is not in the schema"]


def test_validate_command_exit_status(small_tileset, capsys):
    assert validate_command(small_tileset.parent) == 0  # a tiles dir with index.json
    assert "0 errors" in capsys.readouterr().out
    shutil.rmtree(small_tileset / "content")
    assert validate_command(small_tileset) == 1
    assert "does not exist" in capsys.readouterr().out
