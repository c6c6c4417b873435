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
import json
import logging
import os
import sqlite3
from functools import lru_cache
from pathlib import Path

import pyproj
from pygeoapi.util import yaml_load

from core import gpkg as geopackage
from core.config import ROOT, collections_config, pipeline_config
from core.crs import CRS84_URI, RD_NAP_URI, RD_NEW, RD_NEW_URI
from core.errors import ConfigError, InputError
from core.products import REPORT_NAME, STORE_NAME

LOGGER = logging.getLogger(__name__)

TEMPLATE = ROOT / "pygeoapi-config.yml"

GEOPACKAGE_PROVIDER = "services.providers.geopackage.GeoPackageProvider"
POSTGRESQL_PROVIDER = "services.providers.postgresql.PostgreSQLProvider"
CITYJSON_MEDIA_TYPE = "application/city+json"
CITYJSONSEQ_MEDIA_TYPE = "application/city+json-seq"


def load_collections_table(path: Path | None = None) -> tuple[dict, dict]:
    """(defaults, collections) from config/collections.yml (checked against config/collections.schema.json)."""
    doc = collections_config(path)
    return doc.get("defaults") or {}, doc["collections"]


def store_layers(gpkg: Path) -> dict[str, dict]:
    """Feature layers of a GeoPackage: name → {columns, bbox (RD; None values for an empty layer), srs_id}.
    Attributes tables (no geometry: building_solids, which f=cityjson reads) are no collections."""
    try:
        con = geopackage.connect(gpkg)
        try:
            layers = geopackage.feature_layers(con)
        finally:
            con.close()
    except sqlite3.Error as err:
        raise InputError(gpkg, f"not a readable GeoPackage ({err})") from err
    return {name: {"columns": list(layer.columns), "bbox": list(layer.extent or (None,) * 4), "srs_id": layer.srs_id}
            for name, layer in layers.items()}


def lod12_roof_percentile(data_dir: Path) -> int:
    """The roof percentile of the LoD1.2 blocks in ``data_dir``: the one its build used (report.json ``model``),
    so ``f=cityjson`` serves the model the files hold; config/pipeline.yml's for a store without that record.
    Read again when report.json changes: a rebuild under a running server may use another percentile."""
    report = Path(data_dir) / REPORT_NAME
    try:
        stamp = report.stat().st_mtime_ns
    except FileNotFoundError:
        stamp = None
    return _recorded_percentile(report, stamp)


@lru_cache(maxsize=8)
def _recorded_percentile(report: Path, stamp: int | None) -> int:
    try:
        doc = json.loads(report.read_text(encoding="utf-8")) if stamp is not None else {}
    except FileNotFoundError:
        doc = {}
    except (OSError, ValueError) as err:
        raise InputError(report, f"not a readable build report ({err})") from err
    model = doc.get("model") if isinstance(doc, dict) else None
    if isinstance(model, dict) and "lod12_roof_percentile" in model:
        percentile = model["lod12_roof_percentile"]
        # the range config/pipeline.schema.json allows: b3_h_dak_<p>p columns of 1 to 99
        if not isinstance(percentile, int) or isinstance(percentile, bool) or not 1 <= percentile <= 99:
            raise InputError(report, f"model.lod12_roof_percentile: {percentile!r} is not a percentile (1..99)")
        return percentile
    return int(pipeline_config()["lifting"]["lod12_roof_percentile"])


def _crs84_bbox(bbox_rd: list) -> list[float]:
    if None in bbox_rd:
        return [3.2, 50.7, 7.3, 53.6]  # the Netherlands, for an empty layer
    tr = pyproj.Transformer.from_crs(RD_NEW, "OGC:CRS84", always_xy=True)
    return [round(v, 6) for v in tr.transform_bounds(*bbox_rd)]


def _title_case(name: str) -> str:
    return name.replace("_", " ").capitalize()


def api_url(host: str, port: int) -> str:
    """Where ``serve --host --port`` publishes the API: below STADSMODEL_PUBLIC_URL behind a proxy."""
    return os.environ.get("STADSMODEL_PUBLIC_URL", f"http://{host}:{port}").rstrip("/") + "/api"


def effective_config(data_dir: Path, base_url: str | None = None, postgres: str | None = None,
                     host: str = "127.0.0.1", port: int = 8000) -> dict:
    """The pygeoapi configuration for ``data_dir`` served at ``base_url`` (default :func:`api_url`), as a plain
    dict (YAML-serialisable). Reads the data directory's metadata only; starts nothing."""
    data_dir = Path(data_dir)
    base_url = base_url or api_url(host, port)
    gpkg = data_dir / STORE_NAME
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
                "storage_crs": RD_NEW_URI, "crs": [CRS84_URI, RD_NEW_URI] + ([RD_NAP_URI] if heights else []),
            }
            if heights:
                provider["heights"] = heights
        else:
            provider = {
                "type": "feature", "name": GEOPACKAGE_PROVIDER, "data": str(gpkg), "table": name,
                "id_field": id_field, "storage_crs": RD_NEW_URI,
                "crs": [CRS84_URI, RD_NEW_URI] + ([RD_NAP_URI] if heights else []),
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
            "extents": {"spatial": {"bbox": _crs84_bbox(layer["bbox"]), "crs": CRS84_URI}},
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
            "extents": {"spatial": {"bbox": _raster_bbox(raster), "crs": CRS84_URI}},
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
        crs = src.crs.to_string() if src.crs else RD_NEW
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
