"""`stadsmodel rules import`: STTR files (the DSO's toepasbare regels) → the store's ``toepasbare_regels`` table.

Each file is parsed whole before anything is written, and a file that cannot be parsed is rejected alone with its
reason (all-or-nothing per file: never half an activity). Re-importing an activity replaces its row. The table is
an attributes table of the GeoPackage, so a directory that holds only rules is still a store `serve` can publish.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from core import gpkg as geopackage
from core.atomic import write_json
from core.errors import InputError
from core.products import RULES_REPORT_NAME, STORE_NAME, TOEPASBARE_REGELS
from core.toepasbare_regels import Activity
from etl.rules.sttr import parse_sttr, sttr_documents
from etl.writers.publish import output_folder

log = logging.getLogger(__name__)

COLUMNS = ("activity", "titel", "bron", "bron_sha256", "geimporteerd", "model")


@dataclass
class RulesReport:
    """What one import did: the activities written (by source file) and the files rejected, with reasons."""

    imported: dict[str, list[str]] = field(default_factory=dict)
    rejected: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.rejected

    def as_json(self) -> dict[str, Any]:
        return {"complete": self.complete, "imported": self.imported, "rejected": self.rejected}


def import_rules(paths: list[Path], data_dir: Path) -> RulesReport:
    """Import STTR files (``.xml``, folders or zips of them) into DATA_DIR/stadsmodel.gpkg (created if absent).

    :raises InputError: when no file at all could be imported (the store is then untouched), or DATA_DIR is a file
    """
    data_dir = output_folder(data_dir, "--data")
    gpkg = data_dir / STORE_NAME
    report = RulesReport()
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            documents = sttr_documents(Path(path))
        except InputError as e:
            report.rejected.append({"file": str(path), "reason": e.reason})
            continue
        for name, data in documents:
            try:
                activity = parse_sttr(data, name)
            except InputError as e:
                log.warning("rejected %s", e)
                report.rejected.append({"file": name, "reason": e.reason})
                continue
            if activity.id in rows:
                report.rejected.append({"file": name, "reason": f"activity '{activity.id}' also comes from "
                                                               f"{rows[activity.id]['bron']} in this import"})
                continue
            rows[activity.id] = _row(activity, name, data)
            report.imported.setdefault(name, []).append(activity.id)
    if not rows:
        reasons = "; ".join(f"{Path(r['file']).name}: {r['reason']}" for r in report.rejected)
        raise InputError(gpkg, f"no rules imported ({reasons or 'no STTR files'})")
    _write(gpkg, rows)
    log.info("rules import into %s: %d activities from %d files, %d files rejected",
             gpkg, len(rows), len(report.imported), len(report.rejected))
    write_json(data_dir / RULES_REPORT_NAME, report.as_json(), indent=1)
    return report


def _row(activity: Activity, name: str, data: bytes) -> dict[str, Any]:
    return {"activity": activity.id, "titel": activity.title, "bron": Path(name).name,
            "bron_sha256": hashlib.sha256(data).hexdigest(),
            "geimporteerd": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": json.dumps(activity.to_json(), ensure_ascii=False, separators=(",", ":"))}


def _write(gpkg: Path, rows: dict[str, dict[str, Any]]) -> None:
    """Replace the imported activities' rows and keep the others, in one SQLite transaction: a crash or a full
    disk leaves the earlier table as it was, and a reader sees the old rows or the new ones, never a mix."""
    if not _has_table(gpkg):  # GDAL registers the attributes table in the GeoPackage (and makes the file)
        pyogrio.write_dataframe(pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS}), gpkg,
                                layer=TOEPASBARE_REGELS, driver="GPKG")
    table = f'"{TOEPASBARE_REGELS}"'
    with contextlib.closing(sqlite3.connect(gpkg)) as con, con:
        con.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "idx_{TOEPASBARE_REGELS}_activity" ON {table} ("activity")')
        con.executemany(f"DELETE FROM {table} WHERE activity = ?", [(a,) for a in rows])
        con.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        [tuple(r[c] for c in COLUMNS) for r in rows.values()])


def _has_table(gpkg: Path) -> bool:
    if not gpkg.exists():
        return False
    with contextlib.closing(geopackage.connect(gpkg)) as con:
        return TOEPASBARE_REGELS in geopackage.attribute_tables(con)
