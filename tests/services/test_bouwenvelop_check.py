"""The bouwenvelop in the location check: the building's clash with the plan's allowed volume, on the zoned
synthetic district with its envelopes written (etl.envelopes), over HTTP and in both languages."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from tests.helpers.cityjson import schema_errors, solid_problems
from tests.services.conftest import LiveServer
from tests.services.test_location_check import language_problems

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


def test_the_pand_over_its_bouwhoogte_shows_its_excess_in_the_answer(enveloped, zoned_district):
    over = [(pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
            if e["compliance"] == "overschrijdt" and e["max_bouwhoogte"] is not None]
    inside = [(pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
              if e["compliance"] == "binnen_maximum" and e["max_dakhelling"] is None and e["max_bouwhoogte"]]
    assert over and inside
    with LiveServer(enveloped) as server:
        for (pid, e), status in ((over[0], "overschrijdt"), (inside[0], "binnen_envelop")):
            r = httpx.post(f"{server.url}/api/processes/location-check/execution", json={"inputs": {
                "location": {"type": "Point", "coordinates": e["point"]}, "crs": RD, "activities": []}}, timeout=30)
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["building"]["identificatie"] == pid
            env = out["building"]["bouwenvelop"]
            assert env["status"] == status, env
            assert "excess_solid" not in env  # the geometry stays out of the click's answer
            assert env["envelopes"][0]["max_bouwhoogte"] == e["max_bouwhoogte"]
            if status == "overschrijdt":
                # the height line measures the ridge above the maaiveld, the envelope above peil: both over
                assert env["max_excess_height_m"] > 0.5 and env["excess_above_m3"] > 10
            else:
                assert env["excess_above_m3"] <= env["tolerance"]["volume_m3"]
            assert language_problems(out) == []


def test_the_envelopes_as_cityjson_are_closed_solids_of_the_plan_heights(enveloped, cityjson_schema_dir):
    """f=cityjson on the bouwenvelop collection: one GenericCityObject per envelope, a closed outward LoD2 Solid
    whose vertical extent is the plan's height above peil, its attributes the layer's (ids as lists)."""
    import geopandas as gpd

    rows = gpd.read_file(enveloped / "stadsmodel.gpkg", layer="bouwenvelop").set_index("object_id")
    assert len(rows) >= 2
    with LiveServer(enveloped) as server:
        r = httpx.get(f"{server.url}/api/collections/bouwenvelop/items", params={"f": "cityjson", "limit": 100},
                      timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/city+json-seq")
        lines = [json.loads(line) for line in r.text.splitlines()]
        first = next(iter(rows.index))
        one = httpx.get(f"{server.url}/api/collections/bouwenvelop/items/{first}", params={"f": "cityjson"},
                        timeout=30)
    header, features = lines[0], lines[1:]
    assert header["metadata"]["referenceSystem"].endswith("/EPSG/0/7415")
    assert sorted(f["id"] for f in features) == sorted(rows.index)
    scale, translate = np.array(header["transform"]["scale"]), np.array(header["transform"]["translate"])
    for f in features:
        assert schema_errors(f, cityjson_schema_dir, "cityjsonfeature") == []
        co = f["CityObjects"][f["id"]]
        row = rows.loc[f["id"]]
        assert co["type"] == "GenericCityObject" and len(co["geometry"]) == 1
        solid = co["geometry"][0]
        assert solid["type"] == "Solid" and solid["lod"] == "2"
        verts = np.array(f["vertices"]) * scale + translate
        assert solid_problems(solid["boundaries"], verts) == []
        assert verts[:, 2].max() - verts[:, 2].min() == pytest.approx(row["hoogte_boven_peil"], abs=0.01)
        if not row["relatief"]:
            assert verts[:, 2].min() == pytest.approx(row["peil_nap"], abs=0.002)
        assert co["attributes"]["plan_ids"] == json.loads(row["plan_ids"])
        assert co["attributes"]["max_bouwhoogte"] == pytest.approx(row["max_bouwhoogte"])
        assert "solid" not in co["attributes"]
    assert one.status_code == 200 and one.headers["content-type"].startswith("application/city+json")
    doc = one.json()
    assert schema_errors(doc, cityjson_schema_dir, "cityjsonfeature") == []
    assert doc["id"] == first and doc["CityObjects"][first]["type"] == "GenericCityObject"


def test_text_with_markup_reaches_clients_as_it_is_stored(enveloped):
    """pygeoapi wrote "<" as "&lt;" in every JSON body (services.jsontext): the synthetic Verkeer article's
    markup-as-text must arrive as the store holds it, in items and in the location check, with no raw "<" in the
    body (JSON escapes \\u003c instead)."""
    import sqlite3
    from urllib.parse import quote

    with sqlite3.connect(enveloped / "stadsmodel.gpkg") as c:
        stored = c.execute("SELECT tekst FROM regels WHERE artikelnummer = '6'").fetchone()[0]
    assert "<script> en <b>vet</b>" in stored
    with LiveServer(enveloped) as server:
        r = httpx.get(f"{server.url}/api/collections/regels/items", params={"q": "opmaak", "f": "json"}, timeout=30)
        assert r.status_code == 200 and "<" not in r.text and "&lt;" not in r.text
        [hit] = [f for f in r.json()["features"] if f["properties"]["artikelnummer"] == "6"]
        assert hit["properties"]["tekst"] == stored
        item = httpx.get(f"{server.url}/api/collections/regels/items/{quote(hit['id'], safe='')}",
                         params={"f": "json"}, timeout=30)
        assert item.status_code == 200 and item.json()["properties"]["tekst"] == stored
