"""The CityJSON object model: city objects, their geometries, the transform, and CityJSON(Seq) encoding.

One home for "what a building looks like in CityJSON", used by the ETL's writers (``model.city.json``,
``model.city.jsonl``) and by the services' ``f=cityjson`` encoding alike, so the two cannot drift.

Each geometry function returns the vertices it uses (float, RD New + NAP) and the CityJSON geometry object whose
boundaries index those vertices starting at `base`, so a writer can place them in a shared vertex list
(CityJSON) or in a feature of its own (CityJSONSeq) without rewriting nested lists.

Orientation follows CityJSON: seen from outside the solid, exterior rings are counter-clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from core.crs import CITYJSON_CRS_URI

GeometryFactory = Callable[[int], tuple[np.ndarray, dict]]
# Store columns that are not attributes of the CityJSON Building.
NON_ATTRIBUTES = {"geometry", "fid"}

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
    geometry: GeometryFactory | None  # called with the index its first vertex gets

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
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return v


def make_transform(mins: Iterable[float], scale: float) -> dict:
    # Whole-metre translate: quantised coordinates then depend only on the data, not on float noise.
    return {"scale": [scale, scale, scale], "translate": [float(math.floor(m)) for m in mins]}


def quantise(vertices: np.ndarray, transform: dict) -> list[list[int]]:
    q = np.round((vertices - np.asarray(transform["translate"])) / np.asarray(transform["scale"]))
    return q.astype(np.int64).tolist()


def cityobject_dict(o: CityObject, geometry: dict | None) -> dict:
    co: dict[str, Any] = {"type": o.type, "attributes": o.attributes}
    co["geometry"] = [geometry] if geometry else []
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


def building_object(attributes: Mapping[str, Any], footprint, roof_percentile: int) -> CityObject:
    """A Building with its LoD1.2 solid (roof at ``b3_h_dak_<roof_percentile>p``, as 3DBAG; the ETL passes
    lifting.lod12_roof_percentile), or without geometry when the heights are unknown (the building is then
    flagged, never dropped)."""
    z_ground = attributes.get("b3_h_maaiveld")
    z_roof = attributes.get(f"b3_h_dak_{roof_percentile}p")
    attrs = {k: v for k, v in attributes.items() if k not in NON_ATTRIBUTES}
    geometry = None
    if _number(z_ground) and _number(z_roof) and z_roof > z_ground and footprint is not None and not footprint.is_empty:
        geometry = partial(lod12_solid, footprint, float(z_ground), float(z_roof))
    return CityObject(str(attributes["identificatie"]), "Building", attrs, geometry)


def _number(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and not math.isnan(v)
