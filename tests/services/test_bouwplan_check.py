"""The what-if of issue 14 (process `bouwplan-check`): a drawn or uploaded plan against the bouwenvelop.

On the zoned synthetic district with its envelopes written. The expected numbers come from the envelope's own
values (peil + maximum bouwhoogte) and the plan's geometry, never from the code under test; bad input is a 400
naming the reason, also over HTTP.
"""

from __future__ import annotations

import copy
import json
import math

import httpx
import pytest
import shapely

from core.products import BOUWENVELOP
from services.processes.bouwplan_check import MAX_VERTICES, BouwplanInputError, check_plan
from services.processes.location_check import check_location, open_store
from tests.services.conftest import LiveServer
from tests.services.test_location_check import language_problems

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
SIDE = 4.0  # the drawn square's edge (m)


def _square(cx: float, cy: float, side: float = SIDE) -> dict:
    h = side / 2
    ring = [[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h], [cx - h, cy - h]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def flat_envelope(enveloped):
    """(bouwenvelop row, a point deep inside it, in no other envelope): a flat-topped bouwvlak envelope on its
    own peil."""
    store = open_store(enveloped)
    rows = store.query(BOUWENVELOP, *store.extent())
    for rec, geom in sorted(rows, key=lambda r: r[0]["object_id"]):
        if (rec["soort"] != "bouwvlak" or rec["relatief"] or rec["max_dakhelling"] is not None
                or rec["max_bouwhoogte"] is None or rec["peil_nap"] is None):
            continue
        core = geom.buffer(-SIDE)
        if core.is_empty:
            continue
        p = core.representative_point()
        square = shapely.box(p.x - SIDE / 2, p.y - SIDE / 2, p.x + SIDE / 2, p.y + SIDE / 2)
        if all(g.intersection(square).area == 0 for r, g in rows if r["object_id"] != rec["object_id"]):
            return rec, (p.x, p.y)
    pytest.fail("the synthetic plan has no flat bouwvlak envelope with room for a 4 m square")


def _box_cityjson(cx: float, cy: float, z0: float, z1: float, side: float = SIDE) -> dict:
    """A closed, outward box as an architect's CityJSON (transform, mm integers): 8 vertices, 6 faces."""
    h = side / 2
    corners = [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    scale, origin = 0.001, [round(cx - 10), round(cy - 10), 0.0]
    verts = [[round((x - origin[0]) / scale), round((y - origin[1]) / scale), round(z / scale)]
             for z in (z0, z1) for x, y in corners]
    faces = [[[3, 2, 1, 0]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]]
    return {"type": "CityJSON", "version": "2.0",
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
            "transform": {"scale": [scale] * 3, "translate": origin}, "vertices": verts,
            "CityObjects": {"aanbouw": {"type": "Building", "geometry": [
                {"type": "Solid", "lod": "2.2", "boundaries": [faces]}]}}}


def test_a_plan_over_the_bouwhoogte_exceeds_by_what_it_rises_above_the_envelope(enveloped, flat_envelope):
    env, (cx, cy) = flat_envelope
    top = env["peil_nap"] + env["max_bouwhoogte"]
    out = check_plan(enveloped, {"footprint": _square(cx, cy), "crs": RD, "hoogte": env["max_bouwhoogte"] + 2.0,
                                 "activities": []})
    maaiveld = out["plan"]["maaiveld_nap"]
    assert out["plan"]["maaiveld_bron"]["nl"] == "mediaan DTM in de footprint"
    assert abs(maaiveld - env["peil_nap"]) < 1.0  # the synthetic terrain is almost flat
    excess_h = maaiveld + env["max_bouwhoogte"] + 2.0 - top
    b = out["bouwenvelop"]
    assert out["fits"] is False and b["status"] == "overschrijdt"
    assert [e["object_id"] for e in b["envelopes"]] == [env["object_id"]]
    assert b["max_excess_height_m"] == pytest.approx(excess_h, abs=0.02)
    assert b["excess_above_m3"] == pytest.approx(SIDE * SIDE * excess_h, rel=0.02)
    assert b["excess_outside_m3"] == pytest.approx(0, abs=0.05)
    assert out["plan"]["volume_m3"] == pytest.approx(SIDE * SIDE * (env["max_bouwhoogte"] + 2.0), rel=1e-3)
    assert out["plan"]["footprint_area_m2"] == pytest.approx(SIDE * SIDE)
    assert out["activities"] == []
    assert language_problems(out) == []


def test_a_plan_under_the_bouwhoogte_fits(enveloped, flat_envelope):
    env, (cx, cy) = flat_envelope
    out = check_plan(enveloped, {"footprint": _square(cx, cy), "crs": RD, "hoogte": env["max_bouwhoogte"] - 1.5,
                                 "activities": []})
    assert out["fits"] is True and out["bouwenvelop"]["status"] == "binnen_envelop"
    assert out["bouwenvelop"]["excess_above_m3"] <= out["bouwenvelop"]["tolerance"]["volume_m3"]


def test_an_uploaded_cityjson_solid_gives_the_numbers_of_the_same_drawn_box(enveloped, flat_envelope):
    env, (cx, cy) = flat_envelope
    hoogte = env["max_bouwhoogte"] + 1.0
    drawn = check_plan(enveloped, {"footprint": _square(cx, cy), "crs": RD, "hoogte": hoogte, "activities": []})
    z0 = drawn["plan"]["maaiveld_nap"]
    uploaded = check_plan(enveloped, {"cityjson": _box_cityjson(cx, cy, z0, z0 + hoogte), "activities": []})
    assert uploaded["fits"] is False
    assert uploaded["bouwenvelop"]["solid_lod"] == "ontwerp"
    for key in ("max_excess_height_m", "excess_above_m3", "excess_volume_m3"):
        assert uploaded["bouwenvelop"][key] == pytest.approx(drawn["bouwenvelop"][key], abs=0.01), key
    assert uploaded["plan"]["volume_m3"] == pytest.approx(drawn["plan"]["volume_m3"], rel=1e-4)


def test_a_pitched_plan_has_the_volume_of_its_hipped_roof(enveloped, flat_envelope):
    """A square of side a with walls g high and a 45° hipped roof: a²g + a²·(a/2)/3 (the roof a pyramid)."""
    env, (cx, cy) = flat_envelope
    a, g = 8.0, 3.0
    out = check_plan(enveloped, {"footprint": _square(cx, cy, a), "crs": RD, "hoogte": 20.0, "goothoogte": g,
                                 "dakhelling": 45, "activities": []})
    assert out["plan"]["volume_m3"] == pytest.approx(a * a * g + a * a * (a / 2) / 3, rel=0.01)


def test_an_extension_is_checked_together_with_the_pand(enveloped, zoned_district):
    pid, e = next((pid, e) for pid, e in sorted(zoned_district.expected["panden"].items())
                  if e["compliance"] == "overschrijdt" and e["max_bouwhoogte"] is not None)
    store = open_store(enveloped)
    row, footprint = store.feature("buildings", "identificatie", pid)
    measured = check_location(store, *e["point"], activities=[])["building"]["bouwenvelop"]
    assert measured["status"] == "overschrijdt"
    minx, miny, maxx, maxy = footprint.bounds
    lean_to = shapely.box(maxx - 1.0, miny, maxx + 3.0, miny + 3.0)  # a lean-to against the east wall
    ring = [list(c) for c in lean_to.exterior.coords]
    out = check_plan(enveloped, {"footprint": {"type": "Polygon", "coordinates": [ring]}, "crs": RD, "hoogte": 2.5,
                                 "pand": pid, "activities": []})
    assert out["fits"] is False
    # the pand's own excess stays in the sum; a low lean-to adds none above the envelope
    assert out["bouwenvelop"]["excess_above_m3"] == pytest.approx(measured["excess_above_m3"], rel=0.05, abs=0.5)
    assert any(pid in n["nl"] for n in out["notes"])
    assert out["plan"]["maaiveld_bron"]["nl"] == "b3_h_maaiveld van het pand"
    assert out["plan"]["maaiveld_nap"] == pytest.approx(row["b3_h_maaiveld"], abs=1e-3)


def test_a_plan_outside_every_envelope_says_so(enveloped):
    store = open_store(enveloped)
    minx, miny, maxx, maxy = store.extent()
    envs = shapely.union_all([g for _, g in store.query(BOUWENVELOP, minx, miny, maxx, maxy)])
    spot = next((x, y) for x in range(math.ceil(minx) + 10, math.floor(maxx) - 10, 5)
                for y in range(math.ceil(miny) + 10, math.floor(maxy) - 10, 5)
                if envs.distance(shapely.Point(x, y)) > 10)
    out = check_plan(enveloped, {"footprint": _square(*spot), "crs": RD, "hoogte": 6.0, "activities": []})
    assert out["fits"] is None and out["bouwenvelop"]["status"] == "onbekend"
    assert out["bouwenvelop"]["reason"]["en"] == "not inside any bouwenvelop"


def test_the_answer_carries_the_activities_of_the_location(enveloped, flat_envelope):
    env, (cx, cy) = flat_envelope
    out = check_plan(enveloped, {"footprint": _square(cx, cy), "crs": RD, "hoogte": 3.0})
    at = check_location(open_store(enveloped), cx, cy)
    assert [a["activity"] for a in out["activities"]] == [a["activity"] for a in at["activities"]]
    assert out["plans"] and out["plans"][0]["plan_id"] == at["plans"][0]["plan_id"]


def _open_box(cx, cy):
    cj = _box_cityjson(cx, cy, 0.0, 3.0)
    cj["CityObjects"]["aanbouw"]["geometry"][0]["boundaries"][0].pop()  # one wall missing
    return cj


def _inward_box(cx, cy):
    cj = _box_cityjson(cx, cy, 0.0, 3.0)
    shell = cj["CityObjects"]["aanbouw"]["geometry"][0]["boundaries"][0]
    for face in shell:
        face[0].reverse()
    return cj


def _two_solids(cx, cy):
    cj = _box_cityjson(cx, cy, 0.0, 3.0)
    geometry = cj["CityObjects"]["aanbouw"]["geometry"]
    geometry.append(copy.deepcopy(geometry[0]))
    return cj


def _dangling_index(cx, cy):
    cj = _box_cityjson(cx, cy, 0.0, 3.0)
    cj["CityObjects"]["aanbouw"]["geometry"][0]["boundaries"][0][0][0][0] = 99
    return cj


def _wgs84(cx, cy):
    cj = _box_cityjson(cx, cy, 0.0, 3.0)
    cj["metadata"]["referenceSystem"] = "https://www.opengis.net/def/crs/EPSG/0/4979"
    return cj


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [4, 4], [4, 0], [0, 4], [0, 0]]]}

BAD = {
    "neither": (lambda c: {"hoogte": 3.0}, "either footprint"),
    "both": (lambda c: {"footprint": _square(*c), "cityjson": _box_cityjson(*c, 0, 3), "hoogte": 3.0},
             "either footprint"),
    "bowtie": (lambda c: {"footprint": {"type": "Polygon", "coordinates": [[[c[0] + x, c[1] + y] for x, y in
                                                                           BOWTIE["coordinates"][0]]]},
                          "hoogte": 3.0}, "not a valid polygon"),
    "no hoogte": (lambda c: {"footprint": _square(*c)}, "missing input 'hoogte'"),
    "negative hoogte": (lambda c: {"footprint": _square(*c), "hoogte": -2}, "hoogte must be above 0"),
    "hoogte text": (lambda c: {"footprint": _square(*c), "hoogte": "9"}, "hoogte must be a finite number"),
    "hoogte NaN": (lambda c: {"footprint": _square(*c), "hoogte": float("nan")}, "hoogte must be a finite number"),
    "goot without pitch": (lambda c: {"footprint": _square(*c), "hoogte": 9, "goothoogte": 6},
                           "needs both goothoogte and dakhelling"),
    "pitch 90": (lambda c: {"footprint": _square(*c), "hoogte": 9, "goothoogte": 6, "dakhelling": 90},
                 "dakhelling must be between 0 and 90"),
    "outside": (lambda c: {"footprint": _square(c[0] + 50_000, c[1]), "hoogte": 3.0}, "outside the district"),
    "too many vertices": (lambda c: {"footprint": {"type": "Polygon", "coordinates": [
        [[c[0] + 3 * math.cos(t / MAX_VERTICES * 6.283), c[1] + 3 * math.sin(t / MAX_VERTICES * 6.283)]
         for t in range(MAX_VERTICES)] + [[c[0] + 3, c[1]]]]}, "hoogte": 3.0}, "at most"),
    "not a polygon": (lambda c: {"footprint": {"type": "Point", "coordinates": list(c)}, "hoogte": 3.0},
                      "GeoJSON Polygon"),
    "open solid": (lambda c: {"cityjson": _open_box(*c)}, "not closed"),
    "inward solid": (lambda c: {"cityjson": _inward_box(*c)}, "oriented inward"),
    "two solids": (lambda c: {"cityjson": _two_solids(*c)}, "exactly one Solid"),
    "dangling index": (lambda c: {"cityjson": _dangling_index(*c)}, "vertex that does not exist"),
    "other crs": (lambda c: {"cityjson": _wgs84(*c)}, "only EPSG:7415"),
    "hoogte with cityjson": (lambda c: {"cityjson": _box_cityjson(*c, 0, 3), "hoogte": 3}, "go with footprint"),
    "unknown pand": (lambda c: {"footprint": _square(*c), "hoogte": 3, "pand": "NL.IMBAG.Pand.0000000000000000"},
                     "is not in the store"),
    "include_ontwerp text": (lambda c: {"footprint": _square(*c), "hoogte": 3, "include_ontwerp": "ja"},
                             "include_ontwerp must be true or false"),
    "activity twice": (lambda c: {"footprint": _square(*c), "hoogte": 3, "activities": ["a", "a"]}, "twice"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_its_reason(enveloped, flat_envelope, case):
    make, reason = BAD[case]
    data = make(flat_envelope[1])
    if "footprint" in data:
        data["crs"] = RD
    with pytest.raises(BouwplanInputError, match=reason):
        check_plan(enveloped, data)


@pytest.mark.xdist_group("bouwplan_http")
def test_over_http_a_plan_is_checked_and_bad_input_is_a_400(enveloped, flat_envelope):
    env, (cx, cy) = flat_envelope
    url_of = "{}/api/processes/bouwplan-check/execution".format
    with LiveServer(enveloped) as server:
        described = httpx.get(f"{server.url}/api/processes/bouwplan-check?f=json", timeout=30)
        assert described.status_code == 200 and "footprint" in described.json()["inputs"]
        r = httpx.post(url_of(server.url), json={"inputs": {
            "footprint": _square(cx, cy), "crs": RD, "hoogte": env["max_bouwhoogte"] + 2.0}}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["fits"] is False and r.json()["activities"]
        bad = ((json.dumps({"inputs": {"cityjson": _open_box(cx, cy)}}).encode(), "not closed"),
               (json.dumps({"inputs": {"footprint": "[[1, 2]]", "hoogte": 3}}).encode(), "GeoJSON Polygon"),
               (b'{"inputs": {"footprint": ', None))
        for body, reason in bad:
            r = httpx.post(url_of(server.url), content=body, headers={"Content-Type": "application/json"},
                           timeout=30)
            assert r.status_code == 400, r.text
            if reason:
                assert reason in r.json()["description"]
