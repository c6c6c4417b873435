"""Fixtures for the OGC API service: a small store from real data, a real PostGIS, and live servers.

The store (``service_store``) is written with the store's column names (README, "The store") from real
crops in ../shared/data: BAG panden of the Wippolder, Delft (footprints and BAG attributes) and BAG
verblijfsobjecten of Amsterdam (address points). The Wippolder crop carries no AHN heights, so the b3_*
heights are derived deterministically from the pand id (documented in ``_heights``); tests that need heights
lifted from points serve an ETL-built district instead (test_built_store_postgis.py, test_cityjson_percentile.py).
Rasters are a small DTM/DSM pair, and ``tiles/`` holds the real (partial) 3DBAG Sibbe 3D Tiles sample.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest

from scripts.tools import free_port
from tests.conftest import SHARED_DATA, missing_tier

WIPPOLDER = SHARED_DATA / "geoflow-bag-wippolder-delft" / "wippolder.gpkg"
AMSTERDAM_BAG = SHARED_DATA / "pdok-gokoala-bag-amsterdam" / "bag.gpkg"
SIBBE_TILES = SHARED_DATA / "pg2b3dm-3dtiles" / "3dbag-sibbe-1.1-PARTIAL"


def _heights(identificatie: str) -> tuple[float, float]:
    """(maaiveld, roof p70) for a pand: ground around NAP -0.5 m, 3 to 21 m tall, stable per id."""
    k = zlib.crc32(identificatie.encode())
    return round(-0.5 + (k % 7) * 0.05, 2), round(-0.5 + 3.0 + (k % 19), 2)


def write_store(out: Path) -> Path:
    """Write ``out/stadsmodel.gpkg`` (+ rasters, tiles) from the real crops; returns ``out``."""
    import geopandas as gpd
    import pyogrio
    import rasterio
    from rasterio.transform import from_origin

    for p in (WIPPOLDER, AMSTERDAM_BAG):
        if not p.exists():
            missing_tier(f"real sample data not available: {p}")
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "stadsmodel.gpkg"

    panden = pyogrio.read_dataframe(WIPPOLDER)
    ids = "NL.IMBAG.Pand." + panden["identificatie"].str.zfill(16)
    h = [_heights(i) for i in ids]
    maaiveld = np.array([a for a, _ in h])
    dak70 = np.array([b for _, b in h])
    buildings = gpd.GeoDataFrame({
        "identificatie": ids,
        "oorspronkelijkbouwjaar": panden["bouwjaar"].astype("Int64"),
        "status": panden["status"],
        "gebruiksdoel": panden["gebruiksdoel"],
        "aantal_verblijfsobjecten": panden["aantal_verblijfsobjecten"].astype("Int64"),
        "b3_h_maaiveld": maaiveld,
        "b3_h_dak_min": dak70 - 1.5,
        "b3_h_dak_50p": dak70 - 0.5,
        "b3_h_dak_70p": dak70,
        "b3_h_dak_max": dak70 + 1.0,
        "b3_n_punten": (panden.area * 8).round().astype("int64"),
        "b3_puntdichtheid": np.full(len(panden), 8.0),
        "b3_reconstructie_onvolledig": panden["kas_warenhuis"].astype(bool),
        "b3_onvolledig_reden": np.where(panden["kas_warenhuis"], "kas/warenhuis", None),
        "bron": "BAG",
    }, geometry=panden.geometry.values, crs="EPSG:28992")
    pyogrio.write_dataframe(buildings, gpkg, layer="buildings")

    vbo = pyogrio.read_dataframe(AMSTERDAM_BAG, layer="verblijfsobjecten")
    vbo = vbo.drop_duplicates("nummer_id")
    addresses = gpd.GeoDataFrame({
        "identificatie": "NL.IMBAG.Verblijfsobject." + vbo["nummer_id"],
        "pand_identificatie": None,
        "openbareruimte": vbo["straatnaam"],
        "huisnummer": vbo["huisnummer"],
        "huisletter": vbo["huisletter"],
        "huisnummertoevoeging": vbo["toevoeging"],
        "postcode": vbo["postcode"],
        "woonplaats": vbo["woonplaats"],
        "gebruiksdoel": None,
        "oppervlakte": None,
        "status": vbo["status"],
    }, geometry=vbo.geometry.values, crs="EPSG:28992")
    pyogrio.write_dataframe(addresses, gpkg, layer="addresses")

    # A layer config/collections.yml does not describe: must still be served, generically.
    extra = buildings[["identificatie", "geometry"]].iloc[:5].copy()
    extra["naam"] = [f"vlak {i}" for i in range(len(extra))]
    pyogrio.write_dataframe(extra, gpkg, layer="proef_vlakken")

    x0, y1 = 85280.0, 447170.0
    dtm = (np.add.outer(np.arange(40) * -0.01, np.arange(40) * 0.02) - 0.4).astype("float32")
    for name, grid in (("dtm.tif", dtm), ("dsm.tif", dtm + 6.0)):
        with rasterio.open(out / name, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
                           crs="EPSG:28992", transform=from_origin(x0, y1, 5.0, 5.0), nodata=-9999.0) as dst:
            dst.write(grid, 1)

    if SIBBE_TILES.is_dir():
        shutil.copytree(SIBBE_TILES, out / "tiles" / "sibbe")
    return out


@pytest.fixture(scope="session")
def service_store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("service") / "model")


@pytest.fixture(scope="session")
def roof_store(tmp_path_factory):
    """(model directory, panden by role) of the roof store (tests/services/roofs.py)."""
    from tests.services.roofs import write_roof_store

    model = tmp_path_factory.mktemp("roofs") / "model"
    return model, write_roof_store(model)


class LivePostgres:
    """A throwaway PostgreSQL + PostGIS cluster run as the `postgres` user on a free loopback port.

    Use ``LivePostgres.started()``: it finds the binaries and turns any failure into ``missing_tier``.
    """

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="stadsmodel-pg-"))
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/stadsmodel"

    def _as_postgres(self, *cmd: str) -> None:
        prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run(prefix + list(cmd), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        data = self.dir / "data"
        self._as_postgres(str(self.bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                          "--encoding=UTF8", "--locale=C")
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.dir / "log"),
                          "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                                f"-c unix_socket_directories={self.dir} -c fsync=off", "start")
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE stadsmodel")
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")

    def stop(self) -> None:
        try:
            if (self.dir / "data" / "postmaster.pid").exists():
                self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                                  "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def started(cls, bindir: Path | None = None) -> LivePostgres:
        """A running cluster with the ``stadsmodel`` database and PostGIS, or ``missing_tier`` saying why not.

        ``bindir``: the server's bin directory; found with ``scripts.tools.find_pg_bindir`` when not given."""
        import psycopg

        from scripts.tools import PG_SETUP, find_pg_bindir

        bindir = bindir or find_pg_bindir()
        if bindir is None:
            missing_tier("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under "
                         f"/usr/lib/postgresql/*/bin, pg_config --bindir or PATH: {PG_SETUP}")
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            missing_tier("running as root without runuser: cannot start PostgreSQL as the postgres user")
        pg = cls(bindir)
        try:
            pg.start()
        except subprocess.CalledProcessError as err:
            reason = f"could not start PostgreSQL ({bindir}): {err.stderr.decode(errors='replace')[-400:].strip()}"
        except OSError as err:  # e.g. the tool is not executable
            reason = f"could not start PostgreSQL ({bindir}): {err}"
        except subprocess.TimeoutExpired as err:
            reason = f"PostgreSQL ({bindir}) did not start within {err.timeout} s"
        except psycopg.Error as err:
            reason = (f"PostgreSQL ({bindir}) runs but PostGIS does not: {err} "
                      f"(Debian: apt install postgresql-<major>-postgis-3)")
        else:
            return pg
        pg.stop()
        missing_tier(reason)


@pytest.fixture(scope="session")
def postgis_dsn(service_store) -> str:
    """A live PostGIS holding the service store (loaded with services.load.load_postgis)."""
    pg = LivePostgres.started()
    from services.load import load_postgis

    load_postgis(service_store, pg.dsn)
    yield pg.dsn
    pg.stop()


class LiveServer:
    """The real server, `stadsmodel serve`, in a process of its own on a free loopback port.

    A process per server, not a thread: pygeoapi caches its translated configuration per locale in a module
    global (pygeoapi.l10n._cfg_cache), so two apps with different collections in one process would render
    each other's HTML pages (schemathesis found the 500s that gives)."""

    def __init__(self, data: Path, postgres: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "stadsmodel.cli", "serve", "--data", str(data),
                    "--host", "127.0.0.1", "--port", str(self.port)]
        if postgres:
            self.cmd += ["--postgres", postgres]
        self.process: subprocess.Popen | None = None
        # a file, not a pipe: a pipe nobody reads fills up with the server's log and then blocks it
        self.log = tempfile.TemporaryFile(mode="w+")

    def __enter__(self) -> LiveServer:
        self.process = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api?f=json", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                self.log.seek(0)
                raise RuntimeError(f"server did not start: {self.log.read()[-2000:]}")
            time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def gpkg_server(service_store):
    with LiveServer(service_store) as server:
        yield server


@pytest.fixture(scope="session")
def postgis_server(service_store, postgis_dsn):
    with LiveServer(service_store, postgres=postgis_dsn) as server:
        yield server


@pytest.fixture(params=["geopackage", "postgis"], scope="session")
def server(request):
    """The API on each backend in turn: the GeoPackage store and PostGIS."""
    return request.getfixturevalue("gpkg_server" if request.param == "geopackage" else "postgis_server")


@pytest.fixture(scope="session")
def enveloped(zoned_district, tmp_path_factory) -> Path:
    """A copy of the zoned synthetic district with its bouwenvelop layer written (etl.envelopes)."""
    from etl.envelopes import write_envelopes

    model = Path(shutil.copytree(zoned_district.model, tmp_path_factory.mktemp("bouwenvelop") / "model"))
    write_envelopes(model)
    return model
