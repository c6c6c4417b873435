"""The tiled ETL on Dask (etl/tiled.py): resumable, byte-identical, failure-isolated, and in agreement with the
single-machine build. A small synthetic district cut into 100 m tiles, so there are a dozen tiles."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from etl.build import build_model
from etl.tiled import build_tiled
from stadsmodel.cli import main

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ("model.city.json", "model.city.jsonl", "stadsmodel.gpkg", "dtm.tif", "dsm.tif")
TILE = 100.0


def _inputs(folder: Path) -> dict:
    return {"bgt": [folder / "bgt"], "bag": [folder / "bag.gpkg"], "ahn": sorted((folder / "ahn").glob("*.laz"))}


def _bytes(out: Path, names=PRODUCTS) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in names}


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from etl.synth import write_district

    out = tmp_path_factory.mktemp("tiled") / "input"
    write_district(out, buildings=70, seed=11, points_per_m2=4)
    return out


@pytest.fixture(scope="module")
def reference(district, tmp_path_factory) -> Path:
    """A clean tiled build: two workers as threads (fast to start)."""
    out = tmp_path_factory.mktemp("tiled") / "reference"
    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=2, processes=False)
    assert report.complete and report.data["tiles"]["total"] >= 9
    return out


def test_tiled_agrees_with_the_single_machine_build(district, reference, tmp_path):
    single = tmp_path / "single"
    build_model(**_inputs(district), out=single, progress=False)
    a = gpd.read_file(reference / "stadsmodel.gpkg", layer="buildings").set_index("identificatie").sort_index()
    b = gpd.read_file(single / "stadsmodel.gpkg", layer="buildings").set_index("identificatie").sort_index()
    truth = json.loads((district / "truth.json").read_text())["panden"]
    assert list(a.index) == list(b.index) == sorted(truth), "every pand once, none lost or doubled at tile edges"
    for col in ("b3_h_maaiveld", "b3_h_dak_min", "b3_h_dak_50p", "b3_h_dak_70p", "b3_h_dak_max", "b3_n_punten"):
        assert (a[col].isna() == b[col].isna()).all()
        assert np.nanmax(np.abs(a[col] - b[col])) <= 0.001, col
    for name in ("dtm.tif", "dsm.tif"):  # the interpolated DTM too, also at tile edges and the area's edge
        with rasterio.open(reference / name) as ra, rasterio.open(single / name) as rb:
            assert ra.transform == rb.transform and np.array_equal(ra.read(1), rb.read(1)), name
    ra, rb = json.loads((reference / "report.json").read_text()), json.loads((single / "report.json").read_text())
    assert ra["counts"]["ahn"]["points"] == rb["counts"]["ahn"]["points"], "each point counted by one tile"
    assert ra["counts"]["store"] == rb["counts"]["store"]
    ca = json.loads((reference / "model.city.json").read_text())
    cb = json.loads((single / "model.city.json").read_text())
    assert set(ca["CityObjects"]) == set(cb["CityObjects"]) and ca["transform"] == cb["transform"]
    assert all(ca["CityObjects"][k]["attributes"] == cb["CityObjects"][k]["attributes"] for k in ca["CityObjects"])


@pytest.mark.slow
def test_same_bytes_with_one_worker_process_and_two_worker_threads(district, reference, tmp_path):
    out = tmp_path / "one"
    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=1, processes=True)
    assert report.complete
    assert _bytes(out) == _bytes(reference)


@pytest.mark.slow
def test_kill_minus_9_then_resume_gives_identical_products(district, reference, tmp_path):
    out = tmp_path / "killed"
    args = ["build", "--bgt", str(district / "bgt"), "--bag", str(district / "bag.gpkg"),
            "--ahn", *map(str, _inputs(district)["ahn"]), "--out", str(out), "--workers", "1",
            "--tile-size", str(TILE)]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from stadsmodel.cli import main; "
                             "sys.exit(main(sys.argv[1:]))", *args], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr.txt").open("wb"))
    # Kill as soon as the first tile is done: a tile takes far longer than one poll, so the run is always cut
    # off mid-way, however slow or loaded the machine (the deadline only guards against a hang).
    deadline = time.monotonic() + 600
    while not list(out.glob("tiles/*/done.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its Dask workers, mid-run
    proc.wait()
    done_before = len(list(out.glob("tiles/*/done.json")))
    total = json.loads((reference / "report.json").read_text())["tiles"]["total"]
    assert 1 <= done_before < total, f"killed after some tiles, before the end; exit {proc.returncode}: " \
        + (tmp_path / "stderr.txt").read_text()[-2000:]
    assert not (out / "report.json").exists()

    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=2, processes=False)
    assert report.complete
    assert report.data["tiles"]["reused"] >= done_before
    assert len(report.data["tiles"]["executed"]) == total - report.data["tiles"]["reused"]
    assert _bytes(out) == _bytes(reference)
    assert not list(out.glob(".*.tmp-*")), "no temporary files left behind"


@pytest.mark.slow
def test_corrupt_laz_fails_only_its_tiles_and_fixing_it_reruns_only_those(district, reference, tmp_path, capsys):
    inp = tmp_path / "input"
    shutil.copytree(district, inp)
    lazs = sorted((inp / "ahn").glob("*.laz"))
    bad = lazs[0]
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[: len(good_bytes) * 6 // 10])  # header intact, point data cut off
    out = tmp_path / "model"
    code = main(["build", "--bgt", str(inp / "bgt"), "--bag", str(inp / "bag.gpkg"), "--ahn", *map(str, lazs),
                 "--out", str(out), "--tile-size", str(TILE), "--workers", "2"])
    assert code == 3, "exit status says partial"
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    touching = {k for k, t in manifest["tiles"].items() if str(bad) in t["ahn"]}
    failed = {f["tile"]: f for f in report["tiles"]["failed"]}
    assert set(failed) == touching and 0 < len(touching) < report["tiles"]["total"]
    for f in failed.values():
        assert f["files"] == [str(bad)] and "truncated" in f["reason"]
    assert report["tiles"]["done"] == report["tiles"]["total"] - len(touching)
    assert any(s["file"] == str(bad) and "not built" in s["reason"] for s in report["skipped"])
    assert {t["state"] for k, t in manifest["tiles"].items() if k not in touching} == {"done"}
    expected = sum(json.loads((reference / "tiles" / k / "done.json").read_text())["counts"]["buildings"]
                   for k in manifest["tiles"] if k not in touching)
    assert report["counts"]["buildings"]["out"] == expected, "the other tiles' buildings are all there"

    bad.write_bytes(good_bytes)  # the fixed file: only the tiles it touches run again
    report = build_tiled(bgt=[inp / "bgt"], bag=[inp / "bag.gpkg"], ahn=lazs, out=out, tile_size=TILE, workers=2,
                         processes=False)
    assert report.complete
    assert set(report.data["tiles"]["executed"]) == touching
    # The store records the newest input's time, which the fix changed; everything else is byte-identical.
    names = ("model.city.json", "model.city.jsonl", "dtm.tif", "dsm.tif")
    assert _bytes(out, names) == _bytes(reference, names)


@pytest.mark.slow
def test_changed_bgt_feature_reruns_only_its_tile(district, reference, tmp_path):
    """One BGT wegdeel gets another function: only the tile that feature belongs to is lifted again, and the
    assembled model carries the change."""
    from etl.tiled import TileGrid

    inp, out = tmp_path / "input", tmp_path / "model"
    shutil.copytree(district, inp)  # input paths are part of a tile's hash: build once from the copy
    assert build_tiled(**_inputs(inp), out=out, tile_size=TILE, workers=2, processes=False).complete
    gml = inp / "bgt" / "bgt_wegdeel.gml"
    text = gml.read_text(encoding="utf-8")
    at = text.index(">voetpad</function>")
    feature_id = text[:at].rsplit("<imgeo:lokaalID>", 1)[1].split("<", 1)[0]
    gml.write_text(text[:at] + ">fietspad</function>" + text[at + len(">voetpad</function>"):], encoding="utf-8")

    wegdeel = gpd.read_file(reference / "stadsmodel.gpkg", layer="bgt_wegdeel").set_index("identificatie")
    point = wegdeel.geometry[feature_id].point_on_surface()
    tile = TileGrid(TILE).keys(np.array([point.x]), np.array([point.y]))[0]

    report = build_tiled(**_inputs(inp), out=out, tile_size=TILE, workers=2, processes=False)
    assert report.complete
    assert report.data["tiles"]["executed"] == [tile]
    changed = gpd.read_file(out / "stadsmodel.gpkg", layer="bgt_wegdeel").set_index("identificatie")
    assert changed.loc[feature_id, "functie"] == "fietspad"
    assert (changed.drop(index=feature_id)["functie"] == wegdeel.drop(index=feature_id)["functie"]).all()
