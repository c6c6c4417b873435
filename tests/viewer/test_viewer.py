"""The CesiumJS viewer in a real browser against `stadsmodel serve` on the synthetic district.

Buildings are found by their coordinates: the pand's point (RD) and roof height (NAP) from the store,
converted with RDNAPTRANS2018 (tiles.georef) and projected to the screen by Cesium itself, so a click
lands on the building only if the tiles are placed right.
"""

from __future__ import annotations

import json
import re
import sqlite3
from urllib.parse import unquote

import numpy as np
import pyogrio
import pytest
import shapely

from tests.viewer.conftest import ViewerPage

# One worker runs them all (pytest -n 2 --dist loadgroup): one district, one server, one browser.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]


@pytest.fixture(scope="session")
def panden(viewer_site, expected_zoning) -> dict:
    """Per pand id: its expected zoning answers plus lon/lat/ellipsoidal h of its roof above its point."""
    from tiles.georef import rdnap_to_etrs89

    store = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="buildings", read_geometry=False)
    roofs = dict(zip(store["identificatie"], store["b3_h_dak_70p"]))
    dak_types = dict(zip(store["identificatie"], store["b3_dak_type"]))
    out = {}
    for pid, exp in expected_zoning.items():
        if pid not in roofs or not np.isfinite(roofs[pid]):  # a pand without heights has no roof to find
            continue
        lat, lon, h = rdnap_to_etrs89(exp["point"][0], exp["point"][1], float(roofs[pid]))
        out[pid] = {**exp, "lon": lon, "lat": lat, "h": h, "roof_nap": float(roofs[pid]), "dak_type": dak_types[pid]}
    return out


def lod22_roof_height(store, pid: str, x: float, y: float) -> float | None:
    """NAP height at (x, y) of the pand's LoD2.2 roof face above it, from the store's building_solids (the
    plane through the face's corners), or None when it has no LoD2.2 solid."""
    with sqlite3.connect(store) as db:
        row = db.execute("SELECT solid FROM building_solids WHERE identificatie = ? AND lod = '2.2'", (pid,)).fetchone()
    if row is None:
        return None
    solid = json.loads(row[0])
    vertices, geometry = np.asarray(solid["vertices"], dtype=float), solid["geometry"]
    types = [s["type"] for s in geometry["semantics"]["surfaces"]]
    for rings, value in zip(geometry["boundaries"][0], geometry["semantics"]["values"][0]):
        face = vertices[rings[0]]
        if types[value] == "RoofSurface" and shapely.Polygon(face[:, :2]).contains(shapely.Point(x, y)):
            plane, *_ = np.linalg.lstsq(np.column_stack([face[:, :2], np.ones(len(face))]), face[:, 2], rcond=None)
            return float(plane @ [x, y, 1.0])
    return None


def _one(panden: dict, **wanted) -> tuple[str, dict]:
    for pid, p in sorted(panden.items()):
        if all(p.get(k) == v for k, v in wanted.items()):
            return pid, p
    pytest.fail(f"the synthetic district has no pand with {wanted}")


def look_down_at(viewer: ViewerPage, p: dict, range_m: float = 120.0) -> None:
    viewer.evaluate("s => window.stadsmodel.setCamera(s)",
                    {"lon": p["lon"], "lat": p["lat"], "height": p["h"] + range_m,
                     "heading": 0, "pitch": -90, "roll": 0})
    viewer.wait_tiles()


def click_building(viewer: ViewerPage, p: dict) -> None:
    pos = viewer.evaluate("p => window.stadsmodel.windowPositionOf(p.lon, p.lat, p.h)", p)
    assert pos, "the building's roof is not in view"
    box = viewer.page.locator("#cesium canvas").bounding_box()
    viewer.page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])


def test_viewer_loads_the_district_offline_without_errors(viewer):
    viewer.open()
    info = viewer.evaluate("""() => {
        const a = window.stadsmodel.app;
        const count = (ts) => { let n = 0; const st = [ts.root];
            while (st.length) {
                const t = st.pop(); if (t.contentReady) n += t.content.featuresLength; st.push(...t.children); }
            return n; };
        return {kinds: Object.keys(a.tilesets), buildings: count(a.tilesets.buildings),
                requestRenderMode: a.viewer.scene.requestRenderMode, title: document.title};
    }""")
    assert {"buildings", "terrain"} <= set(info["kinds"])
    assert info["buildings"] >= 50, "the buildings of the district did not stream in"
    assert info["requestRenderMode"] is True
    hosts = {re.match(r"^[a-z]+://([^/:]+)", u).group(1) for u in viewer.requests if re.match(r"^https?://", u)}
    assert hosts == {"127.0.0.1"}, f"the viewer contacted other hosts: {hosts}"
    viewer.assert_clean()
    viewer.screenshot("01-district")


def test_buildings_stand_at_their_nap_height_in_both_lods(viewer, viewer_site, panden):
    """The roof in the scene is where RDNAPTRANS2018 puts the store's NAP roof height (no 43 m geoid slip):
    in LoD2.2 (the default) the height of the roof face above the point, in LoD1.2 the block's 70th percentile."""
    from tiles.georef import rdnap_to_etrs89

    viewer.open()
    assert viewer.evaluate("() => [window.stadsmodel.lods(), window.stadsmodel.app.lod]") == [["2.2", "1.2"], "2.2"]
    sloped = [(pid, p) for pid, p in sorted(panden.items()) if p["dak_type"] == "slanted"]
    checked = 0
    for pid, p in [_one(panden, compliance="binnen_maximum"), *sloped[:2]]:
        z22 = lod22_roof_height(viewer_site / "stadsmodel.gpkg", pid, *p["point"])
        if z22 is None:
            continue
        look_down_at(viewer, p)
        h = viewer.evaluate("p => window.stadsmodel.surfaceHeight(p.lon, p.lat, ['terrain'])", p)
        assert h is not None, f"no building surface under {pid}"
        assert h == pytest.approx(rdnap_to_etrs89(*p["point"], z22)[2], abs=0.25), pid
        checked += 1
    assert checked >= 2, "the district has LoD2.2 roofs under the pand points"
    viewer.page.select_option("#lod-select", "1.2")
    pid, p = _one(panden, compliance="binnen_maximum")
    look_down_at(viewer, p)
    h = viewer.evaluate("p => window.stadsmodel.surfaceHeight(p.lon, p.lat, ['terrain'])", p)
    assert h == pytest.approx(p["h"], abs=0.25)
    viewer.assert_clean()


def test_lod_switch_keeps_selection_style_and_permalink(viewer, browser, server_url, panden):
    """LoD2.2 by default; the switch shows the LoD1.2 blocks instead (one building tileset at a time), the
    selected building stays highlighted and clickable, and a permalink keeps the LoD."""
    pid, p = next((pid, p) for pid, p in sorted(panden.items()) if p["dak_type"] == "slanted")
    viewer.open()
    shown = """() => { const a = window.stadsmodel.app;
        return {lod: a.lod, url: a.tilesets.buildings.resource.url,
                shown: Object.entries(a.buildingLods).filter(([, ts]) => ts.show).map(([lod]) => lod),
                layers: Object.keys(a.tilesets)}; }"""
    state = viewer.evaluate(shown)
    assert (state["lod"], state["shown"]) == ("2.2", ["2.2"]) and state["url"].endswith("/tiles/buildings/tileset.json")
    assert "buildings-lod12" not in state["layers"], "a LoD is a choice, not a layer of its own"
    assert viewer.page.locator("#lod-select option").all_inner_texts() == ["LoD2.2: met dakvlakken", "LoD1.2: blokken"]
    look_down_at(viewer, p)
    click_building(viewer, p)
    viewer.wait_panel_for(pid)
    text = viewer.panel_text()
    assert "Daktype" in text and "hellend" in text and "Goothoogte (NAP)" in text and "Nokhoogte (NAP)" in text
    viewer.page.select_option("#style-select", "bouwjaar")
    viewer.page.select_option("#lod-select", "1.2")
    viewer.wait_tiles()
    state = viewer.evaluate(shown)
    assert (state["lod"], state["shown"]) == ("1.2", ["1.2"]) and state["url"].endswith("/buildings-lod12/tileset.json")
    assert viewer.evaluate("""() => { const a = window.stadsmodel.app;
        return a.highlighted?.feature.tileset === a.tilesets.buildings && a.tilesets.buildings.style !== undefined
            && a.highlighted.feature.getProperty('identificatie'); }""") == pid
    assert "lod=1.2" in viewer.page.url
    click_building(viewer, p)
    viewer.wait_panel_for(pid)
    assert "Daktype" in viewer.panel_text()
    url = viewer.page.url
    viewer.assert_clean()
    viewer.screenshot("10-lod12")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    again = ViewerPage(context.new_page(), server_url)
    try:
        again.open(url[len(server_url) + 1:])
        again.wait_panel_for(pid)
        assert again.evaluate(shown)["shown"] == ["1.2"]
        assert again.page.input_value("#lod-select") == "1.2"
        again.assert_clean()
    finally:
        context.close()


def test_click_on_building_shows_its_facts_and_rules(viewer, panden):
    pid, p = _one(panden, compliance="overschrijdt")
    viewer.open()
    look_down_at(viewer, p)
    click_building(viewer, p)
    viewer.wait_panel_for(pid)
    text = viewer.panel_text()
    assert pid in text
    assert "Bestemmingsplan Synthetische Wijk" in text
    assert "Wonen" in text
    # the 3D compliance line: measured height above the plan's maximum
    compliance = viewer.page.inner_text("#panel .compliance-overschrijding")
    assert f"{p['max_bouwhoogte']:.2f}".replace(".", ",") in compliance
    # a permit check per activity, each with an outcome
    outcomes = viewer.evaluate("() => [...document.querySelectorAll('#panel .activity')].map(a => a.dataset.outcome)")
    assert len(outcomes) >= 5 and set(outcomes) <= {"vergunningvrij", "vergunning_nodig", "melding", "onbekend"}
    assert "sel=" in viewer.page.url and f"b={pid}" in unquote(viewer.page.url)
    viewer.assert_clean()
    viewer.screenshot("02-building-panel")


def test_scene_recolours_once_the_rules_are_on_screen(viewer, panden):
    """The panel is presented before the scene's re-colouring (a whole frame on a software renderer) starts, and
    the re-colouring still comes: the pand's maximum-height box."""
    pid, p = _one(panden, compliance="overschrijdt")
    viewer.open()
    look_down_at(viewer, p)
    viewer.evaluate("""() => {
        const c = window.stadsmodel.app.compliance, show = c.show.bind(c);
        window.__recoloured = [];
        c.show = (...args) => { window.__recoloured.push(performance.now()); return show(...args); };
        window.__presented = [];
        new PerformanceObserver(l => { for (const e of l.getEntries())
            if (e.identifier === 'panel-rules') window.__presented.push(e.renderTime); })
            .observe({type: 'element', buffered: true});
    }""")
    clicked = viewer.evaluate("() => performance.now()")
    click_building(viewer, p)
    viewer.wait_panel_for(pid)
    viewer.page.wait_for_function("() => window.stadsmodel.app.compliance.entity !== undefined", timeout=20_000)
    presented = [t for t in viewer.evaluate("() => window.__presented") if t > clicked]
    recoloured = viewer.evaluate("() => window.__recoloured")
    assert presented, "the browser reported no presentation of the panel's rules (Element Timing)"
    assert len(recoloured) == 1 and recoloured[0] >= presented[0]
    viewer.assert_clean()


def select(viewer: ViewerPage, pid: str, p: dict) -> None:
    """Selects a pand the way a permalink or the keyboard does (no mouse), and waits for the panel."""
    viewer.evaluate("p => window.stadsmodel.select(p.lon, p.lat)", p)
    viewer.wait_panel_for(pid)


def test_address_search_flies_to_the_building(viewer, viewer_site, panden):
    addresses = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="addresses", read_geometry=False)
    addresses = addresses[addresses["pand_identificatie"].isin(panden)].sort_values("identificatie")
    a = addresses.iloc[len(addresses) // 2]
    letter = a.huisletter if isinstance(a.huisletter, str) else ""
    addition = f"-{a.huisnummertoevoeging}" if isinstance(a.huisnummertoevoeging, str) else ""
    suffix = letter + addition
    query = f"{a.postcode[:4]} {a.postcode[4:].lower()} {a.huisnummer}{suffix}"
    viewer.open()
    before = viewer.evaluate("() => window.stadsmodel.app.viewer.camera.positionWC.clone()")
    viewer.page.fill("#search-input", query)
    viewer.page.press("#search-input", "Enter")
    viewer.wait_panel_for(a.pand_identificatie)
    assert f"{a.openbareruimte} {a.huisnummer}" in viewer.panel_text()
    p = panden[a.pand_identificatie]
    moved = viewer.evaluate("""([b, p]) => {
        const C = Cesium, cam = window.stadsmodel.app.viewer.camera;
        const target = C.Cartesian3.fromDegrees(p.lon, p.lat, p.h);
        return {moved: C.Cartesian3.distance(cam.positionWC, new C.Cartesian3(b.x, b.y, b.z)),
                distance: C.Cartesian3.distance(cam.positionWC, target)};
    }""", [before, p])
    assert moved["moved"] > 50 and moved["distance"] < 250, moved
    viewer.assert_clean()
    viewer.screenshot("03-address-search")


def test_search_lists_several_matches_and_says_when_none(viewer, viewer_site):
    addresses = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="addresses", read_geometry=False)
    street = addresses["openbareruimte"].mode()[0]
    viewer.open()
    viewer.page.fill("#search-input", street.lower())
    viewer.page.press("#search-input", "Enter")
    viewer.page.wait_for_selector("#panel .choices button")
    choices = viewer.page.locator("#panel .choices button")
    assert choices.count() == min(20, int((addresses["openbareruimte"] == street).sum()))
    assert all(t.startswith(street) for t in choices.all_inner_texts())
    choices.first.click()
    viewer.page.wait_for_function("() => document.getElementById('panel').dataset.buildingId")

    viewer.page.fill("#search-input", "9999 ZZ 1")
    viewer.page.press("#search-input", "Enter")
    viewer.page.wait_for_selector("#panel .error")
    assert "9999 ZZ 1" in viewer.panel_text()
    viewer.assert_clean()


def test_language_switch_translates_page_and_panel(viewer, panden):
    pid, p = _one(panden, compliance="overschrijdt")
    viewer.open()
    warnings = []
    viewer.page.on("console", lambda m: "i18n" in m.text and warnings.append(m.text))
    select(viewer, pid, p)
    assert "Vergunningcheck" in viewer.panel_text()
    viewer.page.select_option("#lang-select", "en")
    assert viewer.evaluate("() => document.documentElement.lang") == "en"
    text = viewer.panel_text()
    assert "Permit check" in text and "Vergunningcheck" not in text
    assert "Height and zoning plan" in text
    assert viewer.page.inner_text("#tools h2") == "Layers"
    assert "lang=en" in viewer.page.url
    assert warnings == [], warnings
    viewer.assert_clean()
    viewer.screenshot("04-english")


def _generated_texts(result: dict) -> list[dict]:
    """The texts the location check writes itself (reasoning evidence, reasons) that differ per language."""
    found = []
    for activity in result["activities"]:
        found += [s["evidence"] for s in activity.get("trail", []) if "evidence" in s]  # STTR ones have none
        found += [activity["reason"]] if "reason" in activity else []
    return [t for t in found if t["nl"] != t["en"]]


def test_process_texts_follow_the_language(viewer, panden):
    """The location check's own texts (evidence, reasons) are shown in the chosen language: in English
    no Dutch-only text of the response is left in the panel, and back in Dutch no English one."""
    pid, p = _one(panden, compliance="overschrijdt")
    viewer.open()
    with viewer.page.expect_response("**/processes/location-check/execution") as response:
        select(viewer, pid, p)
    texts = _generated_texts(response.value.json())
    assert {"nl": "geen rijksmonument op dit punt", "en": "no rijksmonument at the point"} in texts
    # textContent: the reasoning sits in closed <details>, which inner_text leaves out
    panel_text = "() => document.getElementById('panel-body').textContent"
    for lang, other in (("nl", "en"), ("en", "nl"), ("nl", "en")):
        viewer.page.select_option("#lang-select", lang)
        shown = viewer.evaluate(panel_text)
        assert [t[lang] for t in texts if t[lang] not in shown] == [], f"missing in {lang}"
        assert [t[other] for t in texts if t[other] in shown] == [], f"{other} text shown in {lang}"
    viewer.assert_clean()


def test_permalink_restores_camera_and_selection(viewer, browser, server_url, panden):
    pid, p = _one(panden, rijksmonument=True)
    viewer.open()
    look_down_at(viewer, p, range_m=200)
    select(viewer, pid, p)
    viewer.page.select_option("#style-select", "bouwjaar")
    url = viewer.page.url
    camera = viewer.evaluate("() => window.stadsmodel.app.viewer.camera.positionWC.clone()")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    again = ViewerPage(context.new_page(), server_url)
    try:
        again.open(url[len(server_url) + 1:])
        again.wait_panel_for(pid)
        restored = again.evaluate("b => Cesium.Cartesian3.distance(window.stadsmodel.app.viewer.camera.positionWC,"
                                  " new Cesium.Cartesian3(b.x, b.y, b.z))", camera)
        assert restored < 1.0
        assert again.page.input_value("#style-select") == "bouwjaar"
        assert "Synthetisch woonhuis" in again.panel_text()  # the monument, from the restored selection
        again.assert_clean()
    finally:
        context.close()


def test_answering_an_open_question_checks_again(viewer, panden):
    pid, p = _one(panden, compliance="binnen_maximum", rijksmonument=False, beschermd_gezicht=False)
    viewer.open()
    select(viewer, pid, p)
    dakkapel = viewer.page.locator("#panel article[data-activity='dakkapel']")
    assert dakkapel.get_attribute("data-outcome") == "onbekend"
    first_question = dakkapel.locator("fieldset").first
    with viewer.page.expect_request("**/processes/location-check/execution") as request:
        first_question.get_by_label("ja").check()
        # every question of the form must be answered before it submits: answer the rest too
        for radio in dakkapel.locator("fieldset").all()[1:]:
            radio.get_by_label("ja").check()
        for number in dakkapel.locator("input[type=number]").all():
            number.fill("3")
        dakkapel.get_by_role("button").click()
    answers = request.value.post_data_json["inputs"]["answers"]
    assert answers["dakkapel"] and all(v in ("ja", 3) for v in answers["dakkapel"].values())
    viewer.wait_panel_for(pid)
    viewer.page.wait_for_function(
        "() => [...document.querySelectorAll(\"#panel article[data-activity='dakkapel'] li\")]"
        ".some(li => li.textContent.includes('uw antwoord'))")
    viewer.assert_clean()
    viewer.screenshot("05-answered")


# Bouwjaar classes of styles/bouwjaar.json, stated independently: (upper bound, legend index).
BOUWJAAR_CLASSES = [(1005, 0), (1899, 1), (1944, 2), (1969, 3), (1989, 4), (2009, 5), (10_000, 6)]


def test_style_by_bouwjaar_colours_buildings_as_the_legend_says(viewer):
    viewer.open()
    viewer.page.select_option("#style-select", "bouwjaar")
    viewer.wait_tiles()
    legend = viewer.evaluate("() => [...document.querySelectorAll('#legend .swatch')]"
                             ".map(s => getComputedStyle(s).backgroundColor)")
    assert len(legend) == 7
    features = viewer.evaluate("""() => {
        const ts = window.stadsmodel.app.tilesets.buildings, out = [], st = [ts.root];
        while (st.length) { const t = st.pop(); st.push(...t.children);
            if (!t.contentReady) continue;
            for (let i = 0; i < t.content.featuresLength; i++) {
                const f = t.content.getFeature(i), c = f.color;
                out.push([Number(f.getProperty('oorspronkelijkbouwjaar')),
                          `rgb(${Math.round(c.red * 255)}, ${Math.round(c.green * 255)}, `
                          + `${Math.round(c.blue * 255)})`]);
            } }
        return out; }""")
    assert len(features) >= 50
    for year, colour in features:
        index = next(i for bound, i in BOUWJAAR_CLASSES if year <= bound)
        assert colour == legend[index], f"bouwjaar {year}: {colour}, legend says {legend[index]}"
    assert len({c for _, c in features}) >= 2
    viewer.assert_clean()
    viewer.screenshot("06-style-bouwjaar")


def test_style_by_compliance_marks_the_exceeding_building(viewer, panden):
    over, _ = _one(panden, compliance="overschrijdt")
    within, _ = _one(panden, compliance="binnen_maximum")
    viewer.open()
    viewer.page.select_option("#style-select", "compliance")
    viewer.page.wait_for_function("() => document.getElementById('map-status').textContent.startsWith('Toets klaar')")
    status = viewer.evaluate("""ids => {
        const ts = window.stadsmodel.app.tilesets.buildings, out = {}, st = [ts.root];
        while (st.length) { const t = st.pop(); st.push(...t.children);
            if (!t.contentReady) continue;
            for (let i = 0; i < t.content.featuresLength; i++) {
                const f = t.content.getFeature(i);
                const id = f.getProperty('identificatie');
                if (ids.includes(id)) out[id] = f.getProperty('stadsmodel_compliance');
            } }
        return out; }""", [over, within])
    assert status == {over: "overschrijding", within: "binnen"}
    viewer.assert_clean()
    viewer.screenshot("07-style-compliance")


def test_height_measurement_between_two_roofs(viewer, panden):
    (a_id, a), (b_id, b) = sorted(panden.items(), key=lambda kv: kv[1]["roof_nap"])[:: len(panden) - 1][:2]
    mid = {"lon": (a["lon"] + b["lon"]) / 2, "lat": (a["lat"] + b["lat"]) / 2, "h": max(a["h"], b["h"])}
    viewer.open("#lod=1.2")  # the blocks: their roofs are at the store's 70th percentile
    look_down_at(viewer, mid, range_m=450)
    viewer.page.click("#measure-button")
    click_building(viewer, a)
    click_building(viewer, b)
    result = viewer.page.inner_text("#measure-result")
    dh = float(re.search(r"(-?[\d.,]+) m", result).group(1).replace(",", "."))
    assert dh == pytest.approx(b["roof_nap"] - a["roof_nap"], abs=0.1)
    viewer.assert_clean()
    viewer.screenshot("08-measure")


def test_shadows_follow_date_and_time(viewer):
    viewer.open()
    viewer.page.check("#shadow-toggle")
    viewer.page.fill("#shadow-date", "2024-06-21")
    viewer.page.eval_on_selector("#shadow-time", "el => { el.value = 600; el.dispatchEvent(new Event('input')); }")
    state = viewer.evaluate("() => ({shadows: window.stadsmodel.app.viewer.shadows,"
                            " time: Cesium.JulianDate.toIso8601(window.stadsmodel.app.viewer.clock.currentTime, 0)})")
    # 10:00 in Amsterdam on midsummer day is 08:00 UTC (CEST, UTC+2)
    assert state == {"shadows": True, "time": "2024-06-21T08:00:00Z"}
    assert viewer.page.inner_text("#shadow-time-out") == "10:00"
    viewer.wait_tiles()
    viewer.assert_clean()
    viewer.screenshot("09-shadows")


def _axe(viewer: ViewerPage, axe_source: str) -> list[dict]:
    viewer.page.add_script_tag(content=axe_source)
    result = viewer.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_accessibility_page_and_panel(viewer, panden, axe_source):
    viewer.open()
    assert _axe(viewer, axe_source) == []
    pid, p = _one(panden, compliance="overschrijdt")
    select(viewer, pid, p)
    assert viewer.evaluate("() => document.activeElement.id") == "panel-title", "focus did not move to the panel"
    assert viewer.page.inner_text("#panel-status")
    assert _axe(viewer, axe_source) == []
    # keyboard only: Escape in the panel closes it and returns to the introduction
    viewer.page.keyboard.press("Escape")
    assert viewer.evaluate("() => document.getElementById('panel').dataset.buildingId") in ("", None)


def test_overlays_drape_zoning_from_the_ogc_api(viewer, viewer_site):
    vlakken = pyogrio.read_info(viewer_site / "stadsmodel.gpkg", layer="enkelbestemming")["features"]
    viewer.open()
    viewer.page.check("#layer-bestemmingsvlak")
    viewer.page.wait_for_function("() => window.stadsmodel.app.viewer.dataSources.length > 0")
    shown = viewer.evaluate("""() => { const ds = window.stadsmodel.app.viewer.dataSources.get(0);
        return {name: ds.name, show: ds.show, polygons: ds.entities.values.filter(e => e.polygon).length}; }""")
    assert shown == {"name": "bestemmingsvlak", "show": True, "polygons": vlakken}
    assert "layers=" in viewer.page.url and "bestemmingsvlak" in viewer.page.url
    viewer.page.uncheck("#layer-bestemmingsvlak")
    assert viewer.evaluate("() => window.stadsmodel.app.viewer.dataSources.get(0).show") is False
    viewer.wait_tiles()
    viewer.assert_clean()
