"""IMRO2008 / IMRO2012 bestemmingsplan GML (ruimtelijkeplannen.nl deliveries) → zoning layer records.

One file holds one plan: a Bestemmingsplangebied plus its planobjecten. Every planobject type the
issue names becomes a layer (lower-case Dutch names); other types in the file (e.g. Lettertekenaanduiding)
are reported as skipped, never dropped silently. Files without a Bestemmingsplangebied (a besluit or
beheersverordening: Besluitgebied_X/Besluitvlak_X) are rejected with that reason.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lxml import etree
from shapely import union_all
from shapely.geometry import MultiPolygon, Polygon

from core.errors import InputError, SkipLog
from core.products import IMRO_LAYERS, REGELS
from etl.readers.gml import GeometryError, srs_problem
from etl.zoning.geometry import plan_geometry
from etl.zoning.regeltekst import imro_document_url, plan_viewer_url, read_imro_regels, safe_xml

log = logging.getLogger(__name__)

IMRO_NAMESPACES = {
    "http://www.geonovum.nl/imro/2008/1": "IMRO2008",
    "http://www.geonovum.nl/imro/2012/1.0": "IMRO2012",
    "http://www.geonovum.nl/imro/2012/1.1": "IMRO2012",
}

# IMRO object type → store layer: the layer is the type's name in lower case (Bouwvlak → bouwvlak).
LAYERS = {layer.capitalize(): layer for layer in IMRO_LAYERS}
NOT_A_PLANOBJECT = {"MetadataIMRObestand"}

# waardeType values (IMRO codelist "WaardeType") lifted into numeric columns of the maatvoering layer,
# so the location check and CQL filters need not parse the JSON list.
MAATVOERING_COLUMNS = {
    "maximum bouwhoogte (m)": "max_bouwhoogte",
    "maximum goothoogte (m)": "max_goothoogte",
    "maximum aantal bouwlagen": "max_bouwlagen",
    "maximum bebouwingspercentage (%)": "max_bebouwingspercentage",
}


def is_imro(path: Path) -> bool:
    """Cheap sniff: the first 4 KB declare an IMRO namespace."""
    with path.open("rb") as f:
        head = f.read(4096)
    return b"geonovum.nl/imro/" in head


def _text(el: etree._Element, name: str) -> str | None:
    found = el.find(f"{{*}}{name}")
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _identificatie(el: etree._Element) -> str:
    """IMRO2012 NEN3610ID (namespace.lokaalID[-versie]) or IMRO2008 plain text; gml:id as fallback."""
    ident = el.find("{*}identificatie")
    if ident is not None:
        nen = ident.find("{*}NEN3610ID")
        if nen is not None:
            ns, lokaal, versie = _text(nen, "namespace"), _text(nen, "lokaalID"), _text(nen, "versie")
            if lokaal:
                return f"{ns}.{lokaal}" + (f"-{versie}" if versie else "") if ns else lokaal
        elif ident.text and ident.text.strip():
            return ident.text.strip()
    return el.get("{http://www.opengis.net/gml/3.2}id") or el.get("{http://www.opengis.net/gml}id") or ""


def _href(el: etree._Element, name: str) -> str | None:
    found = el.find(f"{{*}}{name}")
    if found is None:
        return None
    href = found.get("{http://www.w3.org/1999/xlink}href")
    return href.lstrip("#") if href else None


def _verwijzing_regels(el: etree._Element) -> str | None:
    """Link into the plan's regels (the article text), preferring typeTekst 'regels'."""
    refs = []
    for info in el.findall("{*}verwijzingNaarTekstInfo"):
        for ref in info:
            if isinstance(ref.tag, str):
                refs.append((_text(ref, "typeTekst"), _text(ref, "verwijzingNaarTekst")))
    for kind, link in refs:
        if kind == "regels" and link:
            return link
    links = [link for _, link in refs if link]
    if links:
        return links[0]
    return _text(el, "verwijzingNaarTekst")


def _label(el: etree._Element) -> str | None:
    texts = [t.text.strip() for t in el.findall("{*}labelInfo/{*}Label/{*}tekst") if t.text and t.text.strip()]
    return " ".join(texts) or None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _maatvoering_waarden(el: etree._Element) -> list[dict[str, Any]]:
    out = []
    for wt in el.findall("{*}maatvoeringInfo/{*}WaardeEnType"):
        out.append({"waardetype": _text(wt, "waardeType"), "waarde": _text(wt, "waarde")})
    return out


def _plan_info(plan: etree._Element, version: str, path: Path) -> dict[str, Any]:
    status = datum = None
    info = plan.find("{*}planstatusInfo")
    if info is not None:
        for child in info:  # PlanstatusEnDatum (2012) or PlanstatusEnDatum_BP (2008)
            if isinstance(child.tag, str):
                status, datum = _text(child, "planstatus"), _text(child, "datum")
    return {
        "plan_id": _identificatie(plan),
        "plan_naam": _text(plan, "naam"),
        "plan_type": _text(plan, "typePlan"),
        "plan_status": status,
        "plan_datum": datum,
        "overheid": _text(plan, "naamOverheid"),
        "bron": path.name,
        "bron_type": version,
    }


def _feature_record(el: etree._Element, kind: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "identificatie": _identificatie(el),
        "naam": _text(el, "naam"),
        "artikelnummer": _text(el, "artikelnummer"),
        "verwijzing_regels": _verwijzing_regels(el),
        "labeltekst": _label(el),
    }
    if kind in ("Enkelbestemming", "Dubbelbestemming"):
        rec["bestemmingshoofdgroep"] = _text(el, "bestemmingshoofdgroep")
    if kind in ("Gebiedsaanduiding", "Functieaanduiding", "Bouwaanduiding", "Figuur", "Maatvoering", "Bouwvlak"):
        rec["bestemmingsvlak"] = _href(el, "bestemmingsvlak")
    if kind == "Gebiedsaanduiding":
        rec["gebiedsaanduidinggroep"] = _text(el, "gebiedsaanduidinggroep")
    if kind == "Maatvoering":
        waarden = _maatvoering_waarden(el)
        rec["aanduiding"] = _href(el, "aanduiding")
        rec["waarden"] = json.dumps(waarden, ensure_ascii=False)
        for column in MAATVOERING_COLUMNS.values():
            rec[column] = None
        for w in waarden:
            column = MAATVOERING_COLUMNS.get((w["waardetype"] or "").strip().lower())
            if column and rec[column] is None:
                rec[column] = _number(w["waarde"])
    return rec


def read_imro(path: Path, skips: SkipLog) -> dict[str, list[dict[str, Any]]]:
    """Records per layer for one IMRO GML file; each record has 'geometry' and provenance columns.

    :raises InputError: when the file is not XML, not IMRO, in another CRS, or holds no bestemmingsplan
    """
    root = safe_xml(path)
    ns = etree.QName(root).namespace
    version = IMRO_NAMESPACES.get(ns or "")
    if version is None or etree.QName(root).localname != "FeatureCollectionIMRO":
        raise InputError(path, f"not an IMRO2008/IMRO2012 FeatureCollectionIMRO (root <{root.tag}>)")

    features = [f for member in root.iter(f"{{{ns}}}featureMember", f"{{{ns}}}featureMembers")
                for f in member if isinstance(f.tag, str)]
    plans = [f for f in features if etree.QName(f).localname == "Bestemmingsplangebied"]
    if not plans:
        types = sorted({etree.QName(f).localname for f in features} - NOT_A_PLANOBJECT)
        raise InputError(path, "no Bestemmingsplangebied: this is not a bestemmingsplan "
                               f"(object types {', '.join(types) or 'none'}); nothing imported")
    if len(plans) > 1:
        raise InputError(path, f"{len(plans)} Bestemmingsplangebieden in one file; IMRO allows one plan per file")
    plan = _plan_info(plans[0], version, path)

    layers: dict[str, list[dict[str, Any]]] = {name: [] for name in LAYERS.values()}
    for f in features:
        kind = etree.QName(f).localname
        if kind in NOT_A_PLANOBJECT:
            continue
        layer = LAYERS.get(kind)
        ident = _identificatie(f)
        if layer is None:
            skips.add(path, f"{kind} {ident}", f"object type {kind} is not imported")
            continue
        geom_el = f.find("{*}geometrie")
        geom_children = [c for c in geom_el if isinstance(c.tag, str)] if geom_el is not None else []
        if not geom_children:
            skips.add(path, f"{kind} {ident}", "no geometrie")
            continue
        problem = srs_problem(geom_children[0])
        if problem:
            raise InputError(path, f"{problem}; IMRO plans are in RD New", f"{kind} {ident}")
        try:
            geom = plan_geometry(geom_children[0])
        except GeometryError as e:
            skips.add(path, f"{kind} {ident}", f"invalid geometry: {e}")
            continue
        if kind == "Bestemmingsplangebied":
            rec = {"identificatie": plan["plan_id"], "naam": plan["plan_naam"],
                   "verwijzing_regels": _verwijzing_regels(f)}
        else:
            rec = _feature_record(f, kind)
        rec.update(plan)
        rec["artikel_url"] = imro_document_url(plan["plan_id"], rec.get("verwijzing_regels"))
        if rec["artikel_url"] is None and (rec.get("artikelnummer") or layer in ("enkelbestemming",
                                                                                  "dubbelbestemming")):
            rec["artikel_url"] = plan_viewer_url(plan["plan_id"])  # an article without a document reference
        rec["object_id"] = f"{plan['plan_id']}/{rec['identificatie']}"
        rec["geometry"] = geom
        layers[layer].append(rec)
    layers[REGELS] = _article_rows(path, plan, layers, skips)
    counts = {k: len(v) for k, v in layers.items() if v}
    log.info("%s: %s %s (%s), %s", path.name, version, plan["plan_id"], plan["plan_status"], counts)
    return layers



# The planobjects whose verwijzingNaarTekst points at an article of the regels (a bestemming first: its name
# names the article).
ARTICLE_SOURCES = ("enkelbestemming", "dubbelbestemming", "gebiedsaanduiding", "functieaanduiding",
                   "bouwaanduiding", "maatvoering", "bouwvlak", "figuur")


def _article_rows(path: Path, plan: dict[str, Any], layers: dict[str, list[dict[str, Any]]],
                  skips: SkipLog) -> list[dict[str, Any]]:
    """One regels row per article the plan's objects refer to (verwijzing_regels, else artikelnummer).

    Where the regels document (the file part of the verwijzing) lies beside the GML, the article at the
    anchor is read from it; otherwise the row has its ruimtelijkeplannen.nl link and no text.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for layer in ARTICLE_SOURCES:
        for rec in layers[layer]:
            ref = rec.get("verwijzing_regels")
            if not ref and not rec.get("artikelnummer"):
                continue
            key = ref if ref and "#" in ref else f"{ref or ''}|{rec.get('artikelnummer') or ''}"
            groups.setdefault(key, []).append(rec)
    documents: dict[str, dict[str, dict[str, str]] | None] = {}
    rows = []
    for key, recs in groups.items():
        first = recs[0]
        ref = first.get("verwijzing_regels")
        document, _, anchor = (ref or "").partition("#")
        text = None
        if document and "/" not in document and "\\" not in document:
            if document not in documents:
                local = path.parent / document
                try:
                    documents[document] = read_imro_regels(local) if local.is_file() else None
                except InputError as e:
                    skips.add(local, None, e.reason)
                    documents[document] = None
            delivered = documents[document]
            if delivered is not None:
                text = delivered.get(anchor) if anchor else None
                if text is None:
                    skips.add(path.parent / document, f"#{anchor}" if anchor else None,
                              f"verwijzingNaarTekst {ref} of {first['identificatie']}: "
                              + ("no such anchor in the regels document" if anchor else "no anchor to an article")
                              + "; the article is linked, not quoted")
        geoms = [r["geometry"] for r in recs if r["geometry"].geom_type in ("Polygon", "MultiPolygon")]
        geom = union_all(geoms) if geoms else None
        if isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        bestemming = next((r for r in recs if r.get("bestemmingshoofdgroep") is not None or r.get("artikelnummer")),
                          first)
        nummer = next((r["artikelnummer"] for r in recs if r.get("artikelnummer")), None)
        kop = text["kop"] if text else (f"Artikel {nummer} {bestemming.get('naam') or ''}".strip() if nummer
                                        else bestemming.get("naam"))
        rows.append({
            **plan, "object_id": f"{plan['plan_id']}#{key}", "wid": None, "eid": anchor or None,
            "artikelnummer": nummer, "kop": kop, "opschrift": bestemming.get("naam"), "hoofdstuk": None,
            "afdeling": None, "tekst": text["tekst"] if text else None, "structuur": None, "zinnen": None,
            "wids": None, "bestemming": bestemming.get("naam"), "verwijzing": ref,
            "url": imro_document_url(plan["plan_id"], ref) or plan_viewer_url(plan["plan_id"]),
            "tekst_in_opslag": text is not None,
            "ow_regels": None, "planobjecten": json.dumps(sorted({r["identificatie"] for r in recs})),
            "geometry": geom,
        })
    return rows
