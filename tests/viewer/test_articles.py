"""The plans' articles in the viewer (issue 16), in Chromium and by keyboard only: the articles that apply at a
pand (the location check's plans[].articles, from the synthetic plan's regels document, synth/plan.py) are
disclosures whose text opens with Enter, text first and the legal citation with it; the compliance verdict shows
the sentence it comes from; the search field's "Regels" mode runs q= over the `regels` collection and a result
opens with Space to its text. In English the article texts stay Dutch with lang="nl" and "(Dutch)". Markup in an
article's text is shown as text. axe on the panel.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import parse_qs, urlparse

import pyogrio
import pytest

from tests.viewer.conftest import ViewerPage
from tests.viewer.test_vergunningcheck import active, axe_panel, search_address_by_keyboard, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]

PLAN_NAAM = "Bestemmingsplan Synthetische Wijk"
REGELS_ITEMS = "**/api/collections/regels/items?*"


@pytest.fixture(scope="module")
def regels(viewer_site) -> dict[str, dict]:
    """The store's articles by artikelnummer (skips when the synthetic plan has no regels document yet)."""
    gpkg = viewer_site / "stadsmodel.gpkg"
    with sqlite3.connect(gpkg) as c:
        c.row_factory = sqlite3.Row
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'regels'").fetchone():
            pytest.skip("the viewer site's store has no regels table")
        rows = [dict(r) for r in c.execute("SELECT * FROM regels")]
    with_text = {r["artikelnummer"]: r for r in rows if r.get("tekst")}
    if "3" not in with_text:
        pytest.skip("the synthetic plan has no regels document with article 3 (Wonen) in the store")
    return with_text


@pytest.fixture(scope="module")
def wonen(viewer_site, expected_zoning) -> tuple[str, dict, str]:
    """A pand in the Wonen strip with a maximum bouwhoogte (its verdict has a source sentence), its expected
    answers and an address search for it."""
    addresses = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="addresses", read_geometry=False)
    for pid, exp in sorted(expected_zoning.items()):
        if exp["bestemming"] != "wonen" or exp["max_bouwhoogte"] is None or exp["compliance"] == "onbekend":
            continue
        mine = addresses[addresses["pand_identificatie"] == pid].sort_values("identificatie")
        if not len(mine):
            continue
        a = mine.iloc[0]
        letter = a.huisletter if isinstance(a.huisletter, str) else ""
        addition = f"-{a.huisnummertoevoeging}" if isinstance(a.huisnummertoevoeging, str) else ""
        return pid, exp, f"{a.postcode} {a.huisnummer}{letter}{addition}"
    pytest.fail("the synthetic district has no Wonen pand with a maximum bouwhoogte and an address")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def test_keyboard_reads_an_article_and_searches_the_rules(viewer: ViewerPage, regels, wonen, axe_source):
    pid, _, query = wonen
    viewer.open()
    page = viewer.page
    search_address_by_keyboard(viewer, query, pid)

    # the plan's articles at the pand: Wonen (article 3) among them, closed until opened
    plan = page.locator("#panel .plan", has_text=PLAN_NAAM)
    article = plan.locator("details.article[data-artikel='3']")
    assert article.count() == 1
    assert article.get_attribute("open") is None and not article.locator(".article-text").is_visible()
    kop = regels["3"]["kop"]
    assert article.locator("summary").inner_text().strip() == kop
    tab_to(viewer, "#panel .plan details.article[data-artikel='3'] > summary")
    page.keyboard.press("Enter")
    assert article.get_attribute("open") is not None
    body = article.locator(".article-text")
    assert body.is_visible()
    # text first, every line of the stored article, then the citation (artikelnummer and kop, the plan)
    assert [p.strip() for p in body.locator("p").all_inner_texts()] == _lines(regels["3"]["tekst"])
    assert "dakkapel" in body.inner_text()
    order = article.evaluate("d => [...d.children].map(c => c.tagName === 'SUMMARY' ? 'summary' : c.className)")
    assert order[:2] == ["summary", "article-text"] and order[-1] == "citation meta"
    citation = article.locator(".citation")
    assert kop in citation.inner_text() and PLAN_NAAM in citation.inner_text()
    if regels["3"].get("url"):
        assert citation.locator("a").get_attribute("href") == regels["3"]["url"]
    assert body.get_attribute("lang") is None  # Dutch in a Dutch page

    # the compliance verdict with the sentence it comes from
    verdict = page.locator("#panel .compliance").first
    sentence = verdict.locator(".source-sentence")
    line = next(x for x in _lines(regels["3"]["tekst"]) if x.startswith("b. de bouwhoogte"))
    assert sentence.count() == 1 and "Artikel 3.2 onder b" in sentence.inner_text() and line in sentence.inner_text()
    assert axe_panel(viewer, axe_source) == []
    viewer.screenshot("30-article-open")

    # the rules search: "Regels" in the search kind, a word, Enter; the results list number, kop and plan
    tab_to(viewer, "#search-kind", backwards=True)
    for _ in range(3):
        if page.input_value("#search-kind") == "regels":
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("#search-kind") == "regels"
    assert page.inner_text("#search-label") == "Regels zoeken"
    page.keyboard.press("Tab")
    assert active(viewer, "#search-input")
    page.keyboard.press("Control+A")
    page.keyboard.type("dakkapel")
    with page.expect_request(REGELS_ITEMS) as request:
        page.keyboard.press("Enter")
    assert parse_qs(urlparse(request.value.url).query)["q"] == ["dakkapel"]
    page.wait_for_selector("#panel .article-results")
    expected = sorted(nr for nr, r in regels.items() if "dakkapel" in (r["kop"] + r["tekst"]).lower())
    results = page.locator("#panel .article-results details.article-result")
    assert sorted(results.evaluate_all("ds => ds.map(d => d.dataset.artikel)")) == expected
    assert "3" in expected
    for summary in results.locator("summary").all_inner_texts():
        assert PLAN_NAAM in summary
    hit = page.locator("#panel .article-results details.article-result[data-artikel='3']")
    assert hit.locator("summary").inner_text().startswith(kop)
    assert not hit.locator(".article-text").is_visible()
    tab_to(viewer, "#panel .article-results details[data-artikel='3'] > summary")
    page.keyboard.press("Space")
    assert hit.locator(".article-text").is_visible()
    assert "dakkapel" in hit.locator(".article-text").inner_text()
    assert f"{len(expected)} artikelen gevonden" in page.inner_text("#panel")
    assert axe_panel(viewer, axe_source) == []
    viewer.assert_clean()
    viewer.screenshot("31-article-search")


def test_articles_stay_dutch_in_english(viewer: ViewerPage, regels, wonen, panden_lonlat):
    pid, exp, _ = wonen
    viewer.open("#lang=en")
    viewer.evaluate("p => window.stadsmodel.select(p[0], p[1])", list(panden_lonlat(exp["point"])))
    viewer.wait_panel_for(pid)
    article = viewer.page.locator("#panel details.article[data-artikel='3']")
    assert "Articles that apply here" in viewer.panel_text()
    assert article.locator(".article-kop").get_attribute("lang") == "nl"
    assert article.locator(".lang-note").inner_text().strip() == "(Dutch)"
    assert article.locator(".article-text").get_attribute("lang") == "nl"
    assert article.locator(".citation").text_content().startswith("Source: ")  # closed: not rendered
    sentence = viewer.page.locator("#panel .compliance .source-sentence").first
    assert sentence.inner_text().startswith("From the rules")
    viewer.assert_clean()

    viewer.evaluate("() => window.stadsmodel.search('dakkapel', 'regels')")
    viewer.page.wait_for_selector("#panel .article-results")
    assert viewer.page.inner_text("#panel-title") == "Rules with “dakkapel”"
    texts = viewer.page.locator("#panel .article-result .article-text").all()
    assert texts and {e.get_attribute("lang") for e in texts} == {"nl"}


HOSTILE = ('Een <img src=x onerror="window.pwned=1"> en <b>vet</b> woord.\n'
           '<script>window.pwned=1</script>')


def test_markup_in_an_article_is_text(viewer: ViewerPage, regels):
    """An article whose text holds markup (routed in raw, as no server answer should hold it) shows it as words:
    nothing is parsed, run or fetched; a javascript: url is no link. No article found says so."""
    import json

    viewer.open()
    title = viewer.evaluate("() => document.title")
    feature = {"type": "Feature", "id": "x/1", "geometry": None, "properties": {
        "artikelnummer": "99", "kop": "Artikel 99 <i>Opmaak</i>", "tekst": HOSTILE, "plan_id": "NL.IMRO.9999.X",
        "plan_naam": "Plan <u>X</u>", "url": "javascript:window.pwned=1"}}
    body = {"type": "FeatureCollection", "features": [feature], "numberMatched": 1, "numberReturned": 1}
    viewer.page.route(REGELS_ITEMS, lambda route: route.fulfill(status=200, content_type="application/json",
                                                                body=json.dumps(body)))
    viewer.evaluate("() => window.stadsmodel.search('opmaak', 'regels')")
    viewer.page.wait_for_selector("#panel .article-results")
    hit = viewer.page.locator("#panel details.article-result[data-artikel='99']")
    assert hit.locator("summary").inner_text().startswith("Artikel 99 <i>Opmaak</i>")
    hit.locator("summary").press("Enter")
    assert hit.locator(".article-text p").all_inner_texts() == HOSTILE.split("\n")
    assert "Plan <u>X</u>" in hit.locator(".citation").inner_text()
    assert hit.locator(".citation a").count() == 0, "a javascript: url became a link"
    assert viewer.evaluate("() => document.querySelectorAll('#panel img, #panel b, #panel i, #panel u,"
                           " #panel script').length") == 0
    assert viewer.evaluate("() => window.pwned === undefined") and viewer.evaluate("() => document.title") == title
    viewer.page.unroute(REGELS_ITEMS)
    viewer.evaluate("() => window.stadsmodel.search('geenwoorddatbestaat', 'regels')")
    viewer.page.wait_for_selector("#panel .search-none")
    assert "geenwoorddatbestaat" in viewer.page.inner_text("#panel .search-none")
    viewer.assert_clean()


# An Omgevingsplan article and verdict sentence as the location check gives them (tests/services/test_articles.py:
# Gemeentestad, article 2.14 and its norm, services.articles._sentence_out).
ARTICLE_2_14 = "Artikel 2.14 Bouwregels bedrijfsgebouwen"
SENTENCE_D = ("De maximum bouwhoogte van een bedrijfsgebouw is de ter plaatse van het werkingsgebied "
              "'maximum bouwhoogte bedrijfsgebouw' bepaalde waarde.")
ARTICLE_2_14_LEAD = "Voor het bouwen van een bedrijfsgebouw gelden de volgende regels:"
OW_ARTICLE = {
    "kop": {"nl": ARTICLE_2_14, "en": ARTICLE_2_14, "lang": "nl"},
    "tekst": {"nl": f"{ARTICLE_2_14_LEAD}\nd. {SENTENCE_D}", "en": f"{ARTICLE_2_14_LEAD}\nd. {SENTENCE_D}",
              "lang": "nl"},
    "citation": {"id": "x", "nl": f"Gemeentestad (/akn/nl/act/gm0297/2019/reg456), {ARTICLE_2_14}",
                 "en": f"Gemeentestad (/akn/nl/act/gm0297/2019/reg456), {ARTICLE_2_14}", "lang": "nl", "url": None},
    "artikelnummer": "2.14", "tekst_in_opslag": True, "url": None,
    "normen": [{"norm": "n1", "naam": "maximum bouwhoogte bedrijfsgebouw", "type": "MaximumBouwhoogte", "waarde": 13,
                "eenheid": "Meter", "locatie": "13 m", "waarde_tekst": {"nl": "13 m", "en": "13 m"},
                "zin": {"label": {"nl": "Artikel 2.14 onder d", "en": "Artikel 2.14 onder d", "lang": "nl"},
                        "tekst": {"nl": SENTENCE_D, "en": SENTENCE_D, "lang": "nl"}, "wid": "w"}}],
}
OW_SENTENCE = {
    "label": {"nl": "Artikel 2.14 onder d", "en": "Artikel 2.14 onder d", "lang": "nl"},
    "tekst": {"nl": SENTENCE_D, "en": SENTENCE_D, "lang": "nl"}, "id": "w", "citation": OW_ARTICLE["citation"],
    "summary": {"nl": f"Artikel 2.14 onder d: {SENTENCE_D} (13 m ter plaatse) — gemeten 14,20 m",
                "en": "Artikel 2.14 onder d (Dutch text in tekst): maximum 13 m here — measured 14.20 m"}}
IMRO_LINKED = {"kop": None, "tekst": None, "artikelnummer": "23", "tekst_in_opslag": False,
               "url": "https://www.ruimtelijkeplannen.nl/documents/NL.IMRO.0664.BPBS03-ON99/r_x.html#a",
               "reason": {"nl": "de tekst van dit artikel is niet in de opslag", "en": "the text is not in the store"}}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_omgevingsplan_article_and_sentence_render(viewer: ViewerPage, lang):
    """The shapes of an Omgevingsplan answer: the verdict's one sentence quoted with its label, the article with its
    norm and the sentence that states it; a bestemmingsplan article without text links to ruimtelijkeplannen.nl."""
    viewer.open(f"#lang={lang}")
    out = viewer.evaluate("""async ([article, sentence, linked]) => {
        const { articleDetails, sourceSentence } = await import('./js/articles.js');
        const box = document.createElement('div');
        box.append(sourceSentence(sentence), articleDetails(article, 'Gemeentestad', { open: true }),
                   articleDetails(linked, 'Goes'));
        document.getElementById('panel-body').replaceChildren(box);
        const q = (s) => box.querySelector(s);
        return {label: q('.source-sentence .meta').textContent, quote: q('.source-sentence blockquote').textContent,
                quoteLang: q('.source-sentence blockquote').getAttribute('lang'),
                summary: q('details.article summary').textContent,
                text: [...q('details.article .article-text').children].map(p => p.textContent),
                norm: q('details.article .article-norms li').textContent,
                citation: q('details.article .citation').textContent,
                link: box.querySelectorAll('details.article')[1].querySelector('.citation a')?.href,
                missing: box.querySelectorAll('details.article')[1].querySelector('.article-missing').textContent,
                linked: box.querySelectorAll('details.article')[1].querySelector('summary').textContent,
                linkedLang: box.querySelectorAll('details.article')[1].querySelector('[lang]')};
    }""", [OW_ARTICLE, OW_SENTENCE, IMRO_LINKED])
    dutch = " (Dutch)" if lang == "en" else ""
    assert out["label"] == ("From the rules: " if lang == "en" else "Uit de regels: ") + "Artikel 2.14 onder d" + dutch
    assert out["quote"] == SENTENCE_D and out["quoteLang"] == ("nl" if lang == "en" else None)
    assert out["summary"] == ARTICLE_2_14 + dutch
    assert out["text"] == [ARTICLE_2_14_LEAD, f"d. {SENTENCE_D}"]
    assert out["norm"] == "maximum bouwhoogte bedrijfsgebouw: 13 m (13 m)Artikel 2.14 onder d"
    assert ARTICLE_2_14 in out["citation"] and "Gemeentestad" in out["citation"]
    assert out["link"] == IMRO_LINKED["url"]
    assert out["missing"] == IMRO_LINKED["reason"][lang]
    # without a kop the heading is the viewer's own words ("Artikel 23" / "Article 23"), not marked Dutch
    assert out["linked"] == ("Article 23" if lang == "en" else "Artikel 23") and out["linkedLang"] is None
    viewer.assert_clean()


@pytest.fixture(scope="module")
def panden_lonlat():
    from tiles.georef import rdnap_to_etrs89

    def lonlat(point):
        lat, lon, _ = rdnap_to_etrs89(point[0], point[1], 0.0)
        return lon, lat
    return lonlat
