"""The Vergunningcheck panel in Chromium, keyboard only: the municipality's STTR questions (the Amsterdam files
imported into the served site) walked one at a time at the synthetic rijksmonument, with the monument answer
prefilled from the RCE data and overridden by the user; axe on the panel; the toelichting's Markdown rendered
without HTML.
"""

from __future__ import annotations

import pyogrio
import pytest

from tests.viewer.conftest import STTR, ViewerPage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]

ACTIVITY = "kozijn-plaatsen-in-een-monument"
MONUMENT_Q = "uitv__27bca644-4f3c-4782-9235-33fddf6b9840"  # Is het gebouw een monument? (list)
PLAATSEN_Q = "uitv_dbf957ae-3d1e-4713-8454-34406ca722c8"  # Gaat u een kozijn plaatsen of vernieuwen?
NIEUW = "Ik ga een nieuw kozijn plaatsen op een plek waar er eerst geen was."
EXECUTION = "**/processes/location-check/execution"


@pytest.fixture(scope="module", autouse=True)
def _needs_sttr():
    if not STTR.is_dir():
        pytest.skip(f"{STTR} is absent: the Vergunningcheck walks the real STTR files")


@pytest.fixture(scope="module")
def monument(viewer_site, expected_zoning) -> tuple[str, dict, str]:
    """The rijksmonument pand, its expected answers and an address search for it."""
    pid, exp = next((pid, e) for pid, e in sorted(expected_zoning.items()) if e["rijksmonument"])
    addresses = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="addresses", read_geometry=False)
    mine = addresses[addresses["pand_identificatie"] == pid].sort_values("identificatie")
    assert len(mine), f"the monument pand {pid} has no address to search"
    a = mine.iloc[0]
    letter = a.huisletter if isinstance(a.huisletter, str) else ""
    addition = f"-{a.huisnummertoevoeging}" if isinstance(a.huisnummertoevoeging, str) else ""
    return pid, exp, f"{a.postcode} {a.huisnummer}{letter}{addition}"


def active(viewer: ViewerPage, selector: str) -> bool:
    return viewer.evaluate("s => document.activeElement?.matches(s) ?? false", selector)


def tab_to(viewer: ViewerPage, selector: str, backwards: bool = False, limit: int = 120) -> None:
    """Presses Tab (Shift+Tab) until the focus is on an element matching the selector."""
    for _ in range(limit):
        if active(viewer, selector):
            return
        viewer.page.keyboard.press("Shift+Tab" if backwards else "Tab")
    pytest.fail(f"Tab never reached {selector}; focus on "
                f"{viewer.evaluate('() => document.activeElement?.outerHTML.slice(0, 200)')}")


def search_address_by_keyboard(viewer: ViewerPage, query: str, pid: str) -> None:
    """Tab to the search field, type the address, Enter: the panel shows the pand."""
    tab_to(viewer, "#search-input")
    viewer.page.keyboard.type(query)
    viewer.page.keyboard.press("Enter")
    viewer.wait_panel_for(pid)


def choose_by_keyboard(viewer: ViewerPage, select: str, value: str) -> None:
    tab_to(viewer, select)
    for _ in range(40):
        if viewer.page.input_value(select) == value:
            return
        viewer.page.keyboard.press("ArrowDown")
    pytest.fail(f"{value} is not an option of {select}")


def axe_panel(viewer: ViewerPage, axe_source: str) -> list[dict]:
    """Every axe violation (any impact) in the panel, WCAG 2.1 A/AA and best practice."""
    viewer.page.add_script_tag(content=axe_source)
    result = viewer.evaluate("""() => axe.run('#panel', {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def wait_conclusion(viewer: ViewerPage, conclusion: str) -> None:
    viewer.page.wait_for_function(
        "([a, c]) => document.querySelector(`#panel article.vc[data-activity='${a}']`)?.dataset.conclusion === c"
        " && !document.querySelector('#panel-body .loading')", arg=[ACTIVITY, conclusion])


def test_keyboard_walk_with_prefilled_monument_and_override(viewer, monument, axe_source):
    pid, _, query = monument
    viewer.open()
    page = viewer.page
    # keyboard only: the address search, the activity, then the questions
    search_address_by_keyboard(viewer, query, pid)
    choose_by_keyboard(viewer, "#vc-activity", ACTIVITY)
    page.keyboard.press("Tab")
    assert active(viewer, ".activity-picker button[type=submit]")
    with page.expect_request(EXECUTION) as request:
        page.keyboard.press("Enter")
    assert request.value.post_data_json["inputs"]["activities"] == [ACTIVITY]
    wizard = page.locator(f"#panel article.vc[data-activity='{ACTIVITY}']")
    wizard.wait_for()
    viewer.page.wait_for_function("() => !document.querySelector('#panel-body .loading')")
    assert wizard.get_attribute("data-conclusion") == ""

    # the monument answer comes from the data, with its evidence
    prefilled = wizard.locator(f".vc-prefilled li[data-question='{MONUMENT_Q}']")
    assert prefilled.locator(".vc-q").inner_text() == "Is het gebouw een monument?"
    assert prefilled.locator(".vc-value").inner_text() == "Rijksmonument"
    assert "monumenten" in prefilled.locator(".vc-source").inner_text()
    assert "999001" in prefilled.locator(".vc-source").inner_text()
    assert "rijksmonument 999001" in prefilled.locator(".vc-evidence").inner_text()
    # the next question is the other one, as a radio group with its legend; the focus went to it
    assert active(viewer, "#vc-current")
    legend = wizard.locator(".vc-next legend")
    assert legend.inner_text() == "Gaat u een kozijn plaatsen of vernieuwen?"
    assert [r.get_attribute("value") for r in wizard.locator(".vc-next input[type=radio]").all()] == [
        f'"{NIEUW}"', '"Ik ga een kozijn plaatsen of vernieuwen op een plek waar er eerst al een was."']

    tab_to(viewer, ".vc-next input[type=radio]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert active(viewer, ".vc-next button[type=submit]")
    with page.expect_request(EXECUTION) as request:
        page.keyboard.press("Enter")
    inputs = request.value.post_data_json["inputs"]
    assert inputs["activities"] == [ACTIVITY] and inputs["answers"] == {PLAATSEN_Q: NIEUW}
    wait_conclusion(viewer, "Vergunningplicht")
    conclusion = wizard.locator(".vc-conclusion")
    assert conclusion.get_attribute("aria-live") == "polite"
    assert "Vergunningplicht" in conclusion.inner_text() and "omgevingsvergunning" in conclusion.inner_text()
    assert "monument" in conclusion.locator(".toelichting").inner_text()  # the file's own conclusieToelichting
    assert "Pad 1" in conclusion.locator(".vc-basis").inner_text()  # the deciding table
    assert wizard.locator(".vc-answered li").all_inner_texts()[0].startswith("Gaat u een kozijn plaatsen")
    assert "Vergunningplicht" in page.inner_text("#panel-status")
    assert axe_panel(viewer, axe_source) == []
    viewer.screenshot("20-vergunningcheck-vergunningplicht")

    # override the prefilled answer: its disclosure, then the radio group (arrows move the choice), then save
    tab_to(viewer, f".vc-prefilled li[data-question='{MONUMENT_Q}'] summary", backwards=True)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert active(viewer, ".vc-prefilled input[type=radio]:checked")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector(".vc-prefilled input[type=radio]:checked", "r => r.value") == '"Geen monument"'
    page.keyboard.press("Tab")
    assert active(viewer, ".vc-prefilled button[type=submit]")
    with page.expect_request(EXECUTION) as request:
        page.keyboard.press("Enter")
    assert request.value.post_data_json["inputs"]["answers"] == {PLAATSEN_Q: NIEUW, MONUMENT_Q: "Geen monument"}
    wait_conclusion(viewer, "Toestemmingsvrij")
    assert "Toestemmingsvrij" in wizard.locator(".vc-conclusion").inner_text()
    assert "Geen monument" in wizard.locator(f".vc-prefilled li[data-question='{MONUMENT_Q}']").inner_text()
    assert axe_panel(viewer, axe_source) == []
    viewer.assert_clean()
    viewer.screenshot("21-vergunningcheck-toestemmingsvrij")


def test_dutch_rules_are_labelled_dutch_in_english(viewer, monument):
    pid, exp, _ = monument
    viewer.open("#lang=en")
    viewer.evaluate("p => window.stadsmodel.select(p[0], p[1], {activity: p[2]})",
                    [*_lonlat(exp["point"]), ACTIVITY])
    viewer.wait_panel_for(pid)
    wizard = viewer.page.locator(f"#panel article.vc[data-activity='{ACTIVITY}']")
    assert viewer.evaluate("() => document.documentElement.lang") == "en"
    assert wizard.locator("h4").get_attribute("lang") == "nl"
    assert wizard.locator(".vc-next legend").get_attribute("lang") == "nl"
    assert {s.get_attribute("lang") for s in wizard.locator(".vc-next label span").all()} == {"nl"}
    assert wizard.locator(".vc-prefilled .vc-q").first.get_attribute("lang") == "nl"
    assert "Filled in from the data" in wizard.inner_text() and "Next" in wizard.inner_text()
    # generated texts are English, and carry no lang of their own
    assert wizard.locator(".vc-conclusion .vc-text").get_attribute("lang") is None
    assert "No conclusion yet" in wizard.locator(".vc-conclusion").inner_text()
    viewer.assert_clean()


def _lonlat(point: list[float]) -> tuple[float, float]:
    from tiles.georef import rdnap_to_etrs89

    lat, lon, _ = rdnap_to_etrs89(point[0], point[1], 0.0)
    return lon, lat


def test_markdown_is_rendered_without_html(viewer):
    viewer.open()
    out = viewer.evaluate("""async () => {
        const { renderMarkdown } = await import('./js/markdown.js');
        const box = document.createElement('div');
        box.append(renderMarkdown([
            'Een *klein* en **groot** woord <img src=x onerror="window.pwned=1"> [kaart](https://maps.example/k).',
            '',
            '*   een\\n*   twee',
            '',
            '![Voorkant van het huis](https://files.example/voorkant.png "Voorkant") [x](javascript:alert(1))',
        ].join('\\n'), (alt) => `Afbeelding: ${alt}`));
        return {html: box.innerHTML, imgs: box.querySelectorAll('img').length, pwned: window.pwned === 1,
                links: [...box.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.textContent]),
                items: [...box.querySelectorAll('ul li')].map(li => li.textContent),
                em: box.querySelector('em')?.textContent, strong: box.querySelector('strong')?.textContent,
                paragraphs: box.querySelectorAll('p').length, text: box.textContent};
    }""")
    assert out["imgs"] == 0 and not out["pwned"]
    assert '<img src=x onerror="window.pwned=1">' in out["text"]  # shown as text, not parsed
    assert out["links"] == [["https://maps.example/k", "kaart"],
                            ["https://files.example/voorkant.png", "Afbeelding: Voorkant van het huis"]]
    assert "javascript" not in "".join(h for h, _ in out["links"]) and "x" in out["text"]
    assert out["items"] == ["een", "twee"] and out["em"] == "klein" and out["strong"] == "groot"
    assert out["paragraphs"] == 2
    # the image was never requested
    assert not [u for u in viewer.requests if "example" in u]


def free_wall(store, pid: str) -> tuple[tuple[float, float], tuple[float, float], float]:
    """The longest wall of the pand with nothing built in front of it for 40 m: its midpoint (RD), its outward
    normal and the pand's maaiveld (NAP)."""
    import numpy as np
    import shapely

    panden = pyogrio.read_dataframe(store, layer="buildings", columns=["identificatie", "b3_h_maaiveld"])
    own = panden[panden["identificatie"] == pid].iloc[0]
    others = shapely.union_all(panden[panden["identificatie"] != pid].geometry.values)
    poly = own.geometry.geoms[0] if own.geometry.geom_type == "MultiPolygon" else own.geometry
    ring = np.asarray(poly.exterior.coords)[:, :2]
    best = None
    for a, b in zip(ring[:-1], ring[1:]):
        d = b - a
        length = float(np.hypot(*d))
        if length < 3:
            continue
        n = np.array([d[1], -d[0]]) / length
        mid = (a + b) / 2
        if poly.contains(shapely.Point(*(mid + 0.5 * n))):
            n = -n
        if shapely.LineString([mid + 0.5 * n, mid + 40 * n]).intersects(others):
            continue
        if best is None or length > best[0]:
            best = (length, tuple(mid), tuple(n))
    assert best, f"pand {pid} has no free wall to look at"
    return best[1], best[2], float(own["b3_h_maaiveld"])


def test_kies_gevel_sends_the_picked_wall_and_shows_the_facade(viewer, viewer_site, monument):
    import math

    from tiles.georef import rdnap_to_etrs89

    pid, exp, _ = monument
    viewer.open()
    lon, lat = _lonlat(exp["point"])
    viewer.evaluate("p => window.stadsmodel.select(p[0], p[1], {activity: p[2]})", [lon, lat, ACTIVITY])
    viewer.wait_panel_for(pid)
    (mx, my), (nx, ny), maaiveld = free_wall(viewer_site / "stadsmodel.gpkg", pid)
    # look at the wall from 40 m in front of it, then point at it 1.5 m above the ground
    cam_lat, cam_lon, cam_h = rdnap_to_etrs89(mx + 40 * nx, my + 40 * ny, maaiveld + 12)
    viewer.evaluate("s => window.stadsmodel.setCamera(s)", {
        "lon": cam_lon, "lat": cam_lat, "height": cam_h, "roll": 0,
        "heading": math.degrees(math.atan2(-nx, -ny)), "pitch": -math.degrees(math.atan2(10.5, 40))})
    viewer.wait_tiles()
    wall_lat, wall_lon, wall_h = rdnap_to_etrs89(mx, my, maaiveld + 1.5)
    pos = viewer.evaluate("p => window.stadsmodel.windowPositionOf(p[0], p[1], p[2])", [wall_lon, wall_lat, wall_h])
    assert pos, "the wall is not in view"

    button = viewer.page.locator("#vc-gevel-button")
    button.focus()
    viewer.page.keyboard.press("Enter")
    assert button.get_attribute("aria-pressed") == "true"
    assert "gevel" in viewer.page.inner_text("#map-status")
    box = viewer.page.locator("#cesium canvas").bounding_box()
    with viewer.page.expect_response(EXECUTION) as response:
        viewer.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    inputs = response.value.request.post_data_json["inputs"]
    # the picked point goes as `gevel` (CRS84, like the location), with the same location and activity
    assert inputs["location"]["coordinates"] == pytest.approx([lon, lat])
    assert inputs["activities"] == [ACTIVITY]
    assert inputs["gevel"]["type"] == "Point"
    assert inputs["gevel"]["coordinates"] == pytest.approx([wall_lon, wall_lat], abs=2e-5)  # about a metre
    assert response.value.status == 200, response.value.text()
    gevel = response.value.json()["building"]["gevel"]
    viewer.page.wait_for_selector("#panel .vc-gevel-result")
    shown = viewer.page.inner_text("#panel .vc-gevel-result")
    assert gevel["kant"] in shown if gevel["kant"] else "onbekend" in shown
    assert viewer.evaluate("() => window.stadsmodel.app.pickingGevel") is False
    assert viewer.evaluate("() => document.activeElement.id") == "vc-gevel-button"
    viewer.assert_clean()
    viewer.screenshot("23-vergunningcheck-gevel")


# ---- the page without 3D: /vergunningcheck, server-rendered, no JavaScript

def axe_page(browser, url: str, axe_source: str) -> list[dict]:
    """Every axe violation on the page at this URL, in a context of its own: axe itself is a script, which the
    page's Content-Security-Policy forbids (bypassed here only)."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        page.add_script_tag(content=axe_source)
        result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
        return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in result["violations"]]
    finally:
        context.close()


@pytest.fixture
def plain_page(browser, server_url):
    """Chromium with JavaScript disabled, as on an old device or with scripts off."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 900, "height": 800}, locale="nl-NL")
    page = ViewerPage(context.new_page(), server_url)
    yield page
    context.close()


def test_html_page_keyboard_only_from_a_point_to_a_conclusion(plain_page, browser, server_url, monument,
                                                              axe_source):
    pid, exp, _ = monument
    page = plain_page.page
    lon, lat = _lonlat(exp["point"])
    response = page.goto(f"{server_url}/vergunningcheck?lon={lon:.8f}&lat={lat:.8f}")
    assert response.status == 200
    assert page.evaluate("() => document.scripts.length") == 0
    assert axe_page(browser, page.url, axe_source) == []
    # every activity links to its questions: Tab to this one's, Enter
    tab_to(plain_page, f"a[href*='activiteit={ACTIVITY}']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"Gebouw: {pid}" in page.inner_text("main")
    assert "Rijksmonument" in page.inner_text("main") and "999001" in page.inner_text("main")
    assert page.inner_text("#volgende ~ form legend") == "Gaat u een kozijn plaatsen of vernieuwen?"
    assert axe_page(browser, page.url, axe_source) == []
    tab_to(plain_page, "input[type=radio]")
    page.keyboard.press("Space")
    assert page.eval_on_selector("input[type=radio]:checked", "r => r.value") == NIEUW
    tab_to(plain_page, "#volgende ~ form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    conclusion = page.inner_text(".conclusie")
    assert "Vergunning nodig" in conclusion and "omgevingsvergunning" in conclusion
    assert axe_page(browser, page.url, axe_source) == []
    # "wijzig" on the prefilled monument answer, then "Geen monument": toestemmingsvrij
    tab_to(plain_page, f"a[href*='wijzig={MONUMENT_Q}']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(plain_page, "input[type=radio]:checked")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector("input[type=radio]:checked", "r => r.value") == "Geen monument"
    tab_to(plain_page, "#volgende ~ form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Vergunningvrij" in page.inner_text(".conclusie")
    assert plain_page.errors == []
    plain_page.screenshot("22-vergunningcheck-html")


def test_html_page_bad_answer_is_a_400_page(plain_page, browser, server_url, monument, axe_source):
    _, exp, _ = monument
    x, y = exp["point"]
    url = f"{server_url}/vergunningcheck?x={x}&y={y}&activiteit={ACTIVITY}&{MONUMENT_Q}=Een+kasteel"
    response = plain_page.page.goto(url)
    assert response.status == 400
    alert = plain_page.page.inner_text("[role=alert]")
    assert MONUMENT_Q in alert and "Een kasteel" in alert
    assert axe_page(browser, url, axe_source) == []
