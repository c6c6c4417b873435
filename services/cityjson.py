"""CityJSON encoding of building items (``f=cityjson``), built from store rows.

A list of items is CityJSONSeq (``application/city+json-seq``): a CityJSON header line (version 2.0,
EPSG:7415, ``transform``) and one CityJSONFeature per building, vertices quantised to millimetres. A single
item is one CityJSONFeature (``application/city+json``); having no header to carry a ``transform``, its
vertices are real EPSG:7415 coordinates in metres, rounded to millimetres.

Each Building's ``geometry`` is [LoD1.2, LoD1.3 (if made), LoD2.2 (if made)], as in ``model.city.json``. The
LoD1.2 solid comes from ``core.cityjson.building_object`` (footprint + ``b3_h_maaiveld`` + the roof at
``roof_percentile``), the same code the ETL writes ``model.city.json`` with; the caller passes the percentile
the build used (services.config.lod12_roof_percentile), so both give the same solid. LoD1.3 and LoD2.2 are the
build's own solids from the store's ``building_solids`` table (:class:`StoredSolids`), read for the page's
buildings in one query. A building of several footprint polygons is a Building without geometry and its
BuildingPart children, in one feature: the parts' solids and attributes are building_solids rows too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely

from core import gpkg as geopackage
from core.cityjson import CityObject, building_object, encode, envelope_object, feature, header, make_transform
from core.errors import StadsmodelError
from core.products import BUILDING_SOLIDS

SCALE = 0.001

# A stored solid: {"vertices": [[x, y, z], ...] (EPSG:7415 m), "geometry": {CityJSON Solid, boundaries from 0}},
# with its row's "part" (None: the building's own) and "attributes" (a part's, parsed; None on other rows)
Solid = dict
COLUMNS = ("identificatie", "part", "lod", "solid", "attributes")


class StoredSolids:
    """The ``building_solids`` rows of a store, on the GeoPackage (``gpkg``) or in PostGIS (``dsn``: the DSN
    the PostgreSQL provider uses; services.load copies the table there). A store without the table (built
    before LoD1.3/2.2) has no stored solids: its buildings are LoD1.2 only."""

    def __init__(self, gpkg: Path | None = None, dsn: str | None = None):
        self.gpkg, self.dsn = gpkg, dsn

    def for_ids(self, ids: list[str]) -> dict[str, list[Solid]]:
        """identificatie → its stored solids, in part and LoD order (a building's own before its parts)."""
        if not ids:
            return {}
        rows = self._postgis(ids) if self.dsn else self._geopackage(ids)
        out: dict[str, list[Solid]] = {}
        order = sorted(rows, key=lambda r: (r[0], -1 if _part(r[1]) is None else _part(r[1]), r[2]))
        for ident, part, lod, solid, attributes in order:
            try:
                parsed = json.loads(solid)
                parsed["part"] = _part(part)
                parsed["attributes"] = json.loads(attributes) if attributes else None
            except (TypeError, ValueError) as err:
                raise StadsmodelError(f"{BUILDING_SOLIDS}: the LoD{lod} solid of {ident} (part {part}) is not JSON "
                                      f"({err})") from err
            out.setdefault(ident, []).append(parsed)
        return out

    def _geopackage(self, ids: list[str]) -> list[tuple]:
        con = geopackage.connect(self.gpkg)
        try:
            if BUILDING_SOLIDS not in geopackage.attribute_tables(con):
                return []
            present = {r[1] for r in con.execute(f"PRAGMA table_info({geopackage.quote(BUILDING_SOLIDS)})")}
            used = [c for c in COLUMNS if c in present]
            return _full_rows(geopackage.rows_with(con, BUILDING_SOLIDS, "identificatie", ids, used), present)
        finally:
            con.close()

    def _postgis(self, ids: list[str]) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn) as con:
            if con.execute("SELECT to_regclass(%s)", (f"public.{BUILDING_SOLIDS}",)).fetchone()[0] is None:
                return []
            present = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_schema = 'public' AND table_name = %s",
                                                 (BUILDING_SOLIDS,))}
            select = ", ".join(f'"{c}"' for c in COLUMNS if c in present)
            rows = con.execute(f'SELECT {select} FROM "{BUILDING_SOLIDS}" WHERE identificatie = ANY(%s)',
                               (ids,)).fetchall()
            return _full_rows(rows, present)


def _full_rows(rows: list[tuple], present: set[str]) -> list[tuple]:
    """Rows of every column of COLUMNS: a store built before BuildingParts has no part and attributes (None)."""
    used = [c for c in COLUMNS if c in present]
    return [tuple(dict(zip(used, r)).get(c) for c in COLUMNS) for r in rows]


def _part(value) -> int | None:
    """A part number as stored: an integer, NULL for a building's own solids (PostGIS may hold it as a float)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return int(value)


def _object(properties: dict, footprint_geojson: dict | None, roof_percentile: int,
            solids: list[Solid]) -> CityObject:
    footprint = shapely.geometry.shape(footprint_geojson) if footprint_geojson else None
    return building_object(properties, footprint, roof_percentile, solids)


def cityjson_feature(properties: dict, footprint_geojson: dict | None, roof_percentile: int,
                     solids: list[Solid] = ()) -> dict:
    """One CityJSONFeature with real-world vertices (EPSG:7415, metres)."""
    o = _object(properties, footprint_geojson, roof_percentile, list(solids))
    verts, objects = encode(o)
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": objects, "vertices": np.round(verts, 3).tolist()}


def cityjsonseq(features: list[dict], title: str, roof_percentile: int,
                solids: dict[str, list[Solid]] | None = None) -> str:
    """CityJSONSeq text for GeoJSON features (RD New footprints with store attributes) and their stored
    solids (identificatie → solids)."""
    solids = solids or {}
    return _seq([_object(f["properties"], f.get("geometry"), roof_percentile,
                         solids.get(str(f["properties"].get("identificatie")), [])) for f in features], title)


def envelope_feature(properties: dict) -> dict:
    """One bouwenvelop row as a CityJSONFeature with real-world vertices (EPSG:7415, metres)."""
    o = envelope_object(properties)
    verts, objects = encode(o)
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": objects, "vertices": np.round(verts, 3).tolist()}


def envelopes_seq(features: list[dict], title: str) -> str:
    """CityJSONSeq text for bouwenvelop GeoJSON features: each a GenericCityObject with its own closed Solid."""
    return _seq([envelope_object(f["properties"]) for f in features], title)


def _seq(objects: list[CityObject], title: str) -> str:
    """A header whose transform starts at the lowest vertex of all objects, then one feature per object."""
    encoded = [encode(o) for o in objects]
    present = [v for v, _ in encoded if len(v)]
    mins = np.vstack(present).min(axis=0) if present else np.zeros(3)
    transform = make_transform(mins, SCALE)
    lines = [json.dumps(header(transform, None, title), separators=(",", ":"))]
    lines += [json.dumps(feature(o, transform, e), separators=(",", ":")) for o, e in zip(objects, encoded)]
    return "\n".join(lines) + "\n"
