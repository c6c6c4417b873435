"""BGT as GDAL writes it: the real Otterlo IMGeo GML converted by GDAL's GML driver into one SQLite file per
object type, as `ogr2ogr -f SQLite bgt_<type>.sqlite bgt_<type>.gml` does (layer named by the CityGML class in
lower case, column names laundered: ``lokaalid``, ``bgt_status``, ``identificatiebagpnd``, ``eindregistratie``,
``relatievehoogteligging``), then built with a point cloud laid over the crop."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import laspy
import numpy as np
import pyogrio
import pytest
import shapely

from etl.readers.bgt import read_bgt
from stadsmodel.cli import main
from tests.conftest import shared_path

# A crop of Otterlo's village centre: panden, roads, water and green.
CROP = (180900.0, 457000.0, 181200.0, 457300.0)
TYPES = ("pand", "wegdeel", "ondersteunendwegdeel", "waterdeel", "begroeidterreindeel", "onbegroeidterreindeel",
         "scheiding")
GROUND, ROOF = 10.0, 16.0


def _gdal_conversion(tmp: Path, fetch_all_geometries: bool, types: tuple[str, ...] = TYPES) -> dict[str, Path]:
    """bgt_<type>.sqlite per type, converted by GDAL (pyogrio) from the real GML, cut to CROP."""
    gml = tmp / "gml"
    with zipfile.ZipFile(shared_path("nlextract-bgt-otterlo", "otterlo.zip")) as archive:
        for t in types:
            archive.extract(f"bgt_{t}.gml", gml)
    out = tmp / ("sqlite-all" if fetch_all_geometries else "sqlite")
    out.mkdir()
    files = {}
    pyogrio.set_gdal_config_options({"GML_FETCH_ALL_GEOMETRIES": "YES" if fetch_all_geometries else None})
    try:
        for t in types:
            source = gml / f"bgt_{t}.gml"
            (layer, _kind), = pyogrio.list_layers(source)
            frame = pyogrio.read_dataframe(source, bbox=CROP)
            files[t] = out / f"bgt_{t}.sqlite"
            # GDAL's SQLite driver lower-cases the layer name and launders the columns, as ogr2ogr's output has them
            pyogrio.write_dataframe(frame, files[t], layer=layer, driver="SQLite")
    finally:
        pyogrio.set_gdal_config_options({"GML_FETCH_ALL_GEOMETRIES": None})
    return files


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, Path]:
    return _gdal_conversion(tmp_path_factory.mktemp("bgt_gdal"), fetch_all_geometries=False)


def test_gdal_layers_are_named_by_class_and_columns_laundered(converted):
    """The premise: what GDAL writes (so the test keeps testing real conversions when GDAL changes)."""
    assert pyogrio.list_layers(converted["pand"])[0][0] == "buildingpart"
    assert pyogrio.list_layers(converted["wegdeel"])[0][0] == "trafficarea"
    assert pyogrio.list_layers(converted["begroeidterreindeel"])[0][0] == "plantcover"
    fields = set(pyogrio.read_info(converted["pand"])["fields"])
    assert {"lokaalid", "bgt_status", "identificatiebagpnd", "eindregistratie", "relatievehoogteligging"} <= fields


def _current(path: Path) -> gpd.GeoDataFrame:
    frame = pyogrio.read_dataframe(path)
    return frame[frame["eindregistratie"].isna() & frame["terminationdate"].isna()]


def test_every_object_type_is_read_with_its_attributes(converted):
    result = read_bgt(list(converted.values()), object_types=TYPES)
    for t in TYPES:
        source = _current(converted[t])
        read = result.layers[t]
        skipped = [s.feature for s in result.skipped.items if s.path.startswith(str(converted[t]))]
        assert len(source) > 0
        assert set(read["identificatie"]) | set(skipped) == set(source["lokaalid"]), f"{t}: every current object " \
            "is read or reported"
        assert len(read) + len(skipped) == len(source) < len(pyogrio.read_dataframe(converted[t])), \
            f"{t}: historic versions (eindregistratie) are left out"
    wegdeel = result.layers["wegdeel"].set_index("identificatie")
    source = _current(converted["wegdeel"]).set_index("lokaalid")
    assert (wegdeel["functie"] == source.loc[wegdeel.index, "function"]).all()
    assert (wegdeel["fysiek_voorkomen"] == source.loc[wegdeel.index, "surfacematerial"]).all()
    assert (wegdeel["bgt_status"] == "bestaand").all()
    pand = result.layers["pand"]
    assert pand["identificatie_bag_pnd"].str.fullmatch(r"\d{16}").all()


def test_a_pand_whose_geometry_gdal_took_from_its_label_point_is_reported(converted):
    """Without a .gfs, GDAL's GML driver takes a pand's last geometry, the label point of its
    nummeraanduidingreeks: such a pand is skipped with that reason, never silently."""
    result = read_bgt([converted["pand"]], object_types=["pand"])
    points = _current(converted["pand"])
    points = points[points.geometry.geom_type == "Point"]
    assert len(points) > 0, "premise: GDAL gives some panden a point"
    reasons = {s.feature: s.reason for s in result.skipped.items}
    for lokaalid in points["lokaalid"]:
        assert "label position" in reasons[lokaalid]


def test_with_all_geometries_gdal_gives_every_pand_its_footprint(tmp_path):
    # (only pand: GDAL then also builds the kruinlijn of some wegdelen, and refuses one of them)
    files = _gdal_conversion(tmp_path, fetch_all_geometries=True, types=("pand",))
    result = read_bgt([files["pand"]], object_types=["pand"])
    current = _current(files["pand"])
    assert (current.geometry.geom_type == "GeometryCollection").any(), "premise: footprint + label point"
    pand = result.layers["pand"]
    assert set(pand["identificatie"]) == set(current["lokaalid"]) and len(result.skipped) == 0
    assert set(pand.geometry.geom_type) <= {"Polygon", "MultiPolygon"}


def _point_cloud(path: Path, footprints: list) -> None:
    """Ground at GROUND every 0.7 m over the crop, roofs at ROOF inside the footprints (class 6)."""
    xs, ys = np.meshgrid(np.arange(CROP[0], CROP[2], 0.7), np.arange(CROP[1], CROP[3], 0.7))
    x, y = xs.ravel(), ys.ravel()
    on_roof = shapely.contains_xy(shapely.union_all(footprints), x, y)
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.offsets, header.scales = [CROP[0], CROP[1], 0.0], [0.001, 0.001, 0.001]
    las = laspy.LasData(header)
    las.x, las.y = x, y
    las.z = np.where(on_roof, ROOF, GROUND)
    las.classification = np.where(on_roof, 6, 2).astype(np.uint8)
    las.write(path)


def test_build_on_gdal_sqlite_files(converted, tmp_path, capsys):
    """`stadsmodel build --bgt bgt_*.sqlite` (no BAG): footprints from the BGT panden, named by their BAG id."""
    source = _current(converted["pand"])
    polygons = source[source.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    laz = tmp_path / "ahn.laz"
    _point_cloud(laz, list(polygons.geometry))
    out = tmp_path / "model"
    code = main(["build", "--bgt", *map(str, converted.values()), "--ahn", str(laz), "--out", str(out)])
    assert "Traceback" not in capsys.readouterr().err
    assert code == 3, "the panden with a label point are reported: partial"
    buildings = gpd.read_file(out / "stadsmodel.gpkg", layer="buildings")
    expected = {"NL.IMBAG.Pand." + i for i in polygons["identificatiebagpnd"].dropna()}
    assert set(buildings["identificatie"]) == expected
    inside = buildings[buildings.within(shapely.box(*CROP).buffer(-5))]
    assert len(inside) >= 10
    assert np.allclose(inside["b3_h_dak_70p"], ROOF, atol=0.01)
    assert np.allclose(inside["b3_h_maaiveld"], GROUND, atol=0.01)
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["bgt"]["wegdeel"]["read"] == len(_current(converted["wegdeel"]))
    assert report["counts"]["bgt"]["wegdeel"]["lifted"] > 0
    roads = gpd.read_file(out / "stadsmodel.gpkg", layer="bgt_wegdeel")
    assert set(roads["identificatie"]) == set(_current(converted["wegdeel"])["lokaalid"])
    assert np.allclose(roads["h_min"], GROUND, atol=0.05)


@pytest.mark.parametrize("layer, file_name, object_type", [
    ("WaterBody", "water.sqlite", "waterdeel"),              # the CityGML class of another encoding
    ("bgt_waterdeel", "water.gpkg", "waterdeel"),            # our own naming
    ("export", "bgt_waterdeel.sqlite", "waterdeel"),         # ogr2ogr -nln export: the file name tells
    ("trafficarea", "bgt_waterdeel.sqlite", "wegdeel"),      # a known layer name wins over the file name
])
def test_object_type_from_layer_or_file_name(converted, tmp_path, layer, file_name, object_type):
    frame = pyogrio.read_dataframe(converted["waterdeel"])
    path = tmp_path / file_name
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG" if file_name.endswith(".gpkg") else "SQLite")
    result = read_bgt([path], object_types=["waterdeel", "wegdeel"])
    assert len(result.layers[object_type]) == len(_current(converted["waterdeel"]))
    other = ({"waterdeel", "wegdeel"} - {object_type}).pop()
    assert len(result.layers[other]) == 0
