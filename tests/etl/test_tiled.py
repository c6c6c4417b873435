"""The tiled ETL on Dask (etl/tiled.py): resumable, byte-identical, failure-isolated, and in agreement with the
single-machine build on every vertex and in the store. A small synthetic district cut into 100 m tiles, so there
are a dozen tiles."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import laspy
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import yaml

from core.config import DEFAULT_PIPELINE, ROOT
from core.products import BUILDING_SOLIDS
from etl.build import build_model
from etl.tiled import MANIFEST, WORK_DIR, build_tiled
from stadsmodel.cli import main

PRODUCTS = ("model.city.json", "model.city.jsonl", "stadsmodel.gpkg", "dtm.tif", "dsm.tif")
TILE = 100.0


def _inputs(folder: Path) -> dict:
    return {"bgt": [folder / "bgt"], "bag": [folder / "bag.gpkg"], "ahn": sorted((folder / "ahn").glob("*.laz"))}


def _bytes(out: Path, names=PRODUCTS) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in names}


def _manifest(out: Path) -> dict:
    return json.loads((out / WORK_DIR / MANIFEST).read_text())


def _laz_sparing_most_buildings(reference: Path) -> str:
    """The name of the reference build's LAZ whose untouched tiles hold the most buildings."""
    tiles = _manifest(reference)["tiles"]
    buildings = {k: json.loads((reference / WORK_DIR / k / "done.json").read_text())["counts"]["buildings"]
                 for k in tiles}
    names = {Path(p).name for t in tiles.values() for p in t["ahn"]}
    return max(sorted(names), key=lambda n: sum(b for k, b in buildings.items()
                                                 if n not in {Path(p).name for p in tiles[k]["ahn"]}))


def _flatten(boundaries) -> list[int]:
    if boundaries and isinstance(boundaries[0], list):
        return [i for b in boundaries for i in _flatten(b)]
    return list(boundaries)


def _geometries(model: Path) -> dict[str, list[tuple[dict, np.ndarray]]]:
    """Per CityObject id: each geometry (all but its boundaries) with its dereferenced vertices in metres."""
    doc = json.loads(model.read_text())
    vertices = np.asarray(doc["vertices"], dtype=float) * doc["transform"]["scale"] + doc["transform"]["translate"]
    out = {}
    for oid, co in doc["CityObjects"].items():
        out[oid] = [({k: v for k, v in g.items() if k != "boundaries"}, vertices[_flatten(g["boundaries"])])
                    for g in co.get("geometry", [])]
    return out


def assert_same_geometry(a: Path, b: Path, tolerance: float = 0.001) -> None:
    """Every CityObject of two models (buildings and terrain) has the same geometries, vertex for vertex."""
    ga, gb = _geometries(a), _geometries(b)
    assert set(ga) == set(gb)
    differ = {}
    for oid in ga:
        assert [g for g, _ in ga[oid]] == [g for g, _ in gb[oid]], oid  # type, lod, semantics
        for (_, va), (_, vb) in zip(ga[oid], gb[oid]):
            assert va.shape == vb.shape, oid
            if len(va) and np.abs(va - vb).max() > tolerance:
                differ[oid] = float(np.abs(va - vb).max())
    assert not differ, f"{len(differ)} of {len(ga)} objects differ (m): {dict(list(differ.items())[:5])}"
    assert sum(len(v) for g in ga.values() for _, v in g) > 1000, "the comparison saw the model's vertices"


def _schema(store: Path) -> tuple[list, dict]:
    with sqlite3.connect(store) as con:
        master = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        columns = {name: con.execute(f'PRAGMA table_info("{name}")').fetchall()
                   for kind, name, _, _ in master if kind == "table"}
    return master, columns


def assert_same_store(a: Path, b: Path) -> None:
    """The same tables, columns, indexes and triggers, and every layer with the same rows."""
    (master_a, columns_a), (master_b, columns_b) = _schema(a), _schema(b)
    assert master_a == master_b
    assert columns_a == columns_b
    assert any(kind == "index" and name.endswith("_identificatie") for kind, name, _, _ in master_a)
    for name in pyogrio.list_layers(a)[:, 0]:
        keys = ["identificatie", "lod"] if name == BUILDING_SOLIDS else ["identificatie"]
        fa, fb = (pyogrio.read_dataframe(s, layer=name).sort_values(keys, kind="stable")
                  .reset_index(drop=True) for s in (a, b))
        if name == BUILDING_SOLIDS:  # an attributes table: the solids' JSON, byte for byte
            assert "geometry" not in fa and len(fa), name
            pd.testing.assert_frame_equal(fa, fb, obj=name)
            continue
        assert shapely.equals_exact(fa.geometry.values, fb.geometry.values, 0).all(), name
        pd.testing.assert_frame_equal(fa.drop(columns="geometry"), fb.drop(columns="geometry"), obj=name)


ROOF_PREFIXES = ("b3_dak_type", "b3_h_goot", "b3_h_nok", "b3_hellingshoek_", "b3_rmse_", "b3_volume_", "b3_val3dity_",
                 "b3_lod_")


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from synth.district import write_district

    out = tmp_path_factory.mktemp("tiled") / "input"
    write_district(out, buildings=70, seed=11, points_per_m2=4)
    return out


@pytest.fixture(scope="module")
def single(district, tmp_path_factory) -> Path:
    """The single-machine build of the same district."""
    out = tmp_path_factory.mktemp("tiled") / "single"
    build_model(**_inputs(district), out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def reference(district, tmp_path_factory) -> Path:
    """A clean tiled build: two workers as threads (fast to start)."""
    out = tmp_path_factory.mktemp("tiled") / "reference"
    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=2, processes=False)
    assert report.complete and report.data["tiles"]["total"] >= 9
    return out


def test_tiled_agrees_with_the_single_machine_build(district, reference, single):
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
    # the roofs: the same points per building in a tile as in the whole area, so the same reconstruction
    roof_columns = [c for c in b.columns if c.startswith(ROOF_PREFIXES)]
    assert len(roof_columns) == 16
    pd.testing.assert_frame_equal(a[roof_columns], b[roof_columns])
    assert ra["counts"]["buildings"]["lod"] == rb["counts"]["buildings"]["lod"]
    assert rb["counts"]["buildings"]["lod"]["best"]["2.2"] >= 0.9 * len(b)
    ca = json.loads((reference / "model.city.json").read_text())
    cb = json.loads((single / "model.city.json").read_text())
    assert set(ca["CityObjects"]) == set(cb["CityObjects"]) and ca["transform"] == cb["transform"]
    assert all(ca["CityObjects"][k]["attributes"] == cb["CityObjects"][k]["attributes"] for k in ca["CityObjects"])
    assert sorted(map(json.dumps, ra["notes"])) == sorted(map(json.dumps, rb["notes"]))


def test_tiled_and_single_machine_models_agree_on_every_vertex(reference, single):
    """Terrain too: BGT surfaces that reach beyond the point cloud (the area's edge) take the same heights
    whether a tile or the whole area lifts them."""
    assert_same_geometry(reference / "model.city.json", single / "model.city.json")


def test_tiled_and_single_machine_stores_agree_on_tables_columns_indexes_and_rows(reference, single):
    assert_same_store(reference / "stadsmodel.gpkg", single / "stadsmodel.gpkg")


def test_tiled_and_single_machine_write_the_same_cityjson(reference, single):
    """One CityJSON writer in both builds, fed the same features: only their order differs (tile by tile, or
    buildings then terrain), so every CityJSONSeq line of one is a line of the other, and the CityJSON
    documents hold the same objects with the same vertices exactly."""
    a, b = ((out / "model.city.jsonl").read_text(encoding="utf-8").splitlines() for out in (reference, single))
    assert a[0] == b[0], "the same header: transform, extent, reference system"
    assert len(a) > 400 and sorted(a[1:]) == sorted(b[1:])
    assert_same_geometry(reference / "model.city.json", single / "model.city.json", tolerance=0)


def test_tiled_and_single_machine_write_the_same_raster_bytes(reference, single):
    """One COG writer: from the whole grid in memory, or assembled from the tiles' cells, the same file."""
    for name in ("dtm.tif", "dsm.tif"):
        assert (reference / name).read_bytes() == (single / name).read_bytes(), name


def test_both_builds_report_the_roof_percentile_of_their_model(district, tmp_path):
    """report.json names the percentile the LoD1.2 roofs stand at (the services build the same solids from the
    store with it); a percentile other than the default, so a fixed 70 anywhere cannot pass. Without LoD2.2
    (roofs.lod22 false) both builds make the blocks only."""
    cfg = yaml.safe_load(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    cfg["lifting"]["lod12_roof_percentile"] = 50
    cfg["roofs"]["lod22"] = False
    config = tmp_path / "pipeline.yml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    build_model(**_inputs(district), out=tmp_path / "single", config_path=config, progress=False)
    build_tiled(**_inputs(district), out=tmp_path / "tiled", config_path=config, tile_size=TILE, workers=2,
                processes=False)
    for out in (tmp_path / "single", tmp_path / "tiled"):
        assert json.loads((out / "report.json").read_text())["model"] == {"lod12_roof_percentile": 50}
        roofs = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings").set_index("identificatie")["b3_h_dak_50p"]
        solids = {oid: g[0][1] for oid, g in _geometries(out / "model.city.json").items() if oid in roofs and g}
        assert len(solids) > 50
        assert all(abs(v[:, 2].max() - roofs[oid]) <= 0.001 for oid, v in solids.items()), out.name
        assert all(len(g) == 1 for g in _geometries(out / "model.city.json").values() if g), "LoD1.2 only"
        assert json.loads((out / "report.json").read_text())["counts"]["store"][BUILDING_SOLIDS] == 0


@pytest.mark.slow
def test_same_bytes_with_one_worker_process_and_two_worker_threads(district, reference, tmp_path):
    out = tmp_path / "one"
    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=1, processes=True)
    assert report.complete
    assert _bytes(out) == _bytes(reference)


# Moments to kill a run at, each a marker on disk that the run has reached that stage but not finished it. A
# stage takes far longer than one poll, so the run is always cut off mid-way, however slow or loaded the machine.
KILL_MOMENTS = {
    "partitioning sources": lambda out: any((out / WORK_DIR / "sources").glob("*/summary.json")),
    "binning points": lambda out: any((out / WORK_DIR / "points").glob("*/bins.json")),
    "building tiles": lambda out: any((out / WORK_DIR).glob("*/done.json")),
    "assembling products": lambda out: any(out.rglob(".model.city.tmp-*")),
}


def _finished_work(out: Path) -> dict[Path, int]:
    """The work files that mark a finished step (a source cut, a file binned, a tile built), with mtimes."""
    work = out / WORK_DIR
    files = [*work.glob("sources/*/summary.json"), *work.glob("points/*/bins.json"), *work.glob("*/done.json")]
    return {f: f.stat().st_mtime_ns for f in files}


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(KILL_MOMENTS))
def test_kill_minus_9_then_resume_gives_identical_products(district, reference, tmp_path, moment):
    out = tmp_path / "killed"
    args = ["build", "--bgt", str(district / "bgt"), "--bag", str(district / "bag.gpkg"),
            "--ahn", *map(str, _inputs(district)["ahn"]), "--out", str(out), "--workers", "1",
            "--tile-size", str(TILE)]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from stadsmodel.cli import main; "
                             "sys.exit(main(sys.argv[1:]))", *args], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr.txt").open("wb"))
    reached = KILL_MOMENTS[moment]
    deadline = time.monotonic() + 600  # only guards against a hang
    while not reached(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    running = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its Dask workers, mid-run
    proc.wait()
    assert running and reached(out), f"killed while {moment}; exit {proc.returncode}: " \
        + (tmp_path / "stderr.txt").read_text()[-2000:]
    assert not (out / "report.json").exists(), "the run was cut off before its end"
    finished = _finished_work(out)
    done_before = sum(f.name == "done.json" for f in finished)
    total = json.loads((reference / "report.json").read_text())["tiles"]["total"]

    report = build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=2, processes=False)
    assert report.complete
    assert _bytes(out) == _bytes(reference)
    expected_done = {"partitioning sources": done_before == 0, "binning points": done_before == 0,
                     "building tiles": 1 <= done_before < total, "assembling products": done_before == total}
    assert expected_done[moment], f"{done_before} of {total} tiles were done when the run was killed"
    assert report.data["tiles"]["reused"] == done_before
    assert len(report.data["tiles"]["executed"]) == total - done_before
    assert {f: f.stat().st_mtime_ns for f in finished} == finished, "finished steps are reused, not redone"
    assert not list(out.rglob(".*.tmp-*")), "no temporary files left behind"
    assert not (out / "tiles").exists(), "no work file in the served folder"


@pytest.mark.slow
def test_corrupt_laz_fails_only_its_tiles_and_fixing_it_reruns_only_those(district, reference, tmp_path, capsys):
    inp = tmp_path / "input"
    shutil.copytree(district, inp)
    lazs = sorted((inp / "ahn").glob("*.laz"))
    # Break the file whose tiles leave the most buildings to the others: a run in which no building got heights
    # is not published at all (etl.writers.publish), which another test covers.
    bad = inp / "ahn" / _laz_sparing_most_buildings(reference)
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[: len(good_bytes) * 6 // 10])  # header intact, point data cut off
    out = tmp_path / "model"
    code = main(["build", "--bgt", str(inp / "bgt"), "--bag", str(inp / "bag.gpkg"), "--ahn", *map(str, lazs),
                 "--out", str(out), "--tile-size", str(TILE), "--workers", "2"])
    assert code == 3, "exit status says partial"
    report = json.loads((out / "report.json").read_text())
    manifest = _manifest(out)
    touching = {k for k, t in manifest["tiles"].items() if str(bad) in t["ahn"]}
    assert touching, "the broken file touches tiles"
    failed = {f["tile"]: f for f in report["tiles"]["failed"]}
    assert set(failed) == touching and 0 < len(touching) < report["tiles"]["total"]
    for f in failed.values():
        assert f["files"] == [str(bad)] and "truncated" in f["reason"]
    assert report["tiles"]["done"] == report["tiles"]["total"] - len(touching)
    assert any(s["file"] == str(bad) and "not built" in s["reason"] for s in report["skipped"])
    assert {t["state"] for k, t in manifest["tiles"].items() if k not in touching} == {"done"}
    expected = sum(json.loads((reference / WORK_DIR / k / "done.json").read_text())["counts"]["buildings"]
                   for k in manifest["tiles"] if k not in touching)
    assert expected > 0 and report["counts"]["buildings"]["out"] == expected, "the other tiles' buildings are all there"
    assert not (out / "tiles").exists(), "a failed run leaves no work file in the served folder either"

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


@pytest.mark.slow
def test_truncated_gml_is_skipped_and_named_as_in_the_single_machine_build(district, tmp_path):
    """A BGT file cut off mid-way: both builds keep the objects before the break, name the file in report.json,
    exit 3, and still agree on every vertex and every store row."""
    inp = tmp_path / "input"
    shutil.copytree(district, inp)
    gml = inp / "bgt" / "bgt_wegdeel.gml"
    text = gml.read_bytes()
    gml.write_bytes(text[: len(text) // 2])
    common = ["--bgt", str(inp / "bgt"), "--bag", str(inp / "bag.gpkg"), "--ahn", *map(str, _inputs(inp)["ahn"])]
    assert main(["build", *common, "--out", str(tmp_path / "single")]) == 3
    assert main(["build", *common, "--out", str(tmp_path / "tiled"), "--tile-size", str(TILE), "--workers", "1"]) == 3
    reports = [json.loads((tmp_path / name / "report.json").read_text()) for name in ("single", "tiled")]
    for report in reports:
        assert not report["complete"]
        assert [s["file"] for s in report["skipped"]] == [str(gml)]
        assert 0 < report["counts"]["bgt"]["wegdeel"]["lifted"] < text.count(b"<cityObjectMember")
    assert reports[0]["skipped"] == reports[1]["skipped"]
    assert reports[0]["counts"]["bgt"] == reports[1]["counts"]["bgt"]
    assert_same_geometry(tmp_path / "tiled" / "model.city.json", tmp_path / "single" / "model.city.json")
    assert_same_store(tmp_path / "tiled" / "stadsmodel.gpkg", tmp_path / "single" / "stadsmodel.gpkg")


@pytest.mark.slow
def test_work_files_of_an_earlier_build_in_the_served_folder_are_removed_and_3d_tiles_kept(district, reference,
                                                                                           tmp_path):
    """Earlier builds kept their work files in OUT/tiles/ (served at /tiles/) and the manifest in OUT. A build
    removes exactly those files: 3D Tiles there, and anything else a user put there, stay."""
    out = tmp_path / "model"
    legacy = out / "tiles"
    shutil.copytree(reference / WORK_DIR, legacy, ignore=shutil.ignore_patterns(MANIFEST))
    shutil.copy(reference / WORK_DIR / MANIFEST, out / MANIFEST)
    tile_key = next(p.name for p in legacy.glob("*_*"))
    user_files = {legacy / "index.json": b'{"tilesets": []}', legacy / "buildings" / "tileset.json": b"{}",
                  legacy / "buildings" / "content" / "0_0.glb": b"glTF", legacy / tile_key / "notes.txt": b"mine",
                  legacy / "points" / "readme.txt": b"mine too"}
    for path, data in user_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert any(legacy.glob("sources/*/*.pkl")) and any(legacy.glob("points/*/*.pts"))

    assert build_tiled(**_inputs(district), out=out, tile_size=TILE, workers=2, processes=False).complete
    left = {p for p in legacy.rglob("*") if p.is_file()}
    assert left == set(user_files), f"left in the served folder: {sorted(map(str, left - set(user_files)))}"
    assert all(p.read_bytes() == data for p, data in user_files.items())
    assert not (out / MANIFEST).exists()
    assert _bytes(out) == _bytes(reference)


def _las_at(template: Path, path: Path, dx: float, points: bool = True) -> Path:
    """A LAS file with the template's points shifted by `dx` metres east (or none)."""
    src = laspy.read(template)
    las = laspy.LasData(laspy.LasHeader(point_format=src.header.point_format.id, version=str(src.header.version)))
    las.header.scales, las.header.offsets = src.header.scales, src.header.offsets + [dx, 0, 0]
    n = len(src.x) if points else 0
    las.x, las.y, las.z = np.asarray(src.x[:n]) + dx, np.asarray(src.y[:n]), np.asarray(src.z[:n])
    las.classification = np.asarray(src.classification[:n])
    las.write(path)
    return path


@pytest.mark.slow
def test_point_clouds_elsewhere_empty_or_with_a_lying_header_as_in_the_single_machine_build(district, tmp_path):
    """A point cloud 20 km away and an empty one are reported and skipped; one whose header claims all of RD New
    neither sizes the grid nor spawns tiles: the tiled build agrees with the single-machine one throughout."""
    lazs = _inputs(district)["ahn"]
    liar = tmp_path / "liar.laz"
    data = bytearray(lazs[0].read_bytes())
    struct.pack_into("<4d", data, 179, 280_000.0, 0.0, 620_000.0, 300_000.0)  # header max x, min x, max y, min y
    liar.write_bytes(bytes(data))
    ahn = [liar, *lazs[1:], _las_at(lazs[0], tmp_path / "elsewhere.laz", 20_000.0),
           _las_at(lazs[0], tmp_path / "empty.laz", 0.0, points=False)]
    common = ["--bgt", str(district / "bgt"), "--bag", str(district / "bag.gpkg"), "--ahn", *map(str, ahn)]
    assert main(["build", *common, "--out", str(tmp_path / "single")]) == 3
    assert main(["build", *common, "--out", str(tmp_path / "tiled"), "--tile-size", str(TILE), "--workers", "1"]) == 3
    single, tiled = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("single", "tiled"))
    assert {s["file"] for s in tiled["skipped"]} == {str(ahn[-2]), str(ahn[-1])}
    assert sorted(map(json.dumps, tiled["skipped"])) == sorted(map(json.dumps, single["skipped"]))
    assert tiled["tiles"]["total"] <= 30, "the lying header spawned no tiles"
    assert tiled["counts"]["ahn"]["points"] == single["counts"]["ahn"]["points"]
    for name in ("dtm.tif", "dsm.tif"):
        with rasterio.open(tmp_path / "tiled" / name) as ra, rasterio.open(tmp_path / "single" / name) as rb:
            assert ra.transform == rb.transform and np.array_equal(ra.read(1), rb.read(1)), name
    assert_same_geometry(tmp_path / "tiled" / "model.city.json", tmp_path / "single" / "model.city.json")
    assert_same_store(tmp_path / "tiled" / "stadsmodel.gpkg", tmp_path / "single" / "stadsmodel.gpkg")
