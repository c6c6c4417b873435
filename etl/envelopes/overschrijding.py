"""Bouwenvelop overschrijding: per building whose footprint overlaps an envelope, its clash with the envelopes.

Public surface: :func:`write_overschrijding` (called by :func:`etl.envelopes.write_envelopes` after it wrote the
`bouwenvelop` layer, so after every `zoning import` and every published `build` of a store with envelopes). It
reads the store's `buildings`, `building_solids` and `bouwenvelop` (plain SQLite through core.gpkg: etl never
imports services) and rewrites the whole `bouwenvelop_overschrijding` layer (core.products.
BOUWENVELOP_OVERSCHRIJDING), its only writer. The numbers are core.clash.clash_building's, the policy the
location check uses (its `building.bouwenvelop`): the same building row, footprint, solids and candidate
envelopes (those whose bounding box meets the footprint's) give the same answer.

One row per building (BAG pand, the whole building, its parts together) that lies in at least one envelope:
identificatie, status (overschrijdt / binnen_envelop / onbekend), excess_volume_m3, excess_above_m3,
excess_outside_m3, max_excess_height_m, envelope_ids (JSON list of the bouwenvelop object_ids), solid_lod, reden
(why onbekend, Dutch), solid (the excess as a closed Solid, JSON as in building_solids, EPSG:7415; NULL when the
excess is within the clash's tolerance: nothing to draw); geometry the building's footprint. A building whose
clash fails is a row with status onbekend and the reason, never an exception out of the import.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from core import gpkg as geopackage
from core.clash import VOLUME_TOLERANCE_M3, clash_building, in_force
from core.crs import RD_NEW
from core.products import BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING, BUILDING_SOLIDS, BUILDINGS

log = logging.getLogger(__name__)

SCHEMA = {"identificatie": "str", "status": "str", "excess_volume_m3": "float64", "excess_above_m3": "float64",
          "excess_outside_m3": "float64", "max_excess_height_m": "float64", "envelope_ids": "str",
          "solid_lod": "str", "reden": "str", "solid": "str"}
STATUSES = ("overschrijdt", "binnen_envelop", "onbekend")
NUMBERS = ("excess_volume_m3", "excess_above_m3", "excess_outside_m3", "max_excess_height_m")


@dataclass
class OverschrijdingReport:
    """What one run wrote: buildings per status, the ones that could not be measured (with the reason)."""

    written: bool = False
    buildings: int = 0
    per_status: dict[str, int] = field(default_factory=dict)
    with_solid: int = 0
    onbekend: list[dict[str, str]] = field(default_factory=list)  # {identificatie, reden}
    note: str | None = None  # why the layer was not written
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        out = {"written": self.written, "buildings": self.buildings, "per_status": self.per_status,
               "with_solid": self.with_solid, "onbekend": self.onbekend, "seconds": round(self.seconds, 2)}
        if self.note:
            out["note"] = self.note
        return out


def _rows(con: sqlite3.Connection, layer: geopackage.Layer, where: str = "", args: tuple = ()) -> list[tuple]:
    """(row without the blob, shapely geometry) of a feature layer, in fid order."""
    q = geopackage.quote
    pk = layer.primary_key or "rowid"
    cur = con.execute(f"SELECT * FROM {q(layer.name)} {where} ORDER BY {q(pk)}", args)
    names = [d[0] for d in cur.description]
    raw = cur.fetchall()
    gi = names.index(layer.geometry_column)
    geoms = geopackage.gpkg_geometries([r[gi] for r in raw])
    return [({k: v for k, v in zip(names, r) if k != layer.geometry_column}, g) for r, g in zip(raw, geoms)]


def _candidate_ids(con: sqlite3.Connection, buildings: geopackage.Layer, envelopes: list) -> list:
    """Primary keys of the buildings whose bounding box meets an envelope's (R-tree, else every building)."""
    if buildings.rtree is None:
        return [r[0] for r in con.execute(f"SELECT {geopackage.quote(buildings.primary_key or 'rowid')} "
                                          f"FROM {geopackage.quote(buildings.name)}")]
    ids: set = set()
    for _, geom in envelopes:
        if geom is not None and not geom.is_empty:
            ids.update(i for i, _ in geopackage.envelope_candidates(con, buildings, geom.bounds))
    return sorted(ids)


def _solids(con: sqlite3.Connection, ids: list[str]) -> dict[str, list[dict]]:
    """identificatie → its building_solids rows {lod, part, solid (JSON text)}, in part and LoD order, as the
    location check reads them (a store without the table: none)."""
    if not ids or BUILDING_SOLIDS not in geopackage.attribute_tables(con):
        return {}
    present = {r[1] for r in con.execute(f"PRAGMA table_info({geopackage.quote(BUILDING_SOLIDS)})")}
    columns = [c for c in ("identificatie", "part", "lod", "solid") if c in present]
    out: dict[str, list[dict]] = {}
    for r in geopackage.rows_with(con, BUILDING_SOLIDS, "identificatie", ids, columns):
        rec = dict(zip(columns, r))
        part = rec.get("part")
        rec["part"] = None if part is None or (isinstance(part, float) and part != part) else int(part)
        out.setdefault(rec["identificatie"], []).append(rec)
    for rows in out.values():
        rows.sort(key=lambda s: (-1 if s["part"] is None else s["part"], str(s.get("lod"))))
    return out


def _nl(reason: Any) -> str | None:
    if reason is None:
        return None
    return str(reason.get("nl") or reason.get("en")) if isinstance(reason, dict) else str(reason)


def _row(ident: str, footprint, result: dict) -> dict[str, Any]:
    status = result.get("status") or "onbekend"
    solid = result.get("excess_solid")
    # an excess within the clash's tolerance (the envelope's cone approximation, mm rounding) is nothing to draw
    drawn = solid is not None and (status == "overschrijdt"
                                   or (result.get("excess_volume_m3") or 0.0) > VOLUME_TOLERANCE_M3)
    return {"identificatie": ident, "status": status,
            **{k: result.get(k) for k in NUMBERS},
            "envelope_ids": json.dumps([e.get("object_id") for e in result.get("envelopes") or []]),
            "solid_lod": result.get("solid_lod"), "reden": _nl(result.get("reason")),
            "solid": json.dumps(solid, separators=(",", ":")) if drawn else None, "geometry": footprint}


def overschrijding_rows(gpkg: Path, report: OverschrijdingReport) -> list[dict[str, Any]] | None:
    """The layer's rows (with 'geometry'), or None when the store has no buildings or no envelopes to clash."""
    con = geopackage.connect(gpkg)
    try:
        layers = geopackage.feature_layers(con)
        if BUILDINGS not in layers or BOUWENVELOP not in layers:
            report.note = f"no {BUILDINGS} or no {BOUWENVELOP} layer in the store: nothing to clash"
            return None
        envelopes = in_force(_rows(con, layers[BOUWENVELOP]))  # the law in force: drafts counted only when asked
        buildings = layers[BUILDINGS]
        ids = _candidate_ids(con, buildings, envelopes)
        found = []
        q = geopackage.quote
        pk = buildings.primary_key or "rowid"
        for i in range(0, len(ids), 900):
            chunk = ids[i:i + 900]
            found += _rows(con, buildings, f"WHERE {q(pk)} IN ({', '.join('?' * len(chunk))})", tuple(chunk))
        solids = _solids(con, sorted({str(b.get("identificatie")) for b, _ in found}))
    finally:
        con.close()
    tree = shapely.STRtree([g for _, g in envelopes]) if envelopes else None
    cache: dict = {}  # object_id → envelope mesh: each envelope's solid read once over all buildings
    rows = []
    for building, footprint in found:
        ident = str(building.get("identificatie"))
        if footprint is None or footprint.is_empty or tree is None:
            continue
        # the candidates the location check gets from the store: envelopes whose bbox meets the footprint's
        candidates = [envelopes[j] for j in sorted(tree.query(shapely.box(*footprint.bounds)))]
        try:
            result = clash_building(candidates, building, footprint, solids.get(ident, []), cache=cache)
        except Exception as e:  # one building's bad data never stops the layer: said, as the location check does
            log.warning("%s: pand %s not measured: %s", BOUWENVELOP_OVERSCHRIJDING, ident, e)
            hits = [rec.get("object_id") for rec, geom in candidates
                    if geom is not None and not geom.is_empty and geom.intersects(footprint)]
            result = {"status": "onbekend", "envelopes": [{"object_id": h} for h in hits],
                      "reason": {"nl": f"niet te meten ({e.__class__.__name__}: {e})"}}
        if result is None:
            continue  # the footprint lies in no envelope (a shared wall at most)
        rows.append(_row(ident, footprint, result))
    return rows


def _has_layer(gpkg: Path, name: str) -> bool:
    if not gpkg.is_file():
        return False
    con = geopackage.connect(gpkg)
    try:
        return con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (name,)).fetchone() is not None
    except sqlite3.DatabaseError:
        return False
    finally:
        con.close()


def write_overschrijding(gpkg: Path) -> OverschrijdingReport:
    """(Re)write the `bouwenvelop_overschrijding` layer of the store ``gpkg`` from its buildings and envelopes.

    Written whole, even when empty, whenever the store has buildings and envelopes; a store without them gets
    no such layer (an earlier one is emptied, so no stale row stays).
    """
    t0 = time.perf_counter()
    gpkg = Path(gpkg)
    report = OverschrijdingReport()
    try:
        rows = overschrijding_rows(gpkg, report)
    except (sqlite3.DatabaseError, ValueError) as e:  # a store it cannot read: said in the report, not raised
        log.warning("%s: %s not made: %s", gpkg, BOUWENVELOP_OVERSCHRIJDING, e)
        report.note = f"store not readable for the clash ({e})"
        rows = None
    if rows is None:
        if not _has_layer(gpkg, BOUWENVELOP_OVERSCHRIJDING):
            report.seconds = time.perf_counter() - t0
            return report
        rows = []  # an earlier layer: emptied
    frame = gpd.GeoDataFrame({c: [r[c] for r in rows] for c in SCHEMA},
                             geometry=gpd.GeoSeries([r["geometry"] for r in rows], crs=RD_NEW), crs=RD_NEW)
    frame = frame.astype(SCHEMA)
    for c in ("solid_lod", "reden", "solid"):  # NULL stays NULL, not the text "None"
        frame[c] = [r[c] for r in rows]
    pyogrio.write_dataframe(frame, gpkg, layer=BOUWENVELOP_OVERSCHRIJDING, driver="GPKG",
                            geometry_type="MultiPolygon", promote_to_multi=True,
                            layer_options={"SPATIAL_INDEX": "YES", "FID": "fid"})
    report.written = True
    report.buildings = len(rows)
    counts = Counter(r["status"] for r in rows)
    report.per_status = {s: counts[s] for s in STATUSES if counts[s]}
    report.with_solid = sum(r["solid"] is not None for r in rows)
    report.onbekend = [{"identificatie": r["identificatie"], "reden": r["reden"]} for r in rows
                       if r["status"] == "onbekend"]
    report.seconds = time.perf_counter() - t0
    log.info("%s: %d buildings in an envelope (%s), %d with an excess solid, %.1f s", BOUWENVELOP_OVERSCHRIJDING,
             report.buildings, report.per_status, report.with_solid, report.seconds)
    return report
