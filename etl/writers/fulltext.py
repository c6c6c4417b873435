"""The full-text index of the store's articles (`regels`): an SQLite FTS5 table beside the GeoPackage layers.

Written by `zoning import` after it writes the articles, and by a rebuild that carries them over (the index is no
GeoPackage layer, so carrying layers over does not copy it); read by the GeoPackage provider for ``q=``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.products import REGELS, REGELS_FTS, REGELS_FTS_COLUMNS


def rebuild_fts(gpkg: Path) -> int:
    """Rebuild the FTS5 index of the regels layer (rows written by pyogrio get new fids); returns rows indexed.

    A plain sqlite3 table outside gpkg_contents: GDAL and the GeoPackage readers ignore it. Tokens are folded to
    lower case without diacritics, so q=dakkapel finds "Dakkapel" and "dakkapèl" alike.
    """
    con = sqlite3.connect(gpkg)
    try:
        with con:
            con.execute(f'DROP TABLE IF EXISTS "{REGELS_FTS}"')
            if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (REGELS,)).fetchone():
                return 0
            con.execute(f'CREATE VIRTUAL TABLE "{REGELS_FTS}" USING fts5({", ".join(REGELS_FTS_COLUMNS)}, '
                        "tokenize = 'unicode61 remove_diacritics 2')")
            cols = ", ".join(f"coalesce({c}, '')" for c in REGELS_FTS_COLUMNS)
            con.execute(f'INSERT INTO "{REGELS_FTS}" (rowid, {", ".join(REGELS_FTS_COLUMNS)}) '
                        f'SELECT fid, {cols} FROM "{REGELS}"')
            return con.execute(f'SELECT count(*) FROM "{REGELS_FTS}"').fetchone()[0]
    finally:
        con.close()
