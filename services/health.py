"""Is the data this server publishes readable? ``GET /health`` (200 or 503) and the check ``serve`` runs first.

Checked: the store (GeoPackage: opens read-only, every served layer can be read, and at start-up
``PRAGMA quick_check`` finds no damaged page; PostGIS: a connection and a row from each served table) and each
coverage raster (opens, and its last block decodes: a truncated GeoTIFF opens fine and fails only there). The
answer names what is broken; the reasons (paths, driver messages) go to the log, not to the client.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from core import gpkg as geopackage

LOGGER = logging.getLogger(__name__)


def problems(config: dict, thorough: bool = False) -> dict[str, str]:
    """{resource name: reason} for every collection whose data cannot be read; empty when all is well.

    ``thorough`` also runs SQLite's ``quick_check`` over the whole GeoPackage (at start-up: it reads every page).
    """
    found: dict[str, str] = {}
    stores_checked: dict[str, str | None] = {}
    for name, res in config["resources"].items():
        if res.get("type") != "collection":
            continue
        provider = res["providers"][0]
        if provider["type"] == "coverage":
            reason = raster_problem(Path(provider["data"]))
        elif provider["name"].endswith("GeoPackageProvider"):
            path = provider["data"]
            if path not in stores_checked:
                stores_checked[path] = gpkg_problem(Path(path), thorough)
            reason = stores_checked[path] or _gpkg_layer_problem(Path(path), provider["table"])
        else:
            reason = postgis_problem(provider["data"], provider["table"])
        if reason:
            found[name] = reason
    return found


def gpkg_problem(path: Path, thorough: bool = False) -> str | None:
    if not path.is_file():
        return f"{path}: missing"
    try:
        con = geopackage.connect(path)
        try:
            sql = "PRAGMA quick_check" if thorough else "SELECT 'ok' FROM gpkg_contents LIMIT 1"
            rows = con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error as err:
        return f"{path}: {err}"
    if rows != [("ok",)]:
        return f"{path}: damaged ({'; '.join(r[0] for r in rows[:3])})"
    return None


def _gpkg_layer_problem(path: Path, table: str) -> str | None:
    try:
        con = geopackage.connect(path)
        try:
            con.execute(f"SELECT * FROM {geopackage.quote(table)} LIMIT 1").fetchall()
        finally:
            con.close()
    except sqlite3.Error as err:
        return f"{path} layer {table}: {err}"
    return None


def raster_problem(path: Path) -> str | None:
    import rasterio
    from rasterio.windows import Window

    try:
        with rasterio.open(path) as src:
            # Reading the last block touches the end of the file, where a truncated copy breaks.
            row = max(0, src.height - 1)
            col = max(0, src.width - 1)
            src.read(1, window=Window(col, row, 1, 1))
            src.read(1, window=Window(0, 0, 1, 1))
    except Exception as err:  # rasterio raises RasterioIOError, CPLE_* and plain ValueErrors alike
        return f"{path}: {err}"
    return None


def postgis_problem(dsn: str, table: str) -> str | None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(dsn, connect_timeout=5) as con:
            con.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table))).fetchall()
    except psycopg.Error as err:
        return f"PostGIS table {table}: {err}".strip()
    return None


def health_report(config: dict) -> tuple[int, dict]:
    """(HTTP status, body) for ``GET /health``: 200 when everything served is readable, else 503."""
    broken = problems(config)
    for name, reason in broken.items():
        LOGGER.error("health: %s unreadable: %s", name, reason)
    checked = sorted(n for n, r in config["resources"].items() if r.get("type") == "collection")
    body = {"status": "unavailable" if broken else "ok",
            "checked": checked,
            "unreadable": sorted(broken)}
    return (503 if broken else 200), body
