"""The location-check process on the zoned synthetic district (etl.synth → etl.build → zoning import): the
processor directly, and over HTTP on loopback through OWSLib against the project's server (services.app).
"""

from __future__ import annotations

import pytest

from services.processes.location_check import LocationCheckInputError, LocationCheckProcessor, to_rd
from tests.services.conftest import LiveServer

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


@pytest.fixture(scope="module")
def processor(zoned_district):
    return LocationCheckProcessor({"name": "location-check", "data": str(zoned_district.model)})


def _exceeding(expected: dict) -> tuple[str, dict]:
    return next((pid, e) for pid, e in sorted(expected["panden"].items()) if e["compliance"] == "overschrijdt")


def _rd_location(point) -> dict:
    return {"location": {"type": "Point", "coordinates": point}, "crs": RD}


def test_rd_point_returns_building_plan_and_exceedance(processor, zoned_district):
    pid, exp = _exceeding(zoned_district.expected)
    mime, out = processor.execute({**_rd_location(exp["point"]), "activity": "bouwen_tot_maximale_hoogte"})
    assert mime == "application/json"
    assert out["building"]["identificatie"] == pid
    assert out["plans"][0]["plan_id"] == zoned_district.expected["plan_id"]
    assert out["plans"][0]["plan_naam"] == zoned_district.expected["plan_naam"]
    assert [m["bestemmingshoofdgroep"] for m in out["plans"][0]["enkelbestemming"]] == ["wonen"]
    assert out["plans"][0]["maatvoering"][0]["max_bouwhoogte"] == exp["max_bouwhoogte"]
    assert out["compliance"]["status"] == "overschrijdt" and out["compliance"]["exceedance_m"] > 1.3
    assert [a["activity"] for a in out["activities"]] == ["bouwen_tot_maximale_hoogte"]
    assert out["location"]["crs84"] is None  # asked in RD


def test_crs84_default_matches_rd(processor, zoned_district):
    pid, exp = _exceeding(zoned_district.expected)
    from pyrdnap import RDNAP2018v1

    r = RDNAP2018v1().reverse(*exp["point"], 0.0)
    _, out = processor.execute({"location": {"type": "Point", "coordinates": [r.lon, r.lat]}})
    assert out["building"]["identificatie"] == pid
    assert out["location"]["rd"] == pytest.approx(exp["point"], abs=0.01)
    assert len(out["activities"]) >= 6  # all activities when none is asked
    x, y = to_rd(r.lon, r.lat)
    assert (x, y) == pytest.approx(exp["point"], abs=0.01)
    # EPSG:4326 is lat/lon
    _, out = processor.execute({"location": {"type": "Point", "coordinates": [r.lat, r.lon]},
                                "crs": "http://www.opengis.net/def/crs/EPSG/0/4326", "activity": "dakkapel"})
    assert out["building"]["identificatie"] == pid


def test_answers_nested_per_activity(processor, zoned_district):
    _, exp = next((pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
                  if e["compliance"] == "binnen_maximum" and not e["rijksmonument"])
    _, out = processor.execute({**_rd_location(exp["point"]),
                                "answers": {"slopen": {"hoeveelheid": "nee"}, "erfafscheiding": {"voorerf": "nee",
                                                                                                 "hoogte_achter": "ja"}}})
    outcomes = {a["activity"]: a["outcome"] for a in out["activities"]}
    assert outcomes["slopen"] == "vergunningvrij" and outcomes["erfafscheiding"] == "vergunningvrij"
    assert outcomes["aanbouw"] == "onbekend"  # its questions were not answered


# Inputs that must be refused; "@wonen" stands for a point of the district on a wonen pand.
BAD_INPUTS = [
    ({"location": {"type": "Point", "coordinates": [1000.0, 1000.0]}, "crs": RD}, "not an RD New coordinate"),
    ({"location": {"type": "Point", "coordinates": [100000.0, 400000.0]}, "crs": RD}, "outside the data"),
    ({"location": {"type": "Point", "coordinates": ["a", 52]}}, "finite numbers"),
    ({"location": {"type": "LineString", "coordinates": [[5, 52], [5.1, 52]]}}, "GeoJSON Point"),
    ({"location": {"type": "Point", "coordinates": [500, 52]}}, "longitude/latitude"),
    ({"location": "@wonen", "crs": RD, "activity": "zwembad"}, "unknown activity 'zwembad'"),
    ({"location": "@wonen", "crs": "EPSG:3857"}, "unsupported crs"),
    ({"location": "@wonen", "crs": RD, "activity": "slopen", "answers": {"hoeveelheid": "misschien"}}, "ja or nee"),
    ({"location": "@wonen", "crs": RD, "activity": "bouwen_tot_maximale_hoogte",
      "answers": {"geplande_hoogte": "hoog"}}, "must be a number"),
    ({"location": "@wonen", "crs": RD, "answers": ["ja"]}, "answers must be an object"),
    ({}, "missing input 'location'"),
]


@pytest.mark.parametrize("inputs, message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_is_a_400_with_a_clear_message(processor, zoned_district, inputs, message):
    if inputs.get("location") == "@wonen":
        _, exp = _exceeding(zoned_district.expected)
        inputs = {**inputs, "location": {"type": "Point", "coordinates": exp["point"]}}
    with pytest.raises(LocationCheckInputError, match=message) as e:
        processor.execute(inputs)
    assert e.value.http_status_code == 400


@pytest.fixture(scope="module")
def server(zoned_district):
    """The project's ASGI app (services.app) under uvicorn on loopback, serving the zoned district."""
    with LiveServer(zoned_district.model) as live:
        yield f"{live.url}/api"


def test_process_over_http_with_owslib(server, zoned_district):
    from owslib.ogcapi.processes import Processes

    p = Processes(server)
    assert "location-check" in [proc["id"] for proc in p.processes()]
    desc = p.process("location-check")
    assert {"location", "crs", "activity", "answers"} <= set(desc["inputs"])
    pid, exp = _exceeding(zoned_district.expected)
    out = p.execute("location-check", {**_rd_location(exp["point"]), "activity": "aanbouw",
                                       "answers": {"achtererf": "ja", "hoogte": "ja", "oppervlakte": "ja"}})
    out = out["outputs"][0]  # response=document wraps the raw result
    assert out["building"]["identificatie"] == pid
    assert out["compliance"]["status"] == "overschrijdt"
    assert out["compliance"]["max_bouwhoogte_m"] == exp["max_bouwhoogte"]
    aanbouw = out["activities"][0]
    assert aanbouw["activity"] == "aanbouw" and aanbouw["outcome"] == "vergunningvrij"
    assert [c["id"] for c in aanbouw["citations"]] == ["bbl_2_29", "bbl_2_27"]


def test_height_unknown_over_http(server, zoned_district):
    """The pand without roof points: over the wire too, its height is 'onbekend' with a reason, never a number."""
    import httpx

    pid, exp = next((pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
                    if e["onbekend_omdat"] == "hoogte_niet_gemeten")
    r = httpx.post(f"{server}/processes/location-check/execution", json={"inputs": _rd_location(exp["point"])})
    assert r.status_code == 200, r.text
    out = r.json()  # a plain synchronous execute returns the raw result
    comp = out["compliance"]
    assert out["building"]["identificatie"] == pid
    assert comp["status"] == "onbekend" and comp["measured_height_m"] is None
    assert comp["max_bouwhoogte_m"] == exp["max_bouwhoogte"]
    assert "could not be measured" in comp["reason"]
    assert not {"headroom_m", "exceedance_m"} & set(comp)


def test_bad_input_over_http_is_400(server, zoned_district):
    import httpx

    _, exp = _exceeding(zoned_district.expected)
    r = httpx.post(f"{server}/processes/location-check/execution",
                   json={"inputs": {**_rd_location(exp["point"]), "activity": "zwembad"}})
    assert r.status_code == 400
    assert "unknown activity 'zwembad'" in r.text
    r = httpx.post(f"{server}/processes/location-check/execution",
                   json={"inputs": {"location": {"type": "Point", "coordinates": [4.0, 51.0]}}})
    assert r.status_code == 400 and "outside the data" in r.text
