"""The CityJSON object model: city objects, their geometries, the transform, and CityJSON(Seq) encoding.

One home for "what a building looks like in CityJSON", used by the ETL's writers (``model.city.json``,
``model.city.jsonl``) and by the services' ``f=cityjson`` encoding alike, so the two cannot drift.

Each geometry function returns the vertices it uses (float, RD New + NAP) and the CityJSON geometry object whose
boundaries index those vertices starting at `base`, so a writer can place them in a shared vertex list
(CityJSON) or in a feature of its own (CityJSONSeq) without rewriting nested lists.

Orientation follows CityJSON: seen from outside the solid, exterior rings are counter-clockwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from core.crs import CITYJSON_CRS_URI

GeometryFactory = Callable[[int], tuple[np.ndarray, dict]]
# A city object's geometries: one factory, or one for several geometries (a list of dicts, vertices stacked).
GeometriesFactory = Callable[[int], tuple[np.ndarray, "dict | list[dict]"]]
# Store columns that are not attributes of the CityJSON Building.
NON_ATTRIBUTES = {"geometry", "fid"}
# Store columns holding JSON text (a list of val3dity error codes, "[]" = valid); the CityJSON attribute holds
# the value itself.
JSON_TEXT_ATTRIBUTES = ("b3_val3dity_lod12", "b3_val3dity_lod13", "b3_val3dity_lod22")

LOD12_SURFACES = [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}]
GROUND, ROOF, WALL = 0, 1, 2


def _rings(poly: Polygon) -> list[np.ndarray]:
    """Exterior (counter-clockwise) then holes (clockwise), 2D, without the closing vertex."""
    poly = shapely.orient_polygons(poly)
    return [np.asarray(r.coords)[:-1, :2] for r in (poly.exterior, *poly.interiors)]


def _polygons(geom) -> list[Polygon]:
    return list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]


def _solid_shell(poly: Polygon, z_ground: float, z_roof: float, base: int) -> tuple[np.ndarray, list, list]:
    rings = _rings(poly)
    sizes = [len(r) for r in rings]
    n = sum(sizes)
    xy = np.vstack(rings)
    verts = np.vstack([np.column_stack([xy, np.full(n, z_ground)]), np.column_stack([xy, np.full(n, z_roof)])])
    starts = np.cumsum([0] + sizes[:-1]) + base
    bottom = [list(range(s, s + k)) for s, k in zip(starts, sizes)]
    top = [[i + n for i in ring] for ring in bottom]
    ground = [ring[::-1] for ring in bottom]  # normal points down
    surfaces, values = [ground, top], [GROUND, ROOF]
    for b, t in zip(bottom, top):
        k = len(b)
        for i in range(k):
            j = (i + 1) % k
            surfaces.append([[b[i], b[j], t[j], t[i]]])
            values.append(WALL)
    return verts, surfaces, values


def lod12_solid(footprint: Polygon | MultiPolygon, z_ground: float, z_roof: float,
                base: int = 0) -> tuple[np.ndarray, dict]:
    """A LoD1.2 block: flat roof at `z_roof`, ground at `z_ground`, walls on every footprint edge
    (holes included). A MultiPolygon footprint gives a MultiSolid."""
    shells, values, verts = [], [], []
    offset = base
    for poly in _polygons(footprint):
        v, surfaces, vals = _solid_shell(poly, z_ground, z_roof, offset)
        verts.append(v)
        shells.append([surfaces])
        values.append([vals])
        offset += len(v)
    if len(shells) == 1:
        geom = {"type": "Solid", "lod": "1.2", "boundaries": shells[0],
                "semantics": {"surfaces": LOD12_SURFACES, "values": values[0]}}
    else:
        geom = {"type": "MultiSolid", "lod": "1.2", "boundaries": shells,
                "semantics": {"surfaces": LOD12_SURFACES, "values": values}}
    return np.vstack(verts), geom


def lifted_surface(rings_per_polygon: list[list[np.ndarray]], base: int = 0, lod: str = "1") -> tuple[np.ndarray, dict]:
    """A MultiSurface from polygons whose rings already carry heights ((n, 3) arrays, no closing vertex,
    exterior counter-clockwise)."""
    verts, boundaries, offset = [], [], base
    for rings in rings_per_polygon:
        surface = []
        for ring in rings:
            surface.append(list(range(offset, offset + len(ring))))
            offset += len(ring)
            verts.append(ring)
        boundaries.append(surface)
    return np.vstack(verts), {"type": "MultiSurface", "lod": lod, "boundaries": boundaries}


def lifted_lines(lines: list[np.ndarray], base: int = 0, lod: str = "1") -> tuple[np.ndarray, dict]:
    """A MultiLineString from (n, 3) vertex arrays."""
    boundaries, offset = [], base
    for line in lines:
        boundaries.append(list(range(offset, offset + len(line))))
        offset += len(line)
    return np.vstack(lines), {"type": "MultiLineString", "lod": lod, "boundaries": boundaries}


# --- city objects and their encoding --------------------------------------------------------------------
@dataclass
class CityObject:
    id: str
    type: str
    attributes: dict[str, Any]
    geometry: GeometriesFactory | None  # called with the index its first vertex gets

    def __post_init__(self) -> None:
        # plain JSON values once, though the object is written twice (CityJSON and CityJSONSeq)
        self.attributes = {k: json_value(v) for k, v in self.attributes.items()}


def json_value(v: Any) -> Any:
    """Plain JSON for numpy scalars; NaN and pandas' missing values become null."""
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if hasattr(v, "isoformat"):  # dates and timestamps
        return None if v != v else v.isoformat()
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def make_transform(mins: Iterable[float], scale: float) -> dict:
    # Whole-metre translate: quantised coordinates then depend only on the data, not on float noise.
    return {"scale": [scale, scale, scale], "translate": [float(math.floor(m)) for m in mins]}


def quantise(vertices: np.ndarray, transform: dict) -> list[list[int]]:
    q = np.round((vertices - np.asarray(transform["translate"])) / np.asarray(transform["scale"]))
    return q.astype(np.int64).tolist()


def cityobject_dict(o: CityObject, geometry: dict | list[dict] | None) -> dict:
    co: dict[str, Any] = {"type": o.type, "attributes": o.attributes}
    co["geometry"] = geometry if isinstance(geometry, list) else [geometry] if geometry else []
    return co


def header(transform: dict, extent: list[float] | None, title: str) -> dict:
    meta: dict[str, Any] = {"referenceSystem": CITYJSON_CRS_URI, "title": title}
    if extent:
        meta["geographicalExtent"] = extent
    return {"type": "CityJSON", "version": "2.0", "transform": transform, "CityObjects": {}, "vertices": [],
            "metadata": meta}


def feature(o: CityObject, transform: dict) -> dict:
    """One CityJSONFeature with its own vertex list (quantised with the header's transform)."""
    geometry, vertices = None, []
    if o.geometry is not None:
        verts, geometry = o.geometry(0)
        vertices = quantise(verts, transform)
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": {o.id: cityobject_dict(o, geometry)},
            "vertices": vertices}


def building_object(attributes: Mapping[str, Any], footprint, roof_percentile: int,
                    solids: Sequence[Mapping[str, Any]] = ()) -> CityObject:
    """A Building with its LoD1.2 solid (roof at ``b3_h_dak_<roof_percentile>p``, as 3DBAG; the ETL passes
    lifting.lod12_roof_percentile), or without geometry when the heights are unknown (the building is then
    flagged, never dropped).

    :param solids: the building's LoD1.3 and LoD2.2 solids as the store's building_solids table holds them
        (its ``solid`` column parsed: ``{"vertices": [[x, y, z], ...], "geometry": {...}}``), in LoD order; they
        follow the LoD1.2 solid in the Building's geometry list.
    """
    z_ground = attributes.get("b3_h_maaiveld")
    z_roof = attributes.get(f"b3_h_dak_{roof_percentile}p")
    attrs = {k: _json_text(v) if k in JSON_TEXT_ATTRIBUTES else v
             for k, v in attributes.items() if k not in NON_ATTRIBUTES}
    geometry = None
    if has_lod12_block(_number(z_ground), _number(z_roof), footprint):
        geometry = partial(lod12_solid, footprint, float(z_ground), float(z_roof))
        if solids:
            geometry = partial(_stacked, [geometry, *(partial(stored_solid, s) for s in solids)])
    return CityObject(str(attributes["identificatie"]), "Building", attrs, geometry)


def stored_solid(solid: Mapping[str, Any], base: int = 0) -> tuple[np.ndarray, dict]:
    """A solid as building_solids stores it (vertices, and a geometry indexing them from 0) at `base`."""
    geometry = dict(solid["geometry"])
    geometry["boundaries"] = _offset(geometry["boundaries"], base)
    return np.asarray(solid["vertices"], dtype=float).reshape(-1, 3), geometry


def _stacked(factories: Sequence[GeometryFactory], base: int) -> tuple[np.ndarray, list[dict]]:
    """Several geometries of one object: their vertices one after another, each geometry indexing its own."""
    verts, geometries = [], []
    for factory in factories:
        v, g = factory(base)
        verts.append(v)
        geometries.append(g)
        base += len(v)
    return np.vstack(verts), geometries


def _offset(boundaries: Any, base: int) -> Any:
    if boundaries and isinstance(boundaries[0], list):
        return [_offset(b, base) for b in boundaries]
    return [i + base for i in boundaries]


def _json_text(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def has_lod12_block(z_ground, z_roof, footprint):
    """Whether a building gets its LoD1.2 block: measured heights, the roof above the ground, a footprint.
    Scalars or arrays (the build asks for all its buildings at once); NaN is a height not measured."""
    z_ground, z_roof = np.asarray(z_ground, dtype=float), np.asarray(z_roof, dtype=float)
    return (np.isfinite(z_ground) & np.isfinite(z_roof) & (z_roof > z_ground)
            & ~shapely.is_missing(footprint) & ~shapely.is_empty(footprint))


def _number(v: Any) -> float:
    """A height attribute as a float, NaN when it is missing or not a number."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
