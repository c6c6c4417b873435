"""The location check measures the roofs: goothoogte, bouwhoogte and dakhelling against the plan, on buildings
whose roofs are known (synth.roofs truth, reconstructed by etl.roofs; the store of tests/services/roofs.py with
its IMRO plan imported). Each verdict names the LoD it rests on and its uncertainty; without an LoD2.2 roof
eaves and pitch are "onbekend" with the reason.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from services.processes.location_check import (
    GOOT_METHOD,
    HEIGHT_METHOD,
    PITCH_METHOD,
    PROCESS_METADATA,
    RIDGE_METHOD,
    LocationCheckProcessor,
)
from tests.services.roofs import FLAT_MIN_DAKHELLING, MARGIN_DEG, MARGIN_M
from tests.services.test_location_check import language_problems

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
TOLERANCE_M = 0.15  # issue 12: eaves and ridge within 0.15 m of the truth
TOLERANCE_DEG = 2.0


@pytest.fixture(scope="module")
def check(roof_store):
    model, panden = roof_store
    processor = LocationCheckProcessor({"name": "location-check", "data": str(model)})

    def run(role: str) -> dict:
        _, out = processor.execute({"location": {"type": "Point", "coordinates": list(panden[role].point)},
                                    "crs": RD, "activity": "bouwen_tot_maximale_hoogte"})
        assert out["building"]["identificatie"] == panden[role].identificatie
        assert language_problems(out) == [], role
        jsonschema.validate(out, PROCESS_METADATA["outputs"]["result"]["schema"])
        return out

    return run


def _assert_on_lod22(verdict: dict, building: dict) -> None:
    assert verdict["lod"] == "2.2"
    assert verdict["uncertainty_m"] == building["dak"]["rmse_m"]["2.2"] and 0 < verdict["uncertainty_m"] < 0.1
    rmse = f"{verdict['uncertainty_m']:.2f}"
    assert "LoD2.2" in verdict["basis"]["nl"] and f"{rmse.replace('.', ',')} m" in verdict["basis"]["nl"]
    assert "LoD2.2" in verdict["basis"]["en"] and f"{rmse} m" in verdict["basis"]["en"]


@pytest.mark.parametrize("role", ["voldoet", "schilddak"])
def test_a_roof_within_every_limit(check, roof_store, role):
    pand = roof_store[1][role]
    out = check(role)
    b, comp = out["building"], out["compliance"]
    assert b["dak"]["lod"] == "2.2" and b["dak"]["dak_type"] == "slanted"
    ridge, eaves = pand.truth.h_nok - pand.z_ground, pand.truth.h_goot - pand.z_ground
    assert comp["method"] == RIDGE_METHOD and comp["measured_height_m"] == pytest.approx(ridge, abs=TOLERANCE_M)
    assert comp["status"] == "binnen_maximum" and comp["max_bouwhoogte_m"] == pand.limits["max_bouwhoogte"]
    _assert_on_lod22(comp, b)

    goot = comp["goothoogte"]
    assert goot["method"] == GOOT_METHOD and goot["measured_m"] == pytest.approx(eaves, abs=TOLERANCE_M)
    assert goot["status"] == "binnen_maximum" and goot["max_goothoogte_m"] == pand.limits["max_goothoogte"]
    assert goot["headroom_m"] == pytest.approx(MARGIN_M, abs=TOLERANCE_M + 0.05)
    assert goot["summary"]["nl"].endswith(f"nog {goot['headroom_m']:.2f} m ruimte".replace(".", ","))
    assert "indicative_eaves_m" not in goot
    _assert_on_lod22(goot, b)

    pitch = comp["dakhelling"]
    assert pitch["method"] == PITCH_METHOD and pitch["status"] == "binnen_grenzen"
    assert pitch["measured_max_deg"] == pytest.approx(pand.truth.pitch_max, abs=TOLERANCE_DEG)
    assert (pitch["min_dakhelling_deg"], pitch["max_dakhelling_deg"]) == (pand.limits["min_dakhelling"],
                                                                          pand.limits["max_dakhelling"])
    assert pitch["summary"]["en"].endswith("within the limits")
    _assert_on_lod22(pitch, b)
    facts = {k: v["value"] for k, v in out["facts"].items()}
    assert facts["hoogte_binnen_maximum"] is facts["goothoogte_binnen_maximum"] is True
    assert facts["dakhelling_binnen_grenzen"] is True


def test_a_roof_over_every_limit(check, roof_store):
    pand = roof_store[1]["voldoet_niet"]
    out = check("voldoet_niet")
    comp = out["compliance"]
    assert comp["status"] == "overschrijdt" and comp["exceedance_m"] == pytest.approx(MARGIN_M, abs=TOLERANCE_M + 0.05)
    goot = comp["goothoogte"]
    assert goot["status"] == "overschrijdt" and goot["exceedance_m"] == pytest.approx(MARGIN_M, abs=TOLERANCE_M + 0.05)
    assert goot["summary"]["nl"].endswith("te hoog") and "exceeds by" in goot["summary"]["en"]
    pitch = comp["dakhelling"]
    assert pitch["status"] == "buiten_grenzen" and pitch["min_dakhelling_deg"] is None
    assert pitch["measured_max_deg"] - pitch["max_dakhelling_deg"] == pytest.approx(MARGIN_DEG, abs=TOLERANCE_DEG + 0.5)
    assert pitch["summary"]["nl"].endswith("te steil") and pitch["summary"]["en"].endswith("too steep")
    _assert_on_lod22(pitch, out["building"])
    facts = {k: v["value"] for k, v in out["facts"].items()}
    assert facts["goothoogte_binnen_maximum"] is facts["dakhelling_binnen_grenzen"] is False
    assert pand.limits["max_dakhelling"] < pand.truth.pitch_max


def test_a_flat_roof_under_a_minimum_pitch(check):
    out = check("plat")
    assert out["building"]["dak"]["dak_type"] == "horizontal"
    pitch = out["compliance"]["dakhelling"]
    assert pitch["status"] == "buiten_grenzen" and pitch["measured_max_deg"] == 0.0
    assert pitch["min_dakhelling_deg"] == FLAT_MIN_DAKHELLING
    assert pitch["summary"]["nl"].endswith("te flauw") and pitch["summary"]["en"].endswith("too shallow")
    assert out["compliance"]["goothoogte"]["status"] == "binnen_maximum"  # a flat roof's eaves: its edge


def test_without_an_lod22_roof_eaves_and_pitch_are_unknown(check, roof_store):
    pand = roof_store[1]["zonder_dak"]
    assert pand.model.best_lod == "1.2" and pand.model.reason
    out = check("zonder_dak")
    b, comp = out["building"], out["compliance"]
    assert b["dak"]["lod"] == "1.2" and b["dak"]["lod_terugval_reden"] == pand.model.reason
    # the height still has its figure, from the highest roof point, and says so
    assert comp["method"] == HEIGHT_METHOD and comp["lod"] is None and comp["status"] == "binnen_maximum"
    assert "LoD2.2" in comp["basis"]["nl"] and "LoD2.2" in comp["basis"]["en"]
    for key, limit in (("goothoogte", "max_goothoogte_m"), ("dakhelling", "max_dakhelling_deg")):
        verdict = comp[key]
        assert verdict["status"] == "onbekend" and verdict[limit] is not None, key  # the plan does set it
        assert verdict["summary"] == verdict["reason"]
        assert "geen LoD2.2-dak" in verdict["reason"]["nl"] and "no LoD2.2 roof" in verdict["reason"]["en"]
        assert "best model: LoD1.2" in verdict["reason"]["en"]
        assert not {"headroom_m", "exceedance_m", "measured_m", "measured_max_deg", "lod"} & set(verdict)
    facts = {k: v["value"] for k, v in out["facts"].items()}
    assert facts["goothoogte_binnen_maximum"] is None and facts["dakhelling_binnen_grenzen"] is None


def test_a_store_without_roofs_says_so(service_store):
    """A store built before LoD1.3/2.2 (no roof columns): eaves and pitch unknown, the height as before."""
    import pyogrio

    processor = LocationCheckProcessor({"name": "location-check", "data": str(service_store)})
    pand = pyogrio.read_dataframe(service_store / "stadsmodel.gpkg", layer="buildings", max_features=1)
    point = pand.geometry.iloc[0].representative_point()
    _, out = processor.execute({"location": {"type": "Point", "coordinates": [point.x, point.y]}, "crs": RD})
    assert out["building"]["dak"] is None
    assert out["building"]["measured_height_method"] == HEIGHT_METHOD
    assert language_problems(out) == []


def test_pitch_limits_from_maatvoering_and_omgevingsnorm():
    """The strictest limit wins: the highest minimum, the lowest maximum, whichever register sets it; IMRO
    spells the waardeType several ways (maximum / maximale, with or without a unit)."""
    from services.processes.location_check import _pitch_limit

    def maatvoering(ident: str, waarden: list[tuple[str, str]]) -> dict:
        return {"identificatie": ident, "naam": "maatvoering", "plan_naam": "Plan",
                "waarden": json.dumps([{"waardetype": t, "waarde": w} for t, w in waarden])}

    def norm(kind: str, value: float) -> dict:
        return {"type": kind, "kwantitatieve_waarde": value, "naam": kind, "locatie_noemer": "woongebied",
                "plan_naam": "Omgevingsplan"}

    found = {"maatvoering": [maatvoering("MV-1", [("minimum dakhelling", "20"), ("maximale dakhelling (°)", "55,5"),
                                                  ("maximum bouwhoogte (m)", "12")]),
                             maatvoering("MV-2", [("vrije tekst", "plat dak")])],
             "ow_omgevingsnorm": [norm("MinimumDakhelling", 30.0), norm("MaximumDakhelling", 60.0),
                                  norm("MaximumBouwhoogte", 9.0)]}
    low, low_src = _pitch_limit(found, "min")
    high, high_src = _pitch_limit(found, "max")
    assert (low, high) == (30.0, 55.5)
    assert "omgevingsnorm 'MinimumDakhelling' op woongebied" in low_src["nl"]
    assert high_src == {"nl": "maatvoering MV-1 'maatvoering' (Plan)", "en": "maatvoering MV-1 'maatvoering' (Plan)"}
    assert _pitch_limit({"maatvoering": [], "ow_omgevingsnorm": []}, "max") == (None, None)
