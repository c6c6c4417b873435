"""The ASGI application: pygeoapi at ``/api``, 3D Tiles at ``/tiles``, CesiumJS at ``/cesium``, the viewer at ``/``.

URL layout (the viewer relies on it):

* ``/``            the viewer (``viewer/``), or a redirect to ``/api`` while there is none
* ``/cesium/``     ``node_modules/cesium/Build/Cesium``
* ``/styles/``     3D Tiles styles (``styles/``)
* ``/tiles/``      ``DATA/tiles/`` (3D Tiles and other static outputs)
* ``/api``         OGC API landing page; ``/api/collections``, ``/api/processes``, ``/api/openapi``, ...
* ``/openapi``     redirects to ``/api/openapi``

The pygeoapi request handlers are called directly (not pygeoapi's own Starlette app, which reads its
configuration from environment variables at import time). This module adds what pygeoapi lacks: a 400 for
unknown query parameters, the conformance classes this deployment really meets, and ``f=cityjson``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import os
import re
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
from pygeoapi.util import render_j2_template, to_json
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.cityjson import cityjson_feature, cityjsonseq
from services.openapi import self_contained
from services.config import CITYJSON_MEDIA_TYPE, CITYJSONSEQ_MEDIA_TYPE, CRS84, effective_config

LOGGER = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
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
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
# The encodings pygeoapi offers for items (``f`` value → media type); buildings add CityJSONSeq.
ITEMS_FORMATS = {"json": GEOJSON_MEDIA_TYPE, "html": "text/html", "jsonld": "application/ld+json",
                 "csv": "text/csv; charset=utf-8"}

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


class TileFiles(StaticFiles):
    """Static 3D Tiles: media types above, range requests and ETags from Starlette, cache headers here.

    ``tileset.json`` and subtrees are revalidated on every use (a rebuild replaces them); content is cached.
    """

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 206, 304):
            revalidate = path.endswith((".json", ".subtree"))
            response.headers["Cache-Control"] = "no-cache" if revalidate else "public, max-age=86400"
        return response


class StadsmodelAPI:
    """pygeoapi's API object plus the Stadsmodel additions, adapted to Starlette requests."""

    def __init__(self, config: dict):
        self.config = config
        self.openapi = self_contained(get_oas(config, fail_on_invalid_collection=False))
        self.api = API(config, self.openapi)
        self.conformance = conformance_classes(config)
        self.fields: dict[str, set[str]] = {}
        self.cityjson: set[str] = set()
        for name, res in config["resources"].items():
            if res["type"] != "collection":
                continue
            provider = res["providers"][0]
            if provider["type"] == "feature":
                self.fields[name] = set(load_plugin("provider", provider).fields)
                if any(link["type"] == CITYJSONSEQ_MEDIA_TYPE for link in res.get("links", [])):
                    self.cityjson.add(name)

    # -- plumbing ---------------------------------------------------------------------------------

    async def _call(self, function, request: Request, *args, check_format: bool = True) -> Response:
        """Run a pygeoapi handler in a worker thread. ``check_format=False`` where the handler itself checks
        ``f`` against per-collection formats (items, coverage), as pygeoapi's own adapters do."""
        api_request = await APIRequest.from_starlette(request, self.api.locales)
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
            return await self._call(function, request, *(request.path_params[p] for p in path_params),
                                    check_format=endpoint != "coverage")
        return handler

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
            return headers, HTTPStatus.OK, to_json(doc, api.pretty_print)

        return await self._call(conformance, request)

    async def items(self, request: Request) -> Response:
        collection = request.path_params["collection_id"]
        if request.method == "OPTIONS":
            return await self._call(itemtypes_api.manage_collection_item, request, "options", collection)
        if request.method == "POST" and request.headers.get("content-type", "").startswith("application/geo+json"):
            return self._bad_request(request, "collections are read only")
        allowed = ITEMS_PARAMS | self.fields.get(collection, set())
        rejected = self._unknown_params(request, allowed)
        if rejected is not None:
            return rejected
        request = await _normalised_filter(request)
        if request.method == "POST" and not isinstance(await _json_body(request), dict):
            return self._bad_request(request, "the request body must be a CQL2 JSON filter (a JSON object)")
        problem = await _filter_problem(request, collection, self.fields.get(collection, set()))
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
            return await self._call(itemtypes_api.manage_collection_item, request, "options", collection, item_id)
        if request.method != "GET":
            return self._bad_request(request, "collections are read only")
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
        params += [("f", "json"), ("crs", "http://www.opengis.net/def/crs/EPSG/0/28992")]
        response = await self._call(function, _rewritten(request, params, drop_headers=(b"accept", b"accept-encoding")),
                                    *args)
        return response.status_code, (json.loads(response.body) if response.status_code == 200 else response)

    async def execute(self, request: Request) -> Response:
        rejected = self._unknown_params(request, set())
        if rejected is not None:
            return rejected
        if not isinstance(await _json_body(request), dict):
            # pygeoapi answers a non-object body with a 500
            return self._bad_request(request, 'the request body must be a JSON object {"inputs": {...}}')
        return await self._call(processes_api.execute_process, request, request.path_params["process_id"])

    async def _cityjson_items(self, request: Request, collection: str) -> Response:
        status, body = await self._geojson_rd(request, itemtypes_api.get_collection_items, collection)
        if status != 200:
            return body
        title = self.config["resources"][collection]["title"]
        text = await asyncio.get_running_loop().run_in_executor(None, cityjsonseq, body["features"], str(title))
        headers = {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/7415>"}
        if "numberMatched" in body:
            headers["OGC-NumberMatched"] = str(body["numberMatched"])
        return Response(text, media_type=CITYJSONSEQ_MEDIA_TYPE, headers=headers)

    async def _cityjson_item(self, request: Request, collection: str, item_id: str) -> Response:
        status, body = await self._geojson_rd(request, itemtypes_api.get_collection_item, collection, item_id)
        if status != 200:
            return body
        doc = cityjson_feature(body["properties"], body.get("geometry"))
        return JSONResponse(doc, media_type=CITYJSON_MEDIA_TYPE,
                            headers={"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/7415>"})


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
    url = f"{base}/collections/{collection}"
    query = [(k, v) for k, v in params.items() if k != "f"]
    formats = {**ITEMS_FORMATS, **({"cityjson": CITYJSONSEQ_MEDIA_TYPE} if cityjson else {})}
    links = [f'<{url}/items?{urlencode(query + [("f", f)])}>; '
             f'rel="{"self" if content_type.startswith(media.split(";")[0]) else "alternate"}"; type="{media}"'
             for f, media in formats.items()]
    links.append(f'<{url}>; rel="collection"; type="application/json"')
    links.append(f'<{url}/queryables>; rel="{QUERYABLES_REL}"; type="application/schema+json"')
    return ", ".join(links)


def _queryables(api: API, api_request: APIRequest, collection: str):
    """Queryables as Features Part 3 /req/queryables/get-queryables-response words them: an https JSON Schema
    URI, ``$id`` the Queryables URI itself, and ``additionalProperties: false`` because a filter naming
    anything else is rejected (see ``_filter_problem``)."""
    headers, status, content = itemtypes_api.get_collection_queryables(api, api_request, collection)
    if status == HTTPStatus.OK and "json" in headers.get("Content-Type", ""):
        doc = json.loads(content)
        doc["$schema"] = "https://json-schema.org/draft/2019-09/schema"
        doc["$id"] = f"{api.config['server']['url']}/collections/{collection}/queryables"
        doc["additionalProperties"] = False
        content = to_json(doc, api.pretty_print)
    return headers, status, content


def _rewritten(request: Request, params: list[tuple[str, str]], body: bytes | None = None,
               drop_headers: tuple[bytes, ...] = ()) -> Request:
    """A copy of ``request`` with other query parameters (and body), for calling pygeoapi with it."""
    scope = dict(request.scope, query_string=urlencode(params).encode(),
                 headers=[(k, v) for k, v in request.scope["headers"] if k.lower() not in drop_headers])
    if body is None:
        return Request(scope, request.receive)

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


_BBOX_TEXT = re.compile(r"\bBBOX\s*\(\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*,"
                        r"\s*([-+\d.eE]+)\s*(?:,\s*[-+\d.eE]+\s*,\s*[-+\d.eE]+\s*)?\)", re.IGNORECASE)


def _bbox_polygon(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _json_bbox_as_polygon(node):
    if isinstance(node, dict):
        if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) in (4, 6):
            b = node["bbox"]
            return _bbox_polygon(*(b if len(b) == 4 else [b[0], b[1], b[3], b[4]]))
        return {k: _json_bbox_as_polygon(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_bbox_as_polygon(v) for v in node]
    return node


async def _normalised_filter(request: Request) -> Request:
    """Put CQL2 JSON where pygeoapi reads it (the body) and BBOX literals in a form it reprojects.

    pygeoapi parses ``filter`` as CQL2 text only, and reprojects geometry literals from ``filter-crs`` to
    the storage CRS but not BBOX literals; as polygons they are reprojected like any other geometry.
    """
    params = request.query_params
    text = params.get("filter")
    if text is not None and params.get("filter-lang") == "cql2-json":
        body = text.encode()
        rest = [(k, v) for k, v in params.multi_items() if k != "filter"]
    elif text is not None:
        poly = _BBOX_TEXT.sub(lambda m: "POLYGON(({0} {1}, {2} {1}, {2} {3}, {0} {3}, {0} {1}))".format(*m.groups()[:4]),
                              text)
        if poly == text:
            return request
        return _rewritten(request, [(k, poly if k == "filter" else v) for k, v in params.multi_items()])
    elif request.method == "POST":
        body, rest = await request.body(), list(params.multi_items())
    else:
        return request
    try:
        body = json.dumps(_json_bbox_as_polygon(json.loads(body))).encode()
    except (ValueError, UnicodeDecodeError):
        pass  # pygeoapi answers "Bad CQL JSON"
    return _rewritten(request, rest, body)


async def _filter_problem(request: Request, collection: str, fields: set[str]) -> str | None:
    """Why the filter must be refused, where pygeoapi would answer otherwise: property names the collection
    lacks (PostgreSQL would silently match nothing) and lon/lat literals outside the globe (a 500 on PostGIS)."""
    import shapely.geometry
    from pygeofilter import ast, values
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    try:
        if "filter" in request.query_params:
            tree = parse_text(request.query_params["filter"])
        elif request.method == "POST":
            tree = parse_json((await request.body()).decode())
        else:
            return None
    except Exception:  # unparsable: pygeoapi answers 400 "Bad CQL"
        return None
    names: set[str] = set()
    bounds: list[tuple[float, ...]] = []

    def walk(node) -> None:
        if isinstance(node, ast.Attribute):
            names.add(node.name)
        elif isinstance(node, values.Geometry):
            bounds.append(shapely.geometry.shape(node.geometry).bounds)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
        elif isinstance(node, ast.Node):
            for v in vars(node).values():
                walk(v)

    walk(tree)
    unknown = names - fields - {"geometry", "geom"}
    if unknown:
        return (f"filter names unknown properties: {', '.join(sorted(unknown))}; "
                f"see /collections/{collection}/queryables")
    if request.query_params.get("filter-crs", CRS84) in (CRS84, CRS84H) and any(
            not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90) for x0, y0, x1, y1 in bounds):
        return "filter geometry lies outside longitude -180..180 / latitude -90..90; coordinates are CRS84 " \
               "unless filter-crs names another CRS"
    return None


async def _json_body(request: Request):
    """The parsed JSON body, or None when it is missing or not JSON."""
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None


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


def create_app(data_dir: Path, base_url: str = "http://127.0.0.1:8000/api", postgres: str | None = None) -> Starlette:
    """The whole site for one data directory (see the module docstring for the URL layout)."""
    data_dir = Path(data_dir)
    config = effective_config(data_dir, base_url=base_url, postgres=postgres)
    s = StadsmodelAPI(config)
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
        Route("/collections/{collection_id}/items", s.items, methods=["GET", "POST", "OPTIONS"]),
        Route("/collections/{collection_id}/items/{item_id:path}", s.item,
              methods=["GET", "PUT", "DELETE", "OPTIONS"]),
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
        Route("/openapi", openapi_redirect),
        Route("/api", g("plain", core_api.landing_page)),
        Mount("/api", routes=api_routes),
    ]
    tiles = data_dir / "tiles"
    routes.append(Mount("/tiles", TileFiles(directory=tiles, check_dir=False), name="tiles"))
    if CESIUM_DIR.is_dir():
        routes.append(Mount("/cesium", StaticFiles(directory=CESIUM_DIR), name="cesium"))
    routes.append(Mount("/styles", StaticFiles(directory=STYLES_DIR), name="styles"))
    if (VIEWER_DIR / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=VIEWER_DIR, html=True), name="viewer"))
    else:
        routes.append(Route("/", api_redirect))

    middleware = [Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                             allow_headers=["*"], expose_headers=["Content-Range", "Accept-Ranges", "Content-Crs",
                                                                  "OGC-NumberMatched", "ETag"])]
    app = Starlette(routes=routes, middleware=middleware)
    app.router.redirect_slashes = True
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for multi-worker serving: the arguments travel in STADSMODEL_* variables."""
    return create_app(Path(os.environ["STADSMODEL_DATA"]), base_url=os.environ["STADSMODEL_BASE_URL"],
                      postgres=os.environ.get("STADSMODEL_POSTGRES") or None)


def serve(data: Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          postgres: str | None = None) -> None:
    """Run the site with uvicorn until interrupted (``stadsmodel serve``)."""
    import uvicorn

    public = os.environ.get("STADSMODEL_PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
    os.environ.update(STADSMODEL_DATA=str(Path(data).resolve()), STADSMODEL_BASE_URL=f"{public}/api",
                      STADSMODEL_POSTGRES=postgres or "")
    if workers > 1:
        uvicorn.run("services.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")
    else:
        uvicorn.run(app_from_env(), host=host, port=port, log_level="warning")
