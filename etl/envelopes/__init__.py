"""Bouwenvelop: the allowed building volume of the plans, per bouwvlak or werkingsgebied, into the store.

Public surface: :func:`write_envelopes` (run at the end of `zoning import`, and after every published `build` of a
store with envelopes: the DTM and the buildings changed). It reads the store's zoning layers (bouwvlak,
maatvoering, ow_omgevingsnorm) and DATA_DIR/dtm.tif and rewrites the whole `bouwenvelop` layer
(core.products.BOUWENVELOP), its only writer; then the buildings' clash with it, the `bouwenvelop_overschrijding`
layer (etl.envelopes.overschrijding). The geometry is core.envelope's; the rules are in docs/bouwenvelop.md:

- height sources: maatvoeringen with a maximum bouwhoogte / goothoogte (and the "maximum dakhelling" of their
  waarden list), OW omgevingsnormen MaximumBouwhoogte / MaximumGoothoogte / MaximumDakhelling with a
  quantitative value, grouped per location (werkingsgebied);
- areas: every bouwvlak; where a height source lies outside every bouwvlak, that part (per connected piece) is an
  area of its own (an OW werkingsgebied, or a maatvoering without bouwvlak);
- each area is split by the sources covering it; a piece takes the most restrictive (lowest) value of every
  source covering it; conflicting values are reported; pieces with the same values are merged; the roof slopes
  from the area's boundary;
- plans (core.planstatus): the plans that are law (in force, or of unknown status) make envelopes together; each
  draft (ontwerp) makes its own, from its own objects only (``ontwerp`` = 1), so a draft never restricts the law
  in force; a superseded version makes none (reported);
- peil: the median DTM of the cells whose centres lie inside the area (all touched cells for a small one); with
  no DTM the envelope is relative (base 0, relatief = 1).

Bad input never raises and never gives a wrong envelope: a bouwvlak without heights gets none (reported), an
invalid polygon is repaired with make_valid (reported) or refused with its id, a value that is not a positive
number (or a dakhelling outside 0–90°) is ignored with its id.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio.features import geometry_mask
from rasterio.windows import Window, from_bounds
from shapely.geometry import MultiPolygon, Polygon

from core.crs import RD_NEW
from core.envelope import envelope_mesh
from core.planstatus import NOT_LAW, plan_states
from core.products import BOUWENVELOP, DTM_NAME, STORE_NAME
from etl.envelopes.overschrijding import OverschrijdingReport, write_overschrijding

log = logging.getLogger(__name__)

# Pieces narrower than this (m) are slivers between almost-equal plan polygons, not areas of their own.
SLIVER_M = 0.1
# OW typeNorm (waardelijst) → envelope value; heights must be in metres.
OW_NORMS = {"maximumbouwhoogte": "bouw", "maximumgoothoogte": "goot", "maximumdakhelling": "dak"}
METRE_UNITS = {"", "m", "meter", "metre"}  # no unit: the TPOD norm types of heights are in metres
VALUES = ("goot", "bouw", "dak")
COLUMNS = {"goot": "max_goothoogte", "bouw": "max_bouwhoogte", "dak": "max_dakhelling"}
NO_DTM = "geen DTM (dtm.tif): hoogtes relatief, peil 0"
AREA_NAMES = {"bouwvlak": "het bouwvlak", "maatvoering": "de maatvoering", "werkingsgebied": "het werkingsgebied"}
# The layer's columns (README "The store"): NULL heights are a value the plan does not give.
SCHEMA = {"object_id": "str", "soort": "str", "vlak_id": "str", "plan_ids": "str", "bron_object_ids": "str",
          "max_goothoogte": "float64", "max_bouwhoogte": "float64", "max_dakhelling": "float64",
          "hoogte_boven_peil": "float64", "peil_nap": "float64", "peil_methode": "str", "relatief": "int32",
          "volume_m3": "float64", "ontwerp": "int32", "solid": "str"}


@dataclass
class EnvelopeReport:
    """What one run wrote and what it left out, with reasons."""

    envelopes: int = 0
    per_kind: dict[str, int] = field(default_factory=dict)
    relative: bool = False          # no DTM: every envelope is relative to peil 0
    skipped: list[dict[str, str]] = field(default_factory=list)     # {object_id, reason}
    repaired: list[dict[str, str]] = field(default_factory=list)    # {object_id, reason}
    conflicts: list[dict[str, Any]] = field(default_factory=list)   # {area, value, values, chosen, sources}
    # the buildings' clash with the envelopes (layer bouwenvelop_overschrijding): counts per status
    overschrijding: OverschrijdingReport = field(default_factory=OverschrijdingReport)

    def as_json(self) -> dict[str, Any]:
        return {"envelopes": self.envelopes, "per_kind": self.per_kind, "relative": self.relative,
                "skipped": self.skipped, "repaired": self.repaired, "conflicts": self.conflicts,
                "overschrijding": self.overschrijding.as_json()}


@dataclass
class _Source:
    """One height-giving plan object (or an OW location's norms), its values the strictest it states."""

    kind: str  # "maatvoering" | "werkingsgebied"
    area_id: str  # the maatvoering's object_id, or the OW locatie's identificatie
    ids: list[str]
    plan_id: str | None
    geometry: Any
    values: dict[str, float]


def _number(v: Any) -> float | None:
    try:
        f = float(str(v).replace(",", ".")) if v is not None else None
    except ValueError:
        return None
    return f if f is not None and math.isfinite(f) else None


def _valid_area(geom, oid: str, report: EnvelopeReport):
    """A polygonal geometry, repaired with make_valid when it is not valid (reported), or None (refused)."""
    if geom is None or geom.is_empty:
        report.skipped.append({"object_id": oid, "reason": "no geometry"})
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom)
        report.repaired.append({"object_id": oid, "reason": f"invalid polygon ({reason}) repaired with make_valid"})
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0]
    polys += [q for p in shapely.get_parts(geom) if isinstance(p, MultiPolygon) for q in p.geoms]
    if not polys:
        report.skipped.append({"object_id": oid, "reason": "polygon without area (also after make_valid): refused"})
        return None
    return shapely.union_all(polys)


def _check(kind: str, v: float | None, oid: str, report: EnvelopeReport) -> float | None:
    if v is None:
        return None
    ok = 0 <= v <= 90 if kind == "dak" else v > 0
    if not ok:
        report.skipped.append({"object_id": oid, "reason": f"{COLUMNS[kind]} {v:g} is not a usable value; ignored"})
        return None
    return v


def _maatvoering_sources(frame: gpd.GeoDataFrame | None, report: EnvelopeReport) -> list[_Source]:
    out = []
    for rec in [] if frame is None else frame.to_dict("records"):
        oid = str(rec.get("object_id") or rec.get("identificatie"))
        values = {"bouw": _number(rec.get("max_bouwhoogte")), "goot": _number(rec.get("max_goothoogte")), "dak": None}
        try:
            waarden = json.loads(rec.get("waarden") or "[]")
        except (TypeError, json.JSONDecodeError):
            waarden = []
        for w in waarden if isinstance(waarden, list) else []:
            wt = str((w or {}).get("waardetype") or "").strip().lower() if isinstance(w, dict) else ""
            if wt.startswith("maxim") and "dakhelling" in wt:
                values["dak"] = _number(w.get("waarde"))
        values = {k: _check(k, v, oid, report) for k, v in values.items()}
        values = {k: v for k, v in values.items() if v is not None}
        if "bouw" not in values and "goot" not in values:
            continue  # a maatvoering of another kind (bouwlagen, percentage): not a volume
        geom = _valid_area(rec["geometry"], oid, report)
        if geom is not None:
            out.append(_Source("maatvoering", oid, [oid], rec.get("plan_id"), geom, values))
    return out


def _ow_sources(frame: gpd.GeoDataFrame | None, report: EnvelopeReport) -> list[_Source]:
    """OW norms per location: one source per (plan, locatie) with the strictest value of each norm type."""
    groups: dict[tuple, _Source] = {}
    for rec in [] if frame is None else frame.to_dict("records"):
        kind = OW_NORMS.get(str(rec.get("type") or "").lower())
        if kind is None:
            continue
        oid = str(rec.get("object_id"))
        v = _number(rec.get("kwantitatieve_waarde"))
        if v is None:
            report.skipped.append({"object_id": oid, "reason": f"{rec.get('type')} without a quantitative value "
                                                               f"({rec.get('naam') or 'no name'}); not a height"})
            continue
        unit = str(rec.get("eenheid") or "").strip().lower()
        if kind != "dak" and unit not in METRE_UNITS:
            report.skipped.append({"object_id": oid, "reason": f"{rec.get('type')} in '{rec.get('eenheid')}', "
                                                               "not metres; ignored"})
            continue
        if (v := _check(kind, v, oid, report)) is None:
            continue
        key = (rec.get("plan_id"), rec.get("locatie"))
        if key not in groups:
            geom = _valid_area(rec["geometry"], str(rec.get("locatie")), report)
            if geom is None:
                continue
            groups[key] = _Source("werkingsgebied", str(rec.get("locatie")), [], rec.get("plan_id"), geom, {})
        src = groups[key]
        src.ids.append(oid)
        src.values[kind] = min(v, src.values.get(kind, v))
    return [s for s in groups.values() if "bouw" in s.values or "goot" in s.values]


def _polygonal(geom):
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0]
    return shapely.union_all(parts) if parts else None


def _not_sliver(geom) -> bool:
    return geom is not None and not geom.is_empty and not geom.buffer(-SLIVER_M / 2, join_style="mitre").is_empty


def _pieces(area, sources: list[_Source]) -> list[tuple[Any, list[int]]]:
    """The area cut by the sources' outlines: (piece, indices of the sources covering it), slivers dropped."""
    pieces: list[tuple[Any, list[int]]] = [(area, [])]
    for i, src in enumerate(sources):
        nxt = []
        for geom, cover in pieces:
            inside, outside = _polygonal(geom.intersection(src.geometry)), _polygonal(geom.difference(src.geometry))
            if _not_sliver(inside):
                nxt.append((inside, [*cover, i]))
                if _not_sliver(outside):
                    nxt.append((outside, cover))
            else:
                nxt.append((geom, cover))
        pieces = nxt
    return pieces


class _Dtm:
    """Median ground height inside a polygon, from dtm.tif (None when the file is absent or unreadable)."""

    def __init__(self, path: Path):
        self.ds = None
        if path.is_file():
            try:
                self.ds = rasterio.open(path)
            except rasterio.errors.RasterioIOError as e:
                log.warning("%s unreadable (%s): envelopes are relative", path, e)

    def peil(self, geom, kind: str) -> tuple[float | None, str]:
        """(median ground height, how it was found) over the area ``geom`` (a ``kind``: bouwvlak, ...)."""
        if self.ds is None:
            return None, NO_DTM
        ds = self.ds
        win = from_bounds(*geom.bounds, transform=ds.transform)
        col, row = math.floor(win.col_off), math.floor(win.row_off)
        win = Window(col, row, math.ceil(win.col_off + win.width) - col + 1,
                     math.ceil(win.row_off + win.height) - row + 1)
        data = ds.read(1, window=win, boundless=True, fill_value=np.nan, masked=True).astype(float).filled(np.nan)
        transform = ds.window_transform(win)
        for touched, what in ((False, "celmiddens binnen"), (True, "cellen die raken aan")):
            inside = ~geometry_mask([geom], out_shape=data.shape, transform=transform, all_touched=touched)
            vals = data[inside & np.isfinite(data)]
            if len(vals):
                return float(np.median(vals)), f"mediaan DTM ({len(vals)} {what} {kind})"
        return None, f"DTM zonder gemeten maaiveld in {kind}: hoogtes relatief, peil 0"

    def close(self) -> None:
        if self.ds is not None:
            self.ds.close()


def _read(gpkg: Path, layer: str, present: set[str], geometry: bool = True) -> gpd.GeoDataFrame | None:
    return pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=geometry) if layer in present else None


def _area_rows(kind: str, area_id: str, plan_id: str | None, geom, near: list[_Source], dtm: _Dtm | None,
               report: EnvelopeReport) -> list[dict[str, Any]]:
    """The envelope rows of one area (a bouwvlak, or a height source's part outside every bouwvlak)."""
    groups: dict[tuple, list] = {}
    uncovered = 0.0
    for piece, cover in _pieces(geom, near):
        if not cover:
            uncovered += piece.area
            continue
        values = {}
        for name in VALUES:
            given = [(near[i].values[name], near[i]) for i in cover if name in near[i].values]
            if not given:
                continue
            values[name] = min(v for v, _ in given)
            conflict = {"area": area_id, "value": COLUMNS[name], "values": sorted({v for v, _ in given}),
                        "chosen": values[name], "sources": sorted({i for _, s in given for i in s.ids})}
            if len(conflict["values"]) > 1 and conflict not in report.conflicts:
                report.conflicts.append(conflict)
        groups.setdefault(tuple(values.get(n) for n in VALUES), []).append((piece, cover))
    if not groups:
        report.skipped.append({"object_id": area_id, "reason": f"{kind} without a maximum bouwhoogte or goothoogte: "
                                                               "no envelope"})
        return []
    if uncovered >= 1.0 and kind == "bouwvlak":
        report.skipped.append({"object_id": area_id, "reason": f"{uncovered:.1f} m² of the bouwvlak has no maximum "
                                                               "height: no envelope there"})
    base, how = dtm.peil(geom, AREA_NAMES[kind]) if dtm is not None else (None, NO_DTM)
    rows = []
    for n, ((goot, bouw, dak), members) in enumerate(sorted(groups.items(), key=lambda g: str(g[0]))):
        footprint = shapely.union_all([p for p, _ in members])
        ids = sorted({i for _, cover in members for c in cover for i in near[c].ids})
        plans = sorted({p for p in [plan_id, *(near[c].plan_id for _, cover in members for c in cover)] if p})
        mesh = envelope_mesh(footprint, base or 0.0, bouw, goot, dak, reference=geom)
        if mesh.empty:
            report.skipped.append({"object_id": area_id, "reason": "a goothoogte without bouwhoogte or dakhelling "
                                                                   "is no volume: no envelope"})
            continue
        rows.append({
            "object_id": f"{area_id}/envelop-{n + 1}", "soort": kind, "vlak_id": area_id,
            "plan_ids": json.dumps(plans), "bron_object_ids": json.dumps(ids),
            "max_goothoogte": goot, "max_bouwhoogte": bouw, "max_dakhelling": dak,
            "hoogte_boven_peil": round(float(mesh.vertices[:, 2].max()) - (base or 0.0), 3),
            "peil_nap": None if base is None else round(base, 3), "peil_methode": how, "relatief": int(base is None),
            "volume_m3": round(mesh.volume, 2), "solid": json.dumps(mesh.solid_json(), separators=(",", ":")),
            "geometry": footprint,
        })
    return rows


def build_envelopes(bouwvlak: gpd.GeoDataFrame | None, maatvoering: gpd.GeoDataFrame | None,
                    omgevingsnorm: gpd.GeoDataFrame | None, dtm_path: Path | None,
                    report: EnvelopeReport) -> list[dict[str, Any]]:
    """The bouwenvelop rows (with 'geometry') for these zoning layers; what was left out goes into ``report``."""
    sources = _maatvoering_sources(maatvoering, report) + _ow_sources(omgevingsnorm, report)
    areas: list[tuple[str, str, str | None, Any]] = []  # (kind, id, plan, geometry)
    for rec in [] if bouwvlak is None else bouwvlak.to_dict("records"):
        oid = str(rec.get("object_id") or rec.get("identificatie"))
        geom = _valid_area(rec["geometry"], oid, report)
        if geom is not None:
            areas.append(("bouwvlak", oid, rec.get("plan_id"), geom))
    vlakken = shapely.union_all([a[3] for a in areas]) if areas else None
    for src in sources:
        try:
            rest = _polygonal(src.geometry.difference(vlakken)) if vlakken is not None else src.geometry
        except shapely.errors.GEOSException as e:
            report.skipped.append({"object_id": src.area_id, "reason": f"not comparable with the bouwvlakken ({e}): "
                                                                      "refused"})
            continue
        for k, part in enumerate(shapely.get_parts(rest) if rest is not None else []):
            if _not_sliver(part):
                areas.append((src.kind, src.area_id + (f"#{k + 1}" if k else ""), src.plan_id, part))
    tree = shapely.STRtree([s.geometry for s in sources]) if sources else None
    dtm = _Dtm(dtm_path) if dtm_path is not None else None
    rows: list[dict[str, Any]] = []
    try:
        for kind, area_id, plan_id, geom in areas:
            near = [sources[i] for i in (tree.query(geom, predicate="intersects") if tree else [])]
            try:
                rows += _area_rows(kind, area_id, plan_id, geom, near, dtm, report)
            except (shapely.errors.GEOSException, ValueError) as e:  # never a wrong envelope: none, with the id
                report.skipped.append({"object_id": area_id, "reason": f"geometry operation failed ({e}): refused"})
    finally:
        if dtm is not None:
            dtm.close()
    return rows


def _by_plan_status(frames: list[gpd.GeoDataFrame | None], others: list, report: EnvelopeReport) \
        -> list[tuple[bool, list[gpd.GeoDataFrame | None]]]:
    """[(is a draft, the frames' rows)]: first the plans that are law (and rows without plan_id), then each draft
    plan alone; superseded plans are left out and reported. ``others``: further layers that name plans (a later
    version supersedes an earlier one even where it has no bouwvlak)."""
    plans: dict[str, dict] = {}
    for frame in [*frames, *others]:
        if frame is None or "plan_id" not in frame:
            continue
        cols = [c for c in ("plan_id", "plan_status", "plan_datum") if c in frame]
        for rec in frame[cols].drop_duplicates("plan_id").to_dict("records"):
            if rec.get("plan_id"):
                plans.setdefault(rec["plan_id"], rec)
    states = plan_states(plans)
    for plan_id in sorted(k for k, state in states.items() if state == "vervangen"):
        report.skipped.append({"object_id": plan_id, "reason": "plan superseded by a later version: no envelope"})
    drafts = sorted(k for k, state in states.items() if state == "ontwerp")

    def rows_of(plan_ids: set | None):  # None: the law (not a draft, not superseded)
        out = []
        for frame in frames:
            if frame is None or "plan_id" not in frame:
                out.append(frame if plan_ids is None else None)
                continue
            ids = frame["plan_id"].map(lambda v: states.get(v, "onbekend"))
            keep = ~ids.isin(NOT_LAW) if plan_ids is None else frame["plan_id"].isin(plan_ids)
            out.append(frame[keep])
        return out

    return [(False, rows_of(None))] + [(True, rows_of({d})) for d in drafts]


def write_envelopes(data_dir: Path) -> EnvelopeReport:
    """(Re)write the `bouwenvelop` layer of DATA_DIR/stadsmodel.gpkg from its zoning layers and DATA_DIR/dtm.tif.

    Without a store there is nothing to read: the report says so and nothing is written. The layer is written
    even when empty, so envelopes of plans removed since cannot linger. Then the store's buildings are clashed
    with the new envelopes into `bouwenvelop_overschrijding` (:func:`write_overschrijding`; in
    ``report.overschrijding``).
    """
    data_dir = Path(data_dir)
    gpkg = data_dir / STORE_NAME
    report = EnvelopeReport()
    if not gpkg.is_file():
        report.skipped.append({"object_id": str(gpkg), "reason": "no store: nothing to make envelopes from"})
        return report
    present = set(pyogrio.list_layers(gpkg)[:, 0])
    dtm_path = data_dir / DTM_NAME
    layers = [_read(gpkg, name, present) for name in ("bouwvlak", "maatvoering", "ow_omgevingsnorm")]
    plans = _read(gpkg, "bestemmingsplangebied", present, geometry=False)  # a newer version may hold no bouwvlak
    rows = []
    for draft, frames in _by_plan_status(layers, [plans], report):
        rows += [r | {"ontwerp": int(draft)} for r in build_envelopes(*frames, dtm_path, report)]
    report.relative = not dtm_path.is_file() or any(r["relatief"] for r in rows)
    frame = gpd.GeoDataFrame({c: [r[c] for r in rows] for c in SCHEMA},
                             geometry=gpd.GeoSeries([r["geometry"] for r in rows], crs=RD_NEW), crs=RD_NEW)
    frame = frame.astype(SCHEMA)  # typed columns even when a value is absent from every row (no dakhelling)
    pyogrio.write_dataframe(frame, gpkg, layer=BOUWENVELOP, driver="GPKG", geometry_type="MultiPolygon",
                            promote_to_multi=True, layer_options={"SPATIAL_INDEX": "YES", "FID": "fid"})
    report.envelopes = len(rows)
    for r in rows:
        report.per_kind[r["soort"]] = report.per_kind.get(r["soort"], 0) + 1
    log.info("%s: %d envelopes (%s), %d left out, %d repaired, %d conflicts", gpkg.name, len(rows), report.per_kind,
             len(report.skipped), len(report.repaired), len(report.conflicts))
    report.overschrijding = write_overschrijding(gpkg)
    return report
