"""CityJSON encoding, static 3D Tiles serving and OGC API Coverages, over HTTP on loopback."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest
import referencing
import shapely
from owslib.ogcapi.coverages import Coverages

from tests.conftest import missing_tier


@pytest.fixture(scope="module")
def feature_validator(cityjson_schema_dir):
    resources = []
    for path in cityjson_schema_dir.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((path.name, referencing.Resource.from_contents(schema)))
        resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((cityjson_schema_dir / "cityjsonfeature.schema.json").read_text())
    return jsonschema.Draft7Validator(schema, registry=registry)


def test_cityjson_item_is_valid_feature_with_lod12_solid(server, feature_validator, service_store):
    import geopandas as gpd

    row = gpd.read_file(service_store / "stadsmodel.gpkg", layer="buildings").iloc[5]
    r = httpx.get(f"{server.url}/api/collections/buildings/items/{row['identificatie']}",
                  params={"f": "cityjson"}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/city+json")
    doc = r.json()
    errors = [e.message for e in feature_validator.iter_errors(doc)]
    assert not errors, errors[:3]
    co = doc["CityObjects"][row["identificatie"]]
    assert co["type"] == "Building" and co["geometry"][0]["lod"] == "1.2"
    zs = {v[2] for v in doc["vertices"]}
    assert zs == {row["b3_h_maaiveld"], row["b3_h_dak_70p"]}
    xy = shapely.MultiPoint([v[:2] for v in doc["vertices"]])
    assert xy.convex_hull.buffer(0.01).contains(row.geometry.convex_hull)


def test_cityjson_list_is_cityjsonseq(server, feature_validator):
    r = httpx.get(f"{server.url}/api/collections/buildings/items",
                  params={"f": "cityjson", "limit": 4, "filter": "b3_h_dak_70p > 5"}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/city+json-seq")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[0]["type"] == "CityJSON" and lines[0]["version"] == "2.0"
    assert lines[0]["metadata"]["referenceSystem"].endswith("/EPSG/0/7415")
    assert len(lines) == 5
    for f in lines[1:]:
        assert not list(feature_validator.iter_errors(f))
        assert all(isinstance(c, int) for v in f["vertices"] for c in v)
        building = f["CityObjects"][f["id"]]
        assert building["attributes"]["b3_h_dak_70p"] > 5


def test_cityjson_only_for_buildings(gpkg_server):
    r = httpx.get(f"{gpkg_server.url}/api/collections/addresses/items", params={"f": "cityjson"}, timeout=30)
    assert r.status_code == 400


def test_tiles_static_media_types_cors_cache_and_ranges(gpkg_server, service_store):
    tiles = service_store / "tiles" / "sibbe"
    if not tiles.is_dir():
        missing_tier("3D Tiles sample (pg2b3dm-3dtiles) not available in ../shared/data")
    base = f"{gpkg_server.url}/tiles/sibbe"
    ts = httpx.get(f"{base}/tileset.json", headers={"Origin": "http://example.org"}, timeout=30)
    assert ts.status_code == 200 and ts.headers["content-type"].startswith("application/json")
    assert ts.headers["access-control-allow-origin"] == "*"
    assert ts.headers["cache-control"] == "no-cache"
    glb = next((tiles / "content").glob("*.glb"))
    full = httpx.get(f"{base}/content/{glb.name}", timeout=30)
    assert full.headers["content-type"] == "model/gltf-binary" and full.content[:4] == b"glTF"
    assert "max-age" in full.headers["cache-control"]
    part = httpx.get(f"{base}/content/{glb.name}", headers={"Range": "bytes=4-11"}, timeout=30)
    assert part.status_code == 206 and part.content == glb.read_bytes()[4:12]
    sub = httpx.get(f"{base}/subtrees/0_0_0.subtree", timeout=30)
    assert sub.headers["content-type"] == "application/octet-stream"
    for evil in ("/tiles/../stadsmodel.gpkg", "/tiles/%2e%2e/stadsmodel.gpkg",
                 "/tiles/sibbe/..%2f..%2fstadsmodel.gpkg"):
        r = httpx.get(f"{gpkg_server.url}{evil}", timeout=30)
        assert r.status_code == 404 or not r.content.startswith(b"SQLite"), evil


def test_openapi_alias_and_root(gpkg_server):
    r = httpx.get(f"{gpkg_server.url}/openapi", params={"f": "json"}, follow_redirects=True, timeout=30)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
    assert httpx.get(f"{gpkg_server.url}/", timeout=30).status_code == 200


def test_coverages_with_owslib(gpkg_server, service_store):
    import rasterio

    api = Coverages(f"{gpkg_server.url}/api")
    assert {"dtm", "dsm"} <= set(api.coverages())
    covjson = json.loads(api.coverage("dtm").read())  # OWSLib asks for CoverageJSON
    assert covjson["type"] == "Coverage"
    raw = httpx.get(f"{gpkg_server.url}/api/collections/dtm/coverage", params={"f": "GTiff"}, timeout=30).content
    with rasterio.MemoryFile(raw) as mem, mem.open() as src, rasterio.open(service_store / "dtm.tif") as ref:
        assert src.shape == ref.shape
        assert (src.read(1) == ref.read(1)).all()
