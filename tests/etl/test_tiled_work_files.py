"""The tiled build's work files (tile pickles, point bins, CityJSONSeq parts, summaries with absolute input paths)
are not products: they stay out of OUT/tiles/, the folder `stadsmodel serve` publishes at /tiles/, also when the
build fails, and the live server answers none of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from core.config import ROOT
from etl.tiled import WORK_DIR, code_files
from stadsmodel.cli import main
from tests.services.conftest import LiveServer
from tiles import tile_model

TILE = 100.0


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from synth.district import write_district

    out = tmp_path_factory.mktemp("served") / "input"
    write_district(out, buildings=25, seed=5, points_per_m2=3)
    return out


def _build_args(district: Path, out: Path) -> list[str]:
    return ["build", "--bgt", str(district / "bgt"), "--bag", str(district / "bag.gpkg"),
            "--ahn", *map(str, sorted((district / "ahn").glob("*.laz"))), "--out", str(out),
            "--tile-size", str(TILE), "--workers", "1"]


def _urls(out: Path, f: Path) -> list[str]:
    """Every way a client could ask the server for file `f` below the data folder `out`."""
    rel = f.relative_to(out).as_posix()
    urls = [f"/{quote(rel)}", f"/tiles/{quote(rel)}", f"/tiles/%2e%2e/{quote(rel)}", f"/tiles/..%2f{quote(rel)}"]
    if rel.startswith("tiles/"):
        urls.append(f"/tiles/{quote(rel.removeprefix('tiles/'))}")
    if rel.startswith(f"{WORK_DIR}/"):
        urls.append(f"/tiles/{quote(rel.removeprefix(f'{WORK_DIR}/'))}")  # where earlier builds served them
    return urls


@pytest.mark.slow
def test_no_work_file_in_the_served_folder_and_none_served(district, tmp_path):
    inp, out = tmp_path / "input", tmp_path / "model"
    shutil.copytree(district, inp)
    laz = sorted((inp / "ahn").glob("*.laz"))[0]
    good = laz.read_bytes()
    laz.write_bytes(good[: len(good) * 6 // 10])  # a failed run first: header intact, points cut off
    # exit 3 when the other files gave a usable partial model, 2 when it was not published at all
    assert main(_build_args(inp, out)) in (2, 3)
    assert any((out / WORK_DIR).rglob("*.pkl")), "the run wrote work files"
    assert not (out / "tiles").exists(), "a failed run leaves nothing in the served folder"

    laz.write_bytes(good)
    assert main(_build_args(inp, out)) == 0
    assert not (out / "tiles").exists()
    tile_model(out, out / "tiles")
    products = {p for p in (out / "tiles").rglob("*") if p.is_file()}
    work_files = [p for p in (out / WORK_DIR).rglob("*") if p.is_file()]
    assert len(work_files) > 50 and all(".pkl" not in p.name and ".pts" not in p.name for p in products)

    with LiveServer(out) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/tiles/buildings/tileset.json").status_code == 200, "the server serves the tilesets"
        answered = {}
        for f in sorted(p for p in out.rglob("*") if p.is_file() and p not in products):
            for url in _urls(out, f):
                r = client.get(url)
                # a 200 is only acceptable for the viewer's own page, never with the file's content
                if r.status_code < 400 and r.content == f.read_bytes():
                    answered[url] = r.status_code
        assert not answered, f"work files or build outputs served: {sorted(answered)[:10]}"


PRODUCTS = ("model.city.json", "model.city.jsonl", "stadsmodel.gpkg", "dtm.tif", "dsm.tif", "report.json")


def _layer_rows(gpkg: Path, layer: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(gpkg) as con:
        return con.execute(f'SELECT * FROM "{layer}" ORDER BY fid').fetchall()


@pytest.mark.slow
def test_tiled_build_publishes_like_the_single_machine_build(district, tmp_path, capsys):
    """The tiled build goes through the same publication as the single-machine one (etl.writers.publish): a run
    without a usable model leaves the earlier model and its plans as they were, and a good rebuild keeps the
    layers `zoning import` wrote."""
    from tests.conftest import shared_path

    gezichten = shared_path("rce-zuid-holland", "beschermde-gezichten.geojson")
    out = tmp_path / "model"
    assert main(_build_args(district, out)) == 0
    assert main(["zoning", "import", str(gezichten), "--data", str(out)]) == 0
    gpkg = out / "stadsmodel.gpkg"
    plan_rows = _layer_rows(gpkg, "beschermde_gezichten")
    assert plan_rows, "the import wrote rows to keep"
    before = {n: (out / n).read_bytes() for n in PRODUCTS}

    lazs = sorted((district / "ahn").glob("*.laz"))
    truncated = tmp_path / "truncated.laz"
    truncated.write_bytes(lazs[0].read_bytes()[: lazs[0].stat().st_size // 3])
    args = _build_args(district, out)
    args[args.index("--ahn") + 1: args.index("--out")] = [str(truncated)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not published" in err and "Traceback" not in err
    assert {n: (out / n).read_bytes() for n in PRODUCTS} == before, "the good model is untouched"
    assert (out / "report.rejected.json").exists()
    assert not list(out.glob(".staging-*"))

    assert main(_build_args(district, out)) == 0
    assert _layer_rows(gpkg, "beschermde_gezichten") == plan_rows, "the plan layer survives a tiled rebuild"
    assert not (out / "report.rejected.json").exists()


def test_the_code_version_covers_the_ground_floor_and_all_of_the_etl_and_nothing_else():
    """A change to any module a tile runs (core/, etl/ and its subpackages) re-runs every tile; a change to the
    generators or the services does not."""
    files = {f.relative_to(ROOT).as_posix() for f in code_files()}
    assert {"core/cityjson.py", "core/products.py", "etl/build.py", "etl/writers/store.py", "etl/readers/ahn.py",
            "etl/zoning/store.py", "config/pipeline.yml"} <= files
    assert not any(f.startswith(("synth/", "tiles/", "services/", "stadsmodel/")) for f in files)
