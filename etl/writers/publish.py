"""Publishing a build's products into its output folder: never a bad model over a good one.

A run writes every product into a hidden staging folder inside the output folder (``OUT/.staging-<pid>``, on the
same filesystem, so moving a product into place is an atomic rename). Only when the run produced a usable model
are the products moved into OUT, one rename each and report.json last (a crash between two renames leaves
newer products beside an older report.json, which still names what it describes); otherwise the earlier products
stay as they were, the run's own report is kept beside them as ``report.rejected.json`` and the caller gets a
`ModelNotPublished` saying why. The staging folder is
removed on leaving the block, whatever happened (and a stale one of a killed run is removed by the next run).

The store in OUT also holds layers the ETL does not write: plans, monuments and Omgevingsplan layers from
``zoning import`` (and any later importer). Those belong to their importer, so publishing copies every such layer,
unchanged, from the old store into the new one before the new one replaces it (`carry_over_layers`).

Use (the single-machine and the tiled build alike)::

    with Publication(out) as publication:
        write products into publication.staging ...
        publication.publish(unusable_reason(buildings_with_geometry, dtm_has_data))
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from types import TracebackType

from core.errors import InputError, LiftingError
from core.products import BOUWENVELOP, REGELS, REJECTED_REPORT_NAME, REPORT_NAME, STORE_NAME, is_etl_layer
from etl.envelopes import write_envelopes
from etl.writers.fulltext import rebuild_fts

log = logging.getLogger(__name__)

STAGING_PREFIX = ".staging-"


class ModelNotPublished(LiftingError):
    """A run finished without a usable model; the products already in the output folder were left as they were."""


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` as a Path; an InputError naming it when it is a file, or lies inside one (so cannot be made)."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == path else f"lies inside {existing}, which is a file"
        raise InputError(path, f"{option} must be a folder, but it {where}")
    return path


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """The output folder `path`, created if absent; an InputError naming it when it is (inside) a file."""
    path = check_output_folder(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(path, f"cannot create the {option} folder: {e.strerror or e}") from None
    return path


def unusable_reason(buildings_with_geometry: int, dtm_has_data: bool) -> str | None:
    """Why a model must not replace an earlier one, or None when it is usable.

    Usable means: at least one building got measured heights (and so its LoD1.2 solid), and the DTM holds
    measured ground or water cells. A run whose point clouds were all refused, empty or broken off before
    any point reached the area has neither.
    """
    problems = []
    if buildings_with_geometry <= 0:
        problems.append("no building got measured heights")
    if not dtm_has_data:
        problems.append("the DTM holds no measured ground")
    return " and ".join(problems) or None


class Publication:
    """Stage a run's products in ``staging`` and move them into the output folder with `publish`."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.staging = self.out / f"{STAGING_PREFIX}{os.getpid()}"

    def __enter__(self) -> Publication:
        output_folder(self.out)
        _remove_stale_staging(self.out)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def publish(self, unusable: str | None = None) -> list[Path]:
        """Move every staged product into the output folder, unless `unusable` says why not.

        :param unusable: the reason the run's model is not usable (see `unusable_reason`), or None.
        :returns: the published paths.
        :raises ModelNotPublished: when `unusable` is given; the run's report.json is then kept as
            report.rejected.json and nothing else in the output folder changes.
        """
        if unusable:
            staged_report = self.staging / REPORT_NAME
            kept = ""
            if staged_report.exists():
                os.replace(staged_report, self.out / REJECTED_REPORT_NAME)
                kept = f"; this run's report: {self.out / REJECTED_REPORT_NAME}"
            earlier = "the earlier model there is kept" if (self.out / REPORT_NAME).exists() else "no model there yet"
            raise ModelNotPublished(f"{self.out}: model not published, {unusable}; {earlier}{kept}")
        new_store, old_store = self.staging / STORE_NAME, self.out / STORE_NAME
        if new_store.exists() and old_store.exists():
            carried = carry_over_layers(old_store, new_store)
            if carried:
                log.info("kept from the earlier store: %s", ", ".join(carried))
            if REGELS in carried:  # its full-text index is no GeoPackage layer, so it is not carried: made anew
                rebuild_fts(new_store)
            if BOUWENVELOP in carried:  # the envelopes stand on the DTM's peil: remade on the new one
                write_envelopes(self.staging)
        published = []
        # The report last: a report.json in OUT always describes the products beside it.
        for entry in sorted(self.staging.iterdir(), key=lambda p: p.name == REPORT_NAME):
            target = self.out / entry.name
            if entry.is_dir() and target.is_dir():
                _replace_folder(entry, target)
            else:
                os.replace(entry, target)
            published.append(target)
        (self.out / REJECTED_REPORT_NAME).unlink(missing_ok=True)
        return published


def carry_over_layers(old_store: Path, new_store: Path) -> list[str]:
    """Copy every layer of `old_store` the ETL does not own (`core.products.is_etl_layer`) into `new_store`,
    unchanged: it belongs to its importer and survives a rebuild.

    A layer is copied as a GeoPackage writer made it: its table (same rows and fids), indexes, its rows in
    gpkg_contents, gpkg_geometry_columns, gpkg_ogr_contents and gpkg_extensions, its R-tree spatial index and
    the triggers that keep that index current. Plain SQL (no GDAL): nothing is re-encoded.

    :returns: the names of the layers copied.
    """
    with contextlib.closing(sqlite3.connect(new_store)) as con:
        con.execute("ATTACH DATABASE ? AS old", (str(old_store),))
        try:
            old_tables = [r[0] for r in con.execute("SELECT table_name FROM old.gpkg_contents")]
        except sqlite3.DatabaseError as e:
            raise InputError(old_store, f"cannot read the earlier store to keep its plan layers ({e}); nothing was "
                                        "replaced: move the store away to rebuild without them") from None
        new_tables = {r[0] for r in con.execute("SELECT table_name FROM main.gpkg_contents")}
        carried = [t for t in old_tables if not is_etl_layer(t) and t not in new_tables]
        for table in carried:
            _copy_layer(con, table)
        con.commit()
        con.execute("DETACH DATABASE old")
    return carried


def _copy_layer(con: sqlite3.Connection, table: str) -> None:
    q = _quote(table)
    schema = dict(con.execute("SELECT name, sql FROM old.sqlite_master WHERE type = 'table' AND name = ?", (table,)))
    con.execute(schema[table])
    con.execute(f"INSERT INTO main.{q} SELECT * FROM old.{q}")
    for sql, in con.execute("SELECT sql FROM old.sqlite_master WHERE type = 'index' AND tbl_name = ? "
                            "AND sql IS NOT NULL", (table,)).fetchall():
        con.execute(sql)
    for meta in ("gpkg_spatial_ref_sys", "gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents",
                 "gpkg_extensions"):
        if not _has_table(con, "old", meta) or not _has_table(con, "main", meta):
            continue
        if meta == "gpkg_spatial_ref_sys":
            con.execute("INSERT OR IGNORE INTO main.gpkg_spatial_ref_sys SELECT * FROM old.gpkg_spatial_ref_sys "
                        "WHERE srs_id IN (SELECT srs_id FROM old.gpkg_contents WHERE table_name = ?)", (table,))
        else:
            con.execute(f"INSERT OR REPLACE INTO main.{meta} SELECT * FROM old.{meta} WHERE table_name = ?", (table,))
    geometry = con.execute("SELECT column_name FROM old.gpkg_geometry_columns WHERE table_name = ?",
                           (table,)).fetchone()
    if geometry is not None:
        rtree = f"rtree_{table}_{geometry[0]}"
        row = con.execute("SELECT sql FROM old.sqlite_master WHERE name = ?", (rtree,)).fetchone()
        if row is not None:
            con.execute(row[0])
            con.execute(f"INSERT INTO main.{_quote(rtree)} SELECT * FROM old.{_quote(rtree)}")
    # Triggers last: they keep the R-tree current with functions (ST_IsEmpty, ...) that GDAL registers and this
    # connection does not have, so no row may be written after they exist.
    for sql, in con.execute("SELECT sql FROM old.sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                            (table,)).fetchall():
        con.execute(sql)


def _has_table(con: sqlite3.Connection, schema: str, name: str) -> bool:
    return con.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone() is not None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _replace_folder(new: Path, target: Path) -> None:
    old = target.with_name(f"{STAGING_PREFIX}{os.getpid()}-old-{target.name}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale_staging(out: Path) -> None:
    """Remove the staging folders of runs that no longer live (killed, power cut)."""
    for folder in out.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
