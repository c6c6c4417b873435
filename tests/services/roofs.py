"""A store of buildings with reconstructed roofs and a plan that limits them, for the roof checks and f=cityjson.

The buildings are synthetic roofs with their truth (synth.roofs), reconstructed by the build's own library
(etl.roofs.reconstruct) and written with the store's column names (core.products and README "The store": the roof
attributes on ``buildings``, the LoD1.3/2.2 solids in the ``building_solids`` attributes table) through the
build's store writer. The plan is an IMRO2012 bestemmingsplan GML imported by `stadsmodel zoning import`
(etl.zoning.import_zoning); each pand's maatvoering sets maximum goothoogte and bouwhoogte and a minimum and
maximum dakhelling a clear margin on one side of the truth, so every verdict is known in advance:

  ``voldoet``       a gable roof, every limit 1 m or 10° beyond what it has
  ``voldoet_niet``  a gable roof, eaves and ridge 1 m too high, pitch 10° steeper than the maximum
  ``plat``          a flat roof where the plan asks a minimum dakhelling of 30° (too shallow)
  ``zonder_dak``    a roof with so few points that only LoD1.2 is made: eaves and pitch "onbekend"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from core.products import BUILDING_SOLIDS, BUILDINGS, STORE_NAME

MARGIN_M = 1.0
MARGIN_DEG = 10.0
FLAT_MIN_DAKHELLING = 30.0
PLAN_ID = "NL.IMRO.9999.DAKEN-0001"
PLAN_NAAM = "Bestemmingsplan Daken"
# name → (synth.roofs seed, shape, nuisance)
BUILDINGS_DRAWN = {"voldoet": (11, "gable", None), "voldoet_niet": (12, "gable", None), "plat": (13, "flat", None),
                   "zonder_dak": (14, "gable", "few_points"), "schilddak": (15, "hip", None)}


@dataclass
class RoofPand:
    identificatie: str
    point: tuple[float, float]  # RD, on the pand
    truth: object  # synth.roofs.RoofTruth
    z_ground: float
    model: object  # etl.roofs.RoofModel
    limits: dict  # max_goothoogte, max_bouwhoogte (m above maaiveld), min_dakhelling, max_dakhelling (degrees)


def _limits(name: str, truth, z_ground: float) -> dict:
    goot, nok = truth.h_goot - z_ground, truth.h_nok - z_ground
    if name == "voldoet_niet":
        return {"max_goothoogte": round(goot - MARGIN_M, 1), "max_bouwhoogte": round(nok - MARGIN_M, 1),
                "min_dakhelling": None, "max_dakhelling": round(truth.pitch_max - MARGIN_DEG)}
    if name == "plat":
        return {"max_goothoogte": round(goot + MARGIN_M, 1), "max_bouwhoogte": round(nok + MARGIN_M, 1),
                "min_dakhelling": FLAT_MIN_DAKHELLING, "max_dakhelling": None}
    return {"max_goothoogte": round(goot + MARGIN_M, 1), "max_bouwhoogte": round(nok + MARGIN_M, 1),
            "min_dakhelling": max(0.0, round(truth.pitch_max - MARGIN_DEG)),
            "max_dakhelling": round(truth.pitch_max + MARGIN_DEG)}


def write_roof_store(out: Path) -> dict[str, RoofPand]:
    """Write ``out/stadsmodel.gpkg`` (buildings with roofs, building_solids, the imported plan)."""
    from etl.roofs import reconstruct
    from etl.writers.store import StoreLayer, write_store
    from etl.zoning import import_zoning
    from synth.roofs import roof_building

    out.mkdir(parents=True, exist_ok=True)
    panden, rows, solids = {}, [], []
    for k, (name, (seed, shape, nuisance)) in enumerate(BUILDINGS_DRAWN.items()):
        b = roof_building(seed, shape, nuisance)
        model = reconstruct(b.points, b.footprint, b.z_ground)
        ident = f"NL.IMBAG.Pand.{9999100000000000 + k}"
        z = b.points[:, 2]
        attrs = model.attributes()
        for lod in ("12", "13", "22"):  # a JSON list as text in the store (README "The store")
            v = attrs[f"b3_val3dity_lod{lod}"]
            attrs[f"b3_val3dity_lod{lod}"] = None if v is None else json.dumps(v)
        rows.append({"identificatie": ident, "b3_h_maaiveld": round(b.z_ground, 3),
                     **{f"b3_h_dak_{p}": round(float(np.percentile(z, q)), 3)
                        for p, q in (("min", 0), ("50p", 50), ("70p", 70), ("max", 100))},
                     "b3_n_punten": len(z), "b3_reconstructie_onvolledig": False, "b3_onvolledig_reden": None,
                     **attrs, "geometry": b.footprint})
        for lod, factory in (("1.3", model.lod13), ("2.2", model.lod22)):
            if factory is not None:
                vertices, geometry = factory(0)
                solids.append({"identificatie": ident, "lod": lod, "solid": json.dumps(
                    {"vertices": np.round(vertices, 3).tolist(), "geometry": geometry}, separators=(",", ":"))})
        point = b.footprint.representative_point()
        panden[name] = RoofPand(ident, (point.x, point.y), b.truth, b.z_ground, model,
                                _limits(name, b.truth, b.z_ground))
    buildings = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:28992")
    write_store(out / STORE_NAME, {BUILDINGS: StoreLayer.whole(buildings),
                                   BUILDING_SOLIDS: StoreLayer.whole(pd.DataFrame(solids))})
    plan = out.parent / f"{PLAN_ID}.gml"
    plan.write_text(_plan_gml(buildings, panden), encoding="utf-8")
    report = import_zoning([plan], out)
    assert report.complete, report.as_json()
    return panden


def solid_faces(geometry: dict, vertices: np.ndarray) -> list:
    """A solid as coordinates (mm), surface by surface with its semantic type: comparable across vertex lists."""
    types = [s["type"] for s in geometry["semantics"]["surfaces"]]
    out = []
    for shell, values in zip(geometry["boundaries"], geometry["semantics"]["values"]):
        for surface, value in zip(shell, values):
            out.append((types[value], [[tuple(np.round(vertices[i], 3)) for i in ring] for ring in surface]))
    return sorted(out, key=repr)


# --- an IMRO2012 plan: Bestemmingsplangebied, one Enkelbestemming, a Maatvoering per pand
def _surface(geom, gid: str) -> str:
    rings = [geom.exterior, *geom.interiors]
    pos = [" ".join(f"{x:.3f} {y:.3f}" for x, y in r.coords) for r in rings]
    inner = "".join(f"<gml:interior><gml:LinearRing><gml:posList>{p}</gml:posList></gml:LinearRing></gml:interior>"
                    for p in pos[1:])
    return (f'<gml:Surface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::28992"><gml:patches><gml:PolygonPatch>'
            f"<gml:exterior><gml:LinearRing><gml:posList>{pos[0]}</gml:posList></gml:LinearRing></gml:exterior>"
            f"{inner}</gml:PolygonPatch></gml:patches></gml:Surface>")


def _identificatie(lokaal: str) -> str:
    return (f"<imro:identificatie><imro:NEN3610ID><imro:namespace>NL.IMRO</imro:namespace>"
            f"<imro:lokaalID>{lokaal}</imro:lokaalID></imro:NEN3610ID></imro:identificatie>")


def _object(kind: str, lokaal: str, body: str, geom) -> str:
    return (f'<imro:featureMember><imro:{kind} gml:id="NL.IMRO.{lokaal}">{_identificatie(lokaal)}'
            f'<imro:typePlanobject>{kind.lower()}</imro:typePlanobject><imro:plangebied xlink:href="#{PLAN_ID}"/>'
            f"{body}<imro:geometrie>{_surface(geom, 'g-' + lokaal)}</imro:geometrie></imro:{kind}>"
            "</imro:featureMember>")


WAARDETYPE = {"max_goothoogte": "maximum goothoogte (m)", "max_bouwhoogte": "maximum bouwhoogte (m)",
              "min_dakhelling": "minimum dakhelling", "max_dakhelling": "maximum dakhelling"}


def _plan_gml(buildings: gpd.GeoDataFrame, panden: dict[str, RoofPand]) -> str:
    area = box(*buildings.total_bounds).buffer(20, join_style="mitre")
    features = [_object("Enkelbestemming", "9999.EB-wonen", "<imro:naam>Wonen</imro:naam>"
                        "<imro:bestemmingshoofdgroep>wonen</imro:bestemmingshoofdgroep>"
                        "<imro:artikelnummer>3</imro:artikelnummer>", area)]
    for k, (name, pand) in enumerate(panden.items()):
        footprint = buildings.geometry.iloc[k]
        waarden = "".join(f"<imro:WaardeEnType><imro:waarde>{pand.limits[key]:g}</imro:waarde><imro:waardeType>"
                          f"{WAARDETYPE[key]}</imro:waardeType></imro:WaardeEnType>"
                          for key in WAARDETYPE if pand.limits[key] is not None)
        features.append(_object("Maatvoering", f"9999.MV-{name}", f"<imro:naam>maatvoering {name}</imro:naam>"
                                f"<imro:maatvoeringInfo>{waarden}</imro:maatvoeringInfo>",
                                shapely.orient_polygons(footprint.buffer(1.0, join_style="mitre"))))
    plan = (f'<imro:featureMember><imro:Bestemmingsplangebied gml:id="{PLAN_ID}"><imro:identificatie>'
            "<imro:NEN3610ID><imro:namespace>NL.IMRO</imro:namespace><imro:lokaalID>9999.DAKEN</imro:lokaalID>"
            "<imro:versie>0001</imro:versie></imro:NEN3610ID></imro:identificatie>"
            "<imro:typePlan>bestemmingsplan</imro:typePlan><imro:naamOverheid>Synthetica</imro:naamOverheid>"
            f"<imro:naam>{PLAN_NAAM}</imro:naam><imro:planstatusInfo><imro:PlanstatusEnDatum><imro:planstatus>"
            "vastgesteld</imro:planstatus><imro:datum>2024-01-01</imro:datum></imro:PlanstatusEnDatum>"
            "</imro:planstatusInfo><imro:verwijzingNorm>IMRO2012</imro:verwijzingNorm>"
            f"<imro:geometrie>{_surface(area, 'g-plan')}</imro:geometrie></imro:Bestemmingsplangebied>"
            "</imro:featureMember>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<imro:FeatureCollectionIMRO gml:id="Collectie" '
            'xmlns:imro="http://www.geonovum.nl/imro/2012/1.1" xmlns:gml="http://www.opengis.net/gml/3.2" '
            'xmlns:xlink="http://www.w3.org/1999/xlink">\n' + plan + "\n" + "\n".join(features)
            + "\n</imro:FeatureCollectionIMRO>\n")
