"""RCE monuments (rijksmonumenten, archeologische rijksmonumenten) and beschermde stads- en dorpsgezichten
from the RCE Linked Data GeoJSON exports → `monumenten` and `beschermde_gezichten` records in RD New.

CRS: GeoJSON is WGS84 lon/lat (RFC 7946, OGC CRS84). We transform with pyproj from CRS84 to RD New, which
offline (without the NL grid files) uses the published 7-parameter Helmert approximation: ≈ 0.1–1 m off the exact
RDNAPTRANS2018 result. That is acceptable here because RFC 7946 "WGS84" and ETRS89 themselves differ by
≈ 0.8 m in the Netherlands today and the RCE geometries are digitised at cadastral-parcel scale; we
only ask "is this point inside the monument / gezicht". tests/zoning compares against pyrdnap.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer
from shapely import make_valid, transform
from shapely.geometry import MultiPolygon, Polygon, shape

from core.crs import CRS84_URI, RD_NEW
from core.errors import InputError, SkipLog

log = logging.getLogger(__name__)

_TO_RD = None


def _to_rd():
    global _TO_RD
    if _TO_RD is None:
        _TO_RD = Transformer.from_crs(CRS84_URI, RD_NEW, always_xy=True)
    return _TO_RD


def rce_kind(path: Path) -> str | None:
    """'monumenten' or 'beschermde_gezichten' when the GeoJSON carries RCE properties, else None."""
    with path.open("rb") as f:
        head = f.read(65536)
    if b"gezichtsnummer" in head:
        return "beschermde_gezichten"
    if b"rijksmonumentnummer" in head:
        return "monumenten"
    return None


def _polygonal(geom):
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    return geom


def read_rce(path: Path, skips: SkipLog) -> dict[str, list[dict[str, Any]]]:
    """Records for one RCE GeoJSON file.

    :raises InputError: when the file is not JSON, not a FeatureCollection or not an RCE export
    """
    kind = rce_kind(path)
    if kind is None:
        raise InputError(path, "GeoJSON without RCE properties (rijksmonumentnummer or gezichtsnummer); "
                               "not a monument or beschermd gezicht export")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON: {e}") from None
    if doc.get("type") != "FeatureCollection":
        raise InputError(path, "not a GeoJSON FeatureCollection")
    crs = ((doc.get("crs") or {}).get("properties") or {}).get("name", "")
    if crs and not any(c in crs for c in ("4326", "CRS84")):
        raise InputError(path, f"GeoJSON in {crs}; RCE exports (RFC 7946) are lon/lat WGS84")
    to_rd = _to_rd()
    rows = []
    for i, feat in enumerate(doc.get("features") or []):
        props = feat.get("properties") or {}
        ident = props.get("rijksmonumentnummer") or props.get("gezichtsnummer") or f"feature {i}"
        try:
            geom = shape(feat["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            skips.add(path, str(ident), f"no usable geometry: {e}")
            continue
        minx, miny, maxx, maxy = geom.bounds
        if not (2.0 <= minx and maxx <= 8.0 and 50.0 <= miny and maxy <= 54.0):
            skips.add(path, str(ident), f"coordinates {geom.bounds} are not lon/lat in the Netherlands")
            continue
        geom = transform(geom, lambda xy: np.column_stack(to_rd.transform(xy[:, 0], xy[:, 1])))
        if not geom.is_valid:
            geom = make_valid(geom)
        geom = _polygonal(geom)
        if kind == "monumenten":
            rec = {"identificatie": str(ident), "naam": props.get("naam"), "monumenttype": "rijksmonument",
                   "categorie": props.get("type") or props.get("oorspronkelijke_functie_kort"),
                   "functie": props.get("huidige_functie") or props.get("oorspronkelijke_functie"),
                   "uri": props.get("cho_uri"), "register_url": props.get("monumentenregister_url"),
                   "datum_inschrijving": props.get("datum_inschrijving_monumentenregister")}
        else:
            rec = {"identificatie": str(ident), "naam": props.get("naam"), "status": props.get("status"),
                   "uri": props.get("gezicht_uri")}
        rec.update({"object_id": str(ident), "bron": path.name, "bron_type": "RCE GeoJSON", "geometry": geom})
        rows.append(rec)
    log.info("%s: %d %s", path.name, len(rows), kind)
    return {kind: rows}
