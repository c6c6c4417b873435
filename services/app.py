"""The ASGI application: pygeoapi at ``/api``, 3D Tiles at ``/tiles``, CesiumJS at ``/cesium``, the viewer at ``/``.

URL layout (the viewer relies on it):

* ``/``            the viewer (``viewer/``), or a redirect to ``/api`` while there is none
* ``/cesium/``     ``node_modules/cesium/Build/Cesium``
* ``/styles/``     3D Tiles styles (``styles/``)
* ``/tiles/``      the 3D Tiles in ``DATA/tiles/``: what the tilesets reference, nothing else (services.tilefiles)
* ``/api``         OGC API landing page; ``/api/collections``, ``/api/processes``, ``/api/openapi``, ...
* ``/openapi``     redirects to ``/api/openapi``

* ``/health``      200 when the store and rasters are readable, else 503 (services.health)

The pygeoapi request handlers are called directly (not pygeoapi's own Starlette app, which reads its
configuration from environment variables at import time). This module adds what pygeoapi lacks: a 400 for
unknown query parameters and for the values pygeoapi would fail on (services.params, services.filters),
exact ``bbox`` areas (services.bbox), the conformance classes this deployment really meets, ``f=cityjson``,
request limits (services.limits), and one rule for errors: a client's mistake is a 4xx saying what is
wrong, anything else a 5xx with a generic message, the details in the log only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import os
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlencode

import pygeoapi.api as core_api
import pygeoapi.api.coverages as coverages_api
import pygeoapi.api.itemtypes as itemtypes_api
import pygeoapi.api.processes as processes_api
from pygeoapi.api import API, APIRequest, apply_gzip
from pygeoapi.openapi import get_oas
from pygeoapi.plugin import load_plugin
from pygeoapi.util import render_j2_template
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.config import ROOT
from core.crs import RD_NAP_URI, RD_NEW_URI, epsg_uri
from core.products import TILES_DIR
from services import bbox as exact_bbox
from services import health, html_check, jsontext
from services.cityjson import StoredSolids, cityjson_feature, cityjsonseq, envelope_feature, envelopes_seq
from services.config import (
    CITYJSON_MEDIA_TYPE,
    CITYJSONSEQ_MEDIA_TYPE,
    POSTGRESQL_PROVIDER,
    effective_config,
    lod12_roof_percentile,
)
from services.filters import filter_problem, normalised_filter, parse_cql2_text
from services.limits import RequestGuard, ServerLimits
from services.middleware import ResponseRules, server_error
from services.openapi import self_contained
from services.params import (
    ClientError,
    coverage_request,
    items_problem,
    parsed_json,
    rewritten,
    without_refused_choices,
)
from services.tilefiles import TileFiles

LOGGER = logging.getLogger(__name__)
jsontext.install()  # JSON bodies keep "<" and ">" (services.jsontext)

VIEWER_DIR = ROOT / "viewer"
CESIUM_DIR = ROOT / "node_modules" / "cesium" / "Build" / "Cesium"
STYLES_DIR = ROOT / "styles"
PYGEOAPI_STATIC = Path(core_api.__file__).resolve().parent.parent / "static"

# 3D Tiles content types (3D Tiles 1.1 spec, "Media types"); .json is known to mimetypes already.
for _ext, _type in {".glb": "model/gltf-binary", ".gltf": "model/gltf+json", ".b3dm": "application/octet-stream",
                    ".pnts": "application/octet-stream", ".i3dm": "application/octet-stream",
                    ".cmpt": "application/octet-stream", ".subtree": "application/octet-stream",
                    ".jsonl": "application/city+json-seq"}.items():
    mimetypes.add_type(_type, _ext)

# What this deployment really meets; pygeoapi's own list also claims e.g. transactions (Part 4).
FEATURES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
]
COVERAGES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/geodata-coverage",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-subset",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-rangesubset",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-bbox",
]
PROCESSES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
]

GEOJSON_MEDIA_TYPE = "application/geo+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
# A query longer than this is written once in the Link header (self), not once per alternate encoding.
LINK_QUERY_MAX = 1024
# pygeoapi reprojects a bbox by two corners; services.bbox reprojects the whole box, exactly.
itemtypes_api.transform_bbox = exact_bbox.transform_bbox
# pygeoapi leaves the corners of BBOX in a text filter unprojected; this parser makes them polygons, which it
# reprojects (services.filters).
itemtypes_api.parse_cql2_text = parse_cql2_text
# The encodings pygeoapi offers for items (``f`` value → media type); buildings add CityJSONSeq.
ITEMS_FORMATS = {"json": GEOJSON_MEDIA_TYPE, "html": "text/html", "jsonld": "application/ld+json",
                 "csv": "text/csv; charset=utf-8"}

ROUTED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ITEMS_ALLOW = "GET, HEAD, POST, OPTIONS"  # POST: a CQL2 JSON filter
ITEM_ALLOW = "GET, HEAD, OPTIONS"

# Query parameters each endpoint understands; anything else is a 400 (OGC API Features /req/core/query-param-unknown).
COMMON_PARAMS = {"f", "lang"}
ITEMS_PARAMS = {"bbox", "bbox-crs", "crs", "limit", "offset", "resulttype", "sortby", "properties",
                "skipGeometry", "filter", "filter-lang", "filter-crs", "datetime"}
ENDPOINT_PARAMS = {
    "item": {"crs"},
    "queryables": {"profile", "properties"},
    "schema": set(),
    "coverage": {"bbox", "bbox-crs", "datetime", "subset", "subset-crs", "properties", "scale-factor",
                 "scale-axes", "scale-size"},
    "processes": {"limit"},
    "jobs": {"limit", "offset"},
    "plain": set(),
}


def conformance_classes(config: dict) -> list[str]:
    kinds = {p["type"] for r in config["resources"].values() if r["type"] == "collection" for p in r["providers"]}
    out = list(core_api.CONFORMANCE_CLASSES)
    if "feature" in kinds:
        out += FEATURES_CONFORMANCE
    if "coverage" in kinds:
        out += COVERAGES_CONFORMANCE
    if any(r["type"] == "process" for r in config["resources"].values()):
        out += PROCESSES_CONFORMANCE
    return sorted(set(out))


class StadsmodelAPI:
    """pygeoapi's API object plus the Stadsmodel additions, adapted to Starlette requests."""

    def __init__(self, config: dict, data_dir: Path):
        self.config = config
        self.data_dir = data_dir
        self.openapi = self_contained(get_oas(config, fail_on_invalid_collection=False))
        self.api = API(config, self.openapi)
        self.conformance = conformance_classes(config)
        self.fields: dict[str, dict[str, dict]] = {}  # collection → property → JSON Schema ({"type": ...})
        self.fulltext: set[str] = set()  # collections whose provider answers q= (a full-text index, e.g. regels)
        # collection → where its buildings' LoD1.3/2.2 solids are; None: each row carries its own solid (bouwenvelop)
        self.cityjson: dict[str, StoredSolids | None] = {}
        self.rasters: dict[str, dict] = {}
        for name, res in config["resources"].items():
            if res["type"] != "collection":
                continue
            provider = res["providers"][0]
            if provider["type"] == "feature":
                plugin = load_plugin("provider", provider)
                self.fields[name] = dict(plugin.fields)
                if getattr(plugin, "fulltext", False):
                    self.fulltext.add(name)
                if any(link["type"] == CITYJSONSEQ_MEDIA_TYPE for link in res.get("links", [])):
                    # the solids live beside the features: the same GeoPackage, or the same PostGIS database
                    postgis = provider["name"] == POSTGRESQL_PROVIDER
                    self.cityjson[name] = None if "solid" in plugin.fields else \
                        StoredSolids(dsn=provider["data"]) if postgis else StoredSolids(gpkg=Path(provider["data"]))
            elif provider["type"] == "coverage":
                self.rasters[name] = _raster_frame(provider["data"])

    # -- plumbing ---------------------------------------------------------------------------------

    async def _call(self, function, request: Request, *args, check_format: bool = True) -> Response:
        """Run a pygeoapi handler in a worker thread. ``check_format=False`` where the handler itself checks
        ``f`` against per-collection formats (items, coverage), as pygeoapi's own adapters do."""
        api_request = await APIRequest.from_starlette(without_refused_choices(request), self.api.locales)
        if check_format and not api_request.is_valid():
            headers, status, content = self.api.get_format_exception(api_request)
        else:
            loop = asyncio.get_running_loop()
            headers, status, content = await loop.run_in_executor(
                None, _call_in_thread, loop, function, self.api, api_request, *args)
            if status != HTTPStatus.NO_CONTENT:
                content = apply_gzip(headers, content)
        return _response(headers, status, content)

    def _bad_request(self, request: Request, message: str) -> Response:
        headers = {"Content-Type": "application/json"}
        body = {"code": "InvalidParameterValue", "description": message}
        return JSONResponse(body, status_code=400, headers=headers)

    def _unknown_params(self, request: Request, allowed: set[str]) -> Response | None:
        unknown = sorted(set(request.query_params) - COMMON_PARAMS - allowed)
        if unknown:
            return self._bad_request(request, f"unknown query parameter(s): {', '.join(unknown)}; "
                                              f"allowed here: {', '.join(sorted(COMMON_PARAMS | allowed))}")
        return None

    def guarded(self, endpoint: str, function, *path_params: str):
        async def handler(request: Request) -> Response:
            rejected = self._unknown_params(request, ENDPOINT_PARAMS[endpoint])
            if rejected is not None:
                return rejected
            if endpoint == "coverage":
                raster = self.rasters.get(request.path_params["collection_id"])
                if raster is not None:
                    try:
                        request = coverage_request(request, raster)
                    except ClientError as err:
                        return self._bad_request(request, str(err))
            return await self._call(function, request, *(request.path_params[p] for p in path_params),
                                    check_format=endpoint != "coverage")
        return handler

    async def health(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        status, body = await loop.run_in_executor(None, health.health_report, self.config)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    # -- endpoints with Stadsmodel behaviour --------------------------------------------------------

    async def conformance_page(self, request: Request) -> Response:
        rejected = self._unknown_params(request, set())
        if rejected is not None:
            return rejected
        classes = self.conformance

        def conformance(api: API, api_request: APIRequest):
            headers = api_request.get_response_headers(**api.api_headers)
            doc = {"conformsTo": classes}
            if api_request.format == "html":
                return headers, HTTPStatus.OK, render_j2_template(
                    api.tpl_config, api.config["server"]["templates"], "conformance.html", doc, api_request.locale)
            return headers, HTTPStatus.OK, jsontext.to_json(doc, api.pretty_print)

        return await self._call(conformance, request)

    async def items(self, request: Request) -> Response:
        collection = request.path_params["collection_id"]
        if request.method == "OPTIONS":
            response = await self._call(itemtypes_api.manage_collection_item, request, "options", collection)
            return _with_allow(response, ITEMS_ALLOW)
        if request.method not in ("GET", "HEAD", "POST"):
            return _read_only(request, ITEMS_ALLOW)
        if request.method == "POST" and request.headers.get("content-type", "").startswith("application/geo+json"):
            return self._bad_request(request, "collections are read only; POST takes a CQL2 JSON filter")
        fields = self.fields.get(collection, {})
        rejected = self._unknown_params(request, ITEMS_PARAMS | set(fields) | ({"q"} if collection in self.fulltext
                                                                               else set()))
        if rejected is not None:
            return rejected
        problem = items_problem(request)
        if problem:
            return self._bad_request(request, problem)
        if request.method == "POST" or request.query_params.get("filter-lang") == "cql2-json":
            try:
                body = parsed_json(await request.body() if request.method == "POST"
                                   else request.query_params.get("filter", "").encode())
            except ClientError as err:
                return self._bad_request(request, f"the filter must be CQL2 JSON: {err}")
            if not isinstance(body, dict):
                return self._bad_request(request, "the request body must be a CQL2 JSON filter (a JSON object)")
        request = await normalised_filter(request)
        problem = await filter_problem(request, collection, fields)
        if problem:
            return self._bad_request(request, problem)
        if _wants_cityjson(request):
            if collection not in self.cityjson:
                return self._bad_request(request, f"f=cityjson is offered for {sorted(self.cityjson)} only")
            return await self._cityjson_items(request, collection)
        return await self._call(_feature_items, request, collection, collection in self.cityjson, check_format=False)

    async def item(self, request: Request) -> Response:
        collection, item_id = request.path_params["collection_id"], request.path_params["item_id"]
        if request.method == "OPTIONS":
            response = await self._call(itemtypes_api.manage_collection_item, request, "options", collection,
                                        item_id)
            return _with_allow(response, ITEM_ALLOW)
        if request.method not in ("GET", "HEAD"):
            return _read_only(request, ITEM_ALLOW)
        rejected = self._unknown_params(request, ENDPOINT_PARAMS["item"])
        if rejected is not None:
            return rejected
        if _wants_cityjson(request):
            if collection not in self.cityjson:
                return self._bad_request(request, f"f=cityjson is offered for {sorted(self.cityjson)} only")
            return await self._cityjson_item(request, collection, item_id)
        return await self._call(_feature_item, request, collection, item_id)

    async def _geojson_rd(self, request: Request, function, *args) -> tuple[int, dict | bytes]:
        """Run a pygeoapi items/item call as GeoJSON in RD New, whatever f/crs/properties were asked."""
        params = [(k, v) for k, v in request.query_params.multi_items()
                  if k not in ("f", "crs", "properties", "skipGeometry")]
        params += [("f", "json"), ("crs", RD_NEW_URI)]
        response = await self._call(function, rewritten(request, params, drop_headers=(b"accept", b"accept-encoding")),
                                    *args)
        return response.status_code, (json.loads(response.body) if response.status_code == 200 else response)

    async def execute(self, request: Request) -> Response:
        rejected = self._unknown_params(request, set())
        if rejected is not None:
            return rejected
        try:
            body = parsed_json(await request.body())
        except ClientError as err:
            return self._bad_request(request, str(err))
        if not isinstance(body, dict):
            # pygeoapi answers a non-object body with a 500
            return self._bad_request(request, 'the request body must be a JSON object {"inputs": {...}}')
        return await self._call(processes_api.execute_process, request, request.path_params["process_id"])

    async def _cityjson_items(self, request: Request, collection: str) -> Response:
        status, body = await self._geojson_rd(request, itemtypes_api.get_collection_items, collection)
        if status != 200:
            return body
        title = self.config["resources"][collection]["title"]
        text = await asyncio.get_running_loop().run_in_executor(None, self._cityjsonseq, collection,
                                                                body["features"], str(title))
        headers = {"Content-Crs": f"<{RD_NAP_URI}>"}
        if "numberMatched" in body:
            headers["OGC-NumberMatched"] = str(body["numberMatched"])
        return Response(text, media_type=CITYJSONSEQ_MEDIA_TYPE, headers=headers)

    async def _cityjson_item(self, request: Request, collection: str, item_id: str) -> Response:
        status, body = await self._geojson_rd(request, itemtypes_api.get_collection_item, collection, item_id)
        if status != 200:
            return body
        if self.cityjson[collection] is None:
            doc = envelope_feature(body["properties"])
        else:
            ident = str(body["properties"].get("identificatie"))
            solids = await asyncio.get_running_loop().run_in_executor(None, self.cityjson[collection].for_ids,
                                                                      [ident])
            doc = cityjson_feature(body["properties"], body.get("geometry"), lod12_roof_percentile(self.data_dir),
                                   solids.get(ident, []))
        return JSONResponse(doc, media_type=CITYJSON_MEDIA_TYPE, headers={"Content-Crs": f"<{RD_NAP_URI}>"})

    def _cityjsonseq(self, collection: str, features: list[dict], title: str) -> str:
        if self.cityjson[collection] is None:
            return envelopes_seq(features, title)
        ids = [str(f["properties"].get("identificatie")) for f in features]
        return cityjsonseq(features, title, lod12_roof_percentile(self.data_dir),
                           self.cityjson[collection].for_ids(ids))


# -- pygeoapi handlers with the OGC details pygeoapi 0.24 misses -----------------------------------------


def _feature_items(api: API, api_request: APIRequest, collection: str, cityjson: bool):
    """Items as ``application/geo+json`` (Features /req/geojson/content; pygeoapi says application/json),
    with a Link header: self/alternate encodings and the Queryables (Features Part 3
    /req/queryables/get-queryables-uris asks for it on the filterable resource, HEAD included)."""
    headers, status, content = itemtypes_api.get_collection_items(api, api_request, collection)
    if status == HTTPStatus.OK:
        _as_geojson(headers)
        headers["Link"] = _items_link_header(api.config["server"]["url"], collection, api_request.params,
                                             headers.get("Content-Type", ""), cityjson)
    return headers, status, content


def _feature_item(api: API, api_request: APIRequest, collection: str, item_id: str):
    headers, status, content = itemtypes_api.get_collection_item(api, api_request, collection, item_id)
    if status == HTTPStatus.OK:
        _as_geojson(headers)
    return headers, status, content


def _as_geojson(headers: dict) -> None:
    if headers.get("Content-Type") == "application/json":
        headers["Content-Type"] = GEOJSON_MEDIA_TYPE


def _items_link_header(base: str, collection: str, params, content_type: str, cityjson: bool) -> str:
    """Self, alternates, collection and queryables. A long query (a big filter) is written in the self link
    only; the alternates then point at the items without it (the body's links carry the full query)."""
    url = f"{base}/collections/{collection}"
    query = [(k, v) for k, v in params.items() if k != "f"]
    formats = {**ITEMS_FORMATS, **({"cityjson": CITYJSONSEQ_MEDIA_TYPE} if cityjson else {})}
    long_query = len(urlencode(query)) > LINK_QUERY_MAX
    links = []
    for f, media in formats.items():
        is_self = content_type.startswith(media.split(";")[0])
        if is_self or not long_query:
            links.append(f'<{url}/items?{urlencode(query + [("f", f)])}>; '
                         f'rel="{"self" if is_self else "alternate"}"; type="{media}"')
        else:
            links.append(f'<{url}/items?f={f}>; rel="alternate"; type="{media}"')
    links.append(f'<{url}>; rel="collection"; type="application/json"')
    links.append(f'<{url}/queryables>; rel="{QUERYABLES_REL}"; type="application/schema+json"')
    return ", ".join(links)


def _queryables(api: API, api_request: APIRequest, collection: str):
    """Queryables as Features Part 3 /req/queryables/get-queryables-response words them: an https JSON Schema
    URI, ``$id`` the Queryables URI itself, and ``additionalProperties: false`` because a filter naming
    anything else is rejected (see services.filters)."""
    headers, status, content = itemtypes_api.get_collection_queryables(api, api_request, collection)
    if status == HTTPStatus.OK and "json" in headers.get("Content-Type", ""):
        doc = json.loads(content)
        doc["$schema"] = "https://json-schema.org/draft/2019-09/schema"
        doc["$id"] = f"{api.config['server']['url']}/collections/{collection}/queryables"
        doc["additionalProperties"] = False
        content = jsontext.to_json(doc, api.pretty_print)
    return headers, status, content


def _with_allow(response: Response, allow: str) -> Response:
    if response.status_code < 300:
        response.headers["Allow"] = allow
    return response


def _read_only(request: Request, allow: str) -> Response:
    return JSONResponse({"code": "MethodNotAllowed", "description": f"{request.method}: this collection is read only; "
                                                                   f"allowed: {allow}"},
                        status_code=405, headers={"Allow": allow})


def _raster_frame(path: str) -> dict:
    """CRS (URI and EPSG code) and bounds of a coverage raster, for services.params.coverage_request."""
    import rasterio

    with rasterio.open(path) as src:
        epsg = src.crs.to_epsg() if src.crs else 28992
        return {"crs": epsg_uri(epsg), "epsg": epsg, "bounds": tuple(src.bounds)}


def _wants_cityjson(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        return f.lower() in ("cityjson", "cityjsonseq")
    accept = request.headers.get("accept", "")
    return CITYJSON_MEDIA_TYPE in accept or CITYJSONSEQ_MEDIA_TYPE in accept


def _call_in_thread(loop, function, *args):
    # pygeoapi's handlers expect an event loop in their thread (they may publish async messages).
    asyncio.set_event_loop(loop)
    return function(*args)


def _response(headers: dict, status: int, content) -> Response:
    if headers.get("Content-Type") == "text/html":
        response = HTMLResponse(content=content, status_code=status)
    elif isinstance(content, dict):
        response = JSONResponse(content, status_code=status)
    else:
        response = Response(content, status_code=status)
    response.headers.update(headers)
    return response


def create_app(data_dir: Path, base_url: str = "http://127.0.0.1:8000/api", postgres: str | None = None,
               limits: ServerLimits | None = None) -> Starlette:
    """The whole site for one data directory (see the module docstring for the URL layout)."""
    data_dir = Path(data_dir)
    config = effective_config(data_dir, base_url=base_url, postgres=postgres)
    s = StadsmodelAPI(config, data_dir)
    g = s.guarded
    api_routes = [
        Route("/", g("plain", core_api.landing_page)),
        Route("/openapi", g("plain", core_api.openapi_)),
        Route("/conformance", s.conformance_page),
        Route("/collections", g("plain", core_api.describe_collections)),
        Route("/collections/{collection_id}", g("plain", core_api.describe_collections, "collection_id")),
        Route("/collections/{collection_id}/schema", g("schema", core_api.get_collection_schema, "collection_id")),
        Route("/collections/{collection_id}/queryables",
              g("queryables", _queryables, "collection_id")),
        # Every method routed here, so that the read-only ones answer 405 with the same Allow as OPTIONS.
        Route("/collections/{collection_id}/items", s.items, methods=ROUTED_METHODS),
        Route("/collections/{collection_id}/items/{item_id:path}", s.item, methods=ROUTED_METHODS),
        Route("/collections/{collection_id}/coverage",
              g("coverage", coverages_api.get_collection_coverage, "collection_id")),
        Route("/processes", g("processes", processes_api.describe_processes)),
        Route("/processes/{process_id}", g("plain", processes_api.describe_processes, "process_id")),
        Route("/processes/{process_id}/execution", s.execute, methods=["POST"]),
        Route("/jobs", g("jobs", processes_api.get_jobs)),
        Route("/jobs/{job_id}", g("plain", processes_api.get_jobs, "job_id"), methods=["GET"]),
        Route("/jobs/{job_id}/results", g("plain", processes_api.get_job_result, "job_id")),
        Mount("/static", StaticFiles(directory=PYGEOAPI_STATIC)),
    ]

    async def openapi_redirect(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/api/openapi{query}", status_code=307)

    async def api_redirect(request: Request) -> Response:
        return RedirectResponse("/api", status_code=307)

    routes = [
        Route("/health", s.health),
        Route(html_check.PATH, html_check.endpoint(data_dir)),  # the Vergunningcheck without 3D or JavaScript
        Route("/openapi", openapi_redirect),
        Route("/api", g("plain", core_api.landing_page)),
        Mount("/api", routes=api_routes),
    ]
    routes.append(Mount("/tiles", TileFiles(directory=data_dir / TILES_DIR), name="tiles"))
    if CESIUM_DIR.is_dir():
        routes.append(Mount("/cesium", StaticFiles(directory=CESIUM_DIR), name="cesium"))
    routes.append(Mount("/styles", StaticFiles(directory=STYLES_DIR), name="styles"))
    if (VIEWER_DIR / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=VIEWER_DIR, html=True), name="viewer"))
    else:
        routes.append(Route("/", api_redirect))

    # CORS outermost, so that a browser also reads the guard's 413/414/503 answers
    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                             allow_headers=["*"], expose_headers=["Content-Range", "Accept-Ranges", "Content-Crs",
                                                                  "OGC-NumberMatched", "ETag"]),
                  Middleware(RequestGuard, limits=limits or ServerLimits.from_env()), Middleware(ResponseRules)]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={Exception: server_error})
    app.router.redirect_slashes = True
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for multi-worker serving: the arguments travel in STADSMODEL_* variables."""
    return create_app(Path(os.environ["STADSMODEL_DATA"]), base_url=os.environ["STADSMODEL_BASE_URL"],
                      postgres=os.environ.get("STADSMODEL_POSTGRES") or None)
