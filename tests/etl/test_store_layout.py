"""The store has two writers, `build` (etl.writers.store) and `zoning import` (etl.zoning.store), and each writes
only the layers core.products gives it: neither can overwrite the other's."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pytest
import shapely

from core.crs import RD_NEW
from core.products import IMRO_LAYERS, ZONING_LAYERS, is_etl_layer
from etl.writers.store import StoreLayer, write_store
from etl.zoning.imro import LAYERS
from etl.zoning.store import write_layers


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"identificatie": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=RD_NEW)


def test_the_build_refuses_to_write_a_zoning_layer(tmp_path):
    store = tmp_path / "stadsmodel.gpkg"
    with pytest.raises(ValueError, match="monumenten"):
        write_store(store, {"buildings": StoreLayer.whole(_frame()), "monumenten": StoreLayer.whole(_frame())})
    assert not store.exists()


def test_the_zoning_import_refuses_to_write_a_build_layer(tmp_path):
    store = tmp_path / "stadsmodel.gpkg"
    with pytest.raises(ValueError, match="bgt_pand"):
        write_layers(store, {"bgt_pand": [{"identificatie": "a", "geometry": shapely.box(0, 0, 1, 1)}]}, "plan")
    assert not store.exists()


def test_zoning_layers_are_never_the_builds_and_the_imro_layers_come_from_core():
    assert not any(is_etl_layer(name) for name in ZONING_LAYERS)
    assert tuple(LAYERS.values()) == IMRO_LAYERS
    assert LAYERS["Bestemmingsplangebied"] == "bestemmingsplangebied" and LAYERS["Figuur"] == "figuur"


def test_the_store_writer_indexes_identifiers_of_a_layer_written_in_chunks(tmp_path):
    """A layer given tile by tile gets the same identifier index as one given whole; an empty one its schema."""
    chunks = [_frame().assign(identificatie=f"id{k}") for k in range(3)]
    counts = write_store(tmp_path / "s.gpkg", {"buildings": StoreLayer(chunks[0].iloc[:0], iter(chunks)),
                                                "addresses": StoreLayer.whole(_frame().iloc[:0])})
    assert counts == {"buildings": 3, "addresses": 0}
    with sqlite3.connect(tmp_path / "s.gpkg") as con:
        indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert con.execute("SELECT count(*) FROM addresses").fetchone() == (0,)
    assert {"idx_buildings_identificatie", "idx_addresses_identificatie"} <= indexes
