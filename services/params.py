"""Request checks and rewrites done before pygeoapi sees a request: whatever would make it answer 500 (or a
wrong 200) because of what the client sent is refused here with a 400 and the reason.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from starlette.requests import Request

from core.crs import epsg_uri
from services.bbox import CRS84_URIS, bbox_problem, transform_bbox

# Deeper JSON is no filter or process input anyone writes; parsing it would exhaust the recursion limit.
MAX_JSON_DEPTH = 64
MAX_OFFSET = 2**53  # beyond this no page exists, and SQL engines overflow
_EPSG_URI = re.compile("^" + re.escape(epsg_uri("")) + r"(\d+)$")


class ClientError(ValueError):
    """What the client sent cannot be answered; the message says why (HTTP 400)."""


def rewritten(request: Request, params: list[tuple[str, str]], body: bytes | None = None,
              drop_headers: tuple[bytes, ...] = ()) -> Request:
    """A copy of ``request`` with other query parameters (and body), for calling pygeoapi with it."""
    scope = dict(request.scope, query_string=urlencode(params).encode(),
                 headers=[(k, v) for k, v in request.scope["headers"] if k.lower() not in drop_headers])
    if body is None:
        return Request(scope, request.receive)

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def without_refused_choices(request: Request) -> Request:
    """``Accept``/``Accept-Language`` without ``q=0`` entries ("not acceptable"; pygeoapi divides by q)."""
    headers, changed = [], False
    for key, value in request.scope["headers"]:
        if key.lower() in (b"accept", b"accept-language"):
            kept = [part for part in value.decode("latin-1").split(",") if not _q_zero(part)]
            changed |= len(kept) != value.count(b",") + 1
            value = ",".join(kept).encode("latin-1")
            if not kept:
                changed = True
                continue
        headers.append((key, value))
    if not changed:
        return request
    return Request(dict(request.scope, headers=headers), request.receive)


def _q_zero(part: str) -> bool:
    for parameter in part.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value) <= 0
            except ValueError:
                return True  # a malformed weight: pygeoapi cannot use it either
    return False


def parsed_json(body: bytes):
    """The JSON value of a request body; ClientError when it is not JSON or nested too deeply."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise ClientError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ClientError(f"the request body is not JSON ({err})") from None
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ClientError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return value


def items_problem(request: Request) -> str | None:
    """bbox and paging values pygeoapi or the stores would fail on (or answer as if they were fine)."""
    params = request.query_params
    if "bbox" in params:
        problem = bbox_problem(params["bbox"], params.get("bbox-crs"))
        if problem:
            return problem
    for name in ("offset", "limit"):
        if name in params:
            try:
                value = int(params[name])
            except ValueError:
                return f"{name} must be a non-negative integer, not {params[name]!r}"
            if not 0 <= value <= MAX_OFFSET:
                return f"{name} must be between 0 and {MAX_OFFSET}"
    return None


def coverage_request(request: Request, raster: dict) -> Request:
    """The coverage request with its ``bbox``/``subset`` as one box in the raster's CRS, clipped to the raster.

    pygeoapi's rasterio provider takes ``bbox-crs`` as an EPSG number (any URI was a 500), reprojects two
    corners, and answers 500 for a box beside the raster. ``raster``: {"crs": URI, "epsg": int, "bounds": box}.
    """
    params = request.query_params
    if "bbox" in params and "subset" in params:
        raise ClientError("bbox and subset cannot be combined; give one of them")
    if "subset-crs" in params and "subset" not in params:
        raise ClientError("subset-crs without subset")
    if "bbox-crs" in params and "bbox" not in params:
        raise ClientError("bbox-crs without bbox")
    x0, y0, x1, y1 = raster["bounds"]
    if "bbox" in params:
        crs = params.get("bbox-crs") or CRS84_URIS[0]
        problem = bbox_problem(params["bbox"], crs)
        if problem:
            raise ClientError(problem)
        values = [float(v) for v in params["bbox"].split(",")]
        box = values if len(values) == 4 else [values[0], values[1], values[3], values[4]]
    elif "subset" in params:
        crs = params.get("subset-crs") or raster["crs"]
        box = _subset_box(params["subset"], (x0, y0, x1, y1) if crs == raster["crs"] else None)
    else:
        return request
    _known_crs(crs, "bbox-crs" if "bbox" in params else "subset-crs")
    area = transform_bbox(box, crs, raster["crs"]).area
    clipped = area.intersection(_box(x0, y0, x1, y1)) if not area.is_empty else area
    if clipped.is_empty or clipped.area == 0:
        raise ClientError(f"the requested area does not overlap the coverage, which covers "
                          f"{x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f} in {raster['crs']}")
    minx, miny, maxx, maxy = clipped.bounds
    rest = [(k, v) for k, v in params.multi_items() if k not in ("bbox", "bbox-crs", "subset", "subset-crs")]
    rest += [("bbox", f"{minx!r},{miny!r},{maxx!r},{maxy!r}"), ("bbox-crs", str(raster["epsg"]))]
    return rewritten(request, rest)


def _box(x0, y0, x1, y1):
    import shapely

    return shapely.box(x0, y0, x1, y1)


def _known_crs(uri: str, name: str) -> None:
    if uri in CRS84_URIS or _EPSG_URI.match(uri):
        try:
            from pygeoapi.crs import get_crs

            get_crs(uri)
            return
        except Exception:
            pass
    raise ClientError(f"{name} {uri!r} is not a CRS this server knows; use {CRS84_URIS[0]} or "
                      f"{epsg_uri('<code>')}")


_SUBSET = re.compile(r"^\s*(\w+)\s*\(\s*([^:()]+?)\s*(?::\s*([^:()]+?)\s*)?\)\s*$")


def _subset_box(text: str, full) -> list[float]:
    """``x(lo:hi),y(lo:hi)`` (either axis may be left out: then all of it) as [minx, miny, maxx, maxy]."""
    ranges: dict[str, tuple[float, float]] = {}
    for part in re.split(r",(?![^()]*\))", text):
        m = _SUBSET.match(part)
        if not m:
            raise ClientError(f"subset {part!r}: write axis(low:high), e.g. x(85300:85400),y(447000:447100)")
        axis, lo, hi = m.group(1).lower(), m.group(2), m.group(3)
        if axis not in ("x", "y"):
            raise ClientError(f"subset axis {m.group(1)!r}: the axes are x and y")
        if hi is None:
            raise ClientError(f"subset {part!r}: slicing to one value is not supported; give a range low:high")
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            raise ClientError(f"subset {part!r}: the bounds must be numbers") from None
        if not (abs(low) < 1e15 and abs(high) < 1e15):
            raise ClientError(f"subset {part!r}: the bounds must be finite numbers")
        if low > high:
            raise ClientError(f"subset {part!r}: low is greater than high")
        ranges[axis] = (low, high)
    if full is None and len(ranges) < 2:
        raise ClientError("with subset-crs, give both axes: x(low:high),y(low:high)")
    x0, y0, x1, y1 = full or (0, 0, 0, 0)
    (ax, bx), (ay, by) = ranges.get("x", (x0, x1)), ranges.get("y", (y0, y1))
    return [ax, ay, bx, by]
