"""Omgevingsplan delivery (STOP/TPOD: GIO GML + OW XML) → ow_* zoning layer records.

A delivery is a folder (as the LVBB publication order ships it) with GIO files (GeoInformatieObject-
Vaststelling: the geometries, each with a basisgeo:id), OW files (owBestand: Gebied/Gebiedengroep
pointing at those geometries, Gebiedsaanwijzingen, Omgevingsnormen/-waarden with a value per location,
Activiteiten with their regelkwalificatie per location, Regeltekst links) and the AKN besluit with the
regeling's title. The OW objects hold no geometry themselves; every row here gets the geometry of the
location it applies to, so a point query answers "which norm/activity rule applies here".
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from lxml import etree
from shapely import union_all
from shapely.geometry import MultiPolygon, Polygon

from core.errors import InputError, SkipLog
from core.products import OW_JURIDISCHE_REGEL, OW_LAYERS, REGELS
from etl.readers.gml import GeometryError, srs_problem
from etl.zoning.geometry import plan_geometry
from etl.zoning.regeltekst import read_regeling, safe_xml, wid_index

log = logging.getLogger(__name__)

XLINK = "{http://www.w3.org/1999/xlink}href"


def is_omgevingsplan(path: Path) -> bool:
    """A folder holding OW files (owBestand) is an Omgevingsplan delivery."""
    return path.is_dir() and any(_root_name(p) == "owBestand" for p in path.glob("*.xml"))


def _root_name(path: Path) -> str | None:
    try:
        for _, el in etree.iterparse(str(path), events=("start",), resolve_entities=False, no_network=True,
                                     load_dtd=False):
            return etree.QName(el).localname
    except etree.XMLSyntaxError:
        return None
    return None


def _parse(path: Path) -> etree._Element:
    return safe_xml(path)


def _t(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _refs(el: etree._Element, path: str) -> list[str]:
    return [r.get(XLINK) for r in el.findall(path) if r.get(XLINK)]


def _last(uri: str | None) -> str | None:
    """'.../typenorm/id/concept/MaximumBouwhoogte' → 'MaximumBouwhoogte' (waardelijst URIs)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] if uri else None


def _read_gios(folder: Path, skips: SkipLog) -> dict[str, dict[str, Any]]:
    """basisgeo:id → {geometry, naam, gio (FRBRWork), normwaarde from the GIO itself}."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.gml")):
        root = _parse(path)
        if etree.QName(root).localname != "GeoInformatieObjectVaststelling":
            skips.add(path, None, f"not a GIO (root <{etree.QName(root).localname}>); skipped")
            continue
        work = _t(root, ".//{*}GeoInformatieObjectVersie/{*}FRBRWork")
        normlabel = _t(root, ".//{*}GeoInformatieObjectVersie/{*}normlabel")
        for loc in root.iter("{*}Locatie"):
            gid = _t(loc, ".//{*}Geometrie/{*}id")
            geom_el = loc.find(".//{*}Geometrie/{*}geometrie")
            inner = [c for c in geom_el if isinstance(c.tag, str)] if geom_el is not None else []
            if not gid or not inner:
                skips.add(path, _t(loc, "{*}naam"), "Locatie without basisgeo:id or geometry")
                continue
            problem = srs_problem(inner[0])
            if problem:
                raise InputError(path, problem, gid)
            try:
                geom = plan_geometry(inner[0])
            except GeometryError as e:
                skips.add(path, gid, f"invalid geometry: {e}")
                continue
            out[gid] = {
                "geometry": geom, "naam": _t(loc, "{*}naam"), "gio": work, "normlabel": normlabel,
                "normwaarde": _t(loc, "{*}kwantitatieveNormwaarde") or _t(loc, "{*}kwalitatieveNormwaarde"),
                "bron": path.name,
            }
    return out


def _regeling(folder: Path) -> dict[str, Any]:
    """Provenance of the delivery: the regeling's work id, title and date of publication."""
    info: dict[str, Any] = {"plan_id": None, "plan_naam": None, "plan_status": None, "plan_datum": None}
    for path in sorted(folder.glob("*.xml")):
        name = _root_name(path)
        if name == "Aanleveringen":  # manifest-ow.xml
            info["plan_id"] = info["plan_id"] or _t(_parse(path), ".//{*}WorkIDRegeling")
        elif name == "AanleveringBesluit":
            root = _parse(path)
            for meta in root.iter("{*}RegelingMetadata"):
                info["plan_naam"] = _t(meta, "{*}officieleTitel")
            for w in root.iter("{*}ExpressionIdentificatie"):
                work = _t(w, "{*}FRBRWork")
                if work and "/act/" in work:
                    info["plan_id"] = info["plan_id"] or work
            info["plan_datum"] = _t(root, ".//{*}Procedureverloop/{*}bekendOp")
            procedure = _t(root, ".//{*}soortProcedure") or ""
            info["plan_status"] = "vastgesteld" if procedure.endswith("definitief") else (_last(procedure) or None)
    return info


def _regeling_text(folder: Path, skips: SkipLog) -> tuple[str | None, list[dict[str, Any]]]:
    """(file name, article rows) of the STOP regeling text in the delivery's AKN besluit(s)."""
    for path in sorted(folder.glob("*.xml")):
        if _root_name(path) == "AanleveringBesluit":
            articles = read_regeling(path)
            if articles:
                return path.name, articles
    skips.add(folder, None, "no STOP regeling text (AanleveringBesluit with a RegelingCompact) in the delivery: "
                            "OW rules imported without their articles, regeltekst wIds unresolved")
    return None, []


def read_omgevingsplan(folder: Path, skips: SkipLog, stats: dict[str, Any] | None = None,
                       ) -> dict[str, list[dict[str, Any]]]:
    """Records per ow_* layer for one delivery folder, plus the ow_juridische_regel and regels (article) rows.

    ``stats``, when given, gets the regeltekst resolution: wid_total (OW Regeltekst objects), wid_resolved
    (those whose wId is an article, lid or list item of the regeling text) and articles.

    :raises InputError: when the folder holds no OW files or an OW file is malformed
    """
    gios = _read_gios(folder, skips)
    plan = _regeling(folder)
    plan["plan_id"] = plan["plan_id"] or folder.name
    plan["plan_type"] = "omgevingsplan"
    plan["bron_type"] = "STOP/TPOD"

    objects: dict[str, list[tuple[etree._Element, Path]]] = defaultdict(list)
    ow_files = [p for p in sorted(folder.glob("*.xml")) if _root_name(p) == "owBestand"]
    if not ow_files:
        raise InputError(folder, "no OW files (owBestand) in this folder: not an Omgevingsplan delivery")
    for path in ow_files:
        for obj in _parse(path).iter("{*}owObject"):
            for el in obj:
                if isinstance(el.tag, str):
                    objects[etree.QName(el).localname].append((el, path))

    # Locations: a Gebied points at one GIO geometry; a Gebiedengroep is the union of its Gebieden.
    locaties: dict[str, dict[str, Any]] = {}
    for el, path in objects["Gebied"]:
        ident = _t(el, "{*}identificatie")
        ref = (_refs(el, "{*}geometrie/{*}GeometrieRef") or [None])[0]
        gio = gios.get(ref or "")
        if gio is None:
            skips.add(path, ident, f"GeometrieRef {ref} not found in any GIO of the delivery")
            continue
        locaties[ident] = {"identificatie": ident, "soort": "Gebied", "noemer": _t(el, "{*}noemer") or gio["naam"],
                           "geometrie_id": ref, "gio": gio["gio"], "gio_normwaarde": gio["normwaarde"],
                           "bron": gio["bron"], "geometry": gio["geometry"]}
    for el, path in objects["Gebiedengroep"]:
        ident = _t(el, "{*}identificatie")
        members = _refs(el, "{*}groepselement/{*}GebiedRef")
        geoms = [locaties[m]["geometry"] for m in members if m in locaties]
        if not geoms:
            skips.add(path, ident, "Gebiedengroep without a Gebied that has a geometry")
            continue
        geom = union_all(geoms)
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        locaties[ident] = {"identificatie": ident, "soort": "Gebiedengroep", "noemer": _t(el, "{*}noemer"),
                           "geometrie_id": json.dumps(members), "gio": None, "gio_normwaarde": None,
                           "bron": path.name, "geometry": geom}
    for el, path in objects["Ambtsgebied"]:
        skips.add(path, _t(el, "{*}identificatie"),
                  "Ambtsgebied geometry lives in the national bestuurlijke grenzen, not in the delivery; not imported")

    # Which Regeltekst (article wId) refers to which gebiedsaanwijzing / norm / activity.
    wids = {_t(el, "{*}identificatie"): el.get("wId") for el, _ in objects["Regeltekst"]}
    akn, articles = _regeling_text(folder, skips)
    by_wid = wid_index(articles)
    if akn:
        for el, path in objects["Regeltekst"]:
            if el.get("wId") not in by_wid:
                skips.add(path, _t(el, "{*}identificatie"),
                          f"Regeltekst wId {el.get('wId')!r} is no article, lid or list item of {akn}; "
                          "its rules are imported without article text")
    if stats is not None:
        stats.update(wid_total=len(wids), wid_resolved=sum(1 for w in wids.values() if w in by_wid),
                     articles=len(articles), regeling=akn)
    regels_for: dict[str, set[str]] = defaultdict(set)
    activiteit_locaties: list[dict[str, Any]] = []
    juridische_regels: list[tuple[dict[str, Any], list[str], Path]] = []
    for kind in ("RegelVoorIedereen", "Instructieregel", "Omgevingswaarderegel"):
        for el, path in objects[kind]:
            refs = _refs(el, "{*}artikelOfLid/{*}RegeltekstRef")
            for r in refs:
                if r not in wids:
                    skips.add(path, _t(el, "{*}identificatie"),
                              f"RegeltekstRef {r} names no Regeltekst of the delivery")
            wid = [wids.get(r) or r for r in refs]
            article = next((by_wid[w] for w in wid if w in by_wid), None)
            juridische_regels.append(({
                "identificatie": _t(el, "{*}identificatie"), "soort": kind,
                "idealisatie": _last(_t(el, "{*}idealisatie")), "regeltekst": ";".join(wid),
                "artikel": article["wid"] if article else None,
                "artikelnummer": article["artikelnummer"] if article else None,
                "gebiedsaanwijzingen": json.dumps(_refs(el, ".//{*}GebiedsaanwijzingRef")),
                "omgevingsnormen": json.dumps(_refs(el, ".//{*}OmgevingsnormRef")
                                              + _refs(el, ".//{*}OmgevingswaardeRef")),
                "activiteiten": json.dumps(_refs(el, ".//{*}ActiviteitRef")),
            }, _refs(el, "{*}locatieaanduiding/{*}LocatieRef"), path))
            for ref in _refs(el, ".//{*}GebiedsaanwijzingRef") + _refs(el, ".//{*}OmgevingsnormRef") \
                    + _refs(el, ".//{*}OmgevingswaardeRef"):
                regels_for[ref].update(w for w in wid if w)
            for aa in el.findall("{*}activiteitaanduiding"):
                act = (_refs(aa, "{*}ActiviteitRef") or [None])[0]
                for ala in aa.findall("{*}ActiviteitLocatieaanduiding"):
                    activiteit_locaties.append({
                        "activiteit": act, "identificatie": _t(ala, "{*}identificatie"),
                        "regelkwalificatie": _last(_t(ala, "{*}activiteitregelkwalificatie")),
                        "locaties": _refs(ala, "{*}locatieaanduiding/{*}LocatieRef"),
                        "juridische_regel": _t(el, "{*}identificatie"), "regeltekst": ";".join(wid),
                    })

    def located(rec: dict[str, Any], loc_id: str, path: Path, what: str) -> dict[str, Any] | None:
        loc = locaties.get(loc_id)
        if loc is None:
            skips.add(path, what, f"location {loc_id} has no geometry in this delivery; not imported")
            return None
        return {**rec, **plan, "locatie": loc_id, "locatie_noemer": loc["noemer"], "bron": path.name,
                "object_id": f"{rec['identificatie']}@{loc_id}", "geometry": loc["geometry"]}

    layers: dict[str, list[dict[str, Any]]] = {name: [] for name in OW_LAYERS}
    for loc in locaties.values():
        layers["ow_locatie"].append({**loc, **plan, "bron": loc["bron"], "object_id": loc["identificatie"]})

    for el, path in objects["Gebiedsaanwijzing"]:
        ident = _t(el, "{*}identificatie")
        rec = {"identificatie": ident, "naam": _t(el, "{*}naam"), "type": _last(_t(el, "{*}type")),
               "groep": _last(_t(el, "{*}groep")), "regeltekst": ";".join(sorted(regels_for[ident]))}
        for loc_id in _refs(el, "{*}locatieaanduiding/{*}LocatieRef"):
            if (row := located(rec, loc_id, path, ident)) is not None:
                layers["ow_gebiedsaanwijzing"].append(row)

    for kind in ("Omgevingsnorm", "Omgevingswaarde"):
        for el, path in objects[kind]:
            ident = _t(el, "{*}identificatie")
            base = {"norm": ident, "soort": kind, "naam": _t(el, "{*}naam"), "type": _last(_t(el, "{*}type")),
                    "eenheid": _last(_t(el, "{*}eenheid")), "groep": _last(_t(el, "{*}groep")),
                    "regeltekst": ";".join(sorted(regels_for[ident]))}
            for nw in el.iter("{*}Normwaarde"):
                value = _t(nw, "{*}kwantitatieveWaarde")
                rec = {**base, "identificatie": _t(nw, "{*}identificatie"),
                       "kwantitatieve_waarde": float(value) if value is not None else None,
                       "kwalitatieve_waarde": _t(nw, "{*}kwalitatieveWaarde"),
                       "waarde_in_regeltekst": _t(nw, "{*}waardeInRegeltekst")}
                for loc_id in _refs(nw, "{*}locatieaanduiding/{*}LocatieRef"):
                    if (row := located(rec, loc_id, path, rec["identificatie"])) is not None:
                        layers["ow_omgevingsnorm"].append(row)

    activiteiten = {_t(el, "{*}identificatie"): el for el, _ in objects["Activiteit"]}
    act_path = objects["Activiteit"][0][1] if objects["Activiteit"] else folder
    for ala in activiteit_locaties:
        act = activiteiten.get(ala["activiteit"])
        rec = {"identificatie": ala["identificatie"], "activiteit": ala["activiteit"],
               "naam": _t(act, "{*}naam") if act is not None else None,
               "groep": _last(_t(act, "{*}groep")) if act is not None else None,
               "regelkwalificatie": ala["regelkwalificatie"], "juridische_regel": ala["juridische_regel"],
               "regeltekst": ala["regeltekst"]}
        for loc_id in ala["locaties"]:
            if (row := located(rec, loc_id, act_path, ala["identificatie"])) is not None:
                layers["ow_activiteit"].append(row)

    ambtsgebieden = {_t(el, "{*}identificatie") for el, _ in objects["Ambtsgebied"]}
    layers[OW_JURIDISCHE_REGEL], layers[REGELS] = _article_rows(plan, akn, articles, juridische_regels,
                                                                  locaties, ambtsgebieden, located)
    log.info("%s: omgevingsplan %s, %s", folder.name, plan["plan_id"], {k: len(v) for k, v in layers.items()})
    return layers




def _article_rows(plan: dict[str, Any], akn: str | None, articles: list[dict[str, Any]],
                  juridische_regels: list[tuple[dict[str, Any], list[str], Path]], locaties: dict[str, dict],
                  ambtsgebieden: set[str], located) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ow_juridische_regel rows (one per regel × locatie) and one regels row per article: its text, the OW
    rules it carries (ow_regels JSON) and its werkingsgebied, the union of their locations (None without).

    A regel on the Ambtsgebied gets a row without geometry (locatie_soort "Ambtsgebied"): the Ambtsgebied itself
    is reported once as not in the delivery, and the location check applies such a rule wherever the plan does.
    """
    rule_rows = []
    carried: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec, loc_ids, path in juridische_regels:
        if rec["artikel"]:
            carried[rec["artikel"]].append({**rec, "locaties": loc_ids})
        for loc_id in loc_ids:
            if loc_id in ambtsgebieden:
                rule_rows.append({**rec, **plan, "locatie": loc_id, "locatie_noemer": None,
                                  "locatie_soort": "Ambtsgebied", "bron": path.name,
                                  "object_id": f"{rec['identificatie']}@{loc_id}", "geometry": None})
            elif (row := located(rec, loc_id, path, rec["identificatie"])) is not None:
                rule_rows.append({**row, "locatie_soort": locaties[loc_id]["soort"]})
    rows = []
    for art in articles:
        rules = carried.get(art["wid"], [])
        geoms = [locaties[loc]["geometry"] for r in rules for loc in r["locaties"] if loc in locaties]
        geom = union_all(geoms) if geoms else None
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        ow = [{"juridische_regel": r["identificatie"], "soort": r["soort"], "regeltekst": r["regeltekst"],
               "locaties": r["locaties"], "gebiedsaanwijzingen": json.loads(r["gebiedsaanwijzingen"]),
               "omgevingsnormen": json.loads(r["omgevingsnormen"]), "activiteiten": json.loads(r["activiteiten"])}
              for r in rules]
        rows.append({**art, **plan, "bron": akn, "object_id": f"{plan['plan_id']}#{art['wid']}",
                     "bestemming": None, "verwijzing": art["wid"], "url": None, "tekst_in_opslag": True,
                     "ow_regels": json.dumps(ow, ensure_ascii=False), "geometry": geom})
    return rule_rows, rows
