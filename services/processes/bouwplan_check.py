"""The what-if of issue 14: OGC API process ``bouwplan-check``.

A user's planned building or extension — a footprint (GeoJSON Polygon) with a height (and optionally a goothoogte
and dakhelling: a hipped roof, the same solid core.envelope builds for a plan), or an uploaded CityJSON with one
closed Solid — against the bouwenvelop (core.clash.clash_mesh, the policy the location check uses for measured
buildings), plus the plans and permit-check activities at the plan's location (the location check's
check_location at a point inside the footprint). Nothing is stored.

Limits (each answered with a 400 naming the reason): at most MAX_VERTICES vertices (footprint or CityJSON), a
height above maaiveld in (0, MAX_HEIGHT_M], a dakhelling in (0, 90) degrees, a goothoogte in (0, hoogte]; the
footprint a valid polygon (no self-intersection) of at least MIN_AREA_M2; the solid closed (every edge shared by
exactly two triangles of opposite direction), outward-oriented, and inside the district (the store's extent).
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from core.clash import building_mesh, clash_mesh
from core.crs import CRS84_URI, RD_NEW_URI
from core.envelope import TriMesh, block_mesh, envelope_mesh, mesh_from_solid, union
from core.products import BUILDINGS, DTM_NAME
from services.envelopes import envelopes_at
from services.processes.location_check import (
    CRS_ALIASES,
    LocationCheckInputError,
    check_location,
    geojson_geometry,
    open_store,
    to_lonlat,
    to_rd,
)
from services.rules import text

LOGGER = logging.getLogger(__name__)

MAX_VERTICES = 10_000
MAX_HEIGHT_M = 300.0
MIN_AREA_M2 = 0.5
# A CityJSON solid's reference systems accepted: RD New + NAP (compound) or RD New (heights then taken as NAP).
CITYJSON_CRS = ("7415", "28992")


class BouwplanInputError(LocationCheckInputError):
    """Bad input (HTTP 400, OGC InvalidParameterValue) naming the reason."""


# --------------------------------------------------------------------------------------------- input

def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _number(data: dict, key: str, required: bool = False) -> float | None:
    v = data.get(key)
    if v is None:
        if required:
            raise BouwplanInputError(f"missing input '{key}' (a number in metres)")
        return None
    if not _finite(v):
        raise BouwplanInputError(f"{key} must be a finite number, got {v!r}")
    return float(v)


def _rd_transformer(crs: Any):
    kind = CRS_ALIASES.get(str(crs).strip() if crs else CRS84_URI)
    if kind is None:
        raise BouwplanInputError(f"unsupported crs {crs!r}; use {CRS84_URI} (lon/lat, default), EPSG:4326 (lat/lon) "
                                 f"or {RD_NEW_URI} (RD New x/y)")
    if kind == "EPSG:28992":
        return lambda a, b: (a, b)
    if kind == "CRS84":
        return lambda a, b: _checked_rd(a, b)
    return lambda a, b: _checked_rd(b, a)


def _checked_rd(lon: float, lat: float) -> tuple[float, float]:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BouwplanInputError(f"footprint: ({lon}, {lat}) is not a longitude/latitude pair")
    x, y = to_rd(lon, lat)
    if math.isnan(x) or math.isnan(y):
        raise BouwplanInputError(f"footprint: lon/lat ({lon}, {lat}) lies outside the RD New area")
    return x, y


def parse_footprint(footprint: Any, crs: Any) -> Polygon:
    """The footprint as a shapely Polygon in RD New. :raises BouwplanInputError: bad GeoJSON, too many vertices,
    self-intersecting or too small."""
    footprint = geojson_geometry(footprint, "footprint", "Polygon",
                                 '{"type": "Polygon", "coordinates": [[[x, y], ...]]}', BouwplanInputError)
    rings = footprint.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise BouwplanInputError("footprint.coordinates must be a list of rings (lists of positions)")
    count = sum(len(r) for r in rings)
    if count > MAX_VERTICES:
        raise BouwplanInputError(f"footprint has {count} vertices; at most {MAX_VERTICES} are accepted")
    to_rd_xy = _rd_transformer(crs)
    out = []
    for k, ring in enumerate(rings):
        if len(ring) < 4:
            raise BouwplanInputError(f"footprint ring {k} has {len(ring)} positions; a closed ring needs at least 4")
        pts = []
        for p in ring:
            if not (isinstance(p, list) and len(p) in (2, 3) and all(_finite(c) for c in p)):
                raise BouwplanInputError(f"footprint ring {k}: position {p!r} is not 2 (or 3) finite numbers")
            pts.append(to_rd_xy(float(p[0]), float(p[1])))
        if pts[0] != pts[-1]:
            raise BouwplanInputError(f"footprint ring {k} is not closed (first and last position differ)")
        out.append(pts)
    poly = Polygon(out[0], out[1:])
    if not poly.is_valid:
        raise BouwplanInputError(f"footprint is not a valid polygon (self-intersecting?): {explain_validity(poly)}")
    if poly.area < MIN_AREA_M2:
        raise BouwplanInputError(f"footprint is {poly.area:.2f} m²; at least {MIN_AREA_M2} m² is needed")
    return orient(poly)


def _solids_of(cj: dict) -> tuple[list[dict], np.ndarray]:
    """The Solid geometries of a CityJSON object or CityJSONFeature and its real-world vertices."""
    if not isinstance(cj, dict) or cj.get("type") not in ("CityJSON", "CityJSONFeature"):
        raise BouwplanInputError("cityjson must be a CityJSON object or a CityJSONFeature (\"type\")")
    ref = str((cj.get("metadata") or {}).get("referenceSystem") or "")
    if ref and not any(code in ref for code in CITYJSON_CRS):
        raise BouwplanInputError(f"cityjson referenceSystem {ref!r}: only EPSG:7415 (RD New + NAP) or EPSG:28992 "
                                 "is accepted")
    verts = cj.get("vertices")
    if not isinstance(verts, list) or not verts:
        raise BouwplanInputError("cityjson has no vertices")
    if len(verts) > MAX_VERTICES:
        raise BouwplanInputError(f"cityjson has {len(verts)} vertices; at most {MAX_VERTICES} are accepted")
    try:
        v = np.asarray(verts, dtype=float)
    except (TypeError, ValueError):
        raise BouwplanInputError("cityjson vertices must be [x, y, z] numbers") from None
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise BouwplanInputError("cityjson vertices must be [x, y, z] finite numbers")
    tr = cj.get("transform")
    if tr is not None:
        try:
            v = v * np.asarray(tr["scale"], dtype=float) + np.asarray(tr["translate"], dtype=float)
        except (KeyError, TypeError, ValueError):
            raise BouwplanInputError("cityjson transform must have scale and translate (3 numbers each)") from None
    objects = cj.get("CityObjects")
    if not isinstance(objects, dict) or not objects:
        raise BouwplanInputError("cityjson has no CityObjects")
    solids = [g for o in objects.values() if isinstance(o, dict) for g in o.get("geometry") or []
              if isinstance(g, dict) and g.get("type") == "Solid"]
    return solids, v


def parse_cityjson(cj: Any) -> TriMesh:
    """The one Solid of an uploaded CityJSON as a closed, outward-oriented TriMesh (RD New + NAP)."""
    if isinstance(cj, str):
        try:
            cj = json.loads(cj)
        except json.JSONDecodeError as e:
            raise BouwplanInputError(f"cityjson is not JSON: {e}") from None
    solids, verts = _solids_of(cj)
    if len(solids) != 1:
        raise BouwplanInputError(f"cityjson must hold exactly one Solid geometry, found {len(solids)}")
    geometry = solids[0]
    boundaries = geometry.get("boundaries")
    if not isinstance(boundaries, list) or len(boundaries) != 1:
        raise BouwplanInputError("cityjson Solid must have exactly one shell (inner shells are not supported)")
    try:
        idx = {i for surface in boundaries[0] for ring in surface for i in ring}
        if not all(isinstance(i, int) and 0 <= i < len(verts) for i in idx):
            raise BouwplanInputError("cityjson Solid refers to a vertex that does not exist")
        mesh = mesh_from_solid({"vertices": verts.tolist(), "geometry": {"type": "Solid", "boundaries": boundaries}})
    except (TypeError, ValueError) as e:
        if isinstance(e, BouwplanInputError):
            raise
        raise BouwplanInputError(f"cityjson Solid cannot be read: {e}") from None
    check_closed(mesh)
    return mesh


def check_closed(mesh: TriMesh) -> None:
    """Every edge used by exactly two triangles in opposite directions, and a positive volume.

    :raises BouwplanInputError: not closed, not consistently oriented or inward-oriented
    """
    if mesh.empty:
        raise BouwplanInputError("the solid has no surfaces")
    tri = mesh.triangles
    directed = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    pairs, counts = np.unique(directed, axis=0, return_counts=True)
    if (counts > 1).any():
        raise BouwplanInputError("the solid is not consistently oriented (an edge runs twice the same way)")
    forward = {tuple(p) for p in pairs.tolist()}
    open_edges = sum((b, a) not in forward for a, b in forward)
    if open_edges:
        raise BouwplanInputError(f"the solid is not closed: {open_edges} edges belong to one surface only")
    if mesh.volume <= 0:
        raise BouwplanInputError("the solid is oriented inward (negative volume): its surfaces must face outward")


def mesh_footprint(mesh: TriMesh):
    """The plan view of a mesh (union of its non-vertical triangles)."""
    v = mesh.vertices[:, :2]
    polys = [Polygon(v[t]) for t in mesh.triangles]
    return shapely.union_all([p for p in polys if p.area > 1e-6]).buffer(0)


# --------------------------------------------------------------------------------------------- ground

def ground_height(data_dir: Path, footprint, pand_row: dict | None, envelopes: list) -> tuple[float | None, dict]:
    """The maaiveld (NAP) the planned solid stands on and where it came from: the extended pand's b3_h_maaiveld,
    else the median DTM inside the footprint, else the median peil of the envelopes there."""
    if pand_row is not None and _finite(pand_row.get("b3_h_maaiveld")):
        return float(pand_row["b3_h_maaiveld"]), text("b3_h_maaiveld van het pand", "the pand's b3_h_maaiveld")
    dtm = data_dir / DTM_NAME
    if dtm.is_file():
        try:
            import rasterio
            from rasterio.mask import mask

            with rasterio.open(dtm) as src:
                band, _ = mask(src, [footprint.__geo_interface__], crop=True, all_touched=True, filled=False)
                vals = band.compressed()
                vals = vals[np.isfinite(vals)]
                if src.nodata is not None:
                    vals = vals[vals != src.nodata]
            if len(vals):
                return float(np.median(vals)), text("mediaan DTM in de footprint", "median DTM in the footprint")
        except (ValueError, OSError) as e:  # outside the raster, unreadable: the next source
            LOGGER.info("bouwplan-check: DTM not used: %s", e)
    peils = [rec["peil_nap"] for rec, _ in envelopes if _finite(rec.get("peil_nap"))]
    if peils:
        return float(np.median(peils)), text("mediaan peil van de bouwenveloppen", "median peil of the envelopes")
    return None, text("onbekend", "unknown")


# --------------------------------------------------------------------------------------------- the check

def _pand(store, pid: Any) -> tuple[dict, Any]:
    """The extended pand's row and footprint. :raises BouwplanInputError: not a string, or not in the store."""
    if not isinstance(pid, str) or not pid:
        raise BouwplanInputError("pand must be a BAG pand identificatie (string)")
    found = store.feature(BUILDINGS, "identificatie", pid)
    if found is None or found[1] is None:
        raise BouwplanInputError(f"pand {pid} is not in the store")
    return found


def check_plan(data_dir: Path, data: dict) -> dict:
    """The bouwplan-check answer (module docstring). :raises BouwplanInputError: bad input."""
    store = open_store(data_dir)
    has_fp, has_cj = data.get("footprint") is not None, data.get("cityjson") is not None
    if has_fp == has_cj:
        raise BouwplanInputError("give either footprint (a GeoJSON Polygon) with hoogte, or cityjson (one Solid)")
    pand_row = pand_geom = None
    if data.get("pand") is not None:
        pand_row, pand_geom = _pand(store, data["pand"])
    notes: list = []
    if has_fp:
        footprint = parse_footprint(data["footprint"], data.get("crs"))
        hoogte = _number(data, "hoogte", required=True)
        if not 0 < hoogte <= MAX_HEIGHT_M:
            raise BouwplanInputError(f"hoogte must be above 0 and at most {MAX_HEIGHT_M:g} m, got {hoogte}")
        goot, dak = _number(data, "goothoogte"), _number(data, "dakhelling")
        if (goot is None) != (dak is None):
            raise BouwplanInputError("a pitched roof needs both goothoogte and dakhelling")
        if goot is not None and not 0 < goot <= hoogte:
            raise BouwplanInputError(f"goothoogte must be above 0 and at most hoogte ({hoogte} m), got {goot}")
        if dak is not None and not 0 < dak < 90:
            raise BouwplanInputError(f"dakhelling must be between 0 and 90 degrees, got {dak}")
    else:
        if any(data.get(k) is not None for k in ("hoogte", "goothoogte", "dakhelling")):
            raise BouwplanInputError("hoogte, goothoogte and dakhelling go with footprint, not with cityjson")
        mesh = parse_cityjson(data["cityjson"])
        footprint = mesh_footprint(mesh)
    ext = store.extent()
    if ext is None or not shapely.box(*ext).contains(footprint):
        raise BouwplanInputError("the plan lies outside the district (the store's extent "
                                 f"{', '.join(f'{c:.0f}' for c in ext) if ext else 'is empty'}, RD New)")
    include_ontwerp = data.get("include_ontwerp", False)
    if not isinstance(include_ontwerp, bool):
        raise BouwplanInputError(f"include_ontwerp must be true or false, got {include_ontwerp!r}")
    envelopes = envelopes_at(store, footprint if pand_geom is None else footprint.union(pand_geom), include_ontwerp)
    maaiveld, ground_source = ground_height(data_dir, footprint, pand_row, envelopes)
    if has_fp:
        base = 0.0 if maaiveld is None else maaiveld
        if maaiveld is None:
            notes.append(text("maaiveld onbekend (geen DTM): het plan staat op NAP 0",
                              "maaiveld unknown (no DTM): the plan stands on NAP 0"))
        mesh = (envelope_mesh(footprint, base, hoogte, goot, dak) if goot is not None
                else block_mesh(footprint, base, base + hoogte))
        if mesh.empty:
            raise BouwplanInputError("the footprint and heights give no volume")
    elif maaiveld is not None and float(mesh.vertices[:, 2].min()) < maaiveld - 10.0:
        notes.append(text("het ontwerp reikt meer dan 10 m onder maaiveld (hoogten in NAP?)",
                          "the design reaches more than 10 m below maaiveld (heights in NAP?)"))
    planned = mesh
    clash_footprint = footprint
    if pand_row is not None:
        existing, lod, _ = building_mesh(pand_row, pand_geom, store.solids(pand_row["identificatie"]))
        if existing is not None:
            try:
                mesh = union([existing, planned])
            except ValueError as e:
                raise BouwplanInputError(f"the plan cannot be joined to pand {pand_row['identificatie']}: {e}") \
                    from None
            clash_footprint = footprint.union(pand_geom)
            notes.append(text(f"uitbreiding van pand {pand_row['identificatie']}: getoetst samen met het gebouw "
                              f"(LoD{lod})", f"extension of pand {pand_row['identificatie']}: checked together "
                              f"with the building (LoD{lod})"))
    try:
        bouwenvelop = clash_mesh(envelopes, mesh, clash_footprint, maaiveld)
    except ValueError as e:
        raise BouwplanInputError(f"the solid is not closed: {e}") from None
    status = bouwenvelop.get("status")
    fits = True if status == "binnen_envelop" else False if status == "overschrijdt" else None

    point = footprint.representative_point()
    x, y = point.x, point.y
    activities = data.get("activities")
    if activities is not None and not (isinstance(activities, list)
                                       and all(isinstance(a, str) and a for a in activities)):
        raise BouwplanInputError("activities must be a list of activity ids (strings)")
    if activities is not None and len(set(activities)) != len(activities):
        raise BouwplanInputError("activities lists an activity twice")
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise BouwplanInputError("answers must be an object of question id → answer")
    at = check_location(store, x, y, answers=answers, activities=activities, include_ontwerp=include_ontwerp)
    return {
        "fits": fits,
        "bouwenvelop": bouwenvelop,
        "plan": {"volume_m3": round(planned.volume, 3), "footprint_area_m2": round(footprint.area, 2),
                 "maaiveld_nap": None if maaiveld is None else round(maaiveld, 3), "maaiveld_bron": ground_source,
                 "solid": planned.solid_json(),
                 "location": {"rd": [round(x, 3), round(y, 3)], "crs84": [round(v, 7) for v in to_lonlat(x, y)]}},
        "plans": at["plans"],
        "activities": at["activities"],
        "notes": notes + list(at.get("notes") or []),
    }


TEXT = {"type": "object", "properties": {"nl": {"type": "string"}, "en": {"type": "string"}}}

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "bouwplan-check",
    "title": {"nl": "Bouwplan-check (wat als?)", "en": "Building plan check (what if?)"},
    "description": {
        "nl": "Toetst een getekend of geüpload bouwplan aan de bouwenvelop en geeft de plannen en "
              "vergunningchecks op die plek. Er wordt niets opgeslagen.",
        "en": "Checks a drawn or uploaded building plan against the bouwenvelop and gives the plans and permit "
              "checks at its location. Nothing is stored.",
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["bouwenvelop", "omgevingswet", "what-if"],
    "links": [],
    "inputs": {
        "footprint": {"title": "Footprint", "description": "GeoJSON Polygon of the plan (in crs), with hoogte; "
                      f"at most {MAX_VERTICES} vertices, not self-intersecting",
                      "schema": {"type": "object"}, "minOccurs": 0, "maxOccurs": 1},
        "hoogte": {"title": "Hoogte", "description": f"height above maaiveld in metres, (0, {MAX_HEIGHT_M:g}]",
                   "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_HEIGHT_M},
                   "minOccurs": 0, "maxOccurs": 1},
        "goothoogte": {"title": "Goothoogte", "description": "eave height above maaiveld (m), with dakhelling: "
                       "a hipped roof up to hoogte", "schema": {"type": "number", "exclusiveMinimum": 0},
                       "minOccurs": 0, "maxOccurs": 1},
        "dakhelling": {"title": "Dakhelling", "description": "roof pitch in degrees, with goothoogte",
                       "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 90},
                       "minOccurs": 0, "maxOccurs": 1},
        "pand": {"title": "Pand", "description": "BAG pand identificatie: the plan is an extension of it",
                 "schema": {"type": "string"}, "minOccurs": 0, "maxOccurs": 1},
        "cityjson": {"title": "CityJSON", "description": "CityJSON 2.0 object or CityJSONFeature with one closed, "
                     f"outward-oriented Solid in EPSG:7415; at most {MAX_VERTICES} vertices",
                     "schema": {"type": "object"}, "minOccurs": 0, "maxOccurs": 1},
        "crs": {"title": "CRS of footprint", "description": "CRS84 (default), EPSG:4326 or EPSG:28992",
                "schema": {"type": "string", "default": CRS84_URI}, "minOccurs": 0, "maxOccurs": 1},
        "activities": {"title": "Activities", "description": "activity ids (as location-check); default all",
                       "schema": {"type": "array", "items": {"type": "string"}}, "minOccurs": 0, "maxOccurs": 1},
        "answers": {"title": "Answers", "description": "answers by question id (as location-check)",
                    "schema": {"type": "object"}, "minOccurs": 0, "maxOccurs": 1},
        "include_ontwerp": {"title": "Include draft plans", "description": "let draft (ontwerp) plans count: "
                            "their envelopes and the activities (as location-check)",
                            "schema": {"type": "boolean", "default": False}, "minOccurs": 0, "maxOccurs": 1},
    },
    "outputs": {
        "result": {
            "title": "Bouwplan-check result",
            "description": "fits (true: inside the bouwenvelop; false: exceeds it; null: no envelope here, or "
                           "none could be placed), bouwenvelop (as location-check's building.bouwenvelop, with "
                           "excess_solid: the part outside the envelope as a CityJSON Solid in EPSG:7415), plan "
                           "(the checked solid, its volume, maaiveld and location), plans and activities at a point "
                           "inside the footprint (as location-check), notes. Texts come as {\"nl\", \"en\"}.",
            # OpenAPI 3.0 schema objects, as location-check's: pygeoapi copies this into its OpenAPI document
            "schema": {
                "type": "object", "contentMediaType": "application/json",
                "required": ["fits", "bouwenvelop", "plans", "activities", "notes"],
                "properties": {
                    "fits": {"type": "boolean", "nullable": True},
                    "bouwenvelop": {"type": "object"},
                    "plan": {"type": "object"},
                    "plans": {"type": "array"},
                    "activities": {"type": "array", "items": {"type": "object"}},
                    "notes": {"type": "array", "items": TEXT},
                },
            },
        },
    },
    "example": {
        "inputs": {"footprint": {"type": "Polygon", "coordinates": [[[155000, 463000], [155010, 463000],
                                                                    [155010, 463008], [155000, 463000]]]},
                   "crs": RD_NEW_URI, "hoogte": 9.0, "goothoogte": 6.0, "dakhelling": 45},
    },
}


class BouwplanCheckProcessor(BaseProcessor):
    """pygeoapi processor; data directory from the definition's ``data`` or STADSMODEL_DATA."""

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, PROCESS_METADATA)
        self.data_dir = processor_def.get("data") or os.environ.get("STADSMODEL_DATA")

    def execute(self, data: dict, outputs=None):
        if not self.data_dir:
            raise ProcessorExecuteError("bouwplan-check has no data directory: set 'data' or STADSMODEL_DATA")
        if not isinstance(data, dict):
            raise BouwplanInputError("inputs must be an object")
        return "application/json", check_plan(Path(self.data_dir), data)

    def __repr__(self):
        return f"<BouwplanCheckProcessor> {self.data_dir}"
