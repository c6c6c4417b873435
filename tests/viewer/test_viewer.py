"""The CesiumJS viewer in a real browser against `stadsmodel serve` on the synthetic district.

Buildings are found by their coordinates: the pand's point (RD) and roof height (NAP) from the store,
converted with RDNAPTRANS2018 (tiles.georef) and projected to the screen by Cesium itself, so a click
lands on the building only if the tiles are placed right.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyogrio
import pytest

from tests.viewer.conftest import ViewerPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def panden(viewer_site, expected_zoning) -> dict:
    """Per pand id: its expected zoning answers plus lon/lat/ellipsoidal h of its roof above its point."""
    from tiles.georef import rdnap_to_etrs89

    store = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="buildings", read_geometry=False)
    roofs = dict(zip(store["identificatie"], store["b3_h_dak_70p"]))
    out = {}
    for pid, exp in expected_zoning.items():
        if pid not in roofs or roofs[pid] is None:
            continue
        lat, lon, h = rdnap_to_etrs89(exp["point"][0], exp["point"][1], float(roofs[pid]))
        out[pid] = {**exp, "lon": lon, "lat": lat, "h": h, "roof_nap": float(roofs[pid])}
    return out


def _one(panden: dict, **wanted) -> tuple[str, dict]:
    for pid, p in sorted(panden.items()):
        if all(p.get(k) == v for k, v in wanted.items()):
            return pid, p
    pytest.fail(f"the synthetic district has no pand with {wanted}")


def look_down_at(viewer: ViewerPage, p: dict, range_m: float = 120.0) -> None:
    viewer.evaluate("s => window.stadsmodel.setCamera(s)",
                    {"lon": p["lon"], "lat": p["lat"], "height": p["h"] + range_m, "heading": 0, "pitch": -90, "roll": 0})
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
            while (st.length) { const t = st.pop(); if (t.contentReady) n += t.content.featuresLength; st.push(...t.children); }
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


def test_buildings_stand_at_their_nap_height(viewer, panden):
    """The roof in the scene is where RDNAPTRANS2018 puts the store's NAP roof height (no 43 m geoid slip)."""
    viewer.open()
    pid, p = _one(panden, compliance="binnen_maximum")
    look_down_at(viewer, p)
    h = viewer.evaluate("p => window.stadsmodel.surfaceHeight(p.lon, p.lat, ['terrain'])", p)
    assert h is not None, f"no building surface under {pid}"
    assert h == pytest.approx(p["h"], abs=0.25)


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
    assert "#sel=" in viewer.page.url and f"b={pid}" in unquote(viewer.page.url)
    viewer.assert_clean()
    viewer.screenshot("02-building-panel")
