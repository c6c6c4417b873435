"""CityJSON encoding of building items (``f=cityjson``), built from store rows.

A list of items is CityJSONSeq (``application/city+json-seq``): a CityJSON header line (version 2.0,
EPSG:7415, ``transform``) and one CityJSONFeature per building, vertices quantised to millimetres. A single
item is one CityJSONFeature (``application/city+json``); having no header to carry a ``transform``, its
vertices are real EPSG:7415 coordinates in metres, rounded to millimetres.

The LoD1.2 solid comes from ``core.cityjson.building_object`` (footprint + ``b3_h_maaiveld`` + the roof at
``roof_percentile``), the same code the ETL writes ``model.city.json`` with; the caller passes the percentile
the build used (services.config.lod12_roof_percentile), so both give the same solid.
"""

from __future__ import annotations

import json

import numpy as np
import shapely

from core.cityjson import building_object, cityobject_dict, feature, header, make_transform

SCALE = 0.001


def _object(properties: dict, footprint_geojson: dict | None, roof_percentile: int):
    footprint = shapely.geometry.shape(footprint_geojson) if footprint_geojson else None
    return building_object(properties, footprint, roof_percentile)


def cityjson_feature(properties: dict, footprint_geojson: dict | None, roof_percentile: int) -> dict:
    """One CityJSONFeature with real-world vertices (EPSG:7415, metres)."""
    o = _object(properties, footprint_geojson, roof_percentile)
    geometry, vertices = None, []
    if o.geometry is not None:
        verts, geometry = o.geometry(0)
        vertices = np.round(verts, 3).tolist()
    return {"type": "CityJSONFeature", "id": o.id, "CityObjects": {o.id: cityobject_dict(o, geometry)},
            "vertices": vertices}


def cityjsonseq(features: list[dict], title: str, roof_percentile: int) -> str:
    """CityJSONSeq text for GeoJSON features (RD New footprints with store attributes)."""
    objects = [_object(f["properties"], f.get("geometry"), roof_percentile) for f in features]
    mins = [np.inf, np.inf, np.inf]
    for f, o in zip(features, objects):
        if o.geometry is not None:
            x0, y0, _, _ = shapely.bounds(shapely.geometry.shape(f["geometry"]))
            mins = [min(mins[0], x0), min(mins[1], y0), min(mins[2], float(f["properties"]["b3_h_maaiveld"]))]
    transform = make_transform([m if np.isfinite(m) else 0.0 for m in mins], SCALE)
    lines = [json.dumps(header(transform, None, title), separators=(",", ":"))]
    lines += [json.dumps(feature(o, transform), separators=(",", ":")) for o in objects]
    return "\n".join(lines) + "\n"
