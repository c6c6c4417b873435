"""The articles in the location check (issue 16, services.articles) and the `regels` collection's q= search.

Gemeentestad: at a point inside each werkingsgebied of the Bouwhoogte GIO (polygons read straight from the GIO
GML with lxml, independently of the importer) the answer carries article 2.14 with its heading and the sentence
that sets the maximum bouwhoogte, the norm value beside it, and the compliance line quotes that sentence.
IMRO (imro-b3partners): every bestemming in the answer carries an absolute link to its article, and the article
says its text is not in the store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from lxml import etree
from shapely.geometry import Polygon

from core.gpkg import gpkg_geometries
from etl.zoning import import_zoning
from services.articles import norm_sentence
from services.processes.location_check import Store, check_location
from services.providers.geopackage import GeoPackageProvider, ProviderInvalidQueryError, fts_query
from tests.conftest import shared_path

GIO_NS = {"geo": "https://standaarden.overheid.nl/stop/imop/geo/", "gml": "http://www.opengis.net/gml/3.2"}
ARTICLE_2_14 = "Artikel 2.14 Bouwregels bedrijfsgebouwen"
SENTENCE_D = ("De maximum bouwhoogte van een bedrijfsgebouw is de ter plaatse van het werkingsgebied "
              "'maximum bouwhoogte bedrijfsgebouw' bepaalde waarde.")


@pytest.fixture(scope="module")
def gemeentestad(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gemeentestad")
    import_zoning([shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht")], out)
    return out


@pytest.fixture(scope="module")
def imro(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imro")
    import_zoning(sorted(shared_path("imro-b3partners").glob("*.gml")), out)
    return out


def _bouwhoogte_gebieden() -> list[tuple[str, float, Polygon]]:
    """(naam, normwaarde, polygon) per Locatie of the Bouwhoogte GIO, from its posLists."""
    root = etree.parse(str(shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht", "Bouwhoogte.gml")))
    out = []
    for loc in root.iterfind(".//geo:Locatie", GIO_NS):
        naam = loc.findtext("geo:naam", namespaces=GIO_NS)
        value = float(loc.findtext("geo:kwantitatieveNormwaarde", namespaces=GIO_NS))
        pos = [float(v) for v in loc.find(".//gml:exterior//gml:posList", GIO_NS).text.split()]
        out.append((naam, value, Polygon(list(zip(pos[::2], pos[1::2])))))
    return out


@pytest.mark.parametrize("index", range(4))
def test_article_2_14_at_each_bouwhoogte_werkingsgebied(gemeentestad, index):
    gebieden = _bouwhoogte_gebieden()
    assert len(gebieden) == 4
    naam, value, polygon = gebieden[index]
    p = polygon.representative_point()
    out = check_location(Store(gemeentestad / "stadsmodel.gpkg"), p.x, p.y, activities=[])
    [plan] = [pl for pl in out["plans"] if pl["plan_type"] == "omgevingsplan"]
    [art] = [a for a in plan["articles"] if a["artikelnummer"] == "2.14"]
    assert art["kop"] == {"nl": ARTICLE_2_14, "en": ARTICLE_2_14, "lang": "nl"}
    assert art["tekst"]["lang"] == "nl" and SENTENCE_D in art["tekst"]["nl"]
    assert list(art)[:3] == ["kop", "tekst", "citation"]  # text first, the legal citation with it
    assert ARTICLE_2_14 in art["citation"]["nl"] and art["citation"]["lang"] == "nl"
    [norm] = [n for n in art["normen"] if n["type"] == "MaximumBouwhoogte"]
    assert norm["waarde"] == value and norm["locatie"] == naam
    assert norm["waarde_tekst"] == {"nl": f"{value:g} m", "en": f"{value:g} m"}
    assert norm["zin"]["label"] == "Artikel 2.14 onder d" and norm["zin"]["tekst"]["nl"] == SENTENCE_D
    sentence = out["compliance"]["source_sentence"]
    assert out["compliance"]["max_bouwhoogte_m"] == value
    assert sentence["label"]["nl"] == "Artikel 2.14 onder d" and sentence["tekst"]["nl"] == SENTENCE_D
    assert sentence["summary"] == {"nl": f"Artikel 2.14 onder d: {SENTENCE_D} ({value:g} m ter plaatse)",
                                   "en": f"Artikel 2.14 onder d (Dutch text in tekst): maximum {value:g} m here"}


def test_every_ow_rule_at_the_point_has_its_article(gemeentestad):
    gpkg = gemeentestad / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as c:
        rows = c.execute("SELECT identificatie, artikel, geom FROM ow_juridische_regel WHERE geom IS NOT NULL"
                         ).fetchall()
        everywhere = c.execute("SELECT DISTINCT identificatie, artikel FROM ow_juridische_regel "
                               "WHERE locatie_soort = 'Ambtsgebied'").fetchall()
    assert len(rows) == 28 and len(everywhere) == 4
    store = Store(gpkg)
    for ident, wid, blob in rows[::3]:
        p = gpkg_geometries([blob])[0].representative_point()
        out = check_location(store, p.x, p.y, activities=[])
        arts = [a for pl in out["plans"] for a in pl.get("articles", [])]
        hit = [a for a in arts if ident in a["juridische_regels"]]
        assert len(hit) == 1 and hit[0]["wid"] == wid and hit[0]["tekst"]["nl"], ident
        # rules on the Ambtsgebied (no geometry in the delivery) apply wherever the plan applies
        for rule, article in everywhere:
            [art] = [a for a in arts if rule in a["juridische_regels"]]
            assert art["wid"] == article and "ambtsgebied" in art["werkingsgebied"]["nl"]


def test_norm_sentence_falls_back_to_the_norm_type():
    art = {"zinnen": '[{"label": "Artikel 1 onder a", "tekst": "De maximum goothoogte is 6 m.", "wid": "w"}]'}
    assert norm_sentence(art, "goothoogte bijgebouw", "MaximumGoothoogte")["label"] == "Artikel 1 onder a"
    assert norm_sentence(art, "bouwhoogte", "MaximumBouwhoogte") is None


def test_every_imro_bestemming_carries_an_absolute_article_link(imro):
    gpkg = imro / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as c:
        vlakken = c.execute("SELECT plan_id, identificatie, geom FROM enkelbestemming").fetchall()
    store = Store(gpkg)
    per_plan: dict[str, list] = {}
    for plan_id, ident, blob in vlakken:
        if len(per_plan.setdefault(plan_id, [])) < 5:  # five bestemmingsvlakken per plan keep the test short
            per_plan[plan_id].append((ident, blob))
    # Goes, Doornboom, Durperdam and Gieterveen have enkelbestemmingen (Middelburg and Zaltbommel none)
    assert len(per_plan) == 4
    for sample in per_plan.values():
        for ident, blob in sample:
            p = gpkg_geometries([blob])[0].representative_point()
            out = check_location(store, p.x, p.y, activities=[])
            assert any(ident == r["identificatie"] for pl in out["plans"] for r in pl.get("enkelbestemming", []))
            for plan in out["plans"]:
                for layer in ("enkelbestemming", "dubbelbestemming"):
                    for rec in plan.get(layer, []):
                        assert rec["artikel_url"].startswith(
                            f"https://www.ruimtelijkeplannen.nl/documents/{plan['plan_id']}/"), rec
                assert plan["articles"]
                for art in plan["articles"]:
                    assert art["url"].startswith("https://www.ruimtelijkeplannen.nl/documents/")
                    assert art["tekst"] is None and art["tekst_in_opslag"] is False
                    assert "niet in de opslag" in art["reason"]["nl"]


def _regels(data: Path) -> GeoPackageProvider:
    return GeoPackageProvider({"name": "GeoPackage", "type": "feature", "data": str(data / "stadsmodel.gpkg"),
                               "table": "regels", "id_field": "object_id"})


def test_regels_collection_full_text_plan_and_article_number(gemeentestad):
    p = _regels(gemeentestad)
    hits = p.query(q="bedrijfsgebouw", limit=50)
    assert ARTICLE_2_14 in [f["properties"]["kop"] for f in hits["features"]]
    [art] = [f for f in hits["features"] if f["properties"]["artikelnummer"] == "2.14"]
    assert art["geometry"]["type"] == "MultiPolygon"
    assert p.query(q="bedrijfsgebouw", properties=[("artikelnummer", "2.14")])["numberMatched"] == 1
    assert p.query(q="dakkapel")["numberMatched"] == 0  # the Gemeentestad text has no dakkapel
    both = p.query(q="geitenfokkerij, wormenkwekerij", resulttype="hits")["numberMatched"]
    assert both == 2
    # FTS5 syntax in q is searched for as words, never run
    assert p.query(q='NEAR(" * : OR')["numberMatched"] == 0
    with pytest.raises(ProviderInvalidQueryError):
        fts_query(" , ")


def test_q_on_a_layer_without_an_index_is_refused(gemeentestad):
    p = GeoPackageProvider({"name": "GeoPackage", "type": "feature", "data": str(gemeentestad / "stadsmodel.gpkg"),
                            "table": "ow_locatie", "id_field": "object_id"})
    with pytest.raises(ProviderInvalidQueryError, match="free-text search"):
        p.query(q="bouwhoogte")


def test_source_sentence_beside_a_measured_verdict(gemeentestad):
    """The compliance line quotes the sentence with the value here and the measured height."""
    from core.products import IMRO_LAYERS, OW_LAYERS
    from services.articles import attach_articles

    naam, value, polygon = next(g for g in _bouwhoogte_gebieden() if g[1] == 13)
    p = polygon.representative_point()
    store = Store(gemeentestad / "stadsmodel.gpkg")
    found = {layer: store.at_point(layer, p.x, p.y) for layer in IMRO_LAYERS + OW_LAYERS}
    plans = {r["plan_id"]: {k: r[k] for k in ("plan_id", "plan_naam", "plan_type")} for r in found["ow_locatie"]}
    compliance = {"measured_height_m": 14.2, "max_bouwhoogte_m": 13.0, "status": "overschrijdt",
                  "goothoogte": {"max_goothoogte_m": None}}
    attach_articles(store, p.x, p.y, plans, found, compliance)
    summary = compliance["source_sentence"]["summary"]
    assert summary["nl"] == f"Artikel 2.14 onder d: {SENTENCE_D} (13 m ter plaatse) — gemeten 14,20 m"
    assert summary["en"] == "Artikel 2.14 onder d (Dutch text in tekst): maximum 13 m here — measured 14.20 m"
    assert "source_sentence" not in compliance["goothoogte"]


@pytest.mark.xdist_group("articles_http")
def test_regels_collection_over_http(gemeentestad):
    """`stadsmodel serve` serves the articles as the `regels` collection, queryable by plan, article number and
    full text (q=); q= on a collection without a full-text index stays a 400."""
    import httpx

    from tests.services.conftest import LiveServer

    assert _regels(gemeentestad).fulltext
    with LiveServer(gemeentestad) as live:
        items = f"{live.url}/api/collections/regels/items"
        r = httpx.get(items, params={"artikelnummer": "2.14", "plan_id": "/akn/nl/act/gm0297/2019/reg456",
                                     "f": "json"}, timeout=30)
        assert r.status_code == 200, r.text[:500]
        [art] = r.json()["features"]
        assert art["properties"]["wid"] == "gm0297_1__chp_2__subchp_2.5__art_2.14" and art["geometry"]
        assert art["properties"]["kop"] == ARTICLE_2_14
        r = httpx.get(items, params={"filter": "tekst LIKE '%bouwhoogte%'", "f": "json"}, timeout=30)
        assert r.status_code == 200 and ARTICLE_2_14 in [f["properties"]["kop"] for f in r.json()["features"]]
        r = httpx.get(items, params={"q": "bedrijfsgebouw", "f": "json", "limit": 50}, timeout=30)
        assert r.status_code == 200, r.text[:500]
        found = [f["properties"]["kop"] for f in r.json()["features"]]
        assert ARTICLE_2_14 in found and all("bedrijfsgebouw" in (f["properties"]["kop"] + f["properties"]["tekst"])
                                             .lower() for f in r.json()["features"])
        r = httpx.get(f"{live.url}/api/collections/ow_locatie/items", params={"q": "x", "f": "json"}, timeout=30)
        assert r.status_code == 400


def test_plan_states_and_drafts_left_out():
    from core.planstatus import plan_states
    from services.articles import without_drafts

    plans = {"a": {"plan_id": "NL.IMRO.1.BP1-VG01", "plan_status": "vastgesteld", "plan_datum": "2010-01-01"},
             "b": {"plan_id": "NL.IMRO.1.BP1-VG02", "plan_status": "onherroepelijk", "plan_datum": "2015-01-01"},
             "c": {"plan_id": "NL.IMRO.1.BP2-ON01", "plan_status": "ontwerp", "plan_datum": "2020-01-01"},
             "d": {"plan_id": "/akn/nl/act/gm0297/2019/reg456", "plan_status": None}}
    states = plan_states(plans)
    assert states == {"a": "vervangen", "b": "in_werking", "c": "ontwerp", "d": "onbekend"}

    def key(rec: dict) -> str:
        return next(k for k, p in plans.items() if p["plan_id"] == rec["plan_id"])

    found = {"maatvoering": [{"plan_id": p["plan_id"]} for p in plans.values()]}
    kept = without_drafts(found, states, key)["maatvoering"]
    assert [r["plan_id"] for r in kept] == ["NL.IMRO.1.BP1-VG02", "/akn/nl/act/gm0297/2019/reg456"]
    kept = without_drafts(found, states, key, include_ontwerp=True)["maatvoering"]
    assert len(kept) == 3


def test_the_answer_says_which_plans_are_ontwerp(imro):
    gpkg = imro / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as c:
        blob = c.execute("SELECT geom FROM enkelbestemming WHERE plan_id = 'NL.IMRO.0664.BPBS03-ON99'").fetchone()[0]
    p = gpkg_geometries([blob])[0].representative_point()
    out = check_location(Store(gpkg), p.x, p.y, activities=[])
    [plan] = [pl for pl in out["plans"] if pl["plan_id"] == "NL.IMRO.0664.BPBS03-ON99"]
    assert plan["status"]["value"] == "ontwerp" and plan["status"]["text"]["en"].startswith("draft")


def test_a_draft_plan_counts_in_the_verdict_only_when_asked(imro):
    """Doornboom (NL.IMRO.0798.BPDoornboom-ON01) is an ontwerp whose maatvoeringen set a maximum bouwhoogte: by
    default the answer lists the plan with its status but no fact rests on it; include_ontwerp counts it."""
    gpkg = imro / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as c:
        rows = c.execute("SELECT max_bouwhoogte, geom FROM maatvoering WHERE plan_id = 'NL.IMRO.0798.BPDoornboom-ON01'"
                         " AND max_bouwhoogte IS NOT NULL").fetchall()
    assert rows, "Doornboom has maatvoeringen with a maximum bouwhoogte"
    store = Store(gpkg)
    for value, blob in rows:
        p = gpkg_geometries([blob])[0].representative_point()
        out = check_location(store, p.x, p.y, activities=[])
        [plan] = [pl for pl in out["plans"] if pl["plan_id"] == "NL.IMRO.0798.BPDoornboom-ON01"]
        assert plan["status"]["value"] == "ontwerp" and plan.get("maatvoering")
        assert out["facts"]["maximum_bouwhoogte"]["value"] is None
        assert out["facts"]["plan_aanwezig"]["value"] is False
        assert any("Doornboom" in n["nl"] and "include_ontwerp" in n["en"] for n in out["notes"]), out["notes"]
        asked = check_location(store, p.x, p.y, activities=[], include_ontwerp=True)
        assert asked["facts"]["maximum_bouwhoogte"]["value"] == pytest.approx(float(value))
        assert asked["facts"]["plan_aanwezig"]["value"] is True
        assert not any("Doornboom" in n["nl"] for n in asked["notes"])


def test_include_ontwerp_must_be_a_boolean(imro):
    from services.processes.location_check import LocationCheckInputError, LocationCheckProcessor

    proc = LocationCheckProcessor({"name": "location-check", "data": str(imro)})
    with pytest.raises(LocationCheckInputError, match="include_ontwerp"):
        proc.execute({"location": {"type": "Point", "coordinates": [155000, 463000]},
                      "crs": "http://www.opengis.net/def/crs/EPSG/0/28992", "include_ontwerp": "ja"})
