"""core.gpkg, the one read-only GeoPackage reader of the services: layer metadata and R-tree lookups, checked on
a GeoPackage GDAL writes (pyogrio) against what shapely says about the same features."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pyogrio
import pytest
import shapely

from core import gpkg as geopackage

BOXES = [shapely.box(x, y, x + 10, y + 5) for x, y in ((85000, 447000), (85050, 447020), (85100, 447100))]


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "store.gpkg"
    frame = gpd.GeoDataFrame({"naam": ["a", "b", "c"]}, geometry=BOXES, crs="EPSG:28992")
    pyogrio.write_dataframe(frame, path, layer="vlakken")
    pyogrio.write_dataframe(frame.iloc[:0], path, layer="leeg")
    return path


def test_layers_carry_geometry_column_srs_key_rtree_and_extent(store):
    con = geopackage.connect(store)
    layers = geopackage.feature_layers(con)
    assert set(layers) == {"vlakken", "leeg"}
    layer = layers["vlakken"]
    assert (layer.geometry_column, layer.srs_id, layer.primary_key) == ("geom", 28992, "fid")
    assert list(layer.columns) == ["fid", "geom", "naam"] and layer.columns["naam"] == "TEXT"
    assert layer.rtree == "rtree_vlakken_geom"
    assert layer.extent == pytest.approx(shapely.MultiPolygon(BOXES).bounds)
    assert layers["leeg"].extent is None
    assert geopackage.feature_layers(con, "leeg").keys() == {"leeg"}


def test_extent_falls_back_to_the_rtree(store):
    with sqlite3.connect(store) as con:
        con.execute("UPDATE gpkg_contents SET min_x = NULL, min_y = NULL, max_x = NULL, max_y = NULL")
    layer = geopackage.feature_layers(geopackage.connect(store))["vlakken"]
    assert layer.extent == pytest.approx(shapely.MultiPolygon(BOXES).bounds)


def test_rtree_lookups_give_the_features_whose_envelope_meets_the_box(store):
    con = geopackage.connect(store)
    layer = geopackage.feature_layers(con)["vlakken"]
    box = (85005.0, 447001.0, 85060.0, 447030.0)  # holds the second feature, cuts the first
    expected = {i + 1 for i, b in enumerate(BOXES) if b.intersects(shapely.box(*box))}
    inside = {i + 1 for i, b in enumerate(BOXES) if shapely.box(*box).contains(b)}
    assert expected == {1, 2} and inside == {2}
    assert dict(geopackage.envelope_candidates(con, layer, box)) == {i: i in inside for i in expected}
    rows = geopackage.rows_meeting(con, layer, box)
    assert sorted(r[0] for r in rows) == sorted(expected)
    geoms = geopackage.gpkg_geometries([r[1] for r in sorted(rows)])
    assert all(g.equals(BOXES[i - 1]) for g, i in zip(geoms, sorted(expected)))


def test_a_server_cannot_write_through_its_connection(store):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        geopackage.connect(store).execute("DELETE FROM vlakken")


def test_a_store_in_a_folder_with_uri_characters_opens(tmp_path):
    folder = tmp_path / "plan?versie#2 100%"
    folder.mkdir()
    with sqlite3.connect(folder / "stadsmodel.gpkg") as con:
        con.execute("CREATE TABLE t (a)")
    with geopackage.connect(folder / "stadsmodel.gpkg") as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
