"""The location-check process on the zoned synthetic district (synth.district → etl.build → zoning import): the
processor directly, and over HTTP on loopback through OWSLib against the project's server (services.app).
"""

from __future__ import annotations

import re

import jsonschema
import pytest

from services.processes.location_check import PROCESS_METADATA, LocationCheckInputError, LocationCheckProcessor, to_rd
from services.rules import load_rules
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
    from core.crs import rdnap_to_etrs89

    lat, lon, _ = rdnap_to_etrs89(*exp["point"], 0.0)
    assert out["location"]["crs84"] == pytest.approx([lon, lat], abs=1e-7)  # asked in RD, answered in both


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
    answers = {"slopen": {"hoeveelheid": "nee"}, "erfafscheiding": {"voorerf": "nee", "hoogte_achter": "ja"}}
    _, out = processor.execute({**_rd_location(exp["point"]), "answers": answers})
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
    assert "could not be measured" in comp["reason"]["en"] and "niet worden gemeten" in comp["reason"]["nl"]
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


# ---- every generated text in Dutch and English

# Subtrees that pass the registers' and plans' own records on as imported (names, ids, addresses): data,
# not texts the process writes.
RECORD_KEYS = {"plans", "monuments", "beschermde_gezichten", "addresses", "answers", "envelopes"}
# Anywhere else a plain string may only be an identifier, a code, a formula or a value from the data.
PLAIN_KEYS = {"activity", "outcome", "node", "source", "answer", "value", "id", "type", "fact", "answers_fact", "url",
              "conclusion", "question", "decision", "rule", "output", "object_id", "overridden_by_user",
              "status", "method", "indicative_method", "measured_height_method", "identificatie", "gebruiksdoel",
              "onvolledig_reden", "lod", "dak_type", "lod_terugval_reden", "solid_lod"}
# Words that give a text away as written in the other language.
ENGLISH_WORDS = {"the", "no", "not", "could", "answered", "measured", "exceeds"}
DUTCH_WORDS = {"het", "geen", "niet", "kon", "beantwoord", "gemeten", "hoog"}


def language_problems(value, path: str = "$") -> list[str]:
    """Every string meant for people must be a {"nl": ..., "en": ...} text with both languages filled in."""
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in language_problems(v, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    problems = []
    if "nl" in value or "en" in value:  # a text (a citation also carries its id and url)
        nl, en = value.get("nl"), value.get("en")
        if not (isinstance(nl, str) and nl.strip() and isinstance(en, str) and en.strip()):
            return [f"{path}: not filled in both languages: {value!r}"]
        if "lang" in value:  # a source's own text in one language (services.rules.source_text), shown as it is
            if value["lang"] not in ("nl", "en") or nl != en:
                problems.append(f"{path}: a source text must carry one text and its language: {value!r}")
            return problems
        if english := ENGLISH_WORDS & set(re.findall(r"\w+", nl.lower())):
            problems.append(f"{path}.nl reads as English ({', '.join(sorted(english))}): {nl!r}")
        if dutch := DUTCH_WORDS & set(re.findall(r"\w+", en.lower())):
            problems.append(f"{path}.en reads as Dutch ({', '.join(sorted(dutch))}): {en!r}")
        value = {k: v for k, v in value.items() if k not in ("nl", "en")}
    for key, v in value.items():
        if key in RECORD_KEYS:
            continue
        if isinstance(v, str) and key not in PLAIN_KEYS:
            problems.append(f"{path}.{key}: a plain string, not a text in both languages: {v!r}")
        problems += language_problems(v, f"{path}.{key}")
    return problems


def _every_answer() -> dict:
    """An answer to every question of every rule (by node name), so each activity reaches a conclusion."""
    answers = {}
    for rules in load_rules().values():
        for name, node in rules.doc["nodes"].items():
            if "question" in node:
                answers[name] = 3 if node.get("type") == "getal" else "ja"
    return answers


def test_language_check_catches_an_english_only_text():
    """The walk below must not pass vacuously: it finds a plain, a half and a mislabelled text."""
    out = {"facts": {"x": {"value": None, "evidence": "no data"}}, "notes": [{"nl": "geen plan", "en": ""}],
           "compliance": {"status": "onbekend", "reason": {"nl": "the point", "en": "geen gebouw"}},
           "plans": [{"plan_naam": "Bestemmingsplan Centrum"}]}
    assert len(language_problems(out)) == 4


def test_every_generated_text_is_in_dutch_and_english(processor, zoned_district, built_district):
    """A full response (all activities, without and with answers) at a building, an open spot, a monument,
    a beschermd gezicht and a pand without roof points, and at a building in a store without zoning (the
    data is silent, the user answers): every text for people in both languages."""
    panden = sorted(zoned_district.expected["panden"].values(), key=lambda e: e["point"])
    building = next(e for e in panden if e["compliance"] == "overschrijdt")
    unzoned = LocationCheckProcessor({"name": "location-check", "data": str(built_district)})
    places = {
        "building": (processor, building),
        "open spot": (processor, zoned_district.expected["spots"]["wonen"]),
        "monument": (processor, next(e for e in panden if e["rijksmonument"])),
        "beschermd gezicht": (processor, next(e for e in panden if e["beschermd_gezicht"])),
        "no roof points": (processor, next(e for e in panden if e["onbekend_omdat"] == "hoogte_niet_gemeten")),
        "no zoning data": (unzoned, building),
    }
    schema = PROCESS_METADATA["outputs"]["result"]["schema"]
    seen = {"reason": 0, "evidence": 0, "gebruiker": 0, "notes": 0}
    for place, (proc, exp) in places.items():
        for answers in ({}, _every_answer()):
            _, out = proc.execute({**_rd_location(exp["point"]), "answers": answers})
            assert len(out["activities"]) == len(load_rules())
            assert language_problems(out) == [], place
            jsonschema.validate(out, schema)  # the output the process description promises
            trail = [s for a in out["activities"] for s in a["trail"]]
            seen["reason"] += sum("reason" in a for a in out["activities"])
            seen["evidence"] += sum("evidence" in s for s in trail)
            seen["gebruiker"] += sum(s["source"] == "gebruiker" and "evidence" in s for s in trail)
            seen["notes"] += len(out["notes"])
    assert all(seen.values()), seen  # the walk did see every kind of generated text
