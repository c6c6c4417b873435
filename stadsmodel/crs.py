"""CRS roles. Input and model: RD New + NAP (EPSG:7415); footprints and the store: RD New (EPSG:28992).

Output for CesiumJS (EPSG:4978, ECEF) is computed in tiles/ with RDNAPTRANS2018 (pyrdnap), never with
pyproj's grid-less fallback, which is off by ~43 m in height in the Netherlands.
"""

RD_NEW = "EPSG:28992"
RD_NAP = "EPSG:7415"
CITYJSON_CRS_URI = "https://www.opengis.net/def/crs/EPSG/0/7415"

# Plausible RD New extent for the Netherlands incl. territorial waters (metres). Used to catch
# point clouds or layers that are in another CRS (e.g. lon/lat or UTM) before they do harm.
RD_BOUNDS = (-7000.0, 289000.0, 300000.0, 629000.0)


def in_rd_bounds(minx: float, miny: float, maxx: float, maxy: float) -> bool:
    x0, y0, x1, y1 = RD_BOUNDS
    return x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1
