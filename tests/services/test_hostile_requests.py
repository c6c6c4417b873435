"""Requests that made the server answer 500 (or a wrong 200): each is now a 400 saying why, or a right 200.

Both backends (``server``): the checks live before pygeoapi, but the stores fail differently when one slips
through (SQLite overflows, PostgreSQL refuses the types).
"""

from __future__ import annotations

import json

import httpx
import pytest

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


def _items(server, **params) -> httpx.Response:
    return httpx.get(f"{server.url}/api/collections/buildings/items", params={"f": "json", **params}, timeout=60)


def _refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:500])
    text = response.json()["description"]
    for word in words:
        assert word in text, text


@pytest.mark.parametrize("bbox, words", [
    ("4.37,95,4.38,96", ["latitude"]),
    ("4.37,-91,4.38,52", ["latitude"]),
    ("nan,52,4.38,52.01", ["finite"]),
    ("4.37,52,inf,52.01", ["finite"]),
    ("-inf,52,4.38,52.01", ["finite"]),
    ("1e300,52,1e301,52.01", ["longitude"]),
    ("4.37,52,4.38", ["4 numbers"]),
    ("4.38,52,4.37,52.01", ["minx"]),
])
def test_bad_bbox_is_a_400_with_the_reason(server, bbox, words):
    _refused(_items(server, bbox=bbox), *words)


def test_bad_bbox_in_rd_is_refused_too(server):
    _refused(_items(server, bbox="nan,447000,85400,447100", **{"bbox-crs": RD}), "finite")
    _refused(_items(server, bbox="1e300,447000,1e301,447100", **{"bbox-crs": RD}), "1e9")


def test_huge_offset_is_an_empty_page_or_a_400(server):
    r = _items(server, offset="9223372036854775807")
    _refused(r, "offset")
    r = _items(server, offset=str(2**40))
    assert r.status_code == 200 and r.json()["features"] == [], r.text[:300]


def test_integer_beyond_64_bits_is_a_400(server):
    _refused(_items(server, b3_n_punten="99999999999999999999999"), "64-bit")
    _refused(_items(server, filter="b3_n_punten > 99999999999999999999999"), "64-bit")


def test_degenerate_polygon_filter_is_a_400(server):
    _refused(_items(server, filter="S_INTERSECTS(geometry,POLYGON((4.37 52,4.37 52,4.37 52,4.37 52)))"),
             "invalid geometry")


def test_comparing_a_number_with_text_is_a_400_not_an_empty_200(server):
    _refused(_items(server, filter="b3_h_dak_70p > 'abc'"), "b3_h_dak_70p", "number")
    _refused(_items(server, filter="identificatie = 5"), "identificatie", "string")
    # the right types still work
    r = _items(server, filter="b3_h_dak_70p > 3 AND identificatie LIKE 'NL.IMBAG%'")
    assert r.status_code == 200 and r.json()["numberMatched"] > 0


ENDPOINTS = ["/api", "/api/openapi", "/api/conformance", "/api/collections", "/api/collections/buildings",
             "/api/collections/buildings/items", "/api/collections/buildings/queryables",
             "/api/collections/buildings/schema", "/api/collections/dtm/coverage", "/api/processes",
             "/api/processes/location-check", "/api/processes/bouwplan-check", "/api/jobs"]


@pytest.mark.parametrize("accept", ["text/html;q=0", "text/html;q=0, application/json;q=0", "*/*;q=0.0",
                                    "application/json;q=abc"])
def test_accept_with_zero_weight_is_no_500(server, accept):
    for path in ENDPOINTS:
        r = httpx.get(f"{server.url}{path}", headers={"Accept": accept, "Accept-Language": "nl;q=0"}, timeout=60)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])


def test_deeply_nested_json_body_is_a_400(server):
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/processes/location-check/execution", "/api/processes/bouwplan-check/execution",
                 "/api/collections/buildings/items"):
        r = httpx.post(f"{server.url}{path}", content=deep, headers={"Content-Type": "application/json"}, timeout=60)
        _refused(r, "nested")
    nested = {"op": "=", "args": [{"property": "b3_n_punten"}, 1]}
    for _ in range(70):
        nested = {"op": "not", "args": [nested]}
    _refused(_items(server, filter=json.dumps(nested), **{"filter-lang": "cql2-json"}), "nested")


@pytest.mark.parametrize("params", [
    {"bbox-crs": CRS84}, {"bbox": "4.37,52.0,4.38,52.01", "bbox-crs": CRS84},
    {"bbox": "85290,446980,85400,447100", "bbox-crs": RD}, {"bbox": "4.37,52.0,4.38,52.01", "bbox-crs": "EPSG:4326"},
    {"bbox": "1,2,3"}, {"bbox": "-180,-90,180,90"}, {"bbox": "4.0,51.0,4.1,51.1"}, {"bbox": "nan,1,2,3"},
    {"subset": "x(1"}, {"subset": "x(85300:85400)"}, {"subset": "z(1:2)"}, {"subset": "x(85300)"},
    {"subset": "x(0:1),y(0:1)"}, {"bbox": "4.37,52.0,4.38,52.01", "subset": "x(85300:85400)"},
    {"bbox": "4.37,52.0,4.38,52.01", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/999999"},
])
def test_coverage_answers_200_or_400_never_500(gpkg_server, params):
    r = httpx.get(f"{gpkg_server.url}/api/collections/dtm/coverage", params={"f": "json", **params}, timeout=60)
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    if r.status_code == 400:
        text = r.json()["description"]
        assert "object has no attribute" not in text and "Traceback" not in text, text


def test_coverage_bbox_answers_the_asked_area(gpkg_server):
    url = f"{gpkg_server.url}/api/collections/dtm/coverage"
    world = httpx.get(url, params={"f": "json", "bbox": "-180,-90,180,90"}, timeout=60)
    assert world.status_code == 200
    axes = world.json()["domain"]["axes"]
    assert (axes["x"]["num"], axes["y"]["num"]) == (40, 40)  # all of the 40 x 40 raster
    part = httpx.get(url, params={"f": "json", "bbox": "85300,447000,85400,447100", "bbox-crs": RD}, timeout=60)
    assert part.status_code == 200
    axes = part.json()["domain"]["axes"]
    assert (axes["x"]["num"], axes["y"]["num"]) == (20, 20)  # 100 m of 5 m cells
    outside = httpx.get(url, params={"f": "json", "bbox": "4.0,51.0,4.1,51.1"}, timeout=60)
    _refused(outside, "does not overlap")


def test_link_header_writes_a_long_query_once(server):
    long_filter = "identificatie IN (" + ", ".join(f"'NL.IMBAG.Pand.{i:016d}'" for i in range(600)) + ")"
    r = _items(server, filter=long_filter, limit=1)
    assert r.status_code == 200, r.text[:300]
    link = r.headers["link"]
    assert link.count("NL.IMBAG.Pand.0000000000000599") == 1
    assert len(link) < len(long_filter) * 2


def test_trailing_slash_redirect_stays_on_this_site(server):
    r = httpx.get(f"{server.url}/api/collections/", headers={"Host": "evil.example"}, timeout=30)
    assert r.status_code in (301, 307, 308)
    assert r.headers["location"].startswith("/"), r.headers["location"]
    assert "evil" not in r.headers["location"]


def test_write_methods_on_items_are_405_with_the_options_allow(server):
    item = _items(server, limit=1).json()["features"][0]["id"]
    base = f"{server.url}/api/collections/buildings/items"
    for url, method in ((f"{base}/{item}", "PUT"), (f"{base}/{item}", "DELETE"), (f"{base}/{item}", "PATCH"),
                        (base, "PUT"), (base, "DELETE")):
        r = httpx.request(method, url, content=b"{}", headers={"Content-Type": "application/geo+json"}, timeout=30)
        assert r.status_code == 405, (method, url, r.status_code)
        options = httpx.options(url, timeout=30)
        assert options.status_code == 200
        assert r.headers["allow"] == options.headers["allow"]
        assert method not in r.headers["allow"]


def test_bbox_predicate_in_a_text_filter_selects_like_the_bbox_parameter(server):
    box = "4.372,52.0075,4.373,52.008"
    expected = _items(server, bbox=box, limit=1)
    assert expected.status_code == 200 and expected.json()["numberMatched"] > 0
    for text in (f"BBOX(geometry, {box})", f"S_INTERSECTS(geometry, BBOX({box}))",
                 "BBOX(geometry, 4.372,52.0075,0,4.373,52.008,100)",
                 f"bbox(geometry, {box})", f"s_intersects(geometry, Bbox({box}))"):  # CQL2 keywords: any case
        r = _items(server, filter=text, limit=1)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["numberMatched"] == expected.json()["numberMatched"], text
