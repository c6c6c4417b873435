"""`GET /vergunningcheck`, the Vergunningcheck without 3D, over HTTP (httpx) on the zoned synthetic district with
the 8 Amsterdam STTR files imported: from a point or an address to a conclusion by plain GET forms, prefilled
answers with their evidence, "wijzig" links, and a 400 page (never a 500) for bad input. No script, no external
resource, a lang on the page and a label for every control.
"""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pyogrio
import pytest

from core.products import STORE_NAME
from tests.services.conftest import LiveServer

ACTIVITY = "kozijn-plaatsen-in-een-monument"
MONUMENT_Q = "uitv__27bca644-4f3c-4782-9235-33fddf6b9840"
PLAATSEN_Q = "uitv_dbf957ae-3d1e-4713-8454-34406ca722c8"
NIEUW = "Ik ga een nieuw kozijn plaatsen op een plek waar er eerst geen was."


class Doc(HTMLParser):
    """The parts of a page the tests look at: forms with their controls, labels, links, langs, scripts."""

    def __init__(self, text: str):
        super().__init__()
        self.forms: list[dict] = []
        self.labels: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self._link: list | None = None
        self._label_depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "controls": []})
        elif tag in ("input", "select", "textarea", "button") and self.forms:
            self.forms[-1]["controls"].append({"tag": tag, **a, "in_label": self._label_depth > 0})
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labels.add(a["for"])
        elif tag == "a":
            self._link = [a.get("href"), ""]

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1].strip()))
            self._link = None

    def handle_data(self, data):
        if self._link is not None:
            self._link[1] += data

    def radios(self, name: str) -> list[dict]:
        return [c for f in self.forms for c in f["controls"] if c.get("type") == "radio" and c.get("name") == name]

    def question_form(self) -> dict:
        """The form with the radio buttons (the question asked now)."""
        (form,) = [f for f in self.forms if any(c.get("type") in ("radio", "number") for c in f["controls"])]
        return form


def submit(form: dict, choice: dict | None = None) -> list[tuple[str, str]]:
    """The fields a browser sends for this form, with `choice` (a radio) checked."""
    fields = [(c["name"], c.get("value", "")) for c in form["controls"]
              if c.get("name") and c.get("type") not in ("radio", "submit") and c["tag"] != "button"]
    if choice is not None:
        fields.append((choice["name"], choice["value"]))
    return fields


def problems(page: str) -> list[str]:
    """What makes a page unfit for screen readers and old devices: scripts, external resources, no lang, a
    control without a label."""
    doc = Doc(page)
    out = []
    html_tag = next(a for t, a in doc.tags if t == "html")
    if html_tag.get("lang") not in ("nl", "en"):
        out.append(f"html lang {html_tag.get('lang')!r}")
    for tag, a in doc.tags:
        if tag in ("script", "img", "iframe", "object", "embed", "link"):
            out.append(f"<{tag}>")
        if any(k.startswith("on") for k in a):
            out.append(f"event handler on <{tag}>")
        if "lang" in a and not re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", a["lang"]):
            out.append(f"lang {a['lang']!r}")
    for form in doc.forms:
        for c in form["controls"]:
            if c["tag"] == "button" or c.get("type") == "hidden":
                continue
            if c.get("id") not in doc.labels and not c["in_label"]:
                out.append(f"no label for {c}")
    return out


@pytest.fixture(scope="module")
def site(zoned_district, shared_data, tmp_path_factory) -> Path:
    from etl.rules.importer import import_rules

    folder = shared_data / "amsterdam-sttr"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the real STTR files are needed")
    model = tmp_path_factory.mktemp("html-check") / "model"
    model.mkdir()
    shutil.copy2(zoned_district.model / STORE_NAME, model / STORE_NAME)
    assert not import_rules([folder], model).rejected
    return model


@pytest.fixture(scope="module")
def server(site):
    with LiveServer(site) as s:
        yield s


@pytest.fixture(scope="module")
def monument(zoned_district) -> tuple[str, list[float]]:
    return next((pid, e["point"]) for pid, e in sorted(zoned_district.expected["panden"].items())
                if e["rijksmonument"])


def get(server, params) -> httpx.Response:
    return httpx.get(f"{server.url}/vergunningcheck", params=params, timeout=60)


def follow(server, href: str) -> httpx.Response:
    parts = urlsplit(href)
    assert parts.path == "/vergunningcheck" and not parts.netloc
    return get(server, parse_qsl(parts.query))


def test_from_a_point_to_a_conclusion_by_get_forms(server, monument):
    pid, (x, y) = monument
    r = get(server, {"x": x, "y": y, "activiteit": ACTIVITY})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script runs
    assert problems(r.text) == []
    assert pid in r.text
    # the monument is prefilled, with its evidence and a link to answer it otherwise
    assert "Ingevuld uit de gegevens" in r.text and "Rijksmonument" in r.text
    assert "monumenten" in r.text and "999001" in r.text
    doc = Doc(r.text)
    assert any(dict(parse_qsl(urlsplit(h).query)).get("wijzig") == MONUMENT_Q for h, _ in doc.links)
    # the next question, as radios in a GET form back to the page
    form = doc.question_form()
    assert (form["action"], form["method"]) == ("/vergunningcheck", "get")
    assert {c["name"] for c in form["controls"] if c.get("type") == "hidden"} == {"x", "y", "activiteit", "lang"}
    (nieuw,) = [c for c in doc.radios(PLAATSEN_Q) if c["value"] == NIEUW]
    r = get(server, submit(form, nieuw))
    assert r.status_code == 200 and problems(r.text) == []
    assert "Conclusie" in r.text and "Vergunning nodig" in r.text
    assert "omgevingsvergunning" in r.text and "Pad 1" in r.text  # the conclusion text and its deciding table
    # decided: no question any more; the answer is listed with a "wijzig" link that asks it again
    doc = Doc(r.text)
    assert not [f for f in doc.forms if any(c.get("type") == "radio" for c in f["controls"])]
    (change,) = [h for h, text in doc.links if text == "wijzig: Gaat u een kozijn plaatsen of vernieuwen?"]
    assert dict(parse_qsl(urlsplit(change).query))["wijzig"] == PLAATSEN_Q
    doc = Doc(follow(server, change).text)
    assert [c["value"] for c in doc.radios(PLAATSEN_Q) if "checked" in c] == [NIEUW]


def test_overriding_the_prefilled_monument(server, monument):
    _, (x, y) = monument
    r = get(server, {"x": x, "y": y, "activiteit": ACTIVITY, PLAATSEN_Q: NIEUW})
    (override,) = [h for h, text in Doc(r.text).links if text == "ander antwoord geven: Is het gebouw een monument?"]
    r = follow(server, override)
    assert r.status_code == 200 and problems(r.text) == []
    doc = Doc(r.text)
    form = doc.question_form()
    # the other answers travel as hidden fields
    assert (PLAATSEN_Q, NIEUW) in {(c["name"], c["value"]) for c in form["controls"] if c.get("type") == "hidden"}
    radios = doc.radios(MONUMENT_Q)
    # the question's toelichting (Markdown from the file) describes its fieldset
    (fieldset,) = [a for t, a in doc.tags if t == "fieldset" and a.get("aria-describedby")]
    assert f'id="{fieldset["aria-describedby"]}"' in r.text
    assert "Het rijk of de gemeente kan een gebouw als monument aanwijzen." in r.text
    assert [c["value"] for c in radios] == ["Rijksmonument", "Gemeentelijk monument", "Geen monument"]
    assert [c["value"] for c in radios if "checked" in c] == ["Rijksmonument"]  # what the data said
    r = get(server, submit(form, radios[2]))
    assert r.status_code == 200
    assert "Vergunningvrij" in r.text and "Toestemmingsvrij" in r.text
    assert "U hebt dit vervangen door: <span lang=\"nl\">Geen monument</span>" not in r.text  # Dutch page: no lang
    assert "U hebt dit vervangen door: Geen monument" in r.text


def test_english_page_labels_the_dutch_rules(server, monument):
    _, (x, y) = monument
    r = get(server, {"x": x, "y": y, "activiteit": ACTIVITY, "lang": "en"})
    assert r.status_code == 200 and problems(r.text) == []
    assert '<html lang="en">' in r.text
    assert '<legend><span lang="nl">Gaat u een kozijn plaatsen of vernieuwen?</span></legend>' in r.text
    assert f'<span lang="nl">{NIEUW}</span>' in r.text
    assert "Filled in from the data" in r.text and "Next" in r.text


def test_by_address(server, site, monument):
    pid, _ = monument
    addresses = pyogrio.read_dataframe(site / STORE_NAME, layer="addresses", read_geometry=False)
    a = addresses[addresses["pand_identificatie"] == pid].sort_values("identificatie").iloc[0]
    postcode = f"{a.postcode[:4]} {a.postcode[4:].lower()}"
    r = get(server, {"postcode": postcode, "huisnummer": str(a.huisnummer), "activiteit": ACTIVITY})
    assert r.status_code == 200, r.text
    assert f"Gebouw: {pid}" in r.text and f"{a.openbareruimte} {a.huisnummer}" in r.text
    r = get(server, {"postcode": "9999ZZ", "huisnummer": "1"})
    assert r.status_code == 400 and "Geen adres gevonden voor 9999ZZ 1" in r.text


def test_all_activities_link_to_their_questions(server, monument):
    from core.crs import rdnap_to_etrs89

    _, (x, y) = monument
    lat, lon, _ = rdnap_to_etrs89(x, y, 0.0)
    r = get(server, {"lon": lon, "lat": lat})
    assert r.status_code == 200 and problems(r.text) == []
    targets = {dict(parse_qsl(urlsplit(h).query)).get("activiteit") for h, _ in Doc(r.text).links}
    assert {ACTIVITY, "kozijn-plaatsen", "dakkapel"} <= targets
    # the point found stays in the form for another activity, as RD x, y
    (again,) = [f for f in Doc(r.text).forms if any(c.get("name") == "activiteit" for c in f["controls"])]
    values = {c["name"]: c.get("value") for c in again["controls"] if c.get("name") in ("x", "y")}
    assert [float(values["x"]), float(values["y"])] == pytest.approx([x, y], abs=0.01)


def test_markdown_is_escaped_and_images_become_links():
    from services.html_check import markdown

    source = ('Een *klein* <script>alert(1)</script> [kaart](https://maps.example/k) [x](javascript:alert(1))'
              '\n\n*   een\n*   twee\n\n![Voorkant](https://files.example/v.png "V")')
    out = markdown(source, lambda alt: f"Afbeelding: {alt}")
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert '<a href="https://maps.example/k" rel="noopener noreferrer">kaart</a>' in out
    assert "javascript" not in out  # not a link, only its text
    assert "<ul><li>een</li><li>twee</li></ul>" in out and "<em>klein</em>" in out
    assert '<a href="https://files.example/v.png" rel="noopener noreferrer">Afbeelding: Voorkant</a>' in out
    assert "<img" not in out


@pytest.mark.parametrize("params, message", [
    ({"activiteit": ACTIVITY}, "Geef een locatie"),
    ({"x": "abc", "y": "1"}, "x en y moeten getallen zijn, niet 'abc', '1'"),
    ({"x": "1", "y": "1"}, "is not an RD New coordinate"),
    ({"lon": "4.9", "lat": "52.37", "activiteit": "zwembad-bouwen"}, "Onbekende activiteit 'zwembad-bouwen'"),
    ({"POINT": 1, MONUMENT_Q: "Een kasteel", "activiteit": ACTIVITY}, MONUMENT_Q),
    ({"POINT": 1, "uitv_bestaat_niet": "ja", "activiteit": ACTIVITY}, "'uitv_bestaat_niet' is geen vraag"),
    ({"POINT": 1, MONUMENT_Q: "Geen monument"}, "kies eerst een activiteit"),
    ({"POINT": 1, "activiteit": "dakraam-bouwen", "uitv__1403b7ef-97be-4d7e-9f41-7838d5833804": "misschien"},
     "ja of nee"),
    ({"POINT": 1, "lang": "fr"}, "Taal 'fr' bestaat niet"),
])
def test_bad_input_is_a_400_page(server, monument, params, message):
    _, (x, y) = monument
    if params.pop("POINT", None):
        params |= {"x": x, "y": y}
    r = get(server, params)
    assert r.status_code == 400, r.text[:500]
    assert message in html.unescape(r.text)
    assert 'role="alert"' in r.text and problems(r.text) == []
    assert "<form" in r.text  # the same page, to try again


def test_a_built_in_activity_walks_the_same_way(server, zoned_district):
    x, y = next(e["point"] for _, e in sorted(zoned_district.expected["panden"].items())
                if not e["rijksmonument"] and not e["beschermd_gezicht"])
    r = get(server, {"x": x, "y": y, "activiteit": "dakkapel"})
    assert r.status_code == 200 and problems(r.text) == []
    doc = Doc(r.text)
    form = doc.question_form()
    (radio,) = [c for c in form["controls"] if c.get("type") == "radio" and c["value"] == "ja"]
    first = radio["name"]
    r = get(server, submit(form, radio))
    assert r.status_code == 200 and problems(r.text) == []
    # the answer is listed (with its question from the rule file) and the next question, if any, carries it along
    assert "Uw antwoorden" in r.text
    doc = Doc(r.text)
    forms = [f for f in doc.forms if any(c.get("type") in ("radio", "number") for c in f["controls"])]
    for f in forms:
        assert (first, "ja") in {(c["name"], c.get("value")) for c in f["controls"] if c.get("type") == "hidden"}
    bad = get(server, {"x": x, "y": y, "activiteit": "dakkapel", first: "misschien"})
    assert bad.status_code == 400 and "ja of nee" in html.unescape(bad.text)


@pytest.fixture(scope="module")
def draft_only(tmp_path_factory) -> tuple[Path, float, float]:
    """A store with only the real Doornboom ontwerp (imro-b3partners) and a point in one of its bestemmingen:
    a point covered by a draft plan only."""
    import sqlite3

    from core.gpkg import gpkg_geometries
    from etl.zoning import import_zoning
    from tests.conftest import shared_path

    gml = shared_path("imro-b3partners", "NL.IMRO.0798.BPDoornboom-ON01_Hilvarenbeek.gml")
    model = tmp_path_factory.mktemp("html-draft") / "model"
    assert not import_zoning([gml], model).rejected
    with sqlite3.connect(model / STORE_NAME) as c:
        blob = c.execute("SELECT geom FROM enkelbestemming").fetchone()[0]
        assert c.execute("SELECT DISTINCT plan_status FROM bestemmingsplangebied").fetchall() == [("ontwerp",)]
    p = gpkg_geometries([blob])[0].representative_point()
    return model, p.x, p.y


def _page(data: Path, **params) -> tuple[int, str]:
    from starlette.datastructures import QueryParams

    from services.html_check import render

    return render(data, QueryParams(params))


def _notes(page: str) -> list[str]:
    """The items of the page's notes section, as text."""
    m = re.search(r'<section aria-labelledby="opmerkingen"><h2 id="opmerkingen">([^<]*)</h2><ul>(.*?)</ul>', page)
    assert m, "the page has no notes section"
    return [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", m.group(2))]


def test_a_draft_plan_is_named_in_the_notes(draft_only):
    """At a point with only a draft plan the page says why no plan counts: the check's note, in the page's
    language, in the overview and on an activity's page."""
    data, x, y = draft_only
    status, page = _page(data, x=f"{x:.2f}", y=f"{y:.2f}")
    assert status == 200 and problems(page) == []
    [note] = _notes(page)
    assert note.startswith("niet meegeteld in de feiten en het oordeel: Doornboom (ontwerp)")
    assert "<h2 id=\"opmerkingen\">Let op</h2>" in page
    status, page = _page(data, x=f"{x:.2f}", y=f"{y:.2f}", lang="en", activiteit="bouwen_tot_maximale_hoogte")
    assert status == 200 and problems(page) == []
    assert _notes(page) == ["not counted in the facts and the verdict: Doornboom (ontwerp); include_ontwerp counts "
                            "draft plans"]
    # the notes stand before the activity and its conclusion
    assert page.index('id="opmerkingen"') < page.index('id="activiteit"') < page.index('id="conclusie"')


def test_notes_are_escaped(draft_only, monkeypatch):
    import services.html_check as page_module

    real = page_module.check_location

    def with_markup(*args, **kw):
        out = real(*args, **kw)
        out["notes"].append({"nl": "<b>vet</b> & <script>x</script>", "en": "<i>en</i>"})
        return out

    monkeypatch.setattr(page_module, "check_location", with_markup)
    data, x, y = draft_only
    status, page = _page(data, x=f"{x:.2f}", y=f"{y:.2f}")
    assert status == 200 and problems(page) == []
    assert "&lt;b&gt;vet&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;" in page and "<b>" not in page
    assert _notes(page)[-1] == "<b>vet</b> & <script>x</script>"


def test_the_notes_section_only_when_there_are_notes(server, site, monument):
    from services.processes.location_check import check_location, open_store

    _, (x, y) = monument
    r = get(server, {"x": x, "y": y})
    assert r.status_code == 200
    assert ('id="opmerkingen"' in r.text) == bool(check_location(open_store(site), x, y)["notes"])
