"""The ``location-check`` process: "what applies here, and may I build?" for one point.

Reads DATA/stadsmodel.gpkg through core.gpkg (plain sqlite3, no SpatiaLite): each layer is asked through
its GeoPackage R-tree (``rtree_<table>_<geom>``) for the rows whose bounding box holds the point, and
shapely decides on those few candidates. One index lookup per layer, no full scans; connections and
parsed rules are cached per process (pygeoapi creates a new processor object for every request).

Heights: the 3D compliance line compares the building's measured height above ground with the plan's
maximum bouwhoogte. Plans measure bouwhoogte from *peil* to the highest point of the building; peil is, for
most buildings, the ground level at the main entrance, which b3_h_maaiveld (the median ground height around
the footprint) approximates. Where the build reconstructed the roof planes (LoD2.2), the height is the ridge,
``b3_h_nok − b3_h_maaiveld`` (chimneys and antennas do not count, as in the plans); otherwise the highest roof
point, ``b3_h_dak_max − b3_h_maaiveld`` (the 70th percentile of the LoD1.2 block would understate it).
The roof planes also give the goothoogte (``b3_h_goot − b3_h_maaiveld``) against the maximum goothoogte and
the pitch (``b3_hellingshoek_min/max``) against the minimale/maximale dakhelling (IMRO maatvoering, OW
omgevingsnormen). Each of these verdicts names the LoD it rests on and its uncertainty, the RMSE of the roof
points to that LoD's roof; a building without an LoD2.2 roof gets "onbekend" for eaves and pitch, with the
reason the build gave.

Every generated text for people (evidence, reasons, summaries, notes) comes in Dutch and English
(``services.rules.Text``); ids, status codes, numbers and the data's own names stay as they are.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError
from shapely.geometry import Point

from core import gpkg as geopackage
from core.cityjson import area_vector
from core.crs import CRS84_URI, RD_NEW_URI, WGS84_LATLON_URI, etrs89_to_rdnap, in_rd_bounds, rdnap_to_etrs89
from core.errors import ConfigError
from core.gpkg import gpkg_geometries
from core.planstatus import plan_states
from core.products import ADDRESSES, BUILDINGS, IMRO_LAYERS, MONUMENT_LAYERS, OW_LAYERS, STORE_NAME
from services.articles import attach_articles, without_drafts  # articles and plan status (issue 16)
from services.cityjson import StoredSolids
from services.decisions import AnswerError
from services.envelopes import clash
from services.gevel import FacadeError, facade
from services.rules import Fact, RuleAnswerError, Text, evaluate, load_rules, same_text, text
from services.sttr import FLAT_PITCH_DEG, check_activity, model_facts, stored_activities

LOGGER = logging.getLogger(__name__)

CRS_ALIASES = {
    CRS84_URI: "CRS84", "OGC:CRS84": "CRS84", "CRS84": "CRS84",
    WGS84_LATLON_URI: "EPSG:4326", "EPSG:4326": "EPSG:4326",
    RD_NEW_URI: "EPSG:28992", "EPSG:28992": "EPSG:28992",
}
# The OW layers a plan's rules live in; ow_locatie only says where an omgevingsplan applies.
OW_RULE_LAYERS = tuple(layer for layer in OW_LAYERS if layer != "ow_locatie")
MONUMENTEN, BESCHERMDE_GEZICHTEN = MONUMENT_LAYERS
HEIGHT_METHOD = "b3_h_dak_max − b3_h_maaiveld"
RIDGE_METHOD = "b3_h_nok − b3_h_maaiveld"
EAVES_METHOD = "b3_h_dak_min − b3_h_maaiveld"
GOOT_METHOD = "b3_h_goot − b3_h_maaiveld"
PITCH_METHOD = "b3_hellingshoek_min, b3_hellingshoek_max"
ROOF_LOD = "2.2"  # eaves, ridge and pitch are measured on the roof planes; lower LoDs only carry a block height
# The OW omgevingsnorm types of the roof limits (waardelijst TypeNorm, as MaximumBouwhoogte).
PITCH_NORMS = {"min": "MinimumDakhelling", "max": "MaximumDakhelling"}


class LocationCheckInputError(ProcessorExecuteError):
    """Bad input (HTTP 400, OGC InvalidParameterValue): the message says what is wrong and what is expected."""

    http_status_code = HTTPStatus.BAD_REQUEST
    ogc_exception_code = "InvalidParameterValue"

    def __init__(self, msg: str):
        super().__init__(msg, user_msg=msg)


# --------------------------------------------------------------------------------------------- store

class Store:
    """Read-only point lookups on a GeoPackage through its R-tree indexes. Thread-safe (one lock)."""

    def __init__(self, gpkg: Path):
        if not gpkg.is_file():
            raise ProcessorExecuteError(f"no store at {gpkg}: run 'stadsmodel build' or 'stadsmodel zoning import'")
        self.path = gpkg
        self._con = geopackage.connect(gpkg, check_same_thread=False)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self.layers: dict[str, geopackage.Layer] = {}
        for name, layer in geopackage.feature_layers(self._con).items():
            if layer.rtree is None:
                LOGGER.warning("%s: layer %s has no spatial index; not used by the location check", gpkg, name)
                continue
            self.layers[name] = layer

    def has(self, layer: str) -> bool:
        return layer in self.layers

    def extent(self) -> tuple[float, float, float, float] | None:
        exts = [v.extent for v in self.layers.values() if v.extent]
        if not exts:
            return None
        return (min(e[0] for e in exts), min(e[1] for e in exts), max(e[2] for e in exts), max(e[3] for e in exts))

    def query(self, layer: str, minx: float, miny: float, maxx: float, maxy: float) -> list[tuple[dict, Any]]:
        """Rows (without the blob) and shapely geometries whose bounding boxes meet the box."""
        if layer not in self.layers:
            return []
        meta = self.layers[layer]
        with self._lock:
            rows = geopackage.rows_meeting(self._con, meta, (minx, miny, maxx, maxy))
        out = []
        for row in rows:
            rec = dict(row)
            blob = rec.pop(meta.geometry_column)
            if blob is None:
                continue
            out.append((rec, gpkg_geometries([blob])[0]))
        return out

    def feature(self, layer: str, column: str, value: Any) -> tuple[dict, Any] | None:
        """The first row (without the blob) and shapely geometry whose ``column`` equals ``value``, or None."""
        meta = self.layers.get(layer)
        if meta is None or column not in meta.columns:
            return None
        with self._lock:
            row = self._con.execute(f'SELECT * FROM "{meta.name}" WHERE "{column}" = ? LIMIT 1', (value,)).fetchone()
        if row is None:
            return None
        rec = dict(row)
        blob = rec.pop(meta.geometry_column)
        return rec, None if blob is None else gpkg_geometries([blob])[0]

    def at_point(self, layer: str, x: float, y: float) -> list[dict]:
        pt = Point(x, y)
        return [rec for rec, geom in self.query(layer, x, y, x, y) if geom.covers(pt)]

    def solids(self, pand: str) -> list[dict]:
        """The pand's stored solids as services.cityjson reads them (parts included; none in a store without
        the table), each as a row: lod, part, solid."""
        stored = StoredSolids(gpkg=self.path).for_ids([pand]).get(pand, [])
        return [{"lod": s["geometry"]["lod"], "part": s["part"], "solid": s} for s in stored]


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(data_dir: Path) -> Store:
    """The cached store of a data directory (reopened when the file was replaced)."""
    gpkg = Path(data_dir) / STORE_NAME
    key = str(gpkg.resolve())
    with _STORES_LOCK:
        store = _STORES.get(key)
        mtime = gpkg.stat().st_mtime if gpkg.exists() else None
        if store is None or getattr(store, "mtime", None) != mtime:
            store = Store(gpkg)
            store.mtime = mtime
            _STORES[key] = store
        return store


# --------------------------------------------------------------------------------------------- input

def geojson_geometry(value: Any, name: str, kind: str, example: str,
                     error: type[LocationCheckInputError] = LocationCheckInputError) -> dict:
    """Input ``name`` as a GeoJSON geometry of type ``kind``: given as an object, as JSON text, or as a Feature.

    :raises error: anything else, with the example
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise error(f"{name} must be a GeoJSON {kind} object, e.g. {example}") from None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") != kind:
        raise error(f"{name} must be a GeoJSON {kind}, e.g. {example}")
    return value


def parse_location(location: Any, crs: Any) -> tuple[float, float, tuple[float, float] | None]:
    """(x, y) in RD New and (lon, lat) when given in a geographic CRS.

    :raises LocationCheckInputError: malformed GeoJSON, non-numeric or out-of-range coordinates, unknown crs
    """
    location = geojson_geometry(location, "location", "Point", '{"type": "Point", "coordinates": [5.1214, 52.0907]}')
    coords = location.get("coordinates")
    if (not isinstance(coords, (list, tuple)) or len(coords) not in (2, 3)
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in coords)):
        raise LocationCheckInputError(f"location.coordinates must be 2 (or 3) finite numbers, got {coords!r}")
    kind = CRS_ALIASES.get(str(crs).strip() if crs else CRS84_URI)
    if kind is None:
        raise LocationCheckInputError(f"unsupported crs {crs!r}; use {CRS84_URI} (lon/lat, default), "
                                      f"{WGS84_LATLON_URI} (lat/lon) or {RD_NEW_URI} (RD New x/y)")
    a, b = float(coords[0]), float(coords[1])
    if kind == "EPSG:28992":
        if not in_rd_bounds(a, b, a, b):
            raise LocationCheckInputError(f"({a}, {b}) is not an RD New coordinate in the Netherlands")
        return a, b, None
    lon, lat = (a, b) if kind == "CRS84" else (b, a)  # EPSG:4326 is lat/lon by definition
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise LocationCheckInputError(f"({a}, {b}) is not a longitude/latitude pair ({kind})")
    x, y = to_rd(lon, lat)
    if math.isnan(x) or math.isnan(y):
        raise LocationCheckInputError(f"lon/lat ({lon}, {lat}) lies outside the RD New area (the Netherlands)")
    return x, y, (lon, lat)


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """RD New → ETRS89/WGS84 lon/lat with RDNAPTRANS2018 (the height does not change the horizontal position)."""
    lat, lon, _ = rdnap_to_etrs89(x, y, 0.0)
    return lon, lat


def to_rd(lon: float, lat: float) -> tuple[float, float]:
    """ETRS89/WGS84 lon/lat → RD New with RDNAPTRANS2018 (pyrdnap; exact, unlike grid-less pyproj)."""
    x, y, _ = etrs89_to_rdnap(lat, lon)
    return x, y


# --------------------------------------------------------------------------------------------- the check

def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _plan_key(rec: dict) -> str:
    return rec.get("plan_id") or rec.get("bron") or "?"


def check_location(store: Store, x: float, y: float, activity: str | None = None,
                   answers: dict[str, Any] | None = None, lonlat: tuple[float, float] | None = None,
                   activities: list[str] | None = None, gevel: tuple[float, float] | None = None,
                   include_ontwerp: bool = False) -> dict:
    """Everything that applies at RD point (x, y), and the rule outcome per activity.

    :param include_ontwerp: let draft (ontwerp) plans count in the facts, the compliance verdict and the
        activities; superseded plans never count. Every plan is listed in ``plans`` with its status either way.

    :param gevel: RD point on the wall the user picked (of the pand at the point): its side and what it borders
        answer the STTR side questions (services.gevel)

    :param activities: ids of built-in (config/rules) or imported (STTR) activities; default: all of them. An
        imported activity replaces a built-in one of the same id. ``activity`` is the one-activity form.
    """
    answers = answers or {}
    rules = load_rules()
    try:
        imported = stored_activities(store.path)
    except ConfigError as e:  # the store's fault, not the request's: a 5xx, details in the log
        raise ProcessorExecuteError(str(e)) from None
    known = sorted(set(rules) | set(imported))
    chosen = activities if activities is not None else [activity] if activity is not None else known
    unknown = [a for a in chosen if a not in rules and a not in imported]
    if unknown:
        raise LocationCheckInputError(f"unknown activity {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    ext = store.extent()
    if ext is None and not imported:
        raise ProcessorExecuteError(f"{store.path}: the store has no indexed layers")
    if ext is not None and not (ext[0] <= x <= ext[2] and ext[1] <= y <= ext[3]):
        raise LocationCheckInputError(
            f"point RD ({x:.2f}, {y:.2f}) lies outside the data (RD extent {', '.join(f'{v:.0f}' for v in ext)})")

    found = {layer: store.at_point(layer, x, y) for layer in IMRO_LAYERS + OW_LAYERS}
    notes: list[Text] = []

    # -- plans in force
    plans: dict[str, dict] = {}
    for rec in found["bestemmingsplangebied"]:
        plans[_plan_key(rec)] = {k: rec.get(k) for k in ("plan_id", "plan_naam", "plan_type", "plan_status",
                                                          "plan_datum", "bron", "verwijzing_regels")}
    for layer in IMRO_LAYERS[1:] + OW_RULE_LAYERS:  # [0]: bestemmingsplangebied, the plans themselves
        for rec in found[layer]:
            plan = plans.setdefault(_plan_key(rec), {k: rec.get(k) for k in ("plan_id", "plan_naam", "plan_type",
                                                                               "plan_status", "plan_datum", "bron")})
            plan.setdefault(layer, []).append(_public(rec))
    # Drafts and superseded plans are listed with their status, but no fact or verdict rests on them: a draft is
    # not yet law (unless asked), a superseded version no longer is.
    states = plan_states(plans)
    law = without_drafts(found, states, _plan_key, include_ontwerp)
    left_out = [k for k, state in states.items()
                if state == "vervangen" or (state == "ontwerp" and not include_ontwerp)]
    if left_out:
        names = ", ".join(f"{plans[k].get('plan_naam') or k} ({states[k]})" for k in left_out)
        notes.append(text(f"niet meegeteld in de feiten en het oordeel: {names}"
                          + ("" if include_ontwerp else "; include_ontwerp telt ontwerpplannen mee"),
                          f"not counted in the facts and the verdict: {names}"
                          + ("" if include_ontwerp else "; include_ontwerp counts draft plans")))

    # -- monuments and gezichten
    building = None
    buildings = store.at_point(BUILDINGS, x, y)
    footprint = None
    if buildings:
        building = buildings[0]
        cands = store.query(BUILDINGS, x, y, x, y)
        footprint = next((g for r, g in cands if r.get("identificatie") == building.get("identificatie")), None)
    monuments = _monuments_at(store, x, y, footprint)
    gezichten = [_public(r) for r in store.at_point(BESCHERMDE_GEZICHTEN, x, y)]

    # -- facts
    facts: dict[str, Fact] = {}
    facts["rijksmonument"] = _coverage_fact(
        store, MONUMENTEN, x, y, monuments,
        lambda m: f"rijksmonument {m['identificatie']} {m.get('naam') or ''}".strip())
    facts["beschermd_gezicht"] = _coverage_fact(
        store, BESCHERMDE_GEZICHTEN, x, y, gezichten,
        lambda g: f"beschermd gezicht {g['identificatie']} {g.get('naam') or ''}".strip())
    if not store.has(BUILDINGS):
        facts["gebouw_aanwezig"] = Fact(None, text("de opslag heeft geen laag buildings (stadsmodel build)",
                                                   "the store has no buildings layer (stadsmodel build)"))
    elif building is not None:
        pand = building["identificatie"]
        facts["gebouw_aanwezig"] = Fact(True, text(f"BAG-pand {pand}", f"BAG pand {pand}"))
    else:
        facts["gebouw_aanwezig"] = Fact(False, text("geen BAG-pand op dit punt", "no BAG pand covers the point"))
    imro_plan = bool(law["bestemmingsplangebied"])
    ow_plan = bool(law["ow_locatie"])
    any_zoning = any(store.has(layer) for layer in ("bestemmingsplangebied", "ow_locatie"))
    if not any_zoning:
        facts["plan_aanwezig"] = Fact(None, text("geen plangegevens geïmporteerd (stadsmodel zoning import)",
                                                 "no zoning data imported (stadsmodel zoning import)"))
    elif imro_plan or ow_plan:
        facts["plan_aanwezig"] = Fact(True, same_text(
            ", ".join(p.get("plan_naam") or p["plan_id"] for k, p in plans.items() if k not in left_out)))
    elif plans:
        facts["plan_aanwezig"] = Fact(False, text("op dit punt liggen alleen plannen die niet meetellen (ontwerp of "
                                                  "vervangen)", "only plans that do not count (draft or superseded) "
                                                  "cover the point"))
    else:
        facts["plan_aanwezig"] = Fact(False, text("geen plan uit de opslag geldt op dit punt",
                                                  "no plan in the store covers the point"))
    enkel = law["enkelbestemming"]
    if enkel:
        hg = (enkel[0].get("bestemmingshoofdgroep") or enkel[0].get("naam") or "").lower()
        e = enkel[0]
        facts["bestemmingshoofdgroep"] = Fact(hg, text(
            f"enkelbestemming '{e.get('naam')}' (artikel {e.get('artikelnummer')}, {e.get('plan_naam')})",
            f"enkelbestemming '{e.get('naam')}' (article {e.get('artikelnummer')}, {e.get('plan_naam')})"))
    elif imro_plan:
        facts["bestemmingshoofdgroep"] = Fact(None, text("geen enkelbestemming op dit punt, hoewel er een plan geldt",
                                                         "no enkelbestemming at the point although a plan covers it"))
    else:
        facts["bestemmingshoofdgroep"] = Fact(None, text("geen enkelbestemming op dit punt",
                                                         "no enkelbestemming at the point"))
    if not imro_plan:
        facts["in_bouwvlak"] = Fact(None, text("op dit punt geldt geen bestemmingsplan met bouwvlakken",
                                               "no bestemmingsplan with bouwvlakken covers the point"))
    elif law["bouwvlak"]:
        facts["in_bouwvlak"] = Fact(True, same_text(f"bouwvlak {law['bouwvlak'][0]['identificatie']}"))
    else:
        facts["in_bouwvlak"] = Fact(False, text("het punt ligt in geen enkel bouwvlak van het plan",
                                                "no bouwvlak of the plan covers the point"))

    max_h, max_src = _maximum(law, "max_bouwhoogte", "MaximumBouwhoogte")
    max_g, max_g_src = _maximum(law, "max_goothoogte", "MaximumGoothoogte")
    if max_h is not None:
        facts["maximum_bouwhoogte"] = Fact(max_h, max_src)
        facts["maximum_bouwhoogte_bekend"] = Fact(True, max_src)
    elif imro_plan or ow_plan:
        facts["maximum_bouwhoogte"] = Fact(None, text("de plangegevens geven op dit punt geen maximale bouwhoogte",
                                                      "the plan data gives no maximum bouwhoogte at this point"))
        facts["maximum_bouwhoogte_bekend"] = Fact(False, text(
            "geen maatvoering 'maximum bouwhoogte (m)' en geen omgevingsnorm MaximumBouwhoogte op dit punt",
            "no maatvoering 'maximum bouwhoogte (m)' and no omgevingsnorm MaximumBouwhoogte at the point"))
    else:
        no_plan = text("op dit punt geldt geen plan", "no plan covers the point")
        facts["maximum_bouwhoogte"] = Fact(None, no_plan)
        facts["maximum_bouwhoogte_bekend"] = Fact(None, no_plan)

    building_out, measured = _building(store, building, footprint, include_ontwerp)
    pitch_limits = {kind: _pitch_limit(law, kind) for kind in ("min", "max")}
    compliance = _compliance(building_out, measured, max_h, max_src, max_g, max_g_src, pitch_limits)
    attach_articles(store, x, y, plans, found, compliance, _plan_key, law)  # articles (issue 16)
    facts["hoogte_binnen_maximum"] = Fact(
        None if compliance["status"] == "onbekend" else compliance["status"] == "binnen_maximum",
        compliance.get("reason") or compliance["summary"])
    goot, pitch = compliance["goothoogte"], compliance["dakhelling"]
    facts["goothoogte_binnen_maximum"] = Fact(
        None if goot["status"] == "onbekend" else goot["status"] == "binnen_maximum", goot["summary"])
    facts["dakhelling_binnen_grenzen"] = Fact(
        None if pitch["status"] == "onbekend" else pitch["status"] == "binnen_grenzen", pitch["summary"])

    # -- plan articles cited by conclusions
    plan_citations = []
    for rec in enkel + law["dubbelbestemming"]:
        art = rec.get("artikelnummer")
        plan_citations.append({
            "id": f"{rec.get('plan_id')}#artikel-{art}",
            "nl": f"{rec.get('plan_naam')} ({rec.get('plan_id')}), artikel {art} '{rec.get('naam')}'",
            "en": f"{rec.get('plan_naam')} ({rec.get('plan_id')}), article {art} '{rec.get('naam')}'",
            "url": rec.get("verwijzing_regels")})
    for rec in law["ow_omgevingsnorm"] + law["ow_activiteit"]:
        if rec.get("regeltekst"):
            plan_citations.append({"id": f"{rec.get('plan_id')}#{rec['regeltekst']}",
                                   "nl": f"{rec.get('plan_naam')}, regeltekst {rec['regeltekst']} ({rec.get('naam')})",
                                   "en": f"{rec.get('plan_naam')}, rule text {rec['regeltekst']} ({rec.get('naam')})"})

    facade_facts = None
    if gevel is not None:
        if building is None or footprint is None:
            raise LocationCheckInputError("gevel: no BAG pand at location, so no wall to pick; give a location "
                                          "on the building")
        try:
            picked = facade(store, building, footprint, gevel, building_out["addresses"])
        except FacadeError as e:
            raise LocationCheckInputError(f"gevel: {e.reason}") from None
        building_out["gevel"], facade_facts = picked.as_json(), picked.facts
    outcomes = []
    sttr_facts = model_facts(facts, building_out, facade_facts)
    for name in chosen:
        given = answers[name] if isinstance(answers.get(name), dict) else answers
        try:
            if name in imported:
                outcomes.append(check_activity(imported[name], sttr_facts, given))
            else:
                outcomes.append(evaluate(rules[name], facts, given, plan_citations).as_json())
        except (RuleAnswerError, AnswerError) as e:
            raise LocationCheckInputError(f"activity {name}: {e}") from None
    unused = sorted(set(answers) - _answer_keys(chosen, rules, imported))
    if unused:
        keys = ", ".join(unused)
        notes.append(text(f"deze antwoorden horen bij geen vraag van de gekozen activiteiten en zijn niet gebruikt: "
                          f"{keys}", f"these answers belong to no question of the chosen activities and were not "
                          f"used: {keys}"))
    if ext is None:
        notes.append(text("de opslag heeft alleen toepasbare regels, geen kaartlagen: niets wordt uit de gegevens "
                          "ingevuld", "the store holds only toepasbare regels, no map layers: nothing is filled in "
                          "from the data"))

    if not any_zoning:
        notes.append(text("geen plangegevens in de opslag: vragen over het plan blijven 'onbekend'",
                          "no zoning data in the store: plan questions stay 'onbekend'"))
    return {
        "location": {"rd": [round(x, 3), round(y, 3)], "crs84": [round(v, 7) for v in lonlat or to_lonlat(x, y)]},
        "plans": list(plans.values()),
        "monuments": monuments,
        "beschermde_gezichten": gezichten,
        "building": building_out,
        "compliance": compliance,
        "facts": {k: {"value": v.value, "evidence": v.evidence} for k, v in facts.items()},
        "activities": outcomes,
        "notes": notes,
    }


def _answer_keys(chosen: list[str], rules: dict, imported: dict) -> set[str]:
    """What an answer may be keyed by: an STTR question id, a tree node or the fact it asks, or an activity id
    (answers nested per activity)."""
    keys = set(chosen)
    for name in chosen:
        if name in imported:
            keys.update(q.id for q in imported[name].questions)
        else:
            for node_name, node in rules[name].doc["nodes"].items():
                keys.update((node_name, node["fact"]) if "fact" in node else (node_name,))
    return keys


def _public(rec: dict) -> dict:
    out = {k: v for k, v in rec.items() if k not in ("fid", "bron_key")}
    if isinstance(out.get("waarden"), str):
        try:
            out["waarden"] = json.loads(out["waarden"])
        except json.JSONDecodeError:
            pass
    return out


def _monuments_at(store: Store, x: float, y: float, footprint) -> list[dict]:
    """Monuments whose area covers the point, or whose point lies on the building at the point."""
    out = {}
    pt = Point(x, y)
    bounds = footprint.bounds if footprint is not None else (x, y, x, y)
    for rec, geom in store.query(MONUMENTEN, *bounds):
        if geom.geom_type in ("Point", "MultiPoint"):
            hit = footprint is not None and footprint.covers(geom)
        else:
            hit = geom.covers(pt)
        if hit:
            out[rec["identificatie"]] = _public(rec)
    return list(out.values())


# RCE exports are often regional (e.g. one province): "not in the export" means "no" only near the area the
# export covers, taken as the extent of both RCE layers plus this margin (m).
RCE_COVERAGE_MARGIN = 1000.0


# What one object of an RCE layer is called, in Dutch in both languages (a domain word).
RCE_OBJECT = {MONUMENTEN: "rijksmonument", BESCHERMDE_GEZICHTEN: "beschermd gezicht"}


def _coverage_fact(store: Store, layer: str, x: float, y: float, hits: list[dict], describe) -> Fact:
    if not store.has(layer):
        return Fact(None, text(f"de opslag heeft geen laag {layer} (stadsmodel zoning import)",
                               f"the store has no {layer} layer (stadsmodel zoning import)"))
    if hits:
        return Fact(True, same_text("; ".join(describe(h) for h in hits)), layer,
                    ", ".join(str(h["identificatie"]) for h in hits))
    exts = [store.layers[n].extent for n in MONUMENT_LAYERS
            if store.has(n) and store.layers[n].extent]
    m = RCE_COVERAGE_MARGIN
    if not any(e[0] - m <= x <= e[2] + m and e[1] - m <= y <= e[3] + m for e in exts):
        return Fact(None, text(f"de geïmporteerde RCE-gegevens ({layer}) dekken dit punt niet",
                               f"the imported RCE data ({layer}) does not cover this point"))
    return Fact(False, text(f"geen {RCE_OBJECT[layer]} op dit punt", f"no {RCE_OBJECT[layer]} at the point"))


def _maximum(found: dict, column: str, norm_type: str) -> tuple[float | None, Text | None]:
    """The strictest (lowest) maximum at the point from maatvoeringen and omgevingsnormen, with its source."""
    return _limit(found, lambda rec: _num(rec.get(column)), norm_type, min)


def _pitch_limit(found: dict, kind: str) -> tuple[float | None, Text | None]:
    """The strictest minimale (``kind`` "min": the highest) or maximale ("max": the lowest) dakhelling at the
    point, degrees. IMRO has no column for it: the maatvoering's waarden list holds it (waardeType
    "minimum/maximum dakhelling", with or without its unit)."""
    prefix = "minim" if kind == "min" else "maxim"

    def waarde(rec: dict) -> float | None:
        try:
            waarden = json.loads(rec.get("waarden") or "[]")
        except (TypeError, json.JSONDecodeError):
            return None
        for w in waarden if isinstance(waarden, list) else []:
            wt = str(w.get("waardetype") or "").strip().lower()
            if "dakhelling" in wt and wt.startswith(prefix):
                return _num(str(w.get("waarde") or "").replace(",", "."))
        return None

    return _limit(found, waarde, PITCH_NORMS[kind], max if kind == "min" else min)


def _limit(found: dict, waarde, norm_type: str, strictest) -> tuple[float | None, Text | None]:
    cands = []
    for rec in found["maatvoering"]:
        if (v := waarde(rec)) is not None:
            source = f"maatvoering {rec['identificatie']} '{rec.get('naam')}' ({rec.get('plan_naam')})"
            cands.append((v, same_text(source)))
    for rec in found["ow_omgevingsnorm"]:
        if rec.get("type") == norm_type and (v := _num(rec.get("kwantitatieve_waarde"))) is not None:
            where = (rec.get("naam"), rec.get("locatie_noemer"), rec.get("plan_naam"))
            cands.append((v, text("omgevingsnorm '{}' op {} ({})".format(*where),
                                  "omgevingsnorm '{}' at {} ({})".format(*where))))
    if not cands:
        return None, None
    return strictest(cands, key=lambda c: c[0])


def _building(store: Store, building: dict | None, footprint, include_ontwerp: bool = False) \
        -> tuple[dict | None, float | None]:
    if building is None:
        return None, None
    b = building
    addresses = []
    if footprint is not None and store.has(ADDRESSES):
        for rec, _ in store.query(ADDRESSES, *footprint.bounds):
            if rec.get("pand_identificatie") == b.get("identificatie"):
                addresses.append({k: rec.get(k) for k in ("identificatie", "openbareruimte", "huisnummer", "huisletter",
                                                          "huisnummertoevoeging", "postcode", "woonplaats",
                                                          "gebruiksdoel", "oppervlakte")})
    heights = {k: _num(b.get(f"b3_h_{k}")) for k in ("maaiveld", "dak_min", "dak_50p", "dak_70p", "dak_max")}
    flagged = bool(b.get("b3_reconstructie_onvolledig"))
    roof = _roof(b)
    solids = store.solids(b.get("identificatie"))
    measured, method = None, HEIGHT_METHOD
    if not flagged and heights["maaiveld"] is not None:
        if roof and roof["lod"] == ROOF_LOD and roof["h_nok"] is not None:
            measured, method = round(roof["h_nok"] - heights["maaiveld"], 2), RIDGE_METHOD
        elif heights["dak_max"] is not None:
            measured = round(heights["dak_max"] - heights["maaiveld"], 2)
    out = {
        "identificatie": b.get("identificatie"), "oorspronkelijkbouwjaar": b.get("oorspronkelijkbouwjaar"),
        "status": b.get("status"), "gebruiksdoel": b.get("gebruiksdoel"),
        "aantal_verblijfsobjecten": b.get("aantal_verblijfsobjecten"), "addresses": addresses,
        "heights_nap": heights,
        "measured_height_m": measured, "measured_height_method": method,
        "dak": roof and {**roof, **_roof_areas(solids, roof)},
        "height_70p_m": (round(heights["dak_70p"] - heights["maaiveld"], 2)
                         if not flagged and None not in (heights["dak_70p"], heights["maaiveld"]) else None),
        "reconstructie_onvolledig": flagged, "onvolledig_reden": b.get("b3_onvolledig_reden"),
        "bouwenvelop": _clash(store, b, footprint, solids, include_ontwerp),
    }
    return out, measured


def _clash(store: Store, building: dict, footprint, solids: list[dict], include_ontwerp: bool) -> dict | None:
    """The building against the plans' bouwenvelop (services.envelopes), without the excess geometry (a mesh of
    hundreds of triangles: the 3D view draws it from the tiles, not from this answer)."""
    try:
        result = clash(store, building, footprint, solids, include_ontwerp)
    except (ValueError, RuntimeError, shapely.errors.GEOSException) as e:  # the data's fault: said, not a 500
        LOGGER.warning("bouwenvelop of pand %s not measured: %s", building.get("identificatie"), e)
        return {"status": "onbekend", "reason": text(f"niet te meten ({e.__class__.__name__})",
                                                     f"cannot be measured ({e.__class__.__name__})")}
    if result is not None:
        result.pop("excess_solid", None)
    return result


def _roof_areas(solids: list[dict], roof: dict) -> dict:
    """Flat and sloped roof area (m², plan view) of the LoD2.2 roof faces: a roof that is "slanted" can still have
    flat parts (a rear extension), which questions such as "op een plat dak?" need to know."""
    if roof.get("lod") != ROOF_LOD:
        return {}
    flat = sloped = 0.0
    for solid in (s["solid"] for s in solids if s["lod"] == ROOF_LOD):
        vertices = np.asarray(solid["vertices"], dtype=float)
        geometry = solid["geometry"]
        surfaces = geometry["semantics"]["surfaces"]
        for face, value in zip(geometry["boundaries"][0], geometry["semantics"]["values"][0]):
            if value is None or surfaces[value]["type"] != "RoofSurface":
                continue
            normal = area_vector(vertices[face[0]])
            area, plan = float(np.linalg.norm(normal)), abs(float(normal[2]))
            if area <= 0:
                continue
            pitch = math.degrees(math.acos(min(1.0, plan / area)))
            if pitch <= FLAT_PITCH_DEG:
                flat += plan
            else:
                sloped += plan
    return {"opp_plat_m2": round(flat, 1), "opp_schuin_m2": round(sloped, 1)}


def _roof(b: dict) -> dict | None:
    """The roof the build measured (store columns b3_dak_type ... b3_lod_terugval_reden): the best LoD made, eave,
    ridge, pitch and the RMSE per LoD; None for a store built before LoD1.3/2.2 (no such columns)."""
    if "b3_lod_gereconstrueerd" not in b:
        return None
    return {"lod": b.get("b3_lod_gereconstrueerd"), "dak_type": b.get("b3_dak_type"),
            "h_goot": _num(b.get("b3_h_goot")), "h_nok": _num(b.get("b3_h_nok")),
            "hellingshoek_min": _num(b.get("b3_hellingshoek_min")),
            "hellingshoek_max": _num(b.get("b3_hellingshoek_max")),
            "rmse_m": {lod: _num(b.get(f"b3_rmse_lod{lod.replace('.', '')}")) for lod in ("1.2", "1.3", "2.2")},
            "lod_terugval_reden": b.get("b3_lod_terugval_reden")}


def _metres(value: float, spec: str) -> Text:
    """A length per language: Dutch writes a decimal comma (9,53 m), English a point (9.53 m)."""
    plain = format(value, spec)
    return {"nl": f"{plain.replace('.', ',')} m", "en": f"{plain} m"}


def _degrees(value: float) -> Text:
    plain = format(value, ".1f")
    return {"nl": f"{plain.replace('.', ',')}°", "en": f"{plain}°"}


def _basis(building: dict, method: str) -> dict:
    """Which LoD a verdict rests on and its uncertainty: the RMSE of the roof points to that LoD's roof."""
    if method == HEIGHT_METHOD:
        return {"lod": None, "uncertainty_m": None,
                "basis": text("het hoogste punt van de dakpunten (het gebouw heeft geen LoD2.2-dak)",
                              "the highest of the roof points (the building has no LoD2.2 roof)")}
    rmse = building["dak"]["rmse_m"][ROOF_LOD]
    if rmse is None:
        return {"lod": ROOF_LOD, "uncertainty_m": None,
                "basis": text("de dakvlakken van het LoD2.2-model (onzekerheid onbekend)",
                              "the roof planes of the LoD2.2 model (uncertainty unknown)")}
    m = _metres(rmse, ".2f")
    return {"lod": ROOF_LOD, "uncertainty_m": rmse,
            "basis": text(f"de dakvlakken van het LoD2.2-model; de dakpunten liggen er gemiddeld {m['nl']} "
                          "van af (RMSE)",
                          f"the roof planes of the LoD2.2 model; the roof points lie {m['en']} from them (RMSE)")}


def _no_roof_reason(building: dict, what: Text) -> Text:
    """Why eaves or pitch are not measured: the building has no LoD2.2 roof. The build's own reason is in
    building.dak.lod_terugval_reden (pointed to, not quoted: it is the ETL's English wording)."""
    roof = building["dak"]
    if roof is None:
        return text(f"{what['nl']} is niet gemeten: de opslag heeft geen gereconstrueerde daken (LoD1.3/2.2)",
                    f"{what['en']} is not measured: the store has no reconstructed roofs (LoD1.3/2.2)")
    best = f"LoD{roof['lod']}" if roof["lod"] else "geen"
    best_en = f"LoD{roof['lod']}" if roof["lod"] else "none"
    return text(f"{what['nl']} is niet gemeten: het gebouw heeft geen LoD2.2-dak (beste model: {best}; "
                "reden: building.dak.lod_terugval_reden)",
                f"{what['en']} is not measured: the building has no LoD2.2 roof (best model: {best_en}; "
                "reason: building.dak.lod_terugval_reden)")


def _against_maximum(out: dict, measured: float, maximum: float) -> None:
    """status, headroom_m or exceedance_m and the summary of a measured height against a maximum."""
    m, mx = _metres(measured, ".2f"), _metres(maximum, "g")
    if measured <= maximum:
        out.update(status="binnen_maximum", headroom_m=round(maximum - measured, 2))
        d = _metres(out["headroom_m"], ".2f")
        out["summary"] = text(f"{m['nl']} gemeten, maximaal {mx['nl']}: nog {d['nl']} ruimte",
                              f"{m['en']} measured, maximum {mx['en']}: {d['en']} headroom")
    else:
        out.update(status="overschrijdt", exceedance_m=round(measured - maximum, 2))
        d = _metres(out["exceedance_m"], ".2f")
        out["summary"] = text(f"{m['nl']} gemeten, maximaal {mx['nl']}: {d['nl']} te hoog",
                              f"{m['en']} measured, maximum {mx['en']}: exceeds by {d['en']}")


def _compliance(building: dict | None, measured: float | None, max_h: float | None, max_src: Text | None,
                max_g: float | None, max_g_src: Text | None, pitch_limits: dict) -> dict:
    """The 3D compliance line: measured height vs the plan's maximum bouwhoogte; then goothoogte and dakhelling."""
    method = building["measured_height_method"] if building else HEIGHT_METHOD
    out: dict[str, Any] = {"measured_height_m": measured, "method": method, "max_bouwhoogte_m": max_h,
                           "max_bouwhoogte_source": max_src}
    if building is None:
        out.update(status="onbekend", reason=text("geen gebouw op dit punt", "no building at the point"))
    elif measured is None:
        # b3_onvolledig_reden is the ETL's own (Dutch) wording: quoted as it is in both languages
        why = building.get("onvolledig_reden")
        out.update(status="onbekend", reason=text(
            f"de hoogte van het gebouw kon niet worden gemeten: {why or 'geen dak- of maaiveldhoogte'}",
            f"the building's height could not be measured: {why or 'no roof or ground height'}"))
    elif max_h is None:
        out.update(status="onbekend", reason=text("geen maximale bouwhoogte in de plangegevens op dit punt",
                                                  "no maximum bouwhoogte in the plan data at this point"))
    else:
        _against_maximum(out, measured, max_h)
    if out["status"] == "onbekend":
        out["summary"] = out["reason"]
    if measured is not None:
        out.update(_basis(building, method))
    out["goothoogte"] = _goothoogte(building, measured, max_g, max_g_src)
    out["dakhelling"] = _dakhelling(building, measured, pitch_limits)
    return out


def _roof_measured(building: dict | None, measured: float | None) -> bool:
    return measured is not None and building["dak"] is not None and building["dak"]["lod"] == ROOF_LOD


def _goothoogte(building: dict | None, measured: float | None, max_g: float | None, max_g_src: Text | None) -> dict:
    """Eaves (b3_h_goot − maaiveld, LoD2.2) against the maximum goothoogte."""
    goot: dict[str, Any] = {"max_goothoogte_m": max_g, "source": max_g_src, "status": "onbekend"}
    if max_g is None:
        goot["reason"] = text("geen maximale goothoogte op dit punt", "no maximum goothoogte at this point")
    elif building is None:
        goot["reason"] = text("geen gebouw op dit punt", "no building at the point")
    elif _roof_measured(building, measured) and building["dak"]["h_goot"] is not None:
        goot.update(measured_m=round(building["dak"]["h_goot"] - building["heights_nap"]["maaiveld"], 2),
                    method=GOOT_METHOD, **_basis(building, GOOT_METHOD))
        _against_maximum(goot, goot["measured_m"], max_g)
        return goot
    else:
        goot["reason"] = _no_roof_reason(building, text("de goothoogte", "goothoogte"))
        # only for a measured building: a flagged reconstruction gives no height figure at all
        if measured is not None and building["heights_nap"]["dak_min"] is not None:
            goot["indicative_eaves_m"] = round(building["heights_nap"]["dak_min"]
                                               - building["heights_nap"]["maaiveld"], 2)
            goot["indicative_method"] = EAVES_METHOD
            goot["reason"] = text(f"{goot['reason']['nl']}; het laagste dakpunt boven maaiveld "
                                  "(indicative_eaves_m) is alleen een indicatie",
                                  f"{goot['reason']['en']}; the lowest roof point above maaiveld "
                                  "(indicative_eaves_m) is an indication only")
    goot["summary"] = goot["reason"]
    return goot


def _dakhelling(building: dict | None, measured: float | None, limits: dict) -> dict:
    """Pitch range of the main roof planes (LoD2.2) against the minimale and maximale dakhelling."""
    (low, low_src), (high, high_src) = limits["min"], limits["max"]
    out: dict[str, Any] = {"min_dakhelling_deg": low, "min_source": low_src, "max_dakhelling_deg": high,
                           "max_source": high_src, "status": "onbekend"}
    roof = building["dak"] if building else None
    if low is None and high is None:
        out["reason"] = text("geen minimale of maximale dakhelling op dit punt",
                             "no minimum or maximum dakhelling at this point")
    elif building is None:
        out["reason"] = text("geen gebouw op dit punt", "no building at the point")
    elif not _roof_measured(building, measured) or None in (roof["hellingshoek_min"], roof["hellingshoek_max"]):
        out["reason"] = _no_roof_reason(building, text("de dakhelling", "dakhelling"))
    else:
        pmin, pmax = roof["hellingshoek_min"], roof["hellingshoek_max"]
        out.update(measured_min_deg=pmin, measured_max_deg=pmax, method=PITCH_METHOD,
                   **_basis(building, PITCH_METHOD))
        span = {lang: f"{_degrees(pmin)[lang]}–{_degrees(pmax)[lang]}" if pmin != pmax else _degrees(pmin)[lang]
                for lang in ("nl", "en")}
        if low is not None and pmin < low:
            out["status"] = "buiten_grenzen"
            out["summary"] = text(f"dakhelling {span['nl']} gemeten, minimaal {_degrees(low)['nl']}: te flauw",
                                  f"dakhelling {span['en']} measured, minimum {_degrees(low)['en']}: too shallow")
        elif high is not None and pmax > high:
            out["status"] = "buiten_grenzen"
            out["summary"] = text(f"dakhelling {span['nl']} gemeten, maximaal {_degrees(high)['nl']}: te steil",
                                  f"dakhelling {span['en']} measured, maximum {_degrees(high)['en']}: too steep")
        else:
            out["status"] = "binnen_grenzen"
            limits = [(word, _degrees(v)) for word, v in ((("minimaal", "minimum"), low),
                                                           (("maximaal", "maximum"), high)) if v is not None]
            nl = " en ".join(f"{word[0]} {deg['nl']}" for word, deg in limits)
            en = " and ".join(f"{word[1]} {deg['en']}" for word, deg in limits)
            out["summary"] = text(f"dakhelling {span['nl']} gemeten, {nl}: past",
                                  f"dakhelling {span['en']} measured, {en}: within the limits")
        return out
    out["summary"] = out["reason"]
    return out


# --------------------------------------------------------------------------------------------- pygeoapi

# A generated text in the output: Dutch and English, both non-empty (services.rules.Text).
TEXT_SCHEMA = {"type": "object", "required": ["nl", "en"], "additionalProperties": False,
               "properties": {"nl": {"type": "string", "minLength": 1}, "en": {"type": "string", "minLength": 1}}}

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "location-check",
    "title": {"en": "Location check: what applies here, may I build?",
              "nl": "Locatiecheck: wat geldt hier, mag ik bouwen?"},
    "description": {
        "en": "For one point: the plans in force (bestemmingen, aanduidingen, maatvoeringen, omgevingsplan norms "
              "and activities), rijksmonuments and beschermde gezichten, the building with its address and "
              "measured heights, a 3D compliance line (measured height vs maximum bouwhoogte; with an LoD2.2 roof also "
              "goothoogte vs maximum goothoogte and roof pitch vs minimale/maximale dakhelling) and, per activity, "
              "the permit outcome (vergunningvrij / vergunning_nodig / melding / onbekend) with its reasoning and "
              "citations. Questions the data cannot answer are returned as open_questions; answer them in `answers`.",
        "nl": "Voor één punt: de geldende plannen, monumenten en gezichten, het gebouw met adres en gemeten "
              "hoogtes, de 3D-toets (gemeten hoogte tegen maximale bouwhoogte; met een LoD2.2-dak ook goothoogte en "
              "dakhelling) en per activiteit de uitkomst "
              "met redenering en bronnen.",
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["omgevingswet", "bestemmingsplan", "vergunningcheck", "toepasbare regels", "3D"],
    "links": [{"type": "text/html", "rel": "about", "title": "Besluit bouwwerken leefomgeving",
               "href": "https://wetten.overheid.nl/BWBR0041297/", "hreflang": "nl"}],
    "inputs": {
        "location": {
            "title": "Location", "description": "A GeoJSON Point; lon/lat (CRS84) unless `crs` says otherwise.",
            "schema": {"type": "object", "contentMediaType": "application/geo+json",
                       "required": ["type", "coordinates"],
                       "properties": {"type": {"const": "Point"},
                                      "coordinates": {"type": "array", "minItems": 2, "maxItems": 3,
                                                      "items": {"type": "number"}}}},
            "minOccurs": 1, "maxOccurs": 1, "keywords": ["point", "GeoJSON"],
        },
        "crs": {
            "title": "CRS of location",
            "description": "CRS URI of the coordinates: CRS84 (default, lon/lat), EPSG/0/4326 (lat/lon) or "
                           "EPSG/0/28992 (RD New x/y).",
            "schema": {"type": "string", "format": "uri", "default": CRS84_URI,
                       "enum": [CRS84_URI, WGS84_LATLON_URI, RD_NEW_URI]},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "gevel": {
            "title": "Picked wall",
            "description": "A GeoJSON Point on a wall of the building at `location` (same `crs`), at most 2 m "
                           "from it: its side (voorkant / zijkant / achterkant) and what it borders (street, water, "
                           "square/park/parking, from the BGT) answer the STTR side questions; see docs/gevel.md.",
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "activities": {
            "title": "Activities",
            "description": "Ids of the activities to check (default: all; [] for the location's facts only): "
                           "built-in ones of config/rules (aanbouw, "
                           "bijgebouw, bouwen_tot_maximale_hoogte, dakkapel, erfafscheiding, slopen, zonnepanelen) "
                           "and the municipality's STTR activities imported with `stadsmodel rules import` (e.g. "
                           "kozijn-plaatsen); an imported activity replaces a built-in one of the same id.",
            "schema": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 100},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "activity": {
            "title": "Activity", "description": "One activity id (the one-activity form of `activities`).",
            "schema": {"type": "string"}, "minOccurs": 0, "maxOccurs": 1,
        },
        "include_ontwerp": {
            "title": "Count draft plans",
            "description": "true: draft (ontwerp) plans count in the facts, the compliance verdict and the "
                           "activities. Default false: they are listed in `plans` with their status but left out, "
                           "as are superseded plans always; `notes` names what was left out.",
            "schema": {"type": "boolean", "default": False}, "minOccurs": 0, "maxOccurs": 1,
        },
        "answers": {
            "title": "Answers", "description": "Answers to open questions, by question id: for built-in activities "
                                               'the node name (e.g. {"achtererf": "ja", "geplande_hoogte": 9.5}), '
                                               "for STTR activities the uitvoeringsregel id as the file writes it "
                                               '(e.g. {"uitv__27bca644-4f3c-4782-9235-33fddf6b9840": '
                                               '"Rijksmonument"}), true/false for boolean questions and the option '
                                               "text for list questions; optionally nested per activity. An answer "
                                               "overrides what the model prefilled.",
            "schema": {"type": "object"}, "minOccurs": 0, "maxOccurs": 1,
        },
    },
    "outputs": {
        "result": {
            "title": "Location check result",
            "description": "location, plans (each with status: in_werking / ontwerp / vervangen / onbekend, "
                         "and articles: the plan's articles that apply at the point, text in Dutch with lang "
                         "'nl', or an absolute artikel_url where the text is not in the store), monuments, "
                         "beschermde_gezichten, building, compliance (with source_sentence: the sentence of the "
                         "article that sets the norm, beside the measured value), facts, "
                         "activities (outcome, text, trail, citations, open_questions), notes. Every text meant for "
                         "people comes in Dutch and English as an object {\"nl\": ..., \"en\": ...}: facts.*.evidence, "
                         "compliance.reason/summary/basis/max_bouwhoogte_source, compliance.goothoogte and "
                         "compliance.dakhelling reason/summary/basis/source(s), "
                         "activities[].title/text/reason, trail[].question/evidence, open_questions[].question and "
                         "notes[]; ids, status codes, numbers and the names in the plan data stay as they are.",
            # OpenAPI 3.0 schema objects (inline, no $ref, "example" not "examples"): pygeoapi copies this
            # schema into its OpenAPI document
            "schema": {
                "type": "object", "contentMediaType": "application/json",
                "required": ["location", "plans", "building", "compliance", "facts", "activities", "notes"],
                "properties": {
                    "facts": {"type": "object", "additionalProperties": {
                        "type": "object", "required": ["value", "evidence"], "properties": {"evidence": TEXT_SCHEMA}},
                        "example": {"in_bouwvlak": {"value": False, "evidence": {
                            "nl": "het punt ligt in geen enkel bouwvlak van het plan",
                            "en": "no bouwvlak of the plan covers the point"}}}},
                    "compliance": {"type": "object", "required": ["status", "summary"], "properties": {
                        "status": {"enum": ["binnen_maximum", "overschrijdt", "onbekend"]},
                        "reason": TEXT_SCHEMA, "summary": TEXT_SCHEMA,
                        "basis": TEXT_SCHEMA,
                        "goothoogte": {"type": "object", "properties": {
                            "status": {"enum": ["binnen_maximum", "overschrijdt", "onbekend"]},
                            "reason": TEXT_SCHEMA, "summary": TEXT_SCHEMA, "basis": TEXT_SCHEMA}},
                        "dakhelling": {"type": "object", "properties": {
                            "status": {"enum": ["binnen_grenzen", "buiten_grenzen", "onbekend"]},
                            "reason": TEXT_SCHEMA, "summary": TEXT_SCHEMA, "basis": TEXT_SCHEMA}}},
                        "example": {"status": "overschrijdt", "measured_height_m": 11.52, "max_bouwhoogte_m": 10.0,
                                    "exceedance_m": 1.52,
                                    "summary": {"nl": "11,52 m gemeten, maximaal 10 m: 1,52 m te hoog",
                                                "en": "11.52 m measured, maximum 10 m: exceeds by 1.52 m"}}},
                    "activities": {"type": "array", "items": {
                        "type": "object", "required": ["activity", "title", "outcome", "text"], "properties": {
                            "outcome": {"enum": ["vergunningvrij", "vergunning_nodig", "melding",
                                                 "neem_contact_op", "onbekend"]},
                            "conclusion": {"nullable": True,
                                           "description": "the conclusion, null while undecided: for STTR "
                                                          "activities the file's own value (Vergunningplicht, "
                                                          "Toestemmingsvrij, NeemContactOpMet), for built-in ones "
                                                          "the outcome (a string either way)"},
                            "prefilled": {"type": "array", "items": {"type": "object"}},
                            "path": {"type": "array", "items": {"type": "object"}},
                            "title": TEXT_SCHEMA, "text": TEXT_SCHEMA, "reason": TEXT_SCHEMA,
                            "trail": {"type": "array", "items": {"type": "object", "properties": {
                                "question": TEXT_SCHEMA, "evidence": TEXT_SCHEMA}}}}}},
                    "notes": {"type": "array", "items": TEXT_SCHEMA},
                },
            },
        },
    },
    "example": {
        "inputs": {"location": {"type": "Point", "coordinates": [155000.0, 463000.0]},
                   "crs": RD_NEW_URI,
                   "activity": "aanbouw", "answers": {"achtererf": "ja", "hoogte": "ja", "oppervlakte": "ja"}},
    },
}


class LocationCheckProcessor(BaseProcessor):
    """pygeoapi processor; the data directory comes from the processor definition's ``data`` (or
    env STADSMODEL_DATA). Errors in the input raise :class:`LocationCheckInputError` (HTTP 400)."""

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, PROCESS_METADATA)
        self.data_dir = processor_def.get("data") or os.environ.get("STADSMODEL_DATA")

    def execute(self, data: dict, outputs=None):
        if not self.data_dir:
            raise ProcessorExecuteError("location-check has no data directory: set 'data' in the processor "
                                        "definition or the STADSMODEL_DATA environment variable")
        if not isinstance(data, dict) or "location" not in data:
            raise LocationCheckInputError("missing input 'location' (a GeoJSON Point)")
        answers = data.get("answers") or {}
        if not isinstance(answers, dict):
            raise LocationCheckInputError("answers must be an object of question id → answer")
        activity = data.get("activity")
        if activity is not None and not isinstance(activity, str):
            raise LocationCheckInputError("activity must be a string")
        activities = data.get("activities")
        if activities is not None:
            # an empty list is a check of the location's facts only (the viewer's compliance colouring asks that)
            if not (isinstance(activities, list) and all(isinstance(a, str) and a for a in activities)):
                raise LocationCheckInputError("activities must be a list of activity ids (strings)")
            if len(set(activities)) != len(activities):
                raise LocationCheckInputError("activities lists an activity twice")
            if activity is not None:
                raise LocationCheckInputError("give either activities (a list) or activity (one id), not both")
        x, y, lonlat = parse_location(data["location"], data.get("crs"))
        gevel = None
        if data.get("gevel") is not None:
            try:
                gx, gy, _ = parse_location(data["gevel"], data.get("crs"))
            except LocationCheckInputError as e:
                raise LocationCheckInputError(f"gevel: {e}") from None
            gevel = (gx, gy)
        include_ontwerp = data.get("include_ontwerp", False)
        if not isinstance(include_ontwerp, bool):
            raise LocationCheckInputError("include_ontwerp must be true or false")
        store = open_store(Path(self.data_dir))
        return "application/json", check_location(store, x, y, activity, answers, lonlat, activities, gevel,
                                                   include_ontwerp)

    def __repr__(self):
        return f"<LocationCheckProcessor> {self.data_dir}"
