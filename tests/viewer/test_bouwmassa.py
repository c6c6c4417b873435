"""The allowed building volume in the viewer (issue 14), in Chromium: the layer "Toegestane bouwmassa" shows the
`envelopes` tileset translucent (every envelope of the store a feature, the building inside still visible through
it: the rendered pixel turns blue but is no envelope-blue, and the pick hits the envelope) and the `excess` tileset
red; both are off by default, and selecting the building that exceeds its envelope shows its own excess (only
its) and in the panel the numbers of the location check's building.bouwenvelop, in Dutch and English. The
synthetic plan (synth/plan.py) gives the first Wonen pand a maximum bouwhoogte 1.5 m below its height.
"""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest

from tests.viewer.conftest import ViewerPage
from tests.viewer.test_vergunningcheck import active, tab_to
from tests.viewer.test_viewer import _one, look_down_at, panden  # noqa: F401 (panden: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]

EXECUTION = "**/processes/location-check/execution"

COUNT_FEATURES = """kind => { const ts = window.stadsmodel.app.tilesets[kind], out = [], st = [ts.root];
    while (st.length) { const t = st.pop(); st.push(...t.children);
        if (!t.contentReady) continue;
        for (let i = 0; i < t.content.featuresLength; i++) {
            const f = t.content.getFeature(i);
            out.push({id: f.getProperty('identificatie') ?? f.getProperty('object_id'), show: f.show,
                      alpha: f.color.alpha, red: f.color.red, blue: f.color.blue});
        } }
    return out; }"""


@pytest.fixture(scope="module")
def envelope_site(viewer_site) -> dict:
    """The tile index's envelopes/excess entries and the store's bouwenvelop and excess rows."""
    index = json.loads((viewer_site / "tiles" / "index.json").read_text(encoding="utf-8"))
    entries = index.get("tilesets", index)
    names = {e.get("name", k) if isinstance(e, dict) else k
             for k, e in (entries.items() if isinstance(entries, dict) else enumerate(entries))}
    if not {"envelopes", "excess"} <= names:
        pytest.skip(f"the viewer site's tiles have no envelopes/excess tilesets (index: {sorted(names)})")
    with sqlite3.connect(viewer_site / "stadsmodel.gpkg") as c:
        c.row_factory = sqlite3.Row
        envelopes = [dict(r) for r in c.execute("SELECT object_id, relatief FROM bouwenvelop")]
        excess = {r["identificatie"]: dict(r) for r in c.execute(
            "SELECT identificatie, status, excess_volume_m3, max_excess_height_m FROM bouwenvelop_overschrijding")}
    return {"envelopes": [e["object_id"] for e in envelopes if not e["relatief"]], "excess": excess}


def _dutch(value: float, digits: int) -> str:
    """Dutch number formatting: a decimal comma, a dot between thousands."""
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def pixel(viewer: ViewerPage, x: float, y: float) -> list[int]:
    """The rendered colour (RGB) at CSS pixel x, y of the map, from a screenshot of the page."""
    box = viewer.page.locator("#cesium canvas").bounding_box()
    png = viewer.page.screenshot(clip={"x": box["x"] + x - 1, "y": box["y"] + y - 1, "width": 3, "height": 3})
    return viewer.evaluate("""async src => { const img = new Image(); img.src = src; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(Math.floor(img.width / 2), Math.floor(img.height / 2), 1, 1).data;
        return [d[0], d[1], d[2]]; }""", "data:image/png;base64," + base64.b64encode(png).decode())


def picked(viewer: ViewerPage, pos: dict) -> dict | None:
    return viewer.evaluate("""p => { const a = window.stadsmodel.app;
        const f = a.viewer.scene.pick(new Cesium.Cartesian2(p.x, p.y));
        if (!(f instanceof Cesium.Cesium3DTileFeature)) return null;
        const kind = Object.entries(a.tilesets).find(([, ts]) => ts === f.tileset)?.[0];
        return {kind, id: f.getProperty('object_id') ?? f.getProperty('identificatie')}; }""", pos)


def test_layer_shows_the_envelopes_translucent(viewer: ViewerPage, envelope_site, panden):  # noqa: F811
    pid, p = _one(panden, compliance="binnen_maximum")
    viewer.open()
    shown = "() => ['envelopes', 'excess'].map(k => window.stadsmodel.app.tilesets[k].show)"
    assert viewer.evaluate(shown) == [False, False], "the layer is off by default"
    box = viewer.page.locator("label[for='layer-bouwmassa']")
    assert box.inner_text().strip() == "Toegestane bouwmassa"
    assert not viewer.page.is_checked("#layer-bouwmassa")
    hint = viewer.page.get_attribute("#layer-bouwmassa", "aria-describedby")
    assert "rood" in viewer.page.inner_text(f"#{hint}")  # the colours said in words
    assert viewer.page.locator("#layer-list input[id='layer-envelopes'], #layer-list input[id='layer-excess']"
                               ).count() == 0, "the two tilesets are one layer"
    look_down_at(viewer, p)
    pos = viewer.evaluate("p => window.stadsmodel.windowPositionOf(p.lon, p.lat, p.h)", p)
    assert picked(viewer, pos)["kind"] == "buildings"
    before = pixel(viewer, pos["x"], pos["y"])

    # keyboard: Tab to the checkbox, Space
    tab_to(viewer, "#layer-bouwmassa")
    viewer.page.keyboard.press("Space")
    assert viewer.page.is_checked("#layer-bouwmassa") and active(viewer, "#layer-bouwmassa")
    viewer.wait_tiles()
    assert viewer.evaluate(shown) == [True, True]
    features = viewer.evaluate(COUNT_FEATURES, "envelopes")
    assert sorted(f["id"] for f in features) == sorted(envelope_site["envelopes"])
    assert {round(f["alpha"], 2) for f in features} == {0.35}, "the envelopes are translucent"
    hit = picked(viewer, pos)
    assert hit["kind"] == "envelopes" and hit["id"] in envelope_site["envelopes"]
    after = pixel(viewer, pos["x"], pos["y"])
    # the roof seen through the envelope: bluer than before, but not the envelope's own colour (#2f7fd1)
    assert (after[2] - after[0]) >= (before[2] - before[0]) + 8, (before, after)
    assert max(abs(a - b) for a, b in zip(after, (0x2F, 0x7F, 0xD1))) > 20, (before, after)
    # with the layer on, every excess is shown, red
    excess = viewer.evaluate(COUNT_FEATURES, "excess")
    exceeding = {i for i, r in envelope_site["excess"].items() if r["status"] == "overschrijdt"}
    assert exceeding and {f["id"] for f in excess} <= set(envelope_site["excess"])
    assert all(f["show"] and f["red"] > 0.8 and f["blue"] < 0.2 for f in excess)
    permalink = viewer.page.url
    assert "bouwmassa" in permalink.split("layers=")[1]
    viewer.screenshot("40-bouwmassa")

    viewer.page.keyboard.press("Space")
    assert viewer.evaluate(shown) == [False, False]
    assert picked(viewer, pos)["kind"] == "buildings"
    assert "bouwmassa" not in viewer.page.url.split("layers=")[1]
    # the permalink brings the layer back
    viewer.page.goto(permalink)
    viewer.page.wait_for_function("() => document.getElementById('layer-bouwmassa')?.checked")
    assert viewer.evaluate(shown) == [True, True]
    viewer.assert_clean()


def test_exceeding_building_shows_its_excess_and_numbers(viewer: ViewerPage, envelope_site, panden):  # noqa: F811
    over, p = _one(panden, compliance="overschrijdt")
    row = envelope_site["excess"][over]
    assert row["status"] == "overschrijdt" and row["max_excess_height_m"] > 1.0
    viewer.open()
    look_down_at(viewer, p)
    with viewer.page.expect_response(EXECUTION) as response:
        viewer.evaluate("p => window.stadsmodel.select(p.lon, p.lat)", p)
    viewer.wait_panel_for(over)
    clash = response.value.json()["building"]["bouwenvelop"]
    assert clash["status"] == "overschrijdt"
    assert clash["max_excess_height_m"] == pytest.approx(row["max_excess_height_m"], abs=0.01)
    assert clash["excess_volume_m3"] == pytest.approx(row["excess_volume_m3"], rel=0.01)
    volume = clash["excess_volume_m3"]
    line = viewer.page.locator("#panel .compliance.envelope")
    assert line.get_attribute("data-envelope-status") == "overschrijdt"
    expected = (f"steekt {_dutch(clash['max_excess_height_m'], 1)} m boven de bouwenvelop uit, "
                f"{_dutch(volume, 1 if volume < 10 else 0)} m³")
    assert line.locator(".envelope-text").inner_text() == expected
    assert "Overschrijding" in line.inner_text()

    # the layer is off, yet this building's excess is shown, and only it (the scene follows the panel once its
    # rules are on screen, main.js afterShown)
    viewer.page.wait_for_function("() => window.stadsmodel.app.tilesets.excess.show === true", timeout=10_000)
    viewer.wait_tiles()
    assert viewer.evaluate("() => window.stadsmodel.app.tilesets.envelopes.show") is False
    excess = viewer.evaluate(COUNT_FEATURES, "excess")
    assert [f["id"] for f in excess if f["show"]] == [over]
    viewer.screenshot("41-excess-selected")

    viewer.evaluate("() => window.stadsmodel.setLanguage('en')")
    expected_en = (f"extends {clash['max_excess_height_m']:.1f} m above the building envelope, "
                   f"{volume:,.{1 if volume < 10 else 0}f} m³")
    assert viewer.page.inner_text("#panel .compliance.envelope .envelope-text") == expected_en
    viewer.evaluate("() => window.stadsmodel.setLanguage('nl')")

    # a building within its envelope: no excess shown
    within = next(pid for pid, r in sorted(envelope_site["excess"].items())
                  if r["status"] == "binnen_envelop" and pid in panden)
    q = panden[within]
    viewer.evaluate("p => window.stadsmodel.select(p.lon, p.lat)", q)
    viewer.wait_panel_for(within)
    assert viewer.page.inner_text("#panel .compliance.envelope .envelope-text") == "binnen de bouwenvelop"
    # the scene follows the panel (main.js afterShown): the excess is hidden then
    viewer.page.wait_for_function("() => window.stadsmodel.app.tilesets.excess.show === false", timeout=10_000)
    viewer.assert_clean()


def test_unmeasured_building_says_why(viewer: ViewerPage, envelope_site, expected_zoning):
    """A pand in a bouwvlak whose heights were not measured: status onbekend, with the process's reason."""
    from tiles.georef import rdnap_to_etrs89

    unmeasured = [(pid, e) for pid, e in sorted(expected_zoning.items())
                  if e["onbekend_omdat"] == "hoogte_niet_gemeten" and e["in_bouwvlak"]]
    if not unmeasured:
        pytest.skip("the synthetic district has no unmeasured pand in a bouwvlak")
    pid, e = unmeasured[0]
    lat, lon, _ = rdnap_to_etrs89(e["point"][0], e["point"][1], 0.0)
    viewer.open()
    with viewer.page.expect_response(EXECUTION) as response:
        viewer.evaluate("p => window.stadsmodel.select(p[0], p[1])", [lon, lat])
    viewer.wait_panel_for(pid)
    clash = response.value.json()["building"]["bouwenvelop"]
    assert clash["status"] == "onbekend" and clash["reason"]["nl"]
    text = viewer.page.inner_text("#panel .compliance.envelope .envelope-text")
    assert text == f"niet te bepalen: {clash['reason']['nl']}"
    # the scene follows the panel (main.js afterShown): the excess is hidden then
    viewer.page.wait_for_function("() => window.stadsmodel.app.tilesets.excess.show === false", timeout=10_000)
    viewer.assert_clean()
