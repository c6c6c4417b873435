"""Load the store (``DATA/stadsmodel.gpkg``) into PostGIS, the production backend.

Every feature layer becomes a table of the same name in schema ``public``: geometry column ``geom``
(SRID 28992) with a GiST index, the store's columns, and a primary key on the collection's id field
(config/collections.yml) when it is unique and never empty, else on ``fid``. The whole load is one
transaction: a failure leaves the database as it was. Attribute tables (no geometry, e.g. ``building_solids``,
the LoD1.3/2.2 solids ``f=cityjson`` serves) are copied as they are, indexed on ``identificatie`` when they have
it (``f=cityjson`` looks a page's buildings up by it). A table keyed on another column than ``fid`` gets a
unique index on ``fid`` too (the served order, as on the GeoPackage). ``regels`` gets a generated tsvector column
``tsv`` ('dutch' and 'simple' configurations over kop and tekst) with a GIN index, which answers ``q=``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyogrio
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from core import gpkg as geopackage
from core.crs import RD_NEW
from core.errors import InputError, StadsmodelError
from core.products import REGELS, REGELS_FTS_COLUMNS, STORE_NAME
from services.config import load_collections_table, store_layers

LOGGER = logging.getLogger(__name__)


def load_postgis(data_dir: Path, dsn: str) -> dict[str, int]:
    """Load every layer of ``data_dir/stadsmodel.gpkg`` into the PostGIS database ``dsn``.

    :returns: rows loaded per table
    """
    gpkg = Path(data_dir) / STORE_NAME
    if not gpkg.is_file():
        raise InputError(gpkg, "no store here; run `stadsmodel build` first")
    defaults, table = load_collections_table()
    engine = create_engine(_sqlalchemy_url(dsn))
    counts: dict[str, int] = {}
    try:
        with engine.begin() as con:
            con.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            for name in store_layers(gpkg):
                gdf = pyogrio.read_dataframe(gpkg, layer=name, fid_as_index=True)
                gdf.index.name = "fid"
                gdf = gdf.reset_index().rename_geometry("geom")
                if gdf.crs is None:
                    gdf = gdf.set_crs(RD_NEW)
                LOGGER.info("loading %s: %d rows", name, len(gdf))
                gdf.to_postgis(name, con, if_exists="replace", index=False, chunksize=10_000)
                id_field = {**defaults, **(table.get(name) or {})}.get("id_field", "identificatie")
                key = id_field if _usable_key(gdf, id_field) else "fid"
                con.execute(text(f'ALTER TABLE "{name}" ADD PRIMARY KEY ("{key}")'))
                if key != "fid":  # the provider's default order, as the GeoPackage's
                    con.execute(text(f'CREATE UNIQUE INDEX "{name}_fid" ON "{name}" ("fid")'))
                if name == REGELS:
                    _add_fulltext(con, name, gdf.columns)
                con.execute(text(f'ANALYZE "{name}"'))
                counts[name] = len(gdf)
            for name, df in _attribute_tables(gpkg).items():
                LOGGER.info("loading %s: %d rows", name, len(df))
                df.to_sql(name, con, if_exists="replace", index=False, chunksize=10_000)
                if "identificatie" in df.columns:
                    con.execute(text(f'CREATE INDEX "{name}_identificatie" ON "{name}" ("identificatie")'))
                con.execute(text(f'ANALYZE "{name}"'))
                counts[name] = len(df)
    except SQLAlchemyError as err:
        raise StadsmodelError(f"loading {gpkg} into PostGIS failed: {err.__class__.__name__}: "
                              f"{err.orig or err}") from err
    finally:
        engine.dispose()
    return counts


def _add_fulltext(con, name: str, columns) -> None:
    """The articles' full-text column ``tsv`` (what the PostgreSQL provider answers q= with) and its GIN index:
    the heading and text (core.products.REGELS_FTS_COLUMNS, as in the GeoPackage's FTS5 index) under the Dutch
    text-search configuration ('dutch': stems, so a word's forms match) and 'simple' (the words as written,
    for prefix search as FTS5 does it)."""
    text_sql = " || ' ' || ".join(f"coalesce(\"{c}\", '')" for c in REGELS_FTS_COLUMNS if c in columns) or "''"
    # FTS5 splits "2.14" and "www.x.nl" into their letters and digits; PostgreSQL's parser keeps them whole. The
    # 'simple' half gets the text with every other character a space, so q=2.14 finds what FTS5 finds.
    simple_sql = f"regexp_replace({text_sql}, '[^[:alnum:]]+', ' ', 'g')"
    con.execute(text(f'ALTER TABLE "{name}" ADD COLUMN tsv tsvector GENERATED ALWAYS AS '
                     f"(to_tsvector('dutch', {text_sql}) || to_tsvector('simple', {simple_sql})) STORED"))
    con.execute(text(f'CREATE INDEX "{name}_tsv" ON "{name}" USING gin (tsv)'))


def _attribute_tables(gpkg: Path) -> dict[str, pd.DataFrame]:
    """Every attributes table of the store (no geometry), read whole."""
    con = geopackage.connect(gpkg)
    try:
        tables = {}
        for name in geopackage.attribute_tables(con):
            df = pd.read_sql_query(f"SELECT * FROM {geopackage.quote(name)}", con)
            # pandas reads an INTEGER column with NULLs as float; keep it an integer in PostGIS (BIGINT)
            for _, column, declared, *_ in con.execute(f"PRAGMA table_info({geopackage.quote(name)})"):
                if declared.upper() == "INTEGER" and column in df:
                    df[column] = df[column].astype("Int64")
            tables[name] = df
        return tables
    finally:
        con.close()


def _usable_key(gdf, column: str) -> bool:
    return column in gdf.columns and gdf[column].notna().all() and gdf[column].is_unique


def _sqlalchemy_url(dsn: str) -> str:
    """A libpq URI for SQLAlchemy's psycopg (3) dialect; key=value DSNs are passed through libpq."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + dsn.split("://", 1)[1]
    return "postgresql+psycopg:///?" + "&".join(dsn.split())
