"""The "Wat als?" tool (viewer/js/whatif.js) in Chromium against the served, zoned synthetic district.

A footprint is drawn by clicking the map on a free spot inside a flat bouwvlak envelope (found through the OGC API
collection bouwenvelop, its corners away from walls so the clicks land where they aim), given a hoogte over the
envelope's maximum and checked: the tool must show the numbers the bouwplan-check process gives for the very
inputs the viewer sent (the test posts them again itself), and draw the plan and its excess. Under the maximum it
fits; a file that is not JSON is refused in the browser (no request); a bow-tie footprint shows the server's 400.
"""

from __future__ import annotations

import json
import math
import re

import httpx
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import shape

from services.processes.location_check import to_lonlat, to_rd
from tests.viewer.conftest import VIEWPORT, ViewerPage

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]

EXECUTION = "**/processes/bouwplan-check/execution"
SIDE = 4.0  # the drawn square's edge (m)
WALL = 1.0  # each corner this far from every wall, so a click there hits the surface right below it (m)


def _rd(geom):
    return shapely.transform(geom, lambda xy: np.array([to_rd(float(lon), float(lat)) for lon, lat in xy]))


@pytest.fixture(scope="module")
def spot(server_url, viewer_site) -> dict:
    """A flat-topped bouwvlak envelope (its properties from the API) and a SIDE × SIDE square inside it and in no
    other envelope, its corners away from walls (on a roof or on the ground: seen from straight above, the click
    at a corner's projection lands on it): corners in RD and lon/lat, counter-clockwise from the south-west."""
    r = httpx.get(f"{server_url}/api/collections/bouwenvelop/items", params={"f": "json", "limit": 1000}, timeout=30)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    assert features, "the viewer site has no bouwenvelop (zoning import writes them)"
    envelopes = [(f["properties"], _rd(shape(f["geometry"]))) for f in features]
    buildings = pyogrio.read_dataframe(viewer_site / "stadsmodel.gpkg", layer="buildings", columns=["identificatie"])
    walls = shapely.union_all(buildings.geometry.values).boundary
    h = SIDE / 2
    for props, geom in sorted(envelopes, key=lambda e: str(e[0].get("object_id"))):
        if (props.get("soort") != "bouwvlak" or props.get("relatief") or props.get("max_dakhelling") is not None
                or props.get("max_bouwhoogte") is None or props.get("peil_nap") is None):
            continue
        others = shapely.union_all([g for p, g in envelopes if p.get("object_id") != props.get("object_id")])
        inner = geom.buffer(-0.3)
        x0, y0, x1, y1 = geom.bounds
        for x in np.arange(x0 + h, x1 - h, 0.5):
            for y in np.arange(y0 + h, y1 - h, 0.5):
                rd = [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]
                square = shapely.Polygon(rd)
                if (inner.contains(square) and others.intersection(square).area == 0
                        and all(walls.distance(shapely.Point(c)) > WALL for c in rd)):
                    nearest = buildings.geometry.distance(shapely.Point(x, y)).idxmin()
                    return {"envelope": props, "centre": (float(x), float(y)), "rd": rd,
                            "lonlat": [to_lonlat(cx, cy) for cx, cy in rd],
                            "pand": buildings.loc[nearest, "identificatie"]}
    pytest.fail(f"no flat bouwvlak envelope has room for a {SIDE} m square")


@pytest.fixture(scope="module")
def tool_page(browser, server_url, spot):
    """One page for the module, looking straight down at the spot (loading the viewer is most of a test's time)."""
    context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
    page = ViewerPage(context.new_page(), server_url).open()
    look_down(page, spot)
    yield page
    context.close()


@pytest.fixture
def viewer(tool_page):
    """The module's page, in Dutch, with nothing drawn, shown or recorded."""
    tool_page.evaluate("() => window.stadsmodel.setLanguage('nl')")
    tool_page.page.click("#whatif-clear")
    tool_page.errors.clear()
    tool_page.requests.clear()
    return tool_page


def look_down(viewer: ViewerPage, spot: dict, range_m: float = 70.0, pitch: float = -90, back_m: float = 0) -> None:
    """The camera range_m above the spot (straight down), or back_m south of it at that pitch (a screenshot)."""
    from tiles.georef import rdnap_to_etrs89

    cx, cy = spot["centre"]
    lat, lon, h = rdnap_to_etrs89(cx, cy - back_m, float(spot["envelope"]["peil_nap"]))
    viewer.evaluate("s => window.stadsmodel.setCamera(s)",
                    {"lon": lon, "lat": lat, "height": h + (range_m if not back_m else back_m * 0.7), "heading": 0,
                     "pitch": pitch, "roll": 0})
    viewer.wait_tiles()


def click_corners(viewer: ViewerPage, lonlat: list, double_last: bool = True) -> None:
    """Clicks each corner on the map (the terrain's surface there, projected by Cesium); the last one double."""
    box = viewer.page.locator("#cesium canvas").bounding_box()
    for i, (lon, lat) in enumerate(lonlat):
        pos = viewer.evaluate("p => window.stadsmodel.windowPositionOf(p[0], p[1])", [lon, lat])
        assert pos, f"corner {i} is not in view"
        x, y = box["x"] + pos["x"], box["y"] + pos["y"]
        if double_last and i == len(lonlat) - 1:
            viewer.page.mouse.dblclick(x, y)
        else:
            viewer.page.mouse.click(x, y)


# the tool's state with nothing drawn, shown or under way (requests counts what was ever sent)
NOTHING = {"drawing": False, "corners": 0, "plan": None, "solids": [], "centres": [], "entities": 0, "fits": None,
           "requests": 0}


def whatif_state(viewer: ViewerPage) -> dict:
    return viewer.evaluate("() => window.stadsmodel.app.whatif.state()")


def wait_result(viewer: ViewerPage, state: str = "answer") -> str:
    viewer.page.wait_for_function("s => document.getElementById('whatif-result').dataset.state === s", arg=state)
    return viewer.page.inner_text("#whatif-result")


def submit(viewer: ViewerPage, how: str = "click") -> dict:
    """Sends the plan; the inputs the viewer posted."""
    with viewer.page.expect_request(EXECUTION) as request:
        if how == "click":
            viewer.page.click("#whatif-submit")
        else:
            viewer.page.keyboard.press("Enter")
    return request.value.post_data_json["inputs"]


def api_answer(server_url: str, inputs: dict) -> httpx.Response:
    return httpx.post(f"{server_url}/api/processes/bouwplan-check/execution", json={"inputs": inputs}, timeout=90)


def nl(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def sent_corners_rd(inputs: dict) -> list:
    ring = inputs["footprint"]["coordinates"][0]
    assert ring[0] == ring[-1], "the ring goes out closed"
    return [to_rd(lon, lat) for lon, lat in ring[:-1]]


def axe_whatif(viewer: ViewerPage, axe_source: str) -> list[dict]:
    """Every axe violation (any impact) in the tool, WCAG 2.1 A/AA and best practice."""
    if not viewer.evaluate("() => typeof axe !== 'undefined'"):
        viewer.page.add_script_tag(content=axe_source)
    result = viewer.evaluate("""() => axe.run('#whatif', {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def test_a_clicked_plan_over_the_bouwhoogte_shows_the_api_excess(viewer, server_url, spot, axe_source):
    from tiles.georef import rdnap_to_etrs89

    env = spot["envelope"]
    viewer.page.click("#whatif-draw")
    assert whatif_state(viewer)["drawing"] is True
    assert viewer.page.get_attribute("#whatif-draw", "aria-pressed") == "true"
    click_corners(viewer, spot["lonlat"])
    state = whatif_state(viewer)
    assert state["drawing"] is False and state["corners"] == 4 and state["plan"] == "footprint"
    assert viewer.evaluate("() => document.activeElement.id") == "whatif-hoogte"  # the next field has the focus
    hoogte = round(env["max_bouwhoogte"] + 2.0, 2)
    viewer.page.fill("#whatif-hoogte", str(hoogte))
    inputs = submit(viewer)
    # the clicks are the corners (CRS84 lon/lat, crs left out), within the depth buffer's precision
    assert "crs" not in inputs and inputs["hoogte"] == pytest.approx(hoogte) and "pand" not in inputs
    for (x, y), (ex, ey) in zip(sent_corners_rd(inputs), spot["rd"]):
        assert math.hypot(x - ex, y - ey) < 0.3, ((x, y), (ex, ey))
    text = wait_result(viewer)
    r = api_answer(server_url, inputs)
    assert r.status_code == 200, r.text
    answer = r.json()
    b = answer["bouwenvelop"]
    assert answer["fits"] is False and b["status"] == "overschrijdt"
    # the API's numbers are the envelope's: the plan's top over peil + maximum bouwhoogte
    expected = answer["plan"]["maaiveld_nap"] + hoogte - (env["peil_nap"] + env["max_bouwhoogte"])
    assert b["max_excess_height_m"] == pytest.approx(expected, abs=0.02)
    sentence = f"Steekt {nl(b['max_excess_height_m'], 2)} m boven de bouwenvelop uit, {nl(b['excess_volume_m3'], 1)} m³"
    assert sentence in text, text
    assert "null" not in text and "undefined" not in text, text
    assert viewer.page.get_attribute("#whatif-result", "data-fits") == "false"
    assert viewer.page.get_attribute("#whatif-result", "aria-live") == "polite"
    state = whatif_state(viewer)
    assert state["solids"] == ["plan", "excess"]
    # the plan is drawn where RDNAPTRANS2018 puts it: its box's centre (the bounding sphere's, mid-height)
    lon, lat, h = state["centres"][0]
    cx, cy = spot["centre"]
    x, y = to_rd(lon, lat)
    assert math.hypot(x - cx, y - cy) < 0.3
    assert h == pytest.approx(rdnap_to_etrs89(cx, cy, answer["plan"]["maaiveld_nap"] + hoogte / 2)[2], abs=0.05)
    assert axe_whatif(viewer, axe_source) == []
    viewer.wait_tiles()
    viewer.screenshot("whatif-01-exceeds")
    look_down(viewer, spot, pitch=-35, back_m=45)
    viewer.screenshot("whatif-02-exceeds-oblique")
    look_down(viewer, spot)
    # English: the same numbers with a decimal point
    viewer.evaluate("() => window.stadsmodel.setLanguage('en')")
    english = viewer.page.inner_text("#whatif-result")
    assert (f"Extends {b['max_excess_height_m']:.2f} m above the building envelope, {b['excess_volume_m3']:,.1f} m³"
            in english), english
    assert viewer.page.inner_text("#whatif-submit") == "Check"
    # "Wissen" removes everything drawn and shown; nothing more was asked of the server
    viewer.page.click("#whatif-clear")
    assert whatif_state(viewer) | {"requests": 0} == NOTHING
    assert viewer.page.inner_text("#whatif-result") == ""
    viewer.assert_clean()


def test_typed_corners_under_the_bouwhoogte_fit(viewer, server_url, spot):
    """The keyboard way: the corners typed as lon/lat go through the same drawing; Enter in the form sends."""
    env = spot["envelope"]
    viewer.evaluate("() => { document.querySelector('.whatif-coords').open = true; }")
    viewer.page.fill("#whatif-coords", "\n".join(f"{lon:.8f}, {lat:.8f}" for lon, lat in spot["lonlat"]))
    viewer.page.click("#whatif-coords-use")
    assert whatif_state(viewer)["plan"] == "footprint"
    viewer.page.fill("#whatif-hoogte", str(round(env["max_bouwhoogte"] - 1.5, 2)))
    viewer.page.focus("#whatif-hoogte")
    inputs = submit(viewer, how="enter")
    for (x, y), (ex, ey) in zip(sent_corners_rd(inputs), spot["rd"]):
        assert math.hypot(x - ex, y - ey) < 0.01
    text = wait_result(viewer)
    answer = api_answer(server_url, inputs).json()
    assert answer["fits"] is True
    assert "Past binnen de bouwenvelop" in text
    assert viewer.page.get_attribute("#whatif-result", "data-fits") == "true"
    assert whatif_state(viewer)["solids"] == ["plan"]
    # with a goothoogte and dakhelling (a hipped roof): both go out, the volume is the API's
    viewer.page.fill("#whatif-goot", "3")
    viewer.page.fill("#whatif-dak", "45")
    inputs = submit(viewer)
    assert (inputs["goothoogte"], inputs["dakhelling"]) == (3, 45)
    text = wait_result(viewer)
    volume = api_answer(server_url, inputs).json()["plan"]["volume_m3"]
    assert f"Volume plan\n{nl(volume, 1)} m³" in text, text
    viewer.page.fill("#whatif-goot", "")
    viewer.page.fill("#whatif-dak", "")
    # as an extension of the selected pand: it goes along as `pand`, the server checks the two together
    viewer.evaluate("a => window.stadsmodel.select(a[0], a[1], {building: a[2]})",
                    [*to_lonlat(*spot["centre"]), spot["pand"]])
    viewer.page.check("#whatif-aanbouw")
    assert viewer.page.inner_text("#whatif-pand") == f"Geselecteerd pand: {spot['pand']}"
    inputs = submit(viewer)
    assert inputs["pand"] == spot["pand"]
    text = wait_result(viewer)
    assert spot["pand"] in text  # the server's note: checked together with the building
    viewer.page.uncheck("#whatif-aanbouw")
    viewer.assert_clean()


def test_an_upload_that_is_not_json_is_refused_in_the_browser(viewer, server_url, spot):
    from tests.services.test_bouwplan_check import _box_cityjson

    viewer.page.set_input_files("#whatif-file", files=[
        {"name": "plan.city.json", "mimeType": "application/json", "buffer": b"{\"type\": \"CityJSON\", oops"}])
    text = wait_result(viewer, "message")
    assert text.startswith("Het bestand plan.city.json is geen bruikbare JSON:"), text
    viewer.page.click("#whatif-submit")  # no plan now: a message, no request
    assert "Teken eerst een footprint" in wait_result(viewer, "message")
    assert not [u for u in viewer.requests if "bouwplan-check" in u], "a request was sent"
    # a good CityJSON (a box under the maximum on the envelope's peil) goes out as cityjson and is checked
    env = spot["envelope"]
    cx, cy = spot["centre"]
    box = _box_cityjson(cx, cy, env["peil_nap"], env["peil_nap"] + env["max_bouwhoogte"] - 1.0)
    viewer.page.set_input_files("#whatif-file", files=[
        {"name": "aanbouw.city.json", "mimeType": "application/json", "buffer": json.dumps(box).encode()}])
    viewer.page.wait_for_function("() => window.stadsmodel.app.whatif.state().plan === 'cityjson'")
    inputs = submit(viewer)
    assert set(inputs) == {"cityjson", "activities"} and inputs["cityjson"] == box
    text = wait_result(viewer)
    assert api_answer(server_url, inputs).json()["fits"] is True
    assert "Past binnen de bouwenvelop" in text
    viewer.assert_clean()


def test_a_self_intersecting_footprint_shows_the_servers_reason(viewer, server_url, spot):
    sw, se, ne, nw = spot["lonlat"]
    viewer.page.click("#whatif-draw")
    click_corners(viewer, [sw, ne, se, nw], double_last=False)  # a bow tie
    viewer.page.keyboard.press("Enter")
    assert whatif_state(viewer)["plan"] == "footprint"
    viewer.page.fill("#whatif-hoogte", "6")
    inputs = submit(viewer)
    text = wait_result(viewer, "message")
    r = api_answer(server_url, inputs)
    assert r.status_code == 400
    reason = r.json()["description"]
    assert "not a valid polygon" in reason
    assert text == f"De server weigert het plan: {reason}"
    assert whatif_state(viewer)["solids"] == []
    # the only error the page saw is that 400 (and Chromium's console line about it)
    assert viewer.errors and all(re.match(r"HTTP 400: .*bouwplan-check/execution$|console: Failed to load resource: "
                                          r".* 400 ", e) for e in viewer.errors), viewer.errors
    # Escape stops a new drawing and drops its corners
    viewer.page.click("#whatif-draw")
    click_corners(viewer, [sw, se], double_last=False)
    assert whatif_state(viewer)["corners"] == 2
    viewer.page.keyboard.press("Escape")
    assert whatif_state(viewer) | {"requests": 0} == NOTHING
