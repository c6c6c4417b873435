"""The effective pygeoapi configuration for a data directory.

``pygeoapi-config.yml`` (repo root) holds server, metadata and processes; ``config/collections.yml``
describes each store layer. :func:`effective_config` adds one collection per layer actually present in
``DATA/stadsmodel.gpkg`` (layers missing from the table get a generic description), ``dtm``/``dsm``
coverages when the rasters exist, and the location-check process when its class is importable. With a
PostGIS DSN the same collections use pygeoapi's PostgreSQL provider (services.providers.postgresql).
"""

from __future__ import annotations

import copy
import importlib
import logging
import sqlite3
from pathlib import Path

import pyproj
import yaml
from pygeoapi.util import yaml_load

from services.providers.geopackage import RD_NAP_URI, RD_NEW_URI
from core.errors import ConfigError, InputError

LOGGER = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "pygeoapi-config.yml"
COLLECTIONS = ROOT / "config" / "collections.yml"
STORE = "stadsmodel.gpkg"

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOPACKAGE_PROVIDER = "services.providers.geopackage.GeoPackageProvider"
POSTGRESQL_PROVIDER = "services.providers.postgresql.PostgreSQLProvider"
CITYJSON_MEDIA_TYPE = "application/city+json"
CITYJSONSEQ_MEDIA_TYPE = "application/city+json-seq"


def load_collections_table(path: Path = COLLECTIONS) -> tuple[dict, dict]:
    """(defaults, collections) from config/collections.yml."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: {err}") from err
    collections = doc.get("collections") or {}
    if not isinstance(collections, dict):
        raise ConfigError(f"{path}: 'collections' must be a mapping of collection id to description")
    return doc.get("defaults") or {}, collections


def store_layers(gpkg: Path) -> dict[str, dict]:
    """Feature layers of a GeoPackage: name → {columns, bbox (RD), srs_id}."""
    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
        rows = con.execute(
            "SELECT c.table_name, c.min_x, c.min_y, c.max_x, c.max_y, g.srs_id FROM gpkg_contents c "
            "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'"
        ).fetchall()
        layers = {}
        for name, x0, y0, x1, y1, srs in rows:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{name}")')]
            if None in (x0, y0, x1, y1):
                x0, y0, x1, y1 = _rtree_bounds(con, name) or (None,) * 4
            layers[name] = {"columns": cols, "bbox": [x0, y0, x1, y1], "srs_id": srs}
        con.close()
        return layers
    except sqlite3.Error as err:
        raise InputError(gpkg, f"not a readable GeoPackage ({err})") from err


def _rtree_bounds(con: sqlite3.Connection, table: str):
    geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)).fetchone()
    try:
        return con.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{table}_{geom[0]}"').fetchone()
    except sqlite3.Error:
        return None


def _crs84_bbox(bbox_rd: list) -> list[float]:
    if None in bbox_rd:
        return [3.2, 50.7, 7.3, 53.6]  # the Netherlands, for an empty layer
    tr = pyproj.Transformer.from_crs("EPSG:28992", "OGC:CRS84", always_xy=True)
    return [round(v, 6) for v in tr.transform_bounds(*bbox_rd)]


def _title_case(name: str) -> str:
    return name.replace("_", " ").capitalize()


def effective_config(data_dir: Path, base_url: str, postgres: str | None = None,
                     host: str = "127.0.0.1", port: int = 8000) -> dict:
    """The pygeoapi configuration for ``data_dir`` served at ``base_url`` (e.g. http://host:8000/api)."""
    data_dir = Path(data_dir)
    gpkg = data_dir / STORE
    if not gpkg.is_file():
        raise InputError(gpkg, "no store here; run `stadsmodel build` first (or pass the model directory)")
    with TEMPLATE.open(encoding="utf-8") as f:
        cfg = yaml_load(f)
    cfg["server"]["url"] = base_url.rstrip("/")
    cfg["server"]["bind"] = {"host": host, "port": port}
    defaults, table = load_collections_table()
    resources = {}
    pg_keys = _postgis_keys(postgres) if postgres else {}

    for name, layer in store_layers(gpkg).items():
        entry = {**defaults, **(table.get(name) or {})}
        if entry.get("kind", "features") != "features":
            continue
        id_field = entry.get("id_field", "identificatie")
        if id_field not in layer["columns"]:
            id_field = "fid" if "fid" in layer["columns"] else layer["columns"][0]
        heights = entry.get("heights")
        if heights and not all(h in layer["columns"] for h in heights):
            heights = None
        if postgres:
            provider = {
                "type": "feature", "name": POSTGRESQL_PROVIDER, "data": postgres, "table": name,
                "id_field": pg_keys.get(name, id_field), "geom_field": "geom",
                "storage_crs": RD_NEW_URI, "crs": [CRS84, RD_NEW_URI],
            }
        else:
            provider = {
                "type": "feature", "name": GEOPACKAGE_PROVIDER, "data": str(gpkg), "table": name,
                "id_field": id_field, "storage_crs": RD_NEW_URI,
                "crs": [CRS84, RD_NEW_URI] + ([RD_NAP_URI] if heights else []),
            }
            if heights:
                provider["heights"] = heights
        if entry.get("title_field") in layer["columns"]:
            provider["title_field"] = entry["title_field"]
        links = []
        if entry.get("cityjson"):
            links.append({"type": CITYJSONSEQ_MEDIA_TYPE, "rel": "alternate", "title": "Items as CityJSONSeq",
                          "href": f"{cfg['server']['url']}/collections/{name}/items?f=cityjson"})
        resources[name] = {
            "type": "collection",
            "title": entry.get("title", _title_case(name)),
            "description": entry.get("description", f"Layer {name} of the Stadsmodel store."),
            "keywords": list(entry.get("keywords") or ["stadsmodel"]),
            "links": links,
            "extents": {"spatial": {"bbox": _crs84_bbox(layer["bbox"]), "crs": CRS84}},
            "providers": [provider],
        }

    for name, entry in table.items():
        if entry.get("kind") != "coverage":
            continue
        raster = data_dir / entry["file"]
        if not raster.is_file():
            continue
        resources[name] = {
            "type": "collection",
            "title": entry.get("title", name),
            "description": entry.get("description", f"Raster {entry['file']}"),
            "keywords": list(entry.get("keywords") or ["stadsmodel"]),
            "links": [],
            "extents": {"spatial": {"bbox": _raster_bbox(raster), "crs": CRS84}},
            "providers": [{
                "type": "coverage", "name": "rasterio", "data": str(raster),
                "options": {"DATA_ENCODING": "COMPRESSION=DEFLATE"},
                "format": {"name": "GTiff", "mimetype": "application/x-geotiff"},
            }],
        }

    for name, res in list(cfg.get("resources", {}).items()):
        if res.get("type") != "process":
            continue
        if not _importable(res["processor"]["name"]):
            LOGGER.warning("process %s not served: %s cannot be imported", name, res["processor"]["name"])
            del cfg["resources"][name]
            continue
        res["processor"]["data"] = str(data_dir)  # the processes read the same data directory
    cfg["resources"] = {**resources, **cfg.get("resources", {})}
    return copy.deepcopy(cfg)


def _raster_bbox(path: Path) -> list[float]:
    import rasterio

    with rasterio.open(path) as src:
        b = src.bounds
        crs = src.crs.to_string() if src.crs else "EPSG:28992"
    tr = pyproj.Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)
    return [round(v, 6) for v in tr.transform_bounds(b.left, b.bottom, b.right, b.top)]


def _importable(dotted: str) -> bool:
    module, _, cls = dotted.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), cls)
    except Exception as err:  # any import-time failure means: do not register it
        LOGGER.warning("cannot import %s: %s", dotted, err)
        return False


def _postgis_keys(dsn: str) -> dict[str, str]:
    """Primary-key column per table in PostGIS (services.load chose them); the PostgreSQL provider needs them."""
    import psycopg

    sql = ("SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
           "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
           "AND tc.table_schema = kcu.table_schema "
           "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'")
    try:
        with psycopg.connect(dsn) as con:
            return dict(con.execute(sql).fetchall())
    except psycopg.Error as err:
        raise ConfigError(f"PostGIS {dsn!r}: {err}") from err
