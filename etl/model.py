"""City objects of the model, made from store rows. One home for "what a building looks like in CityJSON",
used by the ETL writers and by the services' CityJSON encoding alike."""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

import math

from etl.geometry import lod12_solid
from etl.writers.cityjson import CityObject

# Store columns that are not attributes of the CityJSON Building.
NON_ATTRIBUTES = {"geometry", "fid"}


def building_object(attributes: Mapping[str, Any], footprint, roof_percentile: int = 70) -> CityObject:
    """A Building with its LoD1.2 solid (roof at the configured percentile, as 3DBAG), or without geometry
    when the heights are unknown (the building is then flagged, never dropped)."""
    z_ground = attributes.get("b3_h_maaiveld")
    z_roof = attributes.get(f"b3_h_dak_{roof_percentile}p")
    attrs = {k: v for k, v in attributes.items() if k not in NON_ATTRIBUTES}
    geometry = None
    if _number(z_ground) and _number(z_roof) and z_roof > z_ground and footprint is not None and not footprint.is_empty:
        geometry = partial(lod12_solid, footprint, float(z_ground), float(z_roof))
    return CityObject(str(attributes["identificatie"]), "Building", attrs, geometry)


def _number(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and not math.isnan(v)
