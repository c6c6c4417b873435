"""The project's PostgreSQL provider (services.providers.postgresql) against the GeoPackage provider, in process.

On real data: the Gemeentestad Omgevingsplan (../shared/data) imported with `zoning import` and loaded into a
PostGIS database of its own with services.load; q= on `regels` (the tsvector column with the Dutch text-search
configuration and its GIN index) must find the same articles as FTS5 on the GeoPackage. On the service store
(postgis_dsn): hostile q, filter and property values give a 400 or an empty answer, never a server error, and
every output CRS gives the GeoPackage provider's coordinates.
"""

from __future__ import annotations

import pytest
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderItemNotFoundError
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from etl.zoning import import_zoning
from services.providers.geopackage import GeoPackageProvider
from services.providers.postgresql import PostgreSQLProvider, tsquery_terms
from tests.conftest import shared_path
from tests.services.test_built_store_postgis import fresh_database

WORDS = ("2.14", "bedrijfsgebouw", "bouwhoogte", "dakkapel", "geitenfokkerij, wormenkwekerij", "bouw", "gebouw woning",
         'NEAR(" * : OR', "'); DROP TABLE regels; --", "a:* & !b | (c")


@pytest.fixture(scope="module")
def gemeentestad(tmp_path_factory, postgis_dsn):
    from services.load import load_postgis

    out = tmp_path_factory.mktemp("gemeentestad_pg")
    import_zoning([shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht")], out)
    dsn = fresh_database(postgis_dsn, "gemeentestad")
    load_postgis(out, dsn)
    return out, dsn


def _pair(data, dsn, table, id_field, **extra):
    gpkg = GeoPackageProvider({"name": "GeoPackage", "type": "feature", "data": str(data / "stadsmodel.gpkg"),
                               "table": table, "id_field": id_field, **extra})
    pg = PostgreSQLProvider({"name": "PostgreSQL", "type": "feature", "data": dsn, "table": table,
                             "id_field": id_field, "geom_field": "geom", **extra})
    return gpkg, pg


def test_q_finds_the_articles_fts5_finds(gemeentestad):
    data, dsn = gemeentestad
    gpkg, pg = _pair(data, dsn, "regels", "object_id")
    assert pg.fulltext
    for word in WORDS:
        a = gpkg.query(q=word, limit=1000)
        b = pg.query(q=word, limit=1000)
        assert [f["id"] for f in b["features"]] == [f["id"] for f in a["features"]], word
        assert b["numberMatched"] == a["numberMatched"], word
    assert gpkg.query(q="2.14")["numberMatched"] > 0  # a dotted article number: the case that differed
    assert pg.query(q="bedrijfsgebouw", properties=[("artikelnummer", "2.14")])["numberMatched"] == 1
    assert pg.query(q="dakkapel")["numberMatched"] == 0
    # the Dutch configuration: another form of the word finds the article too
    assert "2.14" in [f["properties"]["artikelnummer"] for f in pg.query(q="bedrijfsgebouwen", limit=100)["features"]]
    with pytest.raises(ProviderInvalidQueryError):
        pg.query(q=" , ")
    with pytest.raises(ProviderInvalidQueryError):
        tsquery_terms(" ,  , ")
    assert tsquery_terms("&|!") is None


def test_q_on_a_table_without_tsv_is_refused(gemeentestad):
    data, dsn = gemeentestad
    _, pg = _pair(data, dsn, "ow_locatie", "object_id")
    with pytest.raises(ProviderInvalidQueryError, match="free-text search"):
        pg.query(q="bouwhoogte")


@pytest.fixture(scope="module")
def buildings(service_store, postgis_dsn):
    return _pair(service_store, postgis_dsn, "buildings", "identificatie", heights=["b3_h_maaiveld", "b3_h_dak_70p"])


HOSTILE = ["1'; DROP TABLE buildings; --", "%s", "%(x)s", "\\", "' OR 1=1 --", "\x00", "😀" * 100]


def test_hostile_values_give_400_or_nothing(buildings):
    _, pg = buildings
    for value in HOSTILE:
        for name in ("identificatie", "status", "oorspronkelijkbouwjaar", "b3_h_dak_70p"):
            try:
                out = pg.query(properties=[(name, value)])
            except ProviderInvalidQueryError:
                continue
            assert out["numberMatched"] == 0, (name, value)
        with pytest.raises(ProviderInvalidQueryError):
            pg.query(properties=[(value, "1")])
        with pytest.raises(ProviderItemNotFoundError):
            pg.get(value)
        like = {"op": "like", "args": [{"property": "identificatie"}, value + "%"]}
        hostile = parse_json({"op": "or", "args": [{"op": "=", "args": [{"property": "status"}, value]}, like]})
        try:
            assert pg.query(filterq=hostile)["numberMatched"] == 0, value
        except ProviderInvalidQueryError:
            assert "\x00" in value  # PostgreSQL text cannot hold a NUL byte: a 400
    with pytest.raises(ProviderInvalidQueryError):
        pg.query(filterq=parse_text("status > 3"))  # text against a number: the server's error is the client's
    with pytest.raises(ProviderInvalidQueryError):
        pg.query(filterq=parse_text('"no such column" = 1'))
    assert pg.query(limit=1)["numberMatched"] > 0  # the table is still there


def test_cql2_text_and_json_as_on_the_geopackage(buildings):
    gpkg, pg = buildings
    text = ("b3_h_dak_70p > 8 AND oorspronkelijkbouwjaar < 1960 AND "
            "S_INTERSECTS(geom, POLYGON((0 0, 300000 0, 300000 700000, 0 700000, 0 0)))")
    js = {"op": "or", "args": [{"op": "<", "args": [{"property": "b3_h_dak_70p"}, 6]},
                               {"op": "like", "args": [{"property": "identificatie"}, "%1"]}]}
    for f in (parse_text(text), parse_json(js), parse_text("NOT (status IS NULL) AND b3_h_dak_50p BETWEEN 5 AND 9")):
        a, b = gpkg.query(filterq=f, limit=50), pg.query(filterq=f, limit=50)
        assert b["numberMatched"] == a["numberMatched"] > 0
        assert [x["id"] for x in b["features"]] == [x["id"] for x in a["features"]]


def test_coordinates_as_the_geopackage_in_every_crs(buildings):
    from pygeoapi.crs import create_crs_transform_spec

    gpkg, pg = buildings
    for crs in ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/28992",
                "http://www.opengis.net/def/crs/EPSG/0/7415"):
        cfg = {"crs": [crs], "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/28992"}
        spec = create_crs_transform_spec(cfg, crs)
        for offset in (0, 37):
            a = gpkg.query(offset=offset, limit=10, crs_transform_spec=spec)
            b = pg.query(offset=offset, limit=10, crs_transform_spec=spec)
            assert b["features"] == a["features"], (crs, offset)
        ident = a["features"][0]["id"]
        assert pg.get(ident, crs_transform_spec=spec) == gpkg.get(ident, crs_transform_spec=spec)


@pytest.fixture
def small_pool(postgis_dsn, service_store, monkeypatch):
    """A provider whose pool (its own: another DSN string for the same database) holds one connection, waits
    0.3 s for it, and cancels statements after 200 ms."""
    monkeypatch.setenv("STADSMODEL_PG_POOL", "1")
    monkeypatch.setenv("STADSMODEL_PG_POOL_WAIT", "0.3")
    monkeypatch.setenv("STADSMODEL_PG_STATEMENT_TIMEOUT", "200")
    dsn = f"{postgis_dsn}?connect_timeout=9"
    _, pg = _pair(service_store, dsn, "buildings", "identificatie")
    return pg, dsn


def test_a_statement_past_the_timeout_and_a_full_pool_answer_busy(small_pool):
    import threading

    from services.providers.postgresql import StoreBusyError

    pg, _ = small_pool
    with pytest.raises(StoreBusyError, match="statement timeout"):
        with pg._connection() as con:
            con.execute("SELECT pg_sleep(2)")
    errors = []
    with pg._connection():  # the pool's only connection is taken
        waiter = threading.Thread(target=lambda: _catch(errors, pg.query, limit=1))
        waiter.start()
        waiter.join(5)
    assert [type(e).__name__ for e in errors] == ["StoreBusyError"]
    assert pg.query(limit=1)["numberMatched"] > 0  # free again


def test_connections_a_database_restart_killed_are_replaced(small_pool):
    import psycopg

    pg, dsn = small_pool
    assert pg.query(limit=1)["numberMatched"] > 0
    with psycopg.connect(dsn, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                               "application_name = 'stadsmodel' AND datname = current_database()").fetchone()[0]
    assert killed >= 1
    assert pg.query(limit=1)["numberMatched"] > 0  # the dead connection is checked and replaced, not lent


def _catch(errors: list, fn, **kwargs):
    try:
        fn(**kwargs)
    except Exception as e:  # noqa: BLE001 - the test inspects what was raised
        errors.append(e)
