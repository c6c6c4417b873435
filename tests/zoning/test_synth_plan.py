"""The synthetic plan: known zoning over a district, imported and checked point by point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.zoning import import_zoning
from etl.zoning.synth_plan import EXCEEDANCE_M, HEADROOM_M, write_synthetic_plan
from services.processes.location_check import check_location, open_store
from tests.zoning.standin_district import write_standin_district


@pytest.fixture(scope="module")
def zoned(tmp_path_factory) -> tuple[Path, dict]:
    """Stand-in district + its store, with the synthetic plan and monuments imported."""
    d = write_standin_district(tmp_path_factory.mktemp("district"))
    files = write_synthetic_plan(d)
    report = import_zoning(files, d)
    assert not report.rejected and not len(report.skipped)
    return d, json.loads((d / "zoning" / "expected.json").read_text())


def test_plan_files_are_real_formats(zoned):
    d, expected = zoned
    gml = (d / "zoning" / f"{expected['plan_id']}.gml").read_text()
    assert 'xmlns:imro="http://www.geonovum.nl/imro/2012/1.1"' in gml
    gez = json.loads((d / "zoning" / "rce-beschermde-gezichten.geojson").read_text())
    lon, lat = gez["features"][0]["geometry"]["coordinates"][0][0]
    assert 3 < lon < 8 and 50 < lat < 54  # lon/lat, as RCE exports are


def test_every_pand_gets_its_known_answer(zoned):
    d, expected = zoned
    store = open_store(d)
    statuses = {"overschrijdt": 0, "binnen_maximum": 0, "onbekend": 0}
    for pid, exp in expected["panden"].items():
        res = check_location(store, *exp["point"])
        facts = {k: v["value"] for k, v in res["facts"].items()}
        assert res["building"]["identificatie"] == pid
        assert res["building"]["addresses"], pid
        assert facts["bestemmingshoofdgroep"] == exp["bestemming"], pid
        assert facts["in_bouwvlak"] is exp["in_bouwvlak"], pid
        assert facts["rijksmonument"] is exp["rijksmonument"], pid
        assert facts["beschermd_gezicht"] is exp["beschermd_gezicht"], pid
        comp = res["compliance"]
        assert comp["max_bouwhoogte_m"] == exp["max_bouwhoogte"], pid
        if exp["max_bouwhoogte"] is None:
            assert comp["status"] == "onbekend" and "no maximum bouwhoogte" in comp["reason"]
        else:
            assert comp["status"] == exp["compliance"], pid
            if comp["status"] == "overschrijdt":
                assert comp["exceedance_m"] == pytest.approx(EXCEEDANCE_M, abs=0.1)
            else:
                assert comp["headroom_m"] == pytest.approx(HEADROOM_M, abs=0.1)
            assert comp["goothoogte"]["max_goothoogte_m"] == 6.0
            assert comp["goothoogte"]["status"] == "onbekend"
        statuses[comp["status"]] += 1
    assert statuses["overschrijdt"] == 1 and statuses["binnen_maximum"] > 5 and statuses["onbekend"] > 5


def _first(expected, **want):
    return next(e for e in expected["panden"].values() if all(e.get(k) == v for k, v in want.items()))


def _outcome(res, activity):
    return next(a for a in res["activities"] if a["activity"] == activity)


def test_rule_outcomes_on_known_places(zoned):
    d, expected = zoned
    store = open_store(d)
    full = {"achtererf": "ja", "hoogte": "ja", "oppervlakte": "ja", "zichtbaar": "nee"}

    wonen = _first(expected, bestemming="wonen", rijksmonument=False, compliance="binnen_maximum")
    res = check_location(store, *wonen["point"], activity="aanbouw", answers=full)
    out = _outcome(res, "aanbouw")
    assert out["outcome"] == "vergunningvrij"
    assert [s["node"] for s in out["trail"]][:2] == ["rijksmonument", "bestemming"]
    assert out["trail"][0]["source"] == "data" and out["trail"][2]["source"] == "gebruiker"
    assert any("2.29" in c["nl"] for c in out["citations"])

    # the same place without answers: onbekend, with the first open question
    out = _outcome(check_location(store, *wonen["point"], activity="aanbouw"), "aanbouw")
    assert out["outcome"] == "onbekend" and out["open_questions"][0]["id"] == "achtererf"

    monument = _first(expected, rijksmonument=True)
    out = _outcome(check_location(store, *monument["point"], activity="dakkapel"), "dakkapel")
    assert out["outcome"] == "vergunning_nodig" and out["citations"][0]["id"] == "ow_5_1_rijksmonument"

    groen = _first(expected, bestemming="groen")
    out = _outcome(check_location(store, *groen["point"], activity="aanbouw"), "aanbouw")
    assert out["outcome"] == "vergunning_nodig"
    assert any("artikel 5" in c["nl"] for c in out["citations"])  # the plan's Groen article is cited

    # bouwen tot maximale hoogte: within the maximum → in-plan; above → permit; no maatvoering → onbekend
    h = wonen["max_bouwhoogte"]
    res = check_location(store, *wonen["point"], activity="bouwen_tot_maximale_hoogte", answers={"geplande_hoogte": h - 0.5})
    assert _outcome(res, "bouwen_tot_maximale_hoogte")["outcome"] == "vergunning_nodig"
    assert _outcome(res, "bouwen_tot_maximale_hoogte")["trail"][-1]["node"] == "gezicht"
    res = check_location(store, *wonen["point"], activity="bouwen_tot_maximale_hoogte", answers={"geplande_hoogte": h + 3})
    assert _outcome(res, "bouwen_tot_maximale_hoogte")["trail"][-1]["answer"] == "nee"
    centrum = _first(expected, bestemming="centrum", in_bouwvlak=True)
    out = _outcome(check_location(store, *centrum["point"], activity="bouwen_tot_maximale_hoogte"),
                   "bouwen_tot_maximale_hoogte")
    assert out["outcome"] == "onbekend" and out["trail"][-1]["node"] == "maximum_bekend"

    # a spot in the plan but on no building: zonnepanelen cannot be judged
    x, y = wonen["point"]
    out = _outcome(check_location(store, x, y - 6.0, activity="zonnepanelen"), "zonnepanelen")
    assert out["outcome"] == "onbekend" and "geen gebouw" in out["text"]["nl"]


def test_reimport_replaces_plan_rows(zoned):
    d, expected = zoned
    import sqlite3

    def count():
        with sqlite3.connect(d / "stadsmodel.gpkg") as c:
            return c.execute("SELECT count(*) FROM bouwvlak").fetchone()[0]

    before = count()
    import_zoning([d / "zoning" / f"{expected['plan_id']}.gml"], d)
    assert count() == before
