"""BGT surfaces lifted onto the point cloud, the way 3dfier does it: terrain follows the ground, roads follow a
smoothed ground, water is flat, bridge decks take the height of the bridge points.

Every BGT polygon's boundary is densified so its vertices can follow the ground between the original corners.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import partial

import geopandas as gpd
import numpy as np
import shapely

from core.cityjson import CityObject, lifted_lines, lifted_surface
from etl.grid import GridSpec, sample
from etl.lifting import HeightSummary, grouped_summary

log = logging.getLogger(__name__)

# Offsets (m) averaged for the "smooth" lift: the vertex and four neighbours, which irons out kerbs and cars.
_SMOOTH_OFFSETS = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)], dtype=float)
MIN_SURFACE_POINTS = 3


@dataclass
class LiftedLayer:
    objects: list[CityObject]
    h_min: np.ndarray
    h_max: np.ndarray
    notes: list[tuple[str, str]]  # (feature id, note) for the report


def surface_lift_method(layer_cfg: dict, relatieve_hoogteligging: np.ndarray) -> np.ndarray:
    """Per feature: terrain / smooth / flat / bridge. Objects above ground level (e.g. a road on a viaduct)
    take the bridge-deck method: the ground under them says nothing about their height."""
    method = np.full(len(relatieve_hoogteligging), layer_cfg["lift"], dtype=object)
    method[np.nan_to_num(relatieve_hoogteligging.astype(float)) > 0] = "bridge"
    return method


def lift_layer(object_type: str, layer: gpd.GeoDataFrame, method: np.ndarray, cityjson_type: str,
               surface_heights: HeightSummary, surface_offset: int, dtm_filled: np.ndarray, spec: GridSpec,
               nodata: float, spacing: float) -> LiftedLayer:
    """Lift one BGT layer. `surface_heights[surface_offset + i]` holds the water/bridge point heights inside
    feature i (only for features whose method is flat or bridge)."""
    geoms = shapely.segmentize(layer.geometry.values, spacing)
    n = len(geoms)
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    z_vertex = _vertex_heights(coords, method[which], dtm_filled, spec, nodata)

    # One height per feature for flat water and bridge decks.
    z_const = np.full(n, np.nan)
    notes: list[tuple[str, str]] = []
    ids = layer["identificatie"].astype(str).to_numpy()
    known = ~np.isnan(z_vertex)
    ground = grouped_summary(which[known], z_vertex[known], n, [10, 50])
    for i in np.flatnonzero((method == "flat") | (method == "bridge")):
        k = surface_offset + i
        if surface_heights.count[k] >= MIN_SURFACE_POINTS:
            z_const[i] = surface_heights.percentiles[50][k]
            continue
        # No water/bridge points: water sits at the low end of its banks; a deck without points is laid on
        # the ground rather than invented.
        z_const[i] = ground.percentiles[10 if method[i] == "flat" else 50][i]
        kind = "water" if method[i] == "flat" else "brug"
        notes.append((ids[i], f"{object_type}: te weinig {kind}punten; hoogte uit het maaiveld"))
    const = ~np.isnan(z_const[which])
    z_vertex[const] = z_const[which][const]

    h_min = np.full(n, np.nan)
    h_max = np.full(n, np.nan)
    ok = ~np.isnan(z_vertex)
    np.fmin.at(h_min, which[ok], z_vertex[ok])
    np.fmax.at(h_max, which[ok], z_vertex[ok])

    xyz = np.column_stack([coords, z_vertex])
    splits = np.flatnonzero(np.diff(which)) + 1
    per_feature = np.split(xyz, splits)
    feature_index = which[np.r_[0, splits]] if len(which) else np.empty(0, int)
    objects: list[CityObject] = []
    attrs_frame = layer.drop(columns="geometry")
    records = attrs_frame.to_dict("records")
    for i, pts in zip(feature_index, per_feature):
        unknown = np.isnan(pts[:, 2])
        if unknown.all():
            notes.append((ids[i], f"{object_type}: buiten de puntenwolk, niet in 3D opgenomen"))
            continue
        if unknown.any():
            # part of the feature lies beyond the point cloud: those vertices take the feature's median height
            pts[unknown, 2] = np.median(pts[~unknown, 2])
            notes.append((ids[i], f"{object_type}: deels buiten de puntenwolk ({unknown.sum()} hoekpunten geschat)"))
        geometry = _geometry_factory(geoms[i], pts)
        if geometry is None:
            notes.append((ids[i], f"{object_type}: geometrietype {geoms[i].geom_type} niet ondersteund"))
            continue
        objects.append(CityObject(f"{object_type}.{ids[i]}", cityjson_type, records[i], geometry))
    return LiftedLayer(objects, np.round(h_min, 3), np.round(h_max, 3), notes)


def _vertex_heights(coords: np.ndarray, method: np.ndarray, dtm: np.ndarray, spec: GridSpec,
                    nodata: float) -> np.ndarray:
    z = sample(dtm, spec, coords[:, 0], coords[:, 1], nodata)
    smooth = method == "smooth"
    if smooth.any():
        c = coords[smooth]
        stack = np.stack([sample(dtm, spec, c[:, 0] + dx, c[:, 1] + dy, nodata) for dx, dy in _SMOOTH_OFFSETS])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all five samples outside the grid → NaN, as wanted
            z[smooth] = np.nanmean(stack, axis=0)
    return z


def _geometry_factory(geom, xyz: np.ndarray):
    """Split a feature's lifted vertices back into its polygons and rings (same order as get_coordinates)."""
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        polygons, pos = [], 0
        for poly in getattr(geom, "geoms", [geom]):
            oriented = shapely.orient_polygons(poly)
            rings = []
            for ring, ring_oriented in zip((poly.exterior, *poly.interiors), (oriented.exterior, *oriented.interiors)):
                k = len(ring.coords)
                pts = xyz[pos:pos + k][:-1]
                pos += k
                # keep CityJSON orientation (exterior counter-clockwise seen from above)
                if ring.is_ccw != ring_oriented.is_ccw:
                    pts = pts[::-1]
                rings.append(pts)
            polygons.append(rings)
        return partial(lifted_surface, polygons)
    if kind in ("LineString", "MultiLineString"):
        lines, pos = [], 0
        for line in getattr(geom, "geoms", [geom]):
            k = len(line.coords)
            lines.append(xyz[pos:pos + k])
            pos += k
        return partial(lifted_lines, lines)
    return None
