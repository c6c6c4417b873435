"""OGC API Features over HTTP on loopback, on both backends (GeoPackage store and PostGIS).

Filter results are checked against an independent geopandas query on the same store.
"""

from __future__ import annotations

import json

import geopandas as gpd
import httpx
import pytest
import shapely
from owslib.ogcapi.features import Features

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
RD_NAP = "http://www.opengis.net/def/crs/EPSG/0/7415"


@pytest.fixture(scope="module")
def buildings(service_store) -> gpd.GeoDataFrame:
    return gpd.read_file(service_store / "stadsmodel.gpkg", layer="buildings")


@pytest.fixture(scope="module")
def addresses(service_store) -> gpd.GeoDataFrame:
    return gpd.read_file(service_store / "stadsmodel.gpkg", layer="addresses")


def hits(server, collection: str, **params) -> int:
    r = httpx.get(f"{server.url}/api/collections/{collection}/items",
                  params={"resulttype": "hits", **params}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["numberMatched"]


def all_ids(server, collection: str, **params) -> list[str]:
    r = httpx.get(f"{server.url}/api/collections/{collection}/items",
                  params={"limit": 10000, "skipGeometry": "true", **params}, timeout=30)
    assert r.status_code == 200, r.text
    return [f["id"] for f in r.json()["features"]]


def test_owslib_lists_collections_and_reads_items(server, buildings):
    api = Features(f"{server.url}/api")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"buildings", "addresses", "proef_vlakken", "dtm", "dsm"} <= ids
    items = api.collection_items("buildings", limit=5)
    assert len(items["features"]) == 5
    assert items["numberMatched"] == len(buildings)
    one = items["features"][0]
    assert set(one["properties"]) >= {"identificatie", "b3_h_maaiveld", "b3_h_dak_70p", "oorspronkelijkbouwjaar"}
    item = api.collection_item("buildings", one["id"])
    assert item["properties"]["identificatie"] == one["id"]


def test_unknown_layer_is_served_generically(server):
    r = httpx.get(f"{server.url}/api/collections/proef_vlakken", timeout=30)
    assert r.status_code == 200
    assert "proef_vlakken" in r.json()["description"]


@pytest.mark.parametrize("cql, query", [
    ("b3_h_dak_70p > 10", lambda d: d["b3_h_dak_70p"] > 10),
    ("oorspronkelijkbouwjaar BETWEEN 1900 AND 1930", lambda d: d["oorspronkelijkbouwjaar"].between(1900, 1930)),
    ("gebruiksdoel LIKE '%woonfunctie%' AND b3_h_dak_70p < 12",
     lambda d: d["gebruiksdoel"].str.contains("woonfunctie", na=False) & (d["b3_h_dak_70p"] < 12)),
    ("CASEI(gebruiksdoel) = casei('WOONFUNCTIE')", lambda d: d["gebruiksdoel"].str.lower() == "woonfunctie"),
    ("oorspronkelijkbouwjaar IN (1915, 1920, 1930) OR b3_reconstructie_onvolledig = true",
     lambda d: d["oorspronkelijkbouwjaar"].isin([1915, 1920, 1930]) | d["b3_reconstructie_onvolledig"]),
    ("NOT (b3_h_dak_70p - b3_h_maaiveld >= 8)", lambda d: ~(d["b3_h_dak_70p"] - d["b3_h_maaiveld"] >= 8)),
    ("b3_onvolledig_reden IS NULL", lambda d: d["b3_onvolledig_reden"].isna()),
    ("S_INTERSECTS(geometry, POLYGON((4.3725 52.0075, 4.3745 52.0075, 4.3745 52.0085, 4.3725 52.0085, "
     "4.3725 52.0075)))",
     lambda d: d.intersects(gpd.GeoSeries([shapely.box(4.3725, 52.0075, 4.3745, 52.0085)], crs="OGC:CRS84")
                            .to_crs(28992).iloc[0])),
])
def test_cql2_text_counts_match_geopandas(server, buildings, cql, query):
    expected = int(query(buildings).sum())
    assert 0 < expected < len(buildings), "the case must discriminate"
    assert hits(server, "buildings", filter=cql, **{"filter-lang": "cql2-text"}) == expected


def test_cql2_json_filter_in_body_and_query_counts(server, buildings):
    flt = {"op": "and", "args": [
        {"op": ">=", "args": [{"property": "b3_h_dak_70p"}, 8]},
        {"op": "s_intersects", "args": [{"property": "geometry"},
                                        {"bbox": [4.3720, 52.0070, 4.3740, 52.0080]}]},
    ]}
    box = gpd.GeoSeries([shapely.box(4.3720, 52.0070, 4.3740, 52.0080)], crs="OGC:CRS84").to_crs(28992).iloc[0]
    expected = int(((buildings["b3_h_dak_70p"] >= 8) & buildings.intersects(box)).sum())
    assert expected > 0
    posted = httpx.post(f"{server.url}/api/collections/buildings/items", params={"resulttype": "hits"},
                        content=json.dumps(flt), headers={"Content-Type": "application/query-cql-json"}, timeout=30)
    assert posted.status_code == 200, posted.text
    assert posted.json()["numberMatched"] == expected
    in_query = hits(server, "buildings", filter=json.dumps(flt), **{"filter-lang": "cql2-json"})
    assert in_query == expected


def test_bbox_is_exact_intersection(server, buildings):
    box = (85330.0, 447080.0, 85400.0, 447130.0)
    expected = set(buildings[buildings.intersects(shapely.box(*box))]["identificatie"])
    envelope_only = set(buildings[buildings.envelope.intersects(shapely.box(*box))]["identificatie"])
    got = set(all_ids(server, "buildings", bbox=",".join(map(str, box)), **{"bbox-crs": RD}))
    assert got == expected
    assert len(expected) > 3 and envelope_only >= expected


def test_property_query_parameter_filters(server, addresses):
    pc = addresses["postcode"].value_counts().index[0]
    assert hits(server, "addresses", postcode=pc) == int((addresses["postcode"] == pc).sum())


def test_sortby_and_paging(server, buildings):
    ordered = buildings.sort_values(["b3_h_dak_70p", "identificatie"], ascending=[False, True])
    first = httpx.get(f"{server.url}/api/collections/buildings/items",
                      params={"sortby": "-b3_h_dak_70p", "limit": 60, "skipGeometry": "true"}, timeout=30).json()
    heights = [f["properties"]["b3_h_dak_70p"] for f in first["features"]]
    assert heights == sorted(heights, reverse=True) == list(ordered["b3_h_dak_70p"])
    # paging walks the whole collection without gaps or repeats
    seen, url = [], f"{server.url}/api/collections/buildings/items?limit=7&skipGeometry=true"
    while url:
        page = httpx.get(url, timeout=30).json()
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert sorted(seen) == sorted(buildings["identificatie"]) and len(seen) == len(set(seen))


def test_properties_and_skip_geometry(server):
    r = httpx.get(f"{server.url}/api/collections/buildings/items",
                  params={"properties": "b3_h_dak_70p", "skipGeometry": "true", "limit": 3}, timeout=30).json()
    for f in r["features"]:
        assert f.get("geometry") is None
        assert set(f["properties"]) == {"b3_h_dak_70p"}


def test_crs_rd_new_and_crs84(server, buildings):
    one = buildings.iloc[0]
    rd = httpx.get(f"{server.url}/api/collections/buildings/items/{one['identificatie']}",
                   params={"crs": RD}, timeout=30)
    assert rd.status_code == 200 and RD in rd.headers["Content-Crs"]
    assert shapely.geometry.shape(rd.json()["geometry"]).equals_exact(one.geometry, 1e-3)
    ll = httpx.get(f"{server.url}/api/collections/buildings/items/{one['identificatie']}", timeout=30).json()
    x, y = shapely.geometry.shape(ll["geometry"]).centroid.coords[0]
    assert 4.3 < x < 4.4 and 51.9 < y < 52.1  # Delft, lon/lat order


def test_crs_7415_gives_footprint_at_maaiveld(gpkg_server, buildings):
    one = buildings.iloc[3]
    r = httpx.get(f"{gpkg_server.url}/api/collections/buildings/items/{one['identificatie']}",
                  params={"crs": RD_NAP}, timeout=30)
    assert r.status_code == 200
    zs = {c[2] for c in r.json()["geometry"]["coordinates"][0]}
    assert zs == {one["b3_h_maaiveld"]}


@pytest.mark.parametrize("params", [
    {"frobnicate": "1"},
    {"filter": "b3_h_dak_70p >>> 3"},
    {"filter": "no_such_column = 3"},
    {"filter": "T_AFTER(b3_h_dak_70p, DATE('2020-01-01'))"},
    {"sortby": "nope"},
    {"limit": "abc"},
    {"bbox": "1,2,3"},
    {"crs": "http://www.opengis.net/def/crs/EPSG/0/4326x"},
    {"filter-lang": "sql"},
    {"properties": "nope"},
])
def test_bad_requests_are_400_with_ogc_exception(server, params):
    r = httpx.get(f"{server.url}/api/collections/buildings/items", params=params, timeout=30)
    assert r.status_code == 400, (params, r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] and body["description"]


def test_unknown_params_rejected_on_other_endpoints(gpkg_server):
    for path in ("/api", "/api/collections", "/api/collections/buildings", "/api/conformance"):
        r = httpx.get(f"{gpkg_server.url}{path}", params={"nonsense": 1}, timeout=30)
        assert r.status_code == 400, path


def test_missing_item_is_404(server):
    r = httpx.get(f"{server.url}/api/collections/buildings/items/NL.IMBAG.Pand.does-not-exist", timeout=30)
    assert r.status_code == 404


def test_queryables_list_store_columns(server):
    q = httpx.get(f"{server.url}/api/collections/buildings/queryables", timeout=30).json()
    assert {"b3_h_dak_70p", "oorspronkelijkbouwjaar", "identificatie"} <= set(q["properties"])


def test_conformance_declares_filtering_and_no_transactions(server):
    classes = httpx.get(f"{server.url}/api/conformance", timeout=30).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in classes
    assert not any("create-replace-delete" in c or "records" in c for c in classes)


def test_html_pages_render(gpkg_server):
    for path in ("/api", "/api/collections", "/api/collections/buildings/items?limit=2"):
        r = httpx.get(f"{gpkg_server.url}{path}", headers={"Accept": "text/html"}, timeout=30)
        assert r.status_code == 200 and "<html" in r.text.lower(), path
