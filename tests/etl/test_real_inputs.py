"""Real inputs as users give them (issue 10): point clouds whose headers cannot be trusted, a run that must not
replace a good model, plans that survive a rebuild, a GML that breaks off, a partial zoning import, an output
path that is a file. Every case runs the `stadsmodel` command line and checks exit status, message and files."""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
from pathlib import Path

import geopandas as gpd
import laspy
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from core.config import pipeline_config
from core.errors import LiftingError
from core.products import is_etl_layer
from etl.build import footprints_from_bgt, lift_margin
from etl.grid import ElevationGrids, GridSpec
from etl.readers.bgt import read_bgt
from etl.writers.publish import Publication, unusable_reason
from stadsmodel.cli import main
from tests.conftest import shared_path

PRODUCTS = ("model.city.json", "model.city.jsonl", "stadsmodel.gpkg", "dtm.tif", "dsm.tif", "report.json")
PLAN = ("imro-b3partners", "NL.IMRO.0664.BPBS03-ON99_Goes.gml")


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from synth.district import write_district

    out = tmp_path_factory.mktemp("real_inputs") / "input"
    write_district(out, buildings=12, seed=3, points_per_m2=4)
    return out


def _args(district: Path, out: Path, ahn: list[Path] | None = None, bgt: list[Path] | None = None) -> list[str]:
    return ["build", "--bgt", *map(str, bgt or [district / "bgt"]), "--bag", str(district / "bag.gpkg"),
            "--ahn", *map(str, ahn if ahn is not None else _lazs(district)), "--out", str(out)]


def _lazs(district: Path) -> list[Path]:
    return sorted((district / "ahn").glob("*.laz"))


@pytest.fixture(scope="module")
def good_model(district, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("real_inputs") / "good"
    assert main(_args(district, out)) == 0
    return out


def _copy(model: Path, to: Path) -> Path:
    shutil.copytree(model, to)
    return to


def _bytes(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in PRODUCTS}


def _truncated(laz: Path, to: Path) -> Path:
    data = laz.read_bytes()
    to.write_bytes(data[: len(data) // 3])
    return to


def _report(out: Path, name: str = "report.json") -> dict:
    return json.loads((out / name).read_text())


def _skip_reasons(report: dict) -> dict[str, str]:
    return {s["file"]: s["reason"] for s in report["skipped"] if s["feature"] is None}


# ---- a failed or empty run never replaces a good model


def test_a_run_without_a_usable_model_keeps_the_earlier_one(district, good_model, tmp_path, capsys):
    out = _copy(good_model, tmp_path / "model")
    before = _bytes(out)
    bad = _truncated(_lazs(district)[0], tmp_path / "truncated.laz")
    code = main(_args(district, out, ahn=[bad]))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "not published" in err and "no building got measured heights" in err and "kept" in err
    assert _bytes(out) == before, "the good model is untouched"
    rejected = _report(out, "report.rejected.json")
    assert str(bad) in _skip_reasons(rejected), "the failed run's report says which file broke"
    assert not list(out.glob(".staging-*")), "no staging folder is left behind"
    # the next good run publishes and clears the rejected report
    assert main(_args(district, out)) == 0
    assert not (out / "report.rejected.json").exists()


def test_a_first_run_without_a_usable_model_publishes_nothing(district, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(_args(district, out, ahn=[_truncated(_lazs(district)[0], tmp_path / "truncated.laz")]))
    assert code == 2 and "Traceback" not in capsys.readouterr().err
    assert not any((out / n).exists() for n in PRODUCTS)


# ---- plans survive a rebuild


def _layer_rows(gpkg: Path, layer: str) -> list[tuple]:
    with sqlite3.connect(gpkg) as con:
        return con.execute(f'SELECT * FROM "{layer}" ORDER BY fid').fetchall()


def test_zoning_layers_survive_a_rebuild(district, good_model, tmp_path):
    out = _copy(good_model, tmp_path / "model")
    plan = shared_path(*PLAN)
    gezichten = shared_path("rce-zuid-holland", "beschermde-gezichten.geojson")
    assert main(["zoning", "import", str(plan), str(gezichten), "--data", str(out)]) == 0
    gpkg = out / "stadsmodel.gpkg"
    zoning = [n for n, _ in pyogrio.list_layers(gpkg) if not is_etl_layer(n)]
    assert {"bestemmingsplangebied", "enkelbestemming", "bouwvlak", "maatvoering", "beschermde_gezichten"} <= \
        set(zoning)
    rows = {n: _layer_rows(gpkg, n) for n in zoning}
    old_buildings = _layer_rows(gpkg, "buildings")

    assert main(_args(district, out)) == 0
    assert {n: _layer_rows(gpkg, n) for n in zoning} == rows, "every plan layer kept, row for row"
    assert len(_layer_rows(gpkg, "buildings")) == len(old_buildings)
    with sqlite3.connect(gpkg) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for n in zoning:
            assert con.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = ?", (n,)).fetchone() == (1,)
            assert con.execute("SELECT count(*) FROM gpkg_geometry_columns WHERE table_name = ?",
                               (n,)).fetchone() == (1,)
            assert con.execute(f'SELECT count(*) FROM "rtree_{n}_geom"').fetchone() == (len(rows[n]),)
    # the spatial index answers as the geometries do
    vlakken = pyogrio.read_dataframe(gpkg, layer="enkelbestemming")
    probe = vlakken.geometry.iloc[0].buffer(-0.5).representative_point().buffer(1).bounds
    hits = pyogrio.read_dataframe(gpkg, layer="enkelbestemming", bbox=probe)
    assert set(hits["identificatie"]) == set(vlakken.loc[vlakken.intersects(shapely.box(*probe)), "identificatie"])
    # and GDAL keeps writing into a carried-over layer: re-importing the plan replaces its rows
    assert main(["zoning", "import", str(plan), "--data", str(out)]) == 0
    assert len(_layer_rows(gpkg, "enkelbestemming")) == len(rows["enkelbestemming"])


# ---- point clouds whose headers cannot be trusted


def _las_like(template: Path, path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    src = laspy.read(template)
    header = laspy.LasHeader(point_format=src.header.point_format.id, version=str(src.header.version))
    header.offsets, header.scales = [float(np.min(x)) if len(x) else 0.0, float(np.min(y)) if len(y) else 0.0,
                                     0.0], src.header.scales
    las = laspy.LasData(header)
    n = len(x)
    las.x, las.y = x, y
    las.z = np.asarray(src.z[:n]) if n else np.zeros(0)
    las.classification = np.asarray(src.classification[:n]) if n else np.zeros(0, dtype=np.uint8)
    las.write(path)
    return path


def _claim_extent(laz: Path, to: Path, minx: float, miny: float, maxx: float, maxy: float) -> Path:
    """A copy whose header claims another extent (the points are unchanged): LAS header bytes 179–210."""
    data = bytearray(laz.read_bytes())
    struct.pack_into("<4d", data, 179, maxx, minx, maxy, miny)
    to.write_bytes(bytes(data))
    return to


def test_point_clouds_elsewhere_or_empty_are_reported_and_skipped(district, good_model, tmp_path, capsys):
    lazs = _lazs(district)
    src = laspy.read(lazs[0])
    elsewhere = _las_like(lazs[0], tmp_path / "elsewhere.laz", np.asarray(src.x) + 20_000, np.asarray(src.y))
    empty = _las_like(lazs[0], tmp_path / "empty.laz", np.zeros(0), np.zeros(0))
    out = tmp_path / "model"
    code = main(_args(district, out, ahn=[*lazs, elsewhere, empty]))
    assert code == 3 and "Traceback" not in capsys.readouterr().err
    reasons = _skip_reasons(_report(out))
    assert "does not overlap the modelled area" in reasons[str(elsewhere)]
    assert "no points" in reasons[str(empty)]
    with rasterio.open(out / "dtm.tif") as new, rasterio.open(good_model / "dtm.tif") as old:
        assert new.shape == old.shape and new.transform == old.transform
    b = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings").set_index("identificatie").sort_index()
    a = gpd.read_file(good_model / "stadsmodel.gpkg", layer="buildings").set_index("identificatie").sort_index()
    assert np.allclose(a["b3_h_dak_70p"], b["b3_h_dak_70p"], equal_nan=True)


@pytest.mark.parametrize("only", ["elsewhere", "empty"])
def test_only_unusable_point_clouds_is_a_clear_error(district, tmp_path, capsys, only):
    lazs = _lazs(district)
    src = laspy.read(lazs[0])
    laz = (_las_like(lazs[0], tmp_path / "elsewhere.laz", np.asarray(src.x) + 20_000, np.asarray(src.y))
           if only == "elsewhere" else _las_like(lazs[0], tmp_path / "empty.laz", np.zeros(0), np.zeros(0)))
    out = tmp_path / "model"
    code = main(_args(district, out, ahn=[laz]))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "no usable point cloud" in err and str(laz) in err
    assert not (out / "model.city.json").exists()


def test_a_header_claiming_all_of_the_netherlands_does_not_size_the_grid(district, good_model, tmp_path, capsys):
    """The grid follows the modelled area, not the header: a header claiming RD New's whole extent would need a
    560,000 × 640,000 cell grid."""
    lazs = _lazs(district)
    liar = _claim_extent(lazs[0], tmp_path / "liar.laz", 0.0, 300_000.0, 280_000.0, 620_000.0)
    assert laspy.open(liar).header.maxs[0] == 280_000.0, "premise: the header claims it"
    out = tmp_path / "model"
    code = main(_args(district, out, ahn=[liar, *lazs[1:]]))
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    gpkg = out / "stadsmodel.gpkg"
    boxes = np.array([pyogrio.read_info(gpkg, layer=n)["total_bounds"] for n, _ in pyogrio.list_layers(gpkg)
                      if n == "buildings" or n.startswith("bgt_")])
    m = lift_margin(pipeline_config()) + 0.5  # the lifting margin, and half a cell of snapping
    area = (boxes[:, 0].min() - m, boxes[:, 1].min() - m, boxes[:, 2].max() + m, boxes[:, 3].max() + m)
    with rasterio.open(out / "dtm.tif") as ds:
        left, bottom, right, top = ds.bounds
    assert area[0] <= left and area[1] <= bottom and right <= area[2] and top <= area[3], "within the area"
    assert _report(out)["counts"]["ahn"]["points"] == _report(good_model)["counts"]["ahn"]["points"]


# ---- a GML that breaks off


def test_a_truncated_gml_is_skipped_from_where_it_broke(district, tmp_path, capsys):
    bgt = shutil.copytree(district / "bgt", tmp_path / "bgt")
    broken = bgt / "bgt_wegdeel.gml"
    text = broken.read_text(encoding="utf-8")
    broken.write_text(text[: len(text) // 2], encoding="utf-8")
    complete = text.count("<cityObjectMember>")
    out = tmp_path / "model"
    code = main(_args(district, out, bgt=[bgt]))
    assert code == 3 and "Traceback" not in capsys.readouterr().err
    report = _report(out)
    reason = _skip_reasons(report)[str(broken)]
    assert "not well-formed XML at line" in reason and "objects before it were read" in reason
    read = report["counts"]["bgt"]["wegdeel"]["read"]
    assert 0 < read < complete, "the objects before the break are kept, the rest is missing"
    assert report["counts"]["bgt"]["waterdeel"]["read"] > 0, "the other files are read"
    assert report["counts"]["buildings"]["with_geometry"] > 0


# ---- zoning import: partial is exit 3, a failed import keeps the previous report


def test_a_partial_zoning_import_exits_3_and_a_failed_one_keeps_the_report(tmp_path, capsys):
    good = shared_path(*PLAN)
    text = good.read_text(encoding="utf-8")
    truncated = tmp_path / "truncated.gml"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    data = tmp_path / "data"
    assert main(["zoning", "import", str(good), str(truncated), "--data", str(data)]) == 3
    report_path = data / "zoning_report.json"
    report = json.loads(report_path.read_text())
    assert [r["file"] for r in report["rejected"]] == [str(truncated)] and not report["complete"]
    before = report_path.read_bytes()
    assert main(["zoning", "import", str(truncated), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "nothing imported" in err and "Traceback" not in err
    assert report_path.read_bytes() == before, "the report of the last import that did something stays"
    assert main(["zoning", "import", str(good), "--data", str(data)]) == 0


# ---- an output path that is a file


@pytest.mark.parametrize("verb", ["build", "tiles", "zoning import"])
def test_an_output_folder_that_is_a_file_is_a_clear_error(district, good_model, tmp_path, capsys, verb):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    for path in (target, target / "below"):
        if verb == "build":
            args = _args(district, path)
        elif verb == "tiles":
            args = ["tiles", "--model", str(good_model), "--out", str(path)]
        else:
            args = ["zoning", "import", str(shared_path(*PLAN)), "--data", str(path)]
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and str(path) in err and "must be a folder" in err
    assert target.read_text() == "not a folder"


# ---- BAG ids from INTEGER columns


def test_bgt_pand_with_an_integer_bag_id_gives_16_digit_ids(tmp_path):
    """A BGT pand layer whose identificatiebagpnd is an INTEGER column (leading zero lost), one of them null (the
    column then reads as floats): the footprints are NL.IMBAG.Pand.<16 digits>."""
    wippolder = pyogrio.read_dataframe(shared_path("geoflow-bag-wippolder-delft", "wippolder.gpkg"))
    wippolder = wippolder[wippolder["identificatie"].str.fullmatch(r"\d+")].reset_index(drop=True)
    bag_ids = wippolder["identificatie"].astype("int64").astype("Int64")
    bag_ids.iloc[0] = None
    pand = gpd.GeoDataFrame({"lokaalid": [f"G0503.{i:032x}" for i in range(len(wippolder))],
                             "identificatiebagpnd": bag_ids, "bgt_status": "bestaand"},
                            geometry=wippolder.geometry.values, crs="EPSG:28992")
    path = tmp_path / "bgt_pand.gpkg"
    pyogrio.write_dataframe(pand, path, layer="pand")
    assert pyogrio.read_info(path)["ogr_types"][1] == "OFTInteger64", "premise: an INTEGER column"
    result = read_bgt([path], object_types=["pand"])
    ids = footprints_from_bgt(result.layers["pand"])["identificatie"]
    expected = ["NL.IMGeo.Pand." + pand["lokaalid"][0]] + \
        [f"NL.IMBAG.Pand.{int(v):016d}" for v in bag_ids.iloc[1:]]
    assert list(ids) == expected
    assert ids.iloc[1].startswith("NL.IMBAG.Pand.0503")


def test_a_grid_too_large_for_memory_is_a_clear_error():
    """What no header decides any more, a truly large area still might: a message, not a MemoryError."""
    with pytest.raises(LiftingError, match="does not fit in memory.*tiled build"):
        ElevationGrids(GridSpec(0.0, 620_000.0, 600_000, 660_000, 0.5))


def test_publication_is_all_or_nothing(tmp_path):
    """The mechanism the single-machine and the tiled build share: a run that dies leaves OUT as it was and no
    staging folder; a stale staging folder of a killed run is removed; a staged folder replaces the old one."""
    out = tmp_path / "model"
    (out / "tiles").mkdir(parents=True)
    (out / "tiles" / "old.json").write_text("old")
    (out / "model.city.json").write_text("good")
    stale = out / ".staging-999999999"  # above any pid_max: no such process
    stale.mkdir()
    with pytest.raises(RuntimeError):
        with Publication(out) as publication:
            (publication.staging / "model.city.json").write_text("half")
            raise RuntimeError("killed")
    assert (out / "model.city.json").read_text() == "good"
    assert not list(out.glob(".staging-*"))
    with Publication(out) as publication:
        (publication.staging / "model.city.json").write_text("new")
        (publication.staging / "tiles").mkdir()
        (publication.staging / "tiles" / "new.json").write_text("new")
        publication.publish(unusable_reason(buildings_with_geometry=1, dtm_has_data=True))
    assert (out / "model.city.json").read_text() == "new"
    assert [p.name for p in (out / "tiles").iterdir()] == ["new.json"]
    assert sorted(p.name for p in out.iterdir()) == ["model.city.json", "tiles"]
    assert unusable_reason(0, True) and unusable_reason(3, False) and unusable_reason(3, True) is None
