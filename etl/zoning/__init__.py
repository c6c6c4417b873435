"""Planning data import: bestemmingsplannen (IMRO2008/2012 GML), an Omgevingsplan delivery (STOP/TPOD),
RCE monuments and beschermde gezichten → zoning layers in the store (stadsmodel.gpkg, RD New).

Public surface: :func:`import_zoning` (the `stadsmodel zoning import` verb). The layers it writes are
`core.products.ZONING_LAYERS`; `build` never replaces them.

Layers (lower-case Dutch), each with provenance columns bron (source file), bron_type, bron_key, plan_id,
plan_naam, plan_type, plan_status, plan_datum and a unique object_id:
bestemmingsplangebied, enkelbestemming, dubbelbestemming, bouwvlak, functieaanduiding, bouwaanduiding,
gebiedsaanduiding, maatvoering (waarden JSON list of {waardetype, waarde} plus max_bouwhoogte,
max_goothoogte, max_bouwlagen, max_bebouwingspercentage), figuur; ow_locatie, ow_gebiedsaanwijzing,
ow_omgevingsnorm (one row per normwaarde × locatie), ow_activiteit (one row per activiteit-locatie with
its regelkwalificatie and regeltekst wId); monumenten, beschermde_gezichten; ow_juridische_regel (one row
per OW juridische regel × locatie with its article) and regels (the articles: STOP text of an Omgevingsplan,
IMRO regels or their ruimtelijkeplannen.nl link; see etl.zoning.regeltekst) with its FTS5 index regels_fts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import write_json
from core.errors import InputError, SkipLog
from core.products import STORE_NAME, ZONING_REPORT_NAME
from etl.envelopes import write_envelopes
from etl.writers.fulltext import rebuild_fts
from etl.writers.publish import output_folder
from etl.zoning.imro import is_imro, read_imro
from etl.zoning.monuments import rce_kind, read_rce
from etl.zoning.omgevingsplan import is_omgevingsplan, read_omgevingsplan
from etl.zoning.store import write_layers

log = logging.getLogger(__name__)


@dataclass
class ZoningReport:
    """What one import did: rows per source and layer, rejected sources and skipped features, with reasons."""

    imported: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: list[dict[str, str]] = field(default_factory=list)
    skipped: SkipLog = field(default_factory=SkipLog)
    # per Omgevingsplan delivery: how many OW Regeltekst wIds resolve to an article of the regeling text
    regeltekst: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the bouwenvelop remade from every plan in the store (etl.envelopes): counts, areas left out and why
    envelopes: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every source imported, every feature in it (else the import was partial: exit status 3)."""
        return not self.rejected and not len(self.skipped)

    def as_json(self) -> dict[str, Any]:
        return {"complete": self.complete, "imported": self.imported, "rejected": self.rejected,
                "skipped": self.skipped.as_json(), "regeltekst": self.regeltekst, "envelopes": self.envelopes}


def _sources(paths: list[Path]) -> list[Path]:
    """Files and delivery folders to import; a plain folder is searched for plans and exports."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir() and not is_omgevingsplan(p):
            subdirs = [d for d in sorted(p.iterdir()) if d.is_dir()]
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".gml", ".xml", ".geojson", ".json"))
            out.extend(_sources(subdirs) + files)
        else:
            out.append(p)
    return out


def _read(src: Path, skips: SkipLog, stats: dict[str, Any]) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """(bron_key, records per layer) for one source; raises InputError with the reason to reject it."""
    if not src.exists():
        raise InputError(src, "file or folder not found")
    if src.is_dir():
        layers = read_omgevingsplan(src, skips, stats)
        keys = {r["plan_id"] for rows in layers.values() for r in rows}
        return (keys.pop() if len(keys) == 1 else src.name), layers
    suffix = src.suffix.lower()
    if suffix in (".gml", ".xml") and is_imro(src):
        layers = read_imro(src, skips)
        return layers["bestemmingsplangebied"][0]["plan_id"], layers
    if suffix in (".geojson", ".json"):
        if rce_kind(src) is None:
            raise InputError(src, "GeoJSON without RCE properties (rijksmonumentnummer or gezichtsnummer); "
                                  "not a monument or beschermd gezicht export")
        return src.name, read_rce(src, skips)
    raise InputError(src, "not a recognised planning source: expected IMRO2008/2012 GML, an Omgevingsplan "
                          "delivery folder (GIO GML + OW XML) or an RCE GeoJSON export")


def import_zoning(paths: list[Path], data_dir: Path) -> ZoningReport:
    """Import plans, an Omgevingsplan and monument exports into DATA_DIR/stadsmodel.gpkg (created if absent).

    A source that cannot be read is rejected with its reason and the others still import (`ZoningReport.complete`
    is then false); re-importing a plan replaces its rows. Writes DATA_DIR/zoning_report.json, unless nothing
    could be imported: the report of the previous import then stays.

    :raises InputError: when no source at all could be imported, or DATA_DIR is a file
    """
    data_dir = output_folder(data_dir, "--data")
    gpkg = data_dir / STORE_NAME
    report = ZoningReport()
    sources = _sources([Path(p) for p in paths])
    if not sources:
        raise InputError(", ".join(map(str, paths)), "no planning files found")
    for src in sources:
        skips = SkipLog()
        stats: dict[str, Any] = {}
        try:
            key, layers = _read(src, skips, stats)
        except InputError as e:
            log.warning("rejected %s", e)
            report.rejected.append({"file": str(src), "reason": e.reason})
            continue
        report.imported[str(src)] = write_layers(gpkg, layers, key)
        if stats:
            report.regeltekst[str(src)] = stats
        report.skipped.extend(skips)
        for s in skips.items:
            log.warning("skipped %s", s)
    log.info("zoning import into %s: %d sources imported, %d rejected, %d features skipped",
             gpkg, len(report.imported), len(report.rejected), len(report.skipped))
    if not report.imported:
        reasons = "; ".join(f"{Path(r['file']).name}: {r['reason']}" for r in report.rejected)
        raise InputError(gpkg, f"nothing imported ({reasons})")
    rebuild_fts(gpkg)
    report.envelopes = write_envelopes(data_dir).as_json()
    write_json(data_dir / ZONING_REPORT_NAME, report.as_json(), indent=1)
    return report
