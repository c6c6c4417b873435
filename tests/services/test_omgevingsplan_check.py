"""The location check on an imported Omgevingsplan: the real Geonovum "Gemeentestad" delivery (STOP GIO GML + OW
XML, Zaltbommel geometries) imported with `zoning import` into a store of its own, served by `stadsmodel serve`
and asked over HTTP (POST /api/processes/location-check/execution).

The answers expected at each point are computed here, independently of etl.zoning.omgevingsplan: the GIO
polygons are read straight from the GML posLists with lxml, the OW chain (Normwaarde or
ActiviteitLocatieaanduiding → LocatieRef → Gebied or Gebiedengroep → GeometrieRef → GIO geometry) is followed
with XPath, and shapely decides which locations cover the point. The delivery holds no buildings, so the check
answers from the plan alone. Rules located on the Ambtsgebied are not expected: its geometry is not in the
delivery, and the import reports them as skipped (tests/zoning/test_import_real.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from lxml import etree
from shapely import union_all
from shapely.geometry import MultiPolygon, Point, Polygon

from tests.conftest import shared_path
from tests.services.conftest import LiveServer

RD = "http://www.opengis.net/def/crs/EPSG/0/28992"
NS = {"gml": "http://www.opengis.net/gml/3.2", "basisgeo": "http://www.geostandaarden.nl/basisgeometrie/1.0",
      "geo": "https://standaarden.overheid.nl/stop/imop/geo/", "l": "http://www.geostandaarden.nl/imow/locatie",
      "rol": "http://www.geostandaarden.nl/imow/regelsoplocatie", "r": "http://www.geostandaarden.nl/imow/regels",
      "ga": "http://www.geostandaarden.nl/imow/gebiedsaanwijzing", "xlink": "http://www.w3.org/1999/xlink"}
HREF = "{http://www.w3.org/1999/xlink}href"
PLAN_ID = "/akn/nl/act/gm0297/2019/reg456"  # the regeling's work id in manifest-ow.xml
MAX_BOUWHOOGTE = "http://standaarden.omgevingswet.overheid.nl/typenorm/id/concept/MaximumBouwhoogte"
# one worker holds the module's server (pytest -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("omgevingsplan_check")


def _xpath(el, path: str) -> list:
    return el.xpath(path, namespaces=NS)


def _ring(poslist: str) -> list[tuple[float, float]]:
    v = [float(t) for t in poslist.split()]
    return list(zip(v[0::2], v[1::2]))


class Delivery:
    """What the OW files say applies where, read without the importer."""

    def __init__(self, folder: Path):
        self.folder = folder
        gio: dict[str, MultiPolygon] = {}
        for f in sorted(folder.glob("*.gml")):
            for geometrie in _xpath(etree.parse(str(f)), "//basisgeo:Geometrie"):
                polys = [Polygon(_ring(_xpath(p, "gml:exterior//gml:posList")[0].text),
                                 [_ring(i.text) for i in _xpath(p, "gml:interior//gml:posList")])
                         for p in _xpath(geometrie, ".//gml:Polygon")]
                gio[_xpath(geometrie, "basisgeo:id")[0].text.strip()] = MultiPolygon(polys)
        ow = [etree.parse(str(f)) for f in sorted(folder.glob("ow*.xml"))]
        self.locaties: dict[str, MultiPolygon] = {}
        self.noemer: dict[str, str | None] = {}
        for doc in ow:
            for g in _xpath(doc, "//l:Gebied"):
                ident = _xpath(g, "l:identificatie")[0].text
                self.locaties[ident] = gio[_xpath(g, "l:geometrie/l:GeometrieRef")[0].get(HREF)]
                self.noemer[ident] = (_xpath(g, "l:noemer/text()") or [None])[0]
        for doc in ow:
            for g in _xpath(doc, "//l:Gebiedengroep"):
                ident = _xpath(g, "l:identificatie")[0].text
                self.locaties[ident] = union_all([self.locaties[r.get(HREF)]
                                                  for r in _xpath(g, "l:groepselement/l:GebiedRef")])
                self.noemer[ident] = (_xpath(g, "l:noemer/text()") or [None])[0]
        # (value, naam, location) per quantitative MaximumBouwhoogte normwaarde and location
        self.max_bouwhoogte = [
            (float(_xpath(nw, "rol:kwantitatieveWaarde")[0].text), _xpath(norm, "rol:naam")[0].text, ref.get(HREF))
            for doc in ow for norm in _xpath(doc, "//rol:Omgevingsnorm")
            if _xpath(norm, "rol:type")[0].text == MAX_BOUWHOOGTE
            for nw in _xpath(norm, ".//rol:Normwaarde") if _xpath(nw, "rol:kwantitatieveWaarde")
            for ref in _xpath(nw, "rol:locatieaanduiding/l:LocatieRef")]
        names = {_xpath(a, "rol:identificatie")[0].text: _xpath(a, "rol:naam")[0].text
                 for doc in ow for a in _xpath(doc, "//rol:Activiteit")}
        # (activiteit naam, regelkwalificatie, location) per ActiviteitLocatieaanduiding and location
        self.activiteiten = [
            (names[_xpath(aa, "rol:ActiviteitRef")[0].get(HREF)],
             _xpath(ala, "r:activiteitregelkwalificatie")[0].text.rsplit("/", 1)[-1], ref.get(HREF))
            for doc in ow for aa in _xpath(doc, "//r:activiteitaanduiding")
            for ala in _xpath(aa, "r:ActiviteitLocatieaanduiding")
            for ref in _xpath(ala, "r:locatieaanduiding/l:LocatieRef")]
        self.gebiedsaanwijzingen = [
            (_xpath(ga, "ga:naam")[0].text, ref.get(HREF))
            for doc in ow for ga in _xpath(doc, "//ga:Gebiedsaanwijzing")
            for ref in _xpath(ga, "ga:locatieaanduiding/l:LocatieRef")]

    def covers(self, loc: str, pt: Point) -> bool:
        return loc in self.locaties and self.locaties[loc].covers(pt)

    def expected_at(self, pt: Point) -> dict:
        norms = [(v, naam, loc) for v, naam, loc in self.max_bouwhoogte if self.covers(loc, pt)]
        return {
            "max_bouwhoogte": min(norms)[0] if norms else None,
            "norm": min(norms) if norms else None,
            "activiteiten": sorted({(n, q) for n, q, loc in self.activiteiten if self.covers(loc, pt)}),
            "gebiedsaanwijzingen": sorted({n for n, loc in self.gebiedsaanwijzingen if self.covers(loc, pt)}),
            "locaties": sorted(loc for loc in self.locaties if self.covers(loc, pt)),
        }


@pytest.fixture(scope="module")
def delivery() -> Delivery:
    return Delivery(shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht"))


@pytest.fixture(scope="module")
def plan_server(delivery, tmp_path_factory):
    """`stadsmodel serve` on a store holding only the imported Omgevingsplan."""
    from etl.zoning import import_zoning

    data = tmp_path_factory.mktemp("omgevingsplan") / "model"
    import_zoning([delivery.folder], data)
    with LiveServer(data) as live:
        yield live
    shutil.rmtree(data, ignore_errors=True)


def _check(server: LiveServer, x: float, y: float, **extra) -> dict:
    body = {"inputs": {"location": {"type": "Point", "coordinates": [x, y]}, "crs": RD, **extra}}
    r = httpx.post(f"{server.url}/api/processes/location-check/execution", json=body, timeout=30)
    assert r.status_code == 200, r.text[:500]
    out = r.json()
    return out["outputs"][0] if "outputs" in out else out


def _bouwhoogte_points(delivery: Delivery) -> list[tuple[str, Point]]:
    """A point inside each location the MaximumBouwhoogte norm names (Zuilichem industriegebied 1-4)."""
    locs = sorted({loc for _, _, loc in delivery.max_bouwhoogte})
    assert len(locs) == 4  # the delivery's README: 4 locaties, 7 m twice and 13 m twice
    return [(loc, delivery.locaties[loc].point_on_surface()) for loc in locs]


def test_maximum_bouwhoogte_from_the_omgevingsnorm(plan_server, delivery):
    values = []
    for loc, pt in _bouwhoogte_points(delivery):
        exp = delivery.expected_at(pt)
        out = _check(plan_server, pt.x, pt.y)
        values.append(exp["max_bouwhoogte"])
        assert out["compliance"]["max_bouwhoogte_m"] == exp["max_bouwhoogte"], loc
        assert out["facts"]["maximum_bouwhoogte"]["value"] == exp["max_bouwhoogte"]
        assert out["facts"]["maximum_bouwhoogte_bekend"]["value"] is True
        _, naam, norm_loc = exp["norm"]
        source = out["compliance"]["max_bouwhoogte_source"]
        assert source["nl"] == f"omgevingsnorm '{naam}' op {delivery.noemer[norm_loc]} " \
                               "(Omgevingsplan Zaltbommel (met de nadruk op Zuilichem))"
        assert f"'{naam}' at {delivery.noemer[norm_loc]}" in source["en"]
        norms = [n for p in out["plans"] for n in p.get("ow_omgevingsnorm", [])
                 if n["type"] == "MaximumBouwhoogte" and n["kwantitatieve_waarde"] is not None]
        assert sorted(n["kwantitatieve_waarde"] for n in norms) == sorted(
            v for v, _, nl in delivery.max_bouwhoogte if delivery.covers(nl, pt))
        # no building in this store: the 3D line cannot be drawn, and says why
        assert out["building"] is None and out["compliance"]["status"] == "onbekend"
        assert out["compliance"]["reason"]["en"] == "no building at the point"
    assert sorted(values) == [7.0, 7.0, 13.0, 13.0]


def test_ow_activiteiten_and_gebiedsaanwijzingen_at_the_point(plan_server, delivery):
    seen_kwalificaties = set()
    points = [pt for _, pt in _bouwhoogte_points(delivery)]
    points += [delivery.locaties[g].point_on_surface() for g in ("nl.imow-gm0297.gebiedengroep.zoneB",
                                                                 "nl.imow-gm0297.gebiedengroep.centrumgebied")]
    for pt in points:
        exp = delivery.expected_at(pt)
        out = _check(plan_server, pt.x, pt.y, activity="slopen")
        got = sorted({(a["naam"], a["regelkwalificatie"]) for p in out["plans"] for a in p.get("ow_activiteit", [])})
        assert got == exp["activiteiten"], (pt, got)
        gas = sorted({g["naam"] for p in out["plans"] for g in p.get("ow_gebiedsaanwijzing", [])})
        assert gas == exp["gebiedsaanwijzingen"]
        seen_kwalificaties |= {q for _, q in exp["activiteiten"]}
        # every OW row names the article that carries it, as a citation for the conclusion
        for a in (a for p in out["plans"] for a in p.get("ow_activiteit", [])):
            assert a["regeltekst"].startswith("gm0297_1__chp_"), a
    # the points walk the three kinds of rule the delivery has: allowed, forbidden and notification duty
    assert {"Toegestaan", "Verbod", "Meldingsplicht"} <= seen_kwalificaties


def test_the_ow_location_is_the_plan(plan_server, delivery):
    pt = delivery.locaties["nl.imow-gm0297.gebiedengroep.centrumgebied"].point_on_surface()
    exp = delivery.expected_at(pt)
    assert exp["locaties"] and exp["max_bouwhoogte"] is None  # a plan applies, but without a bouwhoogte norm
    out = _check(plan_server, pt.x, pt.y, activity="bouwen_tot_maximale_hoogte")
    assert [p["plan_id"] for p in out["plans"]] == [PLAN_ID]
    plan = out["plans"][0]
    assert plan["plan_naam"] == "Omgevingsplan Zaltbommel (met de nadruk op Zuilichem)"
    assert plan["plan_type"] == "omgevingsplan" and plan["plan_status"] == "vastgesteld"
    assert out["facts"]["plan_aanwezig"]["value"] is True
    assert out["facts"]["plan_aanwezig"]["evidence"]["nl"] == plan["plan_naam"]
    # a plan without a bouwhoogte norm here: "unknown maximum", not "no plan"
    assert out["facts"]["maximum_bouwhoogte_bekend"]["value"] is False
    assert out["facts"]["maximum_bouwhoogte"]["evidence"]["en"] == \
        "the plan data gives no maximum bouwhoogte at this point"
    # no IMRO plan: the bouwvlak question stays open instead of being answered from nothing
    assert out["facts"]["in_bouwvlak"]["value"] is None


def test_outside_every_ow_location_no_plan_applies(plan_server, delivery):
    # inside the store's extent (the Pons area reaches far west) but in none of the locations
    x0, y0, x1, y1 = union_all(list(delivery.locaties.values())).bounds
    pt = next(Point(x, y) for x in range(int(x0) + 50, int(x1), 250) for y in range(int(y0) + 50, int(y1), 250)
              if not delivery.expected_at(Point(x, y))["locaties"])
    out = _check(plan_server, pt.x, pt.y)
    assert out["plans"] == []
    assert out["facts"]["plan_aanwezig"]["value"] is False
    assert out["facts"]["maximum_bouwhoogte"]["value"] is None


def test_the_norm_decides_the_permit_outcome(plan_server, delivery):
    """A planned 9.5 m: above the 7 m norm needs an out-of-plan permit, under the 13 m norm it fits the plan."""
    answers = {"rijksmonument": "nee", "bouwvlak": "ja", "geplande_hoogte": 9.5, "gezicht": "nee"}
    outcomes = {}
    for _, pt in _bouwhoogte_points(delivery):
        out = _check(plan_server, pt.x, pt.y, activity="bouwen_tot_maximale_hoogte", answers=answers)
        (act,) = out["activities"]
        assert act["outcome"] == "vergunning_nodig", act
        outcomes[delivery.expected_at(pt)["max_bouwhoogte"]] = act["text"]["en"]
        # the rule cites the plan's article that holds the norm
        assert any("gm0297_1__chp_2__subchp_2.5__art_2.14" in json.dumps(c) for c in act["citations"]), act
    assert "exceeds the maximum building height" in outcomes[7.0]
    assert "fits the plan" in outcomes[13.0]
