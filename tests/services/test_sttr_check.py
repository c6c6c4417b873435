"""The municipality's own STTR activities on the real chain: `stadsmodel rules import` of the 8 Amsterdam files
into the zoned synthetic district, then the location check answers them, prefilled from the model.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from core.products import RULES_REPORT_NAME, STORE_NAME, TOEPASBARE_REGELS
from services.processes.location_check import LocationCheckInputError, LocationCheckProcessor
from stadsmodel.cli import main
from tests.services.conftest import LiveServer
from tests.services.test_location_check import language_problems

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
ACTIVITIES = ["dakraam-bouwen", "het-wijzigen-van-een-monument-bij-een-dakraam", "kozijn-plaatsen",
              "kozijn-plaatsen-in-een-monument", "zonnepaneel-en-zonneboiler-bouwen",
              "zonnepaneel-en-zonneboiler-monument", "zonwering-rolhek-luik-of-rolluik-bouwen",
              "zonwering-rolhek-luik-of-rolluik-monument"]
# Question ids as the Amsterdam files write them (kozijn-plaatsen-in-een-monument.sttr.xml).
MONUMENT_Q = "uitv__27bca644-4f3c-4782-9235-33fddf6b9840"      # Is het gebouw een monument? (list)
PLAATSEN_Q = "uitv_dbf957ae-3d1e-4713-8454-34406ca722c8"       # Gaat u een kozijn plaatsen of vernieuwen?
NIEUW = "Ik ga een nieuw kozijn plaatsen op een plek waar er eerst geen was."
VERNIEUWEN = "Ik ga een kozijn plaatsen of vernieuwen op een plek waar er eerst al een was."


@pytest.fixture(scope="module")
def rules_model(zoned_district, sttr_dir, tmp_path_factory) -> Path:
    """A copy of the zoned district's store with the 8 STTR files imported through the CLI."""
    model = tmp_path_factory.mktemp("sttr") / "model"
    model.mkdir()
    shutil.copy2(zoned_district.model / STORE_NAME, model / STORE_NAME)
    assert main(["rules", "import", str(sttr_dir), "--data", str(model)]) == 0
    return model


@pytest.fixture(scope="module")
def processor(rules_model):
    return LocationCheckProcessor({"name": "location-check", "data": str(rules_model)})


def _monument_pand(expected: dict) -> tuple[str, dict]:
    return next((pid, e) for pid, e in sorted(expected["panden"].items()) if e["rijksmonument"])


def _plain_pand(expected: dict) -> tuple[str, dict]:
    return next((pid, e) for pid, e in sorted(expected["panden"].items())
                if not e["rijksmonument"] and not e["beschermd_gezicht"])


def _check(processor, point, **inputs) -> dict:
    _, out = processor.execute({"location": {"type": "Point", "coordinates": point}, "crs": RD, **inputs})
    return out


def _stored(model: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(model / STORE_NAME) as con:
        return sorted(con.execute(f"SELECT activity, bron FROM {TOEPASBARE_REGELS}").fetchall())


# ---- import

def test_all_eight_files_import_as_activities(rules_model, sttr_dir):
    stored = _stored(rules_model)
    assert [a for a, _ in stored] == ACTIVITIES
    assert {b for _, b in stored} == {p.name for p in sttr_dir.glob("*.xml")}
    report = json.loads((rules_model / RULES_REPORT_NAME).read_text(encoding="utf-8"))
    assert report["complete"] and sum(len(v) for v in report["imported"].values()) == 8
    # the store keeps the build's and the zoning import's layers
    with sqlite3.connect(rules_model / STORE_NAME) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert {"buildings", "bestemmingsplangebied", "monumenten", TOEPASBARE_REGELS} <= tables


def test_reimport_replaces_and_a_bad_file_is_rejected_alone(rules_model, sttr_dir, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(rules_model, model)
    bad = tmp_path / "kapot.xml"
    bad.write_text("<dmn:definitions xmlns:dmn='http://www.omg.org/spec/DMN/20151101/dmn.xsd' name='Conclusie X'>"
                   "<dmn:decision id='d' name='Pad 1'><dmn:decisionTable hitPolicy='COLLECT'/></dmn:decision>"
                   "</dmn:definitions>", encoding="utf-8")
    good = sttr_dir / "kozijn-plaatsen.sttr.xml"
    assert main(["rules", "import", str(good), str(bad), "--data", str(model)]) == 3
    err = capsys.readouterr().err
    assert "kapot.xml" in err
    assert [a for a, _ in _stored(model)] == ACTIVITIES  # replaced, not doubled; nothing of the bad file
    report = json.loads((model / RULES_REPORT_NAME).read_text(encoding="utf-8"))
    assert report["imported"] == {str(good): ["kozijn-plaatsen"]}
    assert [Path(r["file"]).name for r in report["rejected"]] == ["kapot.xml"]


def test_nothing_importable_leaves_the_store_untouched(rules_model, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(rules_model, model)
    before = (model / STORE_NAME).read_bytes()
    notdmn = tmp_path / "plan.xml"
    notdmn.write_text("<plan/>", encoding="utf-8")
    assert main(["rules", "import", str(notdmn), "--data", str(model)]) == 2
    assert "plan.xml" in capsys.readouterr().err
    assert (model / STORE_NAME).read_bytes() == before


def test_a_rules_only_directory_is_served(sttr_dir, tmp_path):
    model = tmp_path / "rules-only"
    assert main(["rules", "import", str(sttr_dir / "kozijn-plaatsen-in-een-monument.sttr.xml"),
                 "--data", str(model)]) == 0
    with LiveServer(model) as server:
        r = httpx.post(f"{server.url}/api/processes/location-check/execution", json={"inputs": {
            "location": {"type": "Point", "coordinates": [4.9, 52.37]},
            "activities": ["kozijn-plaatsen-in-een-monument"]}}, timeout=30)
        assert r.status_code == 200, r.text
        (act,) = r.json()["activities"]
        assert act["conclusion"] is None and act["prefilled"] == []
        assert act["open_questions"][0]["id"] == MONUMENT_Q  # priority 10 comes first
        assert any("alleen toepasbare regels" in n["nl"] for n in r.json()["notes"])


# ---- the check

def test_monument_is_prefilled_with_its_evidence_and_decides(processor, zoned_district):
    pid, exp = _monument_pand(zoned_district.expected)
    out = _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"])
    (act,) = out["activities"]
    assert out["building"]["identificatie"] == pid
    (pre,) = [p for p in act["prefilled"] if p["question"] == MONUMENT_Q]
    assert pre["value"] == "Rijksmonument" and pre["fact"] == "monument_status"
    assert pre["evidence"]["source"] == "monumenten" and pre["evidence"]["object_id"] == "999001"
    # Pad 1 and Pad 2 both still depend on the second question: undecided, and that question comes next
    assert act["conclusion"] is None and act["open_questions"][0]["id"] == PLAATSEN_Q
    assert MONUMENT_Q not in [q["id"] for q in act["open_questions"]]
    out = _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"],
                 answers={PLAATSEN_Q: NIEUW})
    (act,) = out["activities"]
    # Pad 1, rule 1: "Rijksmonument" and a new kozijn → Vergunningplicht; the conclusion names the prefilled answer
    assert act["conclusion"] == "Vergunningplicht" and act["outcome"] == "vergunning_nodig"
    assert act["open_questions"] == [] and act["prefilled_in_path"] == [MONUMENT_Q]
    assert act["toelichting"]["lang"] == "nl" and "monument" in act["toelichting"]["nl"]


def test_the_users_answer_overrides_the_prefilled_one(processor, zoned_district):
    _, exp = _monument_pand(zoned_district.expected)
    out = _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"],
                 answers={MONUMENT_Q: "Geen monument", PLAATSEN_Q: NIEUW})
    (act,) = out["activities"]
    # "Geen monument": every Pad gives "no hit", so the conclusion's last rule → Toestemmingsvrij
    assert act["conclusion"] == "Toestemmingsvrij"
    (pre,) = [p for p in act["prefilled"] if p["question"] == MONUMENT_Q]
    assert pre["overridden_by_user"] == "Geen monument" and act["prefilled_in_path"] == []


def test_no_rijksmonument_leaves_the_monument_question_open(processor, zoned_district):
    """The store has no gemeentelijke monumenten: "geen rijksmonument" does not make it "Geen monument"."""
    _, exp = _plain_pand(zoned_district.expected)
    out = _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"])
    (act,) = out["activities"]
    assert act["prefilled"] == [] and act["open_questions"][0]["id"] == MONUMENT_Q


def test_beschermd_gezicht_is_prefilled_where_it_applies(processor, zoned_district, sttr_dir):
    from etl.rules.sttr import read_sttr

    (activity,) = read_sttr(sttr_dir / "kozijn-plaatsen.sttr.xml")
    gezicht_q = next(q.id for q in activity.questions if "beschermd stads- of dorpsgezicht" in q.text)
    inside = next(e for _, e in sorted(zoned_district.expected["panden"].items()) if e["beschermd_gezicht"])
    outside = next(e for _, e in sorted(zoned_district.expected["panden"].items()) if not e["beschermd_gezicht"])
    (act,) = _check(processor, inside["point"], activities=["kozijn-plaatsen"])["activities"]
    (pre,) = [p for p in act["prefilled"] if p["question"] == gezicht_q]
    assert pre["value"] is True and pre["fact"] == "beschermd_gezicht" and pre["evidence"]["text"]["nl"]
    assert pre["evidence"]["source"] == "beschermde_gezichten" and pre["evidence"]["object_id"] == "9001"
    # outside the RCE's rijksbeschermde gezichten it may still lie in a municipal one: not answered
    (act,) = _check(processor, outside["point"], activities=["kozijn-plaatsen"])["activities"]
    assert gezicht_q not in [p["question"] for p in act["prefilled"]]


def test_bad_answers_and_unknown_activities_are_400s(processor, zoned_district):
    _, exp = _plain_pand(zoned_district.expected)
    with pytest.raises(LocationCheckInputError, match=MONUMENT_Q):
        _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"],
               answers={MONUMENT_Q: "Een kasteel"})
    with pytest.raises(LocationCheckInputError, match="unknown activity 'zwembad-bouwen'"):
        _check(processor, exp["point"], activities=["zwembad-bouwen"])
    assert _check(processor, exp["point"], activities=[])["activities"] == []  # the location's facts only
    for odd in ("kozijn-plaatsen", ["kozijn-plaatsen", "kozijn-plaatsen"], [3]):
        with pytest.raises(LocationCheckInputError, match="list of activity ids|twice"):
            _check(processor, exp["point"], activities=odd)
    out = _check(processor, exp["point"], activities=["kozijn-plaatsen-in-een-monument"],
                 answers={"uitv_bestaat-niet": True, PLAATSEN_Q: NIEUW})
    assert any("uitv_bestaat-niet" in n["en"] and PLAATSEN_Q not in n["en"] for n in out["notes"])


def test_a_broken_rules_table_stops_serve_and_is_a_5xx(rules_model, tmp_path):
    from core.errors import ConfigError
    from services.server import check_data

    model = tmp_path / "model"
    shutil.copytree(rules_model, model)
    with sqlite3.connect(model / STORE_NAME) as con:
        con.execute(f"UPDATE {TOEPASBARE_REGELS} SET model = '{{\"id\": 1}}' WHERE activity = 'kozijn-plaatsen'")
    with pytest.raises(ConfigError, match="kozijn-plaatsen"):
        check_data(model, "http://127.0.0.1:1/api", None)
    from pygeoapi.process.base import ProcessorExecuteError

    check = LocationCheckProcessor({"name": "location-check", "data": str(model)})
    with pytest.raises(ProcessorExecuteError) as e:
        check.execute({"location": {"type": "Point", "coordinates": [4.9, 52.37]}})
    assert not isinstance(e.value, LocationCheckInputError)


def test_all_activities_by_default_and_every_text_in_both_languages(processor, zoned_district):
    _, exp = _monument_pand(zoned_district.expected)
    out = _check(processor, exp["point"])
    ids = [a["activity"] for a in out["activities"]]
    assert set(ACTIVITIES) <= set(ids) and "dakkapel" in ids  # imported and built-in side by side
    assert language_problems(out) == []
    assert out["location"]["crs84"] is not None  # asked in RD, answered in both


def test_over_http(rules_model, zoned_district):
    _, exp = _monument_pand(zoned_district.expected)
    with LiveServer(rules_model) as server:
        r = httpx.post(f"{server.url}/api/processes/location-check/execution", json={"inputs": {
            "location": {"type": "Point", "coordinates": exp["point"]}, "crs": RD,
            "activities": ["kozijn-plaatsen-in-een-monument"], "answers": {PLAATSEN_Q: VERNIEUWEN}}}, timeout=30)
        assert r.status_code == 200, r.text
        (act,) = r.json()["activities"]
        # Rijksmonument and an existing kozijn: Pad 2 still waits for "verandert het kozijn?"
        assert act["conclusion"] is None and len(act["open_questions"]) == 1
        r = httpx.post(f"{server.url}/api/processes/location-check/execution", json={"inputs": {
            "location": {"type": "Point", "coordinates": exp["point"]}, "crs": RD,
            "activities": ["kozijn-plaatsen-in-een-monument"], "answers": {MONUMENT_Q: True}}}, timeout=30)
        assert r.status_code == 400 and MONUMENT_Q in r.text


def test_flat_roof_is_prefilled_from_the_lod22_roof(processor, rules_model, zoned_district, sttr_dir):
    import geopandas as gpd

    from etl.rules.sttr import read_sttr

    (activity,) = read_sttr(sttr_dir / "dakraam-bouwen.sttr.xml")
    plat_q = next(q.id for q in activity.questions if q.text == "Gaat u het dakraam plaatsen op een plat dak?")
    panden = gpd.read_file(rules_model / STORE_NAME, layer="buildings")
    panden = panden[panden["b3_lod_gereconstrueerd"] == "2.2"].sort_values("identificatie")
    seen = {}
    for row in panden.itertuples():
        point = row.geometry.representative_point()
        out = _check(processor, [point.x, point.y], activities=["dakraam-bouwen"])
        if out["building"]["identificatie"] != row.identificatie:
            continue
        dak = out["building"]["dak"]
        (act,) = out["activities"]
        pre = [p for p in act["prefilled"] if p["question"] == plat_q]
        if row.b3_dak_type == "horizontal":
            kind, want = "flat", True
        elif dak["opp_plat_m2"] < 2.0:
            kind, want = "sloped only", False
        else:  # a pitched roof with a flat part: which one is the user's to say
            kind, want = "mixed", None
            assert dak["opp_schuin_m2"] > 0
        if kind in seen:
            continue
        if want is None:
            assert pre == [], "a mixed roof must leave 'op een plat dak?' to the user"
        else:
            (p,) = pre
            assert p["value"] is want and p["evidence"]["source"] == "buildings"
            assert p["evidence"]["object_id"] == row.identificatie and row.b3_dak_type in p["evidence"]["text"]["nl"]
        seen[kind] = row.identificatie
        if len(seen) == 3:
            break
    assert set(seen) == {"flat", "sloped only", "mixed"}, seen


def _facades(synth_input: Path, **want):
    truth = json.loads((synth_input / "truth.json").read_text(encoding="utf-8"))["gevels"]
    for pid, facades in sorted(truth.items()):
        for f in facades:
            borders = {r: f[f"{r}_m"] is not None and f[f"{r}_m"] < 8.0 for r in ("straat", "water", "openbare_ruimte")}
            far = {r: f[f"{r}_m"] is None or f[f"{r}_m"] > 11.0 for r in ("straat", "water", "openbare_ruimte")}
            if f["kant"] == want["kant"] and all(borders[r] if v else far[r] for r, v in want["borders"].items()):
                yield pid, f


@pytest.mark.parametrize("kant, borders", [
    ("voorkant", {"straat": True}),
    ("achterkant", {"straat": False, "water": False, "openbare_ruimte": False}),
    ("voorkant", {"water": True}),  # the district's one facade at water (a singel) is a front
    ("zijkant", {"openbare_ruimte": True, "water": False}),
])
def test_the_picked_wall_answers_the_side_questions(processor, rules_model, synth_input, sttr_dir, kant, borders):
    """kozijn-plaatsen asks the side, then for a zijkant or achterkant whether it borders a street, water or a
    square/park: the wall the user picks answers them, with the BGT objects as evidence."""
    import geopandas as gpd

    from etl.rules.sttr import read_sttr

    found = next(_facades(synth_input, kant=kant, borders=borders), None)
    if found is None:
        pytest.fail(f"the synthetic district has no {kant} facade with {borders}")
    pid, f = found
    panden = gpd.read_file(rules_model / STORE_NAME, layer="buildings").set_index("identificatie")
    inside = panden.loc[pid].geometry.representative_point()
    (x0, y0), (x1, y1) = f["edge"]
    out = _check(processor, [inside.x, inside.y], activities=["kozijn-plaatsen"],
                 gevel={"type": "Point", "coordinates": [(x0 + x1) / 2, (y0 + y1) / 2]})
    assert out["building"]["gevel"]["kant"] == kant
    for role, value in borders.items():
        assert bool(out["building"]["gevel"]["borders"].get(role)) is value, role
    (act,) = out["activities"]
    (activity,) = read_sttr(sttr_dir / "kozijn-plaatsen.sttr.xml")
    text_of = {q.id: q.text for q in activity.questions}
    pre = {text_of[p["question"]]: p for p in act["prefilled"]}
    side = pre["Aan welke kant van het hoofdgebouw gaat u een kozijn plaatsen?"]
    assert side["value"] == kant.capitalize() and side["fact"] == "gevel_kant"
    asked = {"straat": "straat, fietspad of voetpad", "water": "gracht, kanaal", "openbare_ruimte": "plein, park"}
    side_questions = {t: p for t, p in pre.items() if t.startswith("U gaat een kozijn plaatsen aan de")}
    if kant == "voorkant":  # the border questions are about a zijkant or achterkant: none is answered
        assert side_questions == {}
        return
    for role, value in borders.items():
        (p,) = [p for t, p in side_questions.items() if asked[role] in t]
        assert f"aan de {kant} van het gebouw" in next(t for t, q in side_questions.items() if q is p)
        assert p["value"] is value and p["fact"] == f"gevel_aan_{role}"
        if value:
            assert p["evidence"]["source"].startswith("bgt_") and p["evidence"]["object_id"]


def test_a_wall_far_from_the_building_is_a_400(processor, zoned_district):
    _, exp = _plain_pand(zoned_district.expected)
    x, y = exp["point"]
    with pytest.raises(LocationCheckInputError, match="gevel"):
        _check(processor, exp["point"], activities=["kozijn-plaatsen"],
               gevel={"type": "Point", "coordinates": [x + 200.0, y]})


def test_the_synthetic_permit_check_concludes_from_the_model_alone(zoned_district, tmp_path):
    """The demo's STTR file (synth.sttr), no real data needed: at the rijksmonument no question is left."""
    from synth.sttr import write_synthetic_sttr

    model = tmp_path / "model"
    model.mkdir()
    shutil.copy2(zoned_district.model / STORE_NAME, model / STORE_NAME)
    assert main(["rules", "import", str(write_synthetic_sttr(tmp_path / "regels")), "--data", str(model)]) == 0
    check = LocationCheckProcessor({"name": "location-check", "data": str(model)})
    _, exp = _monument_pand(zoned_district.expected)
    (act,) = _check(check, exp["point"], activities=["kozijn-plaatsen-synthetisch"])["activities"]
    assert act["conclusion"] == "Vergunningplicht" and act["prefilled_in_path"] == ["uitv_synth-monument"]
    assert act["path"][-1]["decision"] == "_Conclusie_dummy"
    assert act["prefilled"][0]["asked"]["options"] == ["Rijksmonument", "Gemeentelijk monument", "Geen monument"]


def test_built_in_activities_answer_in_the_same_shape(processor, zoned_district):
    """One engine: a built-in tree (config/rules/dakkapel.yml) gives conclusion, prefilled and path too."""
    _, exp = _monument_pand(zoned_district.expected)
    (act,) = _check(processor, exp["point"], activities=["dakkapel"])["activities"]
    assert act["source"] == "config/rules"
    # the tree's first node asks the rijksmonument fact: the data answers it and it decides
    assert act["conclusion"] == act["outcome"] == "vergunning_nodig"
    assert act["path"][-1]["output"] == "vergunning_monument"
    (pre,) = act["prefilled"]
    assert (pre["question"], pre["value"], pre["fact"]) == ("rijksmonument", True, "rijksmonument")
    assert pre["evidence"]["source"] == "monumenten" and pre["evidence"]["object_id"] == "999001"
    _, plain = _plain_pand(zoned_district.expected)
    (act,) = _check(processor, plain["point"], activities=["dakkapel"])["activities"]
    assert act["conclusion"] is None and act["outcome"] == "onbekend"
    assert act["open_questions"][0]["id"] == "achterdakvlak"


@pytest.mark.parametrize("entry, problem", [
    ({"fact": "monument_status", "type": "boolean", "text": "monument"}, "cannot answer a boolean question"),
    ({"fact": "beschermd_gezicht", "type": "boolean", "text": "gezicht((", "side": "zijkant"}, "no regular expression"),
    ({"fact": "plat_dak", "type": "boolean", "text": "plat", "side": "zijkant"}, "'side' only applies"),
    ({"fact": "kleur", "type": "boolean", "text": "kleur"}, "unknown fact"),
])
def test_a_broken_prefill_table_is_named_before_serving(monkeypatch, tmp_path, entry, problem):
    import yaml

    from core.errors import ConfigError
    from services import sttr

    path = tmp_path / "sttr_prefill.yml"
    path.write_text(yaml.safe_dump({"questions": [entry]}), encoding="utf-8")
    monkeypatch.setattr(sttr, "PREFILL_PATH", path)
    sttr.prefill_config.cache_clear()
    try:
        with pytest.raises(ConfigError, match=problem):
            sttr.prefill_config()
    finally:
        sttr.prefill_config.cache_clear()


def test_a_side_the_user_names_otherwise_drops_what_the_picked_wall_borders(processor, rules_model, synth_input,
                                                                            sttr_dir):
    import geopandas as gpd

    from etl.rules.sttr import read_sttr

    pid, f = next(_facades(synth_input, kant="zijkant", borders={"openbare_ruimte": True}))
    (activity,) = read_sttr(sttr_dir / "kozijn-plaatsen.sttr.xml")
    kant_q = next(q.id for q in activity.questions if q.text.startswith("Aan welke kant van het hoofdgebouw"))
    inside = gpd.read_file(rules_model / STORE_NAME, layer="buildings").set_index("identificatie").loc[pid]
    point = inside.geometry.representative_point()
    (x0, y0), (x1, y1) = f["edge"]
    wall = {"type": "Point", "coordinates": [(x0 + x1) / 2, (y0 + y1) / 2]}
    for answers, borders_filled in (({}, True), ({kant_q: "Achterkant"}, False)):
        (act,) = _check(processor, [point.x, point.y], activities=["kozijn-plaatsen"], gevel=wall,
                        answers=answers)["activities"]
        facts = {p["fact"] for p in act["prefilled"]}
        assert ("gevel_aan_openbare_ruimte" in facts) is borders_filled, act["prefilled"]
        (side,) = [p for p in act["prefilled"] if p["question"] == kant_q]
        assert side["value"] == "Zijkant" and side.get("overridden_by_user") == answers.get(kant_q)
