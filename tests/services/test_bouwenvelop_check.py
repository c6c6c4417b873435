"""The bouwenvelop in the location check: the building's clash with the plan's allowed volume, on the zoned
synthetic district with its envelopes written (etl.envelopes), over HTTP and in both languages."""

from __future__ import annotations

import httpx

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
