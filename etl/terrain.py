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
    unknown = np.isnan(z_vertex)
    n_vertices = np.bincount(which, minlength=n)
    n_unknown = np.bincount(which[unknown], minlength=n)
    first_vertex = np.concatenate(([0], np.cumsum(n_vertices)[:-1]))
    for i in np.flatnonzero((n_unknown > 0) & (n_unknown < n_vertices)):
        # part of the feature lies beyond the point cloud: those vertices take the feature's median height
        z = xyz[first_vertex[i]:first_vertex[i] + n_vertices[i], 2]  # a view into xyz
        z[np.isnan(z)] = np.median(z[~np.isnan(z)])
    factories = _geometry_factories(geoms, xyz)
    objects: list[CityObject] = []
    records = layer.drop(columns="geometry").to_dict("records")
    for i in np.flatnonzero(n_vertices).tolist():
        if n_unknown[i] == n_vertices[i]:
            notes.append((ids[i], f"{object_type}: buiten de puntenwolk, niet in 3D opgenomen"))
            continue
        if n_unknown[i]:
            notes.append((ids[i], f"{object_type}: deels buiten de puntenwolk ({n_unknown[i]} hoekpunten geschat)"))
        if factories[i] is None:
            notes.append((ids[i], f"{object_type}: geometrietype {geoms[i].geom_type} niet ondersteund"))
            continue
        objects.append(CityObject(f"{object_type}.{ids[i]}", cityjson_type, records[i], factories[i]))
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


def _geometry_factories(geoms: np.ndarray, xyz: np.ndarray) -> list[partial | None]:
    """Per feature, its lifted vertices (`xyz`, in get_coordinates order) split back into its polygons and
    rings, or its lines; None for another geometry type. All features at once with shapely's bulk functions:
    a Python loop over each feature's rings cost more than the rest of the lifting."""
    kinds = shapely.get_type_id(geoms)
    surfaces = np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    lines = np.isin(kinds, [shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING])
    parts, part_feature = shapely.get_parts(geoms, return_index=True)
    in_surface = surfaces[part_feature]
    # The pieces whose vertices follow each other in `xyz`: the rings of a surface's polygons (exterior
    # first), each part of any other feature (a line, or a part of an unsupported type, skipped).
    rings, ring_part = shapely.get_rings(parts[in_surface], return_index=True)
    oriented = shapely.get_rings(shapely.orient_polygons(parts[in_surface]))
    surface_parts = np.flatnonzero(in_surface)
    other_parts = np.flatnonzero(~in_surface)
    piece_part = np.concatenate([surface_parts[ring_part], other_parts])
    order = np.argsort(piece_part, kind="stable")
    piece_part = piece_part[order]
    is_ring = np.r_[np.ones(len(rings), bool), np.zeros(len(other_parts), bool)][order]
    # keep CityJSON orientation (exterior counter-clockwise seen from above)
    flip = np.r_[shapely.is_ccw(rings) != shapely.is_ccw(oriented), np.zeros(len(other_parts), bool)][order]
    size = shapely.get_num_coordinates(np.concatenate([rings, parts[other_parts]])[order])
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    # A ring drops its closing vertex and may run backwards; a line is kept as it is.
    kept = size - is_ring
    offset = np.concatenate(([0], np.cumsum(kept)[:-1]))
    step = np.arange(kept.sum()) - np.repeat(offset, kept)
    rows = np.repeat(start, kept) + np.where(np.repeat(flip, kept), np.repeat(kept - 1, kept) - step, step)
    vertices = xyz[rows]

    factories: list[partial | None] = [None] * len(geoms)
    pieces: dict[int, list] = {}  # per part its rings, or the line itself
    for part, a, k in zip(piece_part.tolist(), offset.tolist(), kept.tolist()):
        pieces.setdefault(part, []).append(vertices[a:a + k])
    per_feature: dict[int, list] = {}
    for part, feature in enumerate(part_feature.tolist()):
        if surfaces[feature]:
            per_feature.setdefault(feature, []).append(pieces[part])
        elif lines[feature]:
            per_feature.setdefault(feature, []).extend(pieces[part])
    for feature, shapes in per_feature.items():
        factories[feature] = partial(lifted_surface if surfaces[feature] else lifted_lines, shapes)
    return factories
