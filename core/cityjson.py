"""The CityJSON object model: city objects, their geometries, the transform, and CityJSON(Seq) encoding.

One home for "what a building looks like in CityJSON", used by the ETL's writers (``model.city.json``,
``model.city.jsonl``) and by the services' ``f=cityjson`` encoding alike, so the two cannot drift.

Each geometry function returns the vertices it uses (float, RD New + NAP) and the CityJSON geometry object whose
boundaries index those vertices starting at `base`, so a writer can place them in a shared vertex list
(CityJSON) or in a feature of its own (CityJSONSeq) without rewriting nested lists.

Orientation follows CityJSON: seen from outside the solid, exterior rings are counter-clockwise.

A building whose footprint has several polygons is a ``Building`` without geometry of its own whose
``children`` are one ``BuildingPart`` per polygon (``<building id>-<k>``, k by descending area), each with its
own solids; every geometry is a ``Solid``, never a MultiSolid. A CityJSONFeature holds the Building and its
parts, its id the Building's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


def footprint_parts(footprint) -> list[Polygon]:
    """The polygons of a footprint, largest first (equal areas: in the footprint's order): one per BuildingPart
    when there are several. An invalid footprint is repaired first (shapely.make_valid), so a polygon whose
    rings cross gives the pieces they enclose; without any area, none."""
    if footprint is None or shapely.is_missing(footprint) or footprint.is_empty:
        return []
    if not footprint.is_valid:
        footprint = shapely.make_valid(footprint)
    polygons = [g for g in shapely.get_parts(footprint) if isinstance(g, Polygon) and g.area > 0]
    polygons += [g for m in shapely.get_parts(footprint) if isinstance(m, MultiPolygon) for g in m.geoms]
    return sorted(polygons, key=lambda g: -g.area)


def part_id(building_id: str, k: int) -> str:
    return f"{building_id}-{k}"


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
    """A LoD1.2 block of one polygon: flat roof at `z_roof`, ground at `z_ground`, walls on every footprint
    edge (holes included). Several polygons are several BuildingParts, each with a block of its own.

    :raises ValueError: a footprint of several polygons.
    """
    polygons = list(footprint.geoms) if isinstance(footprint, MultiPolygon) else [footprint]
    if len(polygons) != 1:
        raise ValueError(f"a LoD1.2 solid is one polygon's, not {len(polygons)}: make one BuildingPart each")
    verts, surfaces, values = _solid_shell(polygons[0], z_ground, z_roof, base)
    return verts, {"type": "Solid", "lod": "1.2", "boundaries": [surfaces],
                   "semantics": {"surfaces": LOD12_SURFACES, "values": [values]}}


def area_vector(ring: np.ndarray) -> np.ndarray:
    """The vector area of a planar 3D ring ((n, 3), no closing vertex; Newell's method): its direction the
    surface normal by the ring's orientation, its length the surface's area."""
    centred = ring - ring.mean(axis=0)
    return np.cross(centred, np.roll(centred, -1, axis=0)).sum(axis=0) / 2


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
    return np.concatenate(verts), {"type": "MultiSurface", "lod": lod, "boundaries": boundaries}


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
    parts: list[CityObject] = field(default_factory=list)  # BuildingPart children, written in its feature
    parent: str | None = None  # a part's Building

    def __post_init__(self) -> None:
        # plain JSON values once, though the object is written twice (CityJSON and CityJSONSeq)
        self.attributes = {k: json_value(v) for k, v in self.attributes.items()}

    @property
    def has_geometry(self) -> bool:
        return self.geometry is not None or any(p.geometry is not None for p in self.parts)


def json_value(v: Any) -> Any:
    """Plain JSON for numpy scalars; NaN and pandas' missing values become null."""
    t = type(v)
    if t is str or t is int or t is bool or v is None:  # most values: as they are
        return v
    if t is float:
        return None if v != v else v
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


def quantised(vertices: np.ndarray, transform: dict) -> np.ndarray:
    """The vertices as CityJSON integers under `transform`, an (n, 3) int64 array."""
    q = np.round((vertices - np.asarray(transform["translate"])) / np.asarray(transform["scale"]))
    return q.astype(np.int64)


def quantise(vertices: np.ndarray, transform: dict) -> list[list[int]]:
    return quantised(vertices, transform).tolist()


def features(encoded: Sequence[tuple[CityObject, tuple[np.ndarray, dict]]], transform: dict,
             stacked: np.ndarray | None = None) -> list[dict]:
    """`feature` of each (object, `encode(object)`), their vertices quantised in one go: the same features but
    that "vertices" is an (n, 3) int64 array (a view of one array for all), not a list, for a writer that
    encodes it as it is (etl.writers.cityjson).

    :param stacked: the objects' vertices one after another, when the caller stacked them already.
    """
    sizes = [len(verts) for _, (verts, _) in encoded]
    if stacked is None:
        chunks = [verts for _, (verts, _) in encoded if len(verts)]
        stacked = np.vstack(chunks) if chunks else np.zeros((0, 3))
    q = quantised(stacked, transform)
    out, start = [], 0
    for (o, (_, objects)), n in zip(encoded, sizes):
        out.append({"type": "CityJSONFeature", "id": o.id, "CityObjects": objects, "vertices": q[start:start + n]})
        start += n
    return out


def cityobject_dict(o: CityObject, geometry: dict | list[dict] | None) -> dict:
    co: dict[str, Any] = {"type": o.type, "attributes": o.attributes}
    co["geometry"] = geometry if isinstance(geometry, list) else [geometry] if geometry else []
    if o.parts:
        co["children"] = [p.id for p in o.parts]
    if o.parent is not None:
        co["parents"] = [o.parent]
    return co


def encode(o: CityObject) -> tuple[np.ndarray, dict[str, dict]]:
    """The vertices (float, RD New + NAP) and CityObjects of the feature of `o`: the object, then its parts,
    their boundaries indexing those vertices from 0. Each geometry is made once."""
    verts, objects, base = [], {}, 0
    for obj in (o, *o.parts):
        geometry = None
        if obj.geometry is not None:
            v, geometry = obj.geometry(base)
            verts.append(v)
            base += len(v)
        objects[obj.id] = cityobject_dict(obj, geometry)
    if not verts:
        return np.zeros((0, 3)), objects
    return (verts[0] if len(verts) == 1 else np.concatenate(verts)), objects


def header(transform: dict, extent: list[float] | None, title: str) -> dict:
    meta: dict[str, Any] = {"referenceSystem": CITYJSON_CRS_URI, "title": title}
    if extent:
        meta["geographicalExtent"] = extent
    return {"type": "CityJSON", "version": "2.0", "transform": transform, "CityObjects": {}, "vertices": [],
            "metadata": meta}


def feature(o: CityObject, transform: dict, encoded: tuple[np.ndarray, dict] | None = None) -> dict:
    """One CityJSONFeature with its own vertex list (quantised with the header's transform): `o` and its parts.

    :param encoded: `encode(o)` when the caller made it already.
    """
    verts, objects = encoded or encode(o)
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": objects,
            "vertices": quantise(verts, transform) if len(verts) else []}


def building_object(attributes: Mapping[str, Any], footprint, roof_percentile: int,
                    solids: Sequence[Mapping[str, Any]] = ()) -> CityObject:
    """A Building with its LoD1.2 solid (roof at ``b3_h_dak_<roof_percentile>p``, as 3DBAG; the ETL passes
    lifting.lod12_roof_percentile), or without geometry when the heights are unknown (the building is then
    flagged, never dropped).

    :param solids: the building's solids as the store's building_solids table holds them (README "The store"):
        its ``solid`` column parsed (``{"vertices": [[x, y, z], ...], "geometry": {...}}``) with the row's
        ``part`` and ``attributes`` (parsed) beside, in part and LoD order. Solids without a part are the
        LoD1.3 and LoD2.2 of a single-polygon building; they follow the LoD1.2 solid in its geometry list.
        Solids with a part make the building a Building without geometry whose BuildingPart children carry
        them, with the attributes of the part's LoD1.2 row. A footprint of several polygons without stored
        parts (roofs not reconstructed) gets a part per polygon at the building's LoD1.2 height.
    """
    ident = str(attributes["identificatie"])
    z_ground = _number(attributes.get("b3_h_maaiveld"))
    z_roof = _number(attributes.get(f"b3_h_dak_{roof_percentile}p"))
    attrs = {k: _json_text(v) if k in JSON_TEXT_ATTRIBUTES else v
             for k, v in attributes.items() if k not in NON_ATTRIBUTES}
    if not has_lod12_block(z_ground, z_roof, footprint):
        return CityObject(ident, "Building", attrs, None)
    own = [s for s in solids if s.get("part") is None]
    stored_parts: dict[int, list[Mapping[str, Any]]] = {}
    for s in solids:
        if s.get("part") is not None:
            stored_parts.setdefault(int(s["part"]), []).append(s)
    polygons = footprint_parts(footprint) if not stored_parts else []
    first = 0
    if own and len(polygons) > 1:
        # a store written before BuildingParts: its LoD1.3/2.2 are those of the largest polygon, part 0
        vertices, block = lod12_solid(polygons[0], z_ground, z_roof)
        stored_parts[0] = [{"vertices": vertices.tolist(), "geometry": block,
                            "attributes": {f"b3_h_dak_{roof_percentile}p": z_roof}}, *own]
        polygons, first = polygons[1:], 1
    if stored_parts or len(polygons) > 1:
        parts = [CityObject(part_id(ident, k), "BuildingPart",
                            next((dict(s["attributes"]) for s in ss if s.get("attributes")), {}),
                            partial(_stacked, [partial(stored_solid, s) for s in ss]), parent=ident)
                 for k, ss in sorted(stored_parts.items())]
        parts += [CityObject(part_id(ident, k), "BuildingPart", {f"b3_h_dak_{roof_percentile}p": z_roof},
                             partial(lod12_solid, polygon, z_ground, z_roof), parent=ident)
                  for k, polygon in enumerate(polygons, start=first)]
        return CityObject(ident, "Building", attrs, None, parts)
    geometry = partial(lod12_solid, footprint, z_ground, z_roof)
    if own:
        geometry = partial(_stacked, [geometry, *(partial(stored_solid, s) for s in own)])
    return CityObject(ident, "Building", attrs, geometry)


# bouwenvelop columns holding JSON lists (plan and object ids); the CityJSON attribute holds the list itself.
ENVELOPE_JSON_ATTRIBUTES = ("plan_ids", "bron_object_ids")
ENVELOPE_LOD = "2"  # the "closed LoD2 Solid": roof faces at the plan's pitch, no finer detail


def envelope_object(attributes: Mapping[str, Any]) -> CityObject:
    """A bouwenvelop row (README "The store") as a GenericCityObject with its closed Solid: the allowed volume
    is no physical object, so no Building; ``relatief`` envelopes stand on NAP 0 (their peil is unknown)."""
    solid = _json_text(attributes["solid"])
    attrs = {k: _json_text(v) if k in ENVELOPE_JSON_ATTRIBUTES else v
             for k, v in attributes.items() if k not in NON_ATTRIBUTES | {"solid"}}
    placed = {"vertices": solid["vertices"], "geometry": {**solid["geometry"], "lod": ENVELOPE_LOD}}
    return CityObject(str(attributes["object_id"]), "GenericCityObject", attrs, partial(stored_solid, placed))


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
