"""The synthetic plan over the real synthetic district (synth.district → etl.build → zoning import), checked pand
by pand against the answers known in advance (expected.json, from the plan and the district's truth.json), and its
regels document: every bestemming at a point quotes its article, `q=` finds it, markup in it comes out as text.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from core.errors import InputError
from core.gpkg import gpkg_geometries
from core.products import ENVELOPE_LAYERS, ZONING_LAYERS, is_etl_layer
from etl.zoning import import_zoning
from services.processes.location_check import check_location, open_store
from services.providers.geopackage import GeoPackageProvider
from synth.plan import EXCEEDANCE_M, HEADROOM_M, PLAN_ID, REGELS_DOCUMENT, STRIPS, article_anchor, write_synthetic_plan

# The model's measured height (b3_h_dak_max − b3_h_maaiveld, from noisy points) against the true height.
HEIGHT_TOLERANCE_M = 0.15
PITCH_TOLERANCE_DEG = 5.0


@pytest.fixture(scope="module")
def store(zoned_district):
    return open_store(zoned_district.model)


def _check(store, point, **kw) -> dict:
    return check_location(store, *point, **kw)


def _first(expected: dict, **want) -> tuple[str, dict]:
    for pid, e in sorted(expected["panden"].items()):
        if all(e.get(k) == v for k, v in want.items()):
            return pid, e
    pytest.fail(f"the synthetic plan has no pand with {want}")


def _outcome(res: dict, activity: str) -> dict:
    return next(a for a in res["activities"] if a["activity"] == activity)


def test_plan_files_are_real_formats(zoned_district):
    gml_path, mon_path, gez_path = zoned_district.plan_files
    gml = gml_path.read_text(encoding="utf-8")
    assert 'xmlns:imro="http://www.geonovum.nl/imro/2012/1.1"' in gml
    assert "<gml:interior>" in gml  # the courtyard block's bouwvlak keeps its courtyard
    for path in (mon_path, gez_path):
        lon, lat = json.loads(path.read_text())["features"][0]["geometry"]["coordinates"][0][0]
        assert 3 < lon < 8 and 50 < lat < 54  # lon/lat, as RCE exports are


def test_import_writes_every_plan_object(zoned_district):
    report, expected = zoned_district.report, zoned_district.expected
    assert report["rejected"] == [] and report["skipped"] == []
    panden = expected["panden"].values()
    plan = report["imported"][str(zoned_district.plan_files[0])]
    assert plan == {"bestemmingsplangebied": 1, "enkelbestemming": 4, "gebiedsaanduiding": 1,
                    "bouwvlak": sum(e["in_bouwvlak"] for e in panden),
                    "maatvoering": sum(e["max_bouwhoogte"] is not None for e in panden),
                    # one article per enkelbestemming (synth.plan.STRIPS) and the gebiedsaanduiding's article 9
                    "regels": len(STRIPS) + 1}
    assert report["imported"][str(zoned_district.plan_files[1])] == {"monumenten": 1}
    assert report["imported"][str(zoned_district.plan_files[2])] == {"beschermde_gezichten": 1}
    with sqlite3.connect(zoned_district.model / "stadsmodel.gpkg") as con:
        assert con.execute("SELECT count(*) FROM buildings").fetchone()[0] == len(expected["panden"])
        layers = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    # One writer per layer: the build's layers and the importer's are apart, as core.products names them.
    assert {t for t in layers if not is_etl_layer(t)} <= set(ZONING_LAYERS) | set(ENVELOPE_LAYERS)  # etl.envelopes
    assert {"buildings", "bestemmingsplangebied", "monumenten"} <= layers


def test_the_district_holds_every_kind_of_answer(zoned_district):
    """Each case the tests below rely on occurs in the generated district, so none passes vacuously."""
    panden = list(zoned_district.expected["panden"].values())
    kinds = [(e["compliance"], e["onbekend_omdat"]) for e in panden]
    assert kinds.count(("overschrijdt", None)) == 1
    assert kinds.count(("binnen_maximum", None)) >= 5
    assert kinds.count(("onbekend", "geen_maximum")) >= 5
    assert kinds.count(("onbekend", "hoogte_niet_gemeten")) >= 1
    assert sum(e["rijksmonument"] for e in panden) == 1
    assert any(e["beschermd_gezicht"] and e["in_bouwvlak"] for e in panden)
    assert any(e["bestemming"] == "wonen" and not e["in_bouwvlak"] for e in panden)
    assert {e["bestemming"] for e in panden} >= {"wonen", "centrum", "groen"}
    assert {"wonen", "centrum"} <= set(zoned_district.expected["spots"])
    roofs = [(e["goothoogte_compliance"], e["dakhelling_compliance"]) for e in panden]
    assert [g for g, _ in roofs].count("overschrijdt") == 2  # one sloped, one flat roof
    assert [g for g, _ in roofs].count("binnen_maximum") >= 5
    assert {"binnen_grenzen", "buiten_grenzen"} <= {p for _, p in roofs}
    assert sum(e["min_dakhelling"] is not None for e in panden) and sum(e["max_dakhelling"] is not None for e in panden)


def test_every_pand_gets_its_known_answer(zoned_district, store):
    truth = json.loads((zoned_district.plan_files[0].parent.parent / "truth.json").read_text())["panden"]
    roofs_made = 0
    for pid, exp in zoned_district.expected["panden"].items():
        res = _check(store, exp["point"])
        facts = {k: v["value"] for k, v in res["facts"].items()}
        b, comp = res["building"], res["compliance"]
        assert b["identificatie"] == pid
        assert b["addresses"] and all(a["postcode"] for a in b["addresses"]), pid
        assert [p["plan_id"] for p in res["plans"]] == [zoned_district.expected["plan_id"]]
        assert facts["bestemmingshoofdgroep"] == exp["bestemming"], pid
        assert facts["in_bouwvlak"] is exp["in_bouwvlak"], pid
        assert facts["rijksmonument"] is exp["rijksmonument"], pid
        assert facts["beschermd_gezicht"] is exp["beschermd_gezicht"], pid
        assert comp["max_bouwhoogte_m"] == exp["max_bouwhoogte"], pid
        assert facts["maximum_bouwhoogte"] == exp["max_bouwhoogte"], pid
        assert comp["status"] == exp["compliance"], pid
        roofs_made += _assert_roof_answers(comp, b, exp, pid)

        if exp["measured_height_truth"] is not None:
            assert b["measured_height_m"] == pytest.approx(exp["measured_height_truth"], abs=HEIGHT_TOLERANCE_M), pid
            assert b["heights_nap"]["maaiveld"] == pytest.approx(truth[pid]["h_maaiveld"], abs=HEIGHT_TOLERANCE_M)
        if exp["compliance"] == "overschrijdt":
            assert comp["exceedance_m"] > 0 and "headroom_m" not in comp
            assert comp["exceedance_m"] == pytest.approx(EXCEEDANCE_M, abs=HEIGHT_TOLERANCE_M + 0.05)  # max to 0.1 m
            assert comp["exceedance_m"] == pytest.approx(b["measured_height_m"] - exp["max_bouwhoogte"], abs=0.011)
            assert facts["hoogte_binnen_maximum"] is False
            delta = f"{comp['exceedance_m']:.2f}"
            assert comp["summary"]["nl"].endswith(f": {delta.replace('.', ',')} m te hoog")
            assert comp["summary"]["en"].endswith(f": exceeds by {delta} m")
        elif exp["compliance"] == "binnen_maximum":
            assert comp["headroom_m"] > 0 and "exceedance_m" not in comp
            assert comp["headroom_m"] == pytest.approx(HEADROOM_M, abs=HEIGHT_TOLERANCE_M + 0.05)
            assert facts["hoogte_binnen_maximum"] is True
            delta = f"{comp['headroom_m']:.2f}"
            assert comp["summary"]["nl"].endswith(f": nog {delta.replace('.', ',')} m ruimte")
            assert comp["summary"]["en"].endswith(f": {delta} m headroom")
        else:
            assert "headroom_m" not in comp and "exceedance_m" not in comp
            assert facts["hoogte_binnen_maximum"] is None
            if exp["onbekend_omdat"] == "geen_maximum":
                assert comp["reason"] == {"nl": "geen maximale bouwhoogte in de plangegevens op dit punt",
                                          "en": "no maximum bouwhoogte in the plan data at this point"}
                assert facts["maximum_bouwhoogte_bekend"] is False
            else:
                _assert_height_unknown(res, truth[pid])
    measurable = sum(e["measured_height_truth"] is not None for e in zoned_district.expected["panden"].values())
    assert roofs_made >= 0.9 * measurable, "the model reconstructed too few roofs for the roof answers"


def _assert_roof_answers(comp: dict, b: dict, exp: dict, pid: str) -> bool:
    """Goothoogte and dakhelling as expected.json has them where the model reconstructed the roof (LoD2.2);
    "onbekend" where it did not. Returns whether it did."""
    goot, pitch = comp["goothoogte"], comp["dakhelling"]
    assert goot["max_goothoogte_m"] == exp["max_goothoogte"], pid
    assert (pitch["min_dakhelling_deg"], pitch["max_dakhelling_deg"]) == (exp["min_dakhelling"], exp["max_dakhelling"])
    made = exp["measured_height_truth"] is not None and b["dak"]["lod"] == "2.2"
    if not made:
        assert goot["status"] == pitch["status"] == "onbekend", pid
        return False
    assert goot["status"] == exp["goothoogte_compliance"], pid
    assert pitch["status"] == exp["dakhelling_compliance"], pid
    if exp["max_goothoogte"] is not None:
        assert goot["measured_m"] == pytest.approx(exp["measured_goothoogte_truth"], abs=HEIGHT_TOLERANCE_M), pid
    if exp["dakhelling_compliance"] != "onbekend":
        assert [pitch["measured_min_deg"], pitch["measured_max_deg"]] == pytest.approx(
            exp["measured_dakhelling_truth"], abs=PITCH_TOLERANCE_DEG), pid
    return True


def _assert_height_unknown(res: dict, truth: dict) -> None:
    """A pand without usable roof points: kept and flagged by the ETL, and the check gives no height figure."""
    assert not truth["measurable"]
    b, comp = res["building"], res["compliance"]
    assert b["reconstructie_onvolledig"] is True and "dakpunten" in b["onvolledig_reden"]
    assert b["measured_height_m"] is None and b["height_70p_m"] is None
    assert comp["measured_height_m"] is None
    assert comp["max_bouwhoogte_m"] is not None  # the plan does give a maximum: the height is what is unknown
    assert comp["reason"]["nl"].startswith("de hoogte van het gebouw kon niet worden gemeten: ")
    assert comp["reason"]["en"].startswith("the building's height could not be measured: ")
    # the ETL's reason is quoted as it is, in both languages
    assert all(b["onvolledig_reden"] in comp["reason"][lang] for lang in ("nl", "en"))
    assert comp["summary"] == comp["reason"]
    assert "indicative_eaves_m" not in comp["goothoogte"]
    assert res["facts"]["hoogte_binnen_maximum"]["evidence"] == comp["reason"]


def test_open_spots_have_no_building(zoned_district, store):
    for naam, spot in zoned_district.expected["spots"].items():
        res = _check(store, spot["point"])
        assert res["building"] is None, naam
        assert res["facts"]["gebouw_aanwezig"]["value"] is False
        assert res["facts"]["bestemmingshoofdgroep"]["value"] == spot["bestemming"]
        assert res["facts"]["beschermd_gezicht"]["value"] is spot["beschermd_gezicht"]
        assert res["compliance"]["status"] == "onbekend"
        assert res["compliance"]["reason"] == {"nl": "geen gebouw op dit punt", "en": "no building at the point"}


def test_rule_outcomes_on_known_places(zoned_district, store):
    expected = zoned_district.expected
    full = {"achtererf": "ja", "hoogte": "ja", "oppervlakte": "ja", "zichtbaar": "nee"}

    _, wonen = _first(expected, bestemming="wonen", rijksmonument=False, compliance="binnen_maximum")
    out = _outcome(_check(store, wonen["point"], activity="aanbouw", answers=full), "aanbouw")
    assert out["outcome"] == "vergunningvrij"
    assert [s["node"] for s in out["trail"]] == ["rijksmonument", "bestemming", "achtererf", "gezicht", "hoogte",
                                                 "oppervlakte"]
    assert [s["source"] for s in out["trail"]] == ["data", "data", "gebruiker", "data", "gebruiker", "gebruiker"]
    assert [c["id"] for c in out["citations"]] == ["bbl_2_29", "bbl_2_27"]
    assert "artikel 2.29" in out["citations"][0]["nl"] and out["citations"][0]["url"]

    # the same place without answers: onbekend, with the first open question
    out = _outcome(_check(store, wonen["point"], activity="aanbouw"), "aanbouw")
    assert out["outcome"] == "onbekend" and out["open_questions"][0]["id"] == "achtererf"
    assert out["reason"] == {"nl": "de vraag 'achtererf' is nog niet beantwoord",
                             "en": "question 'achtererf' is not answered yet"}
    assert out["citations"] == []

    # a rijksmonument: every activity that starts at the monument question needs a permit, citing Ow 5.1
    _, monument = _first(expected, rijksmonument=True)
    res = _check(store, monument["point"])
    for act in ("aanbouw", "bijgebouw", "bouwen_tot_maximale_hoogte", "dakkapel", "erfafscheiding", "slopen",
                "zonnepanelen"):
        out = _outcome(res, act)
        assert out["outcome"] == "vergunning_nodig", act
        assert [c["id"] for c in out["citations"]] == ["ow_5_1_rijksmonument"], act
        assert out["trail"][-1] == {**out["trail"][-1], "node": "rijksmonument", "source": "data", "answer": "ja"}
        assert all("rijksmonument 999001" in out["trail"][-1]["evidence"][lang] for lang in ("nl", "en"))

    # Groen: no yard, so an aanbouw needs a permit and the plan's own article is cited
    _, groen = _first(expected, bestemming="groen", in_bouwvlak=False)
    out = _outcome(_check(store, groen["point"], activity="aanbouw"), "aanbouw")
    assert out["outcome"] == "vergunning_nodig" and out["trail"][-1]["node"] == "bestemming"
    plan_cite = next(c for c in out["citations"] if c["id"] == f"{expected['plan_id']}#artikel-5")
    assert "artikel 5 'Groen'" in plan_cite["nl"] and plan_cite["url"] == f"{REGELS_DOCUMENT}#{article_anchor(5)}"

    # beschermd gezicht (Centrum): a visible aanbouw needs a permit, citing the gezicht rule
    _, centrum = _first(expected, bestemming="centrum", in_bouwvlak=True)
    out = _outcome(_check(store, centrum["point"], activity="aanbouw", answers={**full, "zichtbaar": "ja"}), "aanbouw")
    assert out["outcome"] == "vergunning_nodig"
    assert [c["id"] for c in out["citations"]][:2] == ["gezicht_omgevingsplan", "ow_5_1_omgevingsplan"]
    assert any(c["id"].endswith("#artikel-4") for c in out["citations"])
    # slopen: monument and gezicht facts from the data, the amount asked; melding above 10 m³
    out = _outcome(_check(store, wonen["point"], activity="slopen", answers={"hoeveelheid": "ja"}), "slopen")
    assert out["outcome"] == "melding" and [s["source"] for s in out["trail"]] == ["data", "data", "gebruiker"]


def test_bouwen_tot_maximale_hoogte(zoned_district, store):
    expected = zoned_district.expected
    act = "bouwen_tot_maximale_hoogte"
    _, wonen = _first(expected, bestemming="wonen", rijksmonument=False, compliance="binnen_maximum")
    h = wonen["max_bouwhoogte"]

    # within the maximum, inside the bouwvlak, no gezicht: an in-plan permit plus a bouwmelding
    out = _outcome(_check(store, wonen["point"], activity=act, answers={"geplande_hoogte": h - 0.5}), act)
    assert out["outcome"] == "vergunning_nodig" and out["trail"][-1]["node"] == "gezicht"
    step = next(s for s in out["trail"] if s["node"] == "geplande_hoogte")
    assert step["compared_to"]["value"] == h and step["answer"] == "ja"
    assert [c["id"] for c in out["citations"]][:2] == ["ow_5_1_omgevingsplan", "bbl_2_19_bouwmelding"]
    assert any(c["id"].endswith("#artikel-3") for c in out["citations"])  # the plan's Wonen article
    # above the maximum: permit only out of plan
    out = _outcome(_check(store, wonen["point"], activity=act, answers={"geplande_hoogte": h + 3}), act)
    assert out["trail"][-1] == {**out["trail"][-1], "node": "geplande_hoogte", "answer": "nee"}
    assert "hoger dan de maximale bouwhoogte" in out["text"]["nl"]
    # no maatvoering (Centrum): onbekend, from the plan data, never a guessed maximum
    _, centrum = _first(expected, bestemming="centrum", in_bouwvlak=True)
    out = _outcome(_check(store, centrum["point"], activity=act, answers={"geplande_hoogte": 9}), act)
    assert out["outcome"] == "onbekend" and out["trail"][-1]["node"] == "maximum_bekend"
    assert out["trail"][-1]["answer"] == "nee" and out["trail"][-1]["source"] == "data"
    # a wonen pand outside any bouwvlak
    _, los = _first(expected, bestemming="wonen", in_bouwvlak=False)
    out = _outcome(_check(store, los["point"], activity=act), act)
    assert out["outcome"] == "onbekend" and out["trail"][-1]["node"] == "maximum_bekend"


def test_spot_without_building(zoned_district, store):
    spot = zoned_district.expected["spots"]["wonen"]["point"]
    res = _check(store, spot)
    for act in ("zonnepanelen", "dakkapel"):
        out = _outcome(res, act)
        assert out["outcome"] == "onbekend" and "geen gebouw" in out["text"]["nl"], act
        assert out["trail"][-1] == {**out["trail"][-1], "node": "gebouw", "answer": "nee", "source": "data"}


def test_plan_needs_the_district_truth(tmp_path, synth_input):
    import shutil

    shutil.copy2(synth_input / "bag.gpkg", tmp_path / "bag.gpkg")
    with pytest.raises(InputError, match="no truth.json"):
        write_synthetic_plan(tmp_path)
    (tmp_path / "truth.json").write_text('{"panden": {}}')
    with pytest.raises(InputError, match=r"\[NL\.IMBAG\.Pand\.\d{16}\]: no truth for this pand"):
        write_synthetic_plan(tmp_path)


def test_reimport_replaces_plan_rows(zoned_district, tmp_path):
    import shutil

    model = shutil.copytree(zoned_district.model, tmp_path / "model")

    def count(layer):
        with sqlite3.connect(model / "stadsmodel.gpkg") as c:
            return c.execute(f"SELECT count(*) FROM {layer}").fetchone()[0]

    before = {layer: count(layer) for layer in ("bouwvlak", "maatvoering", "monumenten")}
    import_zoning(zoned_district.plan_files, model)
    assert {layer: count(layer) for layer in before} == before


# --------------------------------------------------------------------------------------------- the regels (issue 16)

ARTICLES = {art: naam for naam, _, _, _, art in STRIPS} | {9: "Algemene wijzigingsregels"}


def _nl(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def test_regels_document_is_a_regels_html_with_an_anchor_per_article(zoned_district):
    """r_<plan-id>.html beside the GML, shaped as ruimtelijkeplannen.nl publishes it: every verwijzingNaarTekst of
    the GML names that file and an anchor on the h2 of its article, one article per bestemming and aanduiding."""
    import re

    from lxml import html

    gml_path = zoned_district.plan_files[0]
    doc_path = gml_path.parent / REGELS_DOCUMENT
    assert doc_path.is_file() and doc_path not in zoned_district.plan_files  # read beside the GML, no import file
    refs = set(re.findall(r"<imro:verwijzingNaarTekst>([^<]*)</", gml_path.read_text(encoding="utf-8")))
    assert refs == {f"{REGELS_DOCUMENT}#{article_anchor(n)}" for n in ARTICLES}
    root = html.parse(str(doc_path)).getroot()
    assert root.get("lang") == "nl"
    headings = {h.get("id"): h.text_content() for h in root.iter("h2")}
    for n, naam in ARTICLES.items():
        assert headings[article_anchor(n)] == f"Artikel {n} {naam}"
        assert root.get_element_by_id(article_anchor(n)).getparent().get("class") == "artikel"
    assert all(h.getparent().get("class") == "hoofdstuk" for h in root.iter("h1"))
    assert len(set(re.findall(r'id="([^"]+)"', doc_path.read_text(encoding="utf-8")))) == len(
        re.findall(r'id="', doc_path.read_text(encoding="utf-8")))  # no anchor twice


def test_regels_document_is_the_same_for_the_same_district(zoned_district, synth_input, tmp_path):
    import shutil

    for name in ("bag.gpkg", "truth.json"):
        shutil.copy2(synth_input / name, tmp_path / name)
    write_synthetic_plan(tmp_path)
    for name in (REGELS_DOCUMENT, zoned_district.plan_files[0].name):
        assert (tmp_path / "zoning" / name).read_bytes() == (zoned_district.plan_files[0].parent / name).read_bytes()


def test_every_bestemming_at_a_point_quotes_its_article(zoned_district, store):
    """After `zoning import` every bestemming and the gebiedsaanduiding in the location check carry their article
    with its text (not only a link), in the shape of a real plan's articles; the bouwregels quote the plan's
    maatvoering."""
    expected = zoned_district.expected
    points = [(pid, e["point"]) for pid, e in sorted(expected["panden"].items())]
    points += [(f"spot {naam}", s["point"]) for naam, s in sorted(expected["spots"].items())]
    seen: set[str] = set()
    for where, point in points:
        res = _check(store, point, activities=[])
        [plan] = res["plans"]
        assert plan["plan_id"] == PLAN_ID and plan["enkelbestemming"], where
        for layer in ("enkelbestemming", "gebiedsaanduiding"):
            for rec in plan.get(layer, []):
                [art] = [a for a in plan["articles"]
                         if rec["identificatie"] in {o["identificatie"] for o in a["planobjecten"]}]
                nummer = rec["artikelnummer"]
                assert art["artikelnummer"] == nummer and art["tekst_in_opslag"] is True, where
                assert art["kop"] == {"nl": f"Artikel {nummer} {ARTICLES[int(nummer)]}",
                                      "en": f"Artikel {nummer} {ARTICLES[int(nummer)]}", "lang": "nl"}
                assert art["tekst"]["lang"] == "nl" and art["tekst"]["nl"].startswith(f"{nummer}.1 "), where
                assert "reason" not in art and list(art)[:3] == ["kop", "tekst", "citation"]
                assert art["url"] == (f"https://www.ruimtelijkeplannen.nl/documents/{PLAN_ID}/{REGELS_DOCUMENT}"
                                      f"#{article_anchor(nummer)}")
                assert rec["artikel_url"] == art["url"]
                seen.add(nummer)
    assert seen == {str(n) for n in ARTICLES}

    # the Wonen article states the plan's own maxima: the lowest and highest maximum bouwhoogte of its bouwvlakken
    wonen = [e for e in expected["panden"].values() if e["bestemming"] == "wonen" and e["max_bouwhoogte"]]
    point = wonen[0]["point"]
    [art] = [a for a in _check(store, point, activities=[])["plans"][0]["articles"] if a["artikelnummer"] == "3"]
    low, high = min(e["max_bouwhoogte"] for e in wonen), max(e["max_bouwhoogte"] for e in wonen)
    assert f"'maximum bouwhoogte (m)' is aangegeven (op de verbeelding {_nl(low)} tot {_nl(high)} m)" in \
        art["tekst"]["nl"]
    # the verdict's source sentence is the article's line that sets the norm, quoted rather than linked
    sentence = _check(store, point, activities=[])["compliance"]["source_sentence"]
    line = next(x for x in art["tekst"]["nl"].splitlines() if x.startswith("b. de bouwhoogte van een hoofdgebouw"))
    assert sentence["tekst"] == {"nl": line, "en": line, "lang": "nl"} and sentence["reason"] is None
    assert sentence["label"]["nl"] == "Artikel 3.2 onder b"


def test_regels_full_text_search_finds_the_dakkapel_article(zoned_district):
    p = GeoPackageProvider({"name": "GeoPackage", "type": "feature", "table": "regels", "id_field": "object_id",
                            "data": str(zoned_district.model / "stadsmodel.gpkg")})
    hits = p.query(q="dakkapel", limit=50)["features"]
    koppen = {f["properties"]["kop"] for f in hits}
    assert "Artikel 3 Wonen" in koppen and koppen <= {"Artikel 3 Wonen", "Artikel 4 Centrum"}
    [wonen] = [f for f in hits if f["properties"]["kop"] == "Artikel 3 Wonen"]
    assert "3.3 Dakkapellen" in wonen["properties"]["tekst"] and wonen["geometry"]["type"] == "MultiPolygon"
    assert p.query(q="dakkapel", properties=[("artikelnummer", "3")])["numberMatched"] == 1
    assert p.query(q="lichtmasten")["features"][0]["properties"]["kop"] == "Artikel 6 Verkeer"


def test_markup_in_the_regels_document_comes_out_as_text(zoned_district, store):
    """A script element in the document is dropped with its content; markup written as text (&lt;b&gt;) stays the
    literal text, in the store and in the answer: no row holds HTML."""
    with sqlite3.connect(zoned_district.model / "stadsmodel.gpkg") as c:
        rows = dict(c.execute("SELECT artikelnummer, tekst FROM regels WHERE plan_id = ?", (PLAN_ID,)).fetchall())
        assert set(rows) == {str(n) for n in ARTICLES}
        verkeer = rows["6"]
        assert "de tekens <script> en <b>vet</b> in deze zin zijn gewone tekst" in verkeer
        assert "document.title" not in verkeer and "synthetisch'" not in verkeer
        for tekst in rows.values():
            assert "<p" not in tekst and "<li" not in tekst and "&lt;" not in tekst and "&amp;" not in tekst
        blob = c.execute("SELECT geom FROM enkelbestemming WHERE naam = 'Verkeer'").fetchone()[0]
    p = gpkg_geometries([blob])[0].representative_point()
    [art] = [a for a in _check(store, (p.x, p.y), activities=[])["plans"][0]["articles"] if a["artikelnummer"] == "6"]
    assert art["tekst"]["nl"] == verkeer


def test_the_goothoogte_verdict_quotes_the_goothoogte_line(zoned_district, store):
    pid, e = next((pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
                  if e["bestemming"] == "wonen" and e.get("max_goothoogte"))
    goot = _check(store, e["point"], activities=[])["compliance"]["goothoogte"]
    sentence = goot["source_sentence"]
    assert sentence["tekst"]["nl"].startswith("c. de goothoogte van een hoofdgebouw"), (pid, sentence)
    assert sentence["label"]["nl"] == "Artikel 3.2 onder c"
