"""The clash of a building with the bouwenvelop: what of its solid lies outside the volume the plans allow.

:func:`clash` reads the envelopes from the store's `bouwenvelop` layer (written by etl.envelopes; rules in
docs/bouwenvelop.md) and subtracts them from the building's solid with manifold3d (core.envelope): the LoD2.2
solid where the build made one (every part's, for a building of several polygons), else the LoD1.2 block (the
footprint from b3_h_maaiveld up to b3_h_dak_70p, as the build makes it).

Peil: a bouwvlak's envelope stands on its own peil (the median DTM inside the bouwvlak). An envelope over a whole
werkingsgebied or maatvoering area, or a relative one (no DTM when it was made), stands on the building's own
maaiveld (b3_h_maaiveld): one median over a large area is no peil for each building in it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from core.envelope import Excess, TriMesh, block_mesh, excess, mesh_from_solid, translated, union, validated
from core.products import BOUWENVELOP
from services.rules import Text, text

# Below these the building is inside its envelope: the envelope's own approximation (cones of 64 sides) and
# the millimetre rounding of stored solids, not an excess.
VOLUME_TOLERANCE_M3 = 0.05
HEIGHT_TOLERANCE_M = 0.02
LOD12_ROOF = "b3_h_dak_70p"  # the LoD1.2 block height, as the build's lifting.lod12_roof_percentile
# A footprint overlap smaller than this (m²) is a shared wall, not a building inside the envelope's area.
MIN_OVERLAP_M2 = 0.01


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _solid(row: Mapping[str, Any]) -> dict:
    s = row["solid"]
    return json.loads(s) if isinstance(s, (str, bytes)) else s


def building_mesh(building: Mapping[str, Any], footprint, solids: Sequence[Mapping[str, Any]]) \
        -> tuple[TriMesh | None, str, Text | None]:
    """(mesh, LoD used, why a lower LoD was used): the LoD2.2 solid(s), else the LoD1.2 block."""
    lod22 = [s for s in solids if str(s.get("lod")) == "2.2"]
    parts = {s.get("part") for s in solids if s.get("part") is not None}
    why = None
    if lod22 and (not parts or {s.get("part") for s in lod22} >= parts):
        try:
            meshes = [validated(mesh_from_solid(_solid(s))) for s in lod22]
            if len(meshes) == 1:
                return meshes[0], "2.2", None
            return union(meshes), "2.2", None
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            why = text(f"LoD2.2-solid niet bruikbaar ({e})", f"LoD2.2 solid not usable ({e})")
    else:
        why = text("geen LoD2.2-solid", "no LoD2.2 solid")
    ground, roof = _num(building.get("b3_h_maaiveld")), _num(building.get(LOD12_ROOF))
    if ground is None or roof is None or footprint is None:
        return None, "", why
    block = block_mesh(footprint, ground, roof)
    return (None if block.empty else block), "1.2", why


def clash(store, building_row: Mapping[str, Any], footprint, solids: Sequence[Mapping[str, Any]]) -> dict | None:
    """The building against the envelopes its footprint lies in, or None when it lies in none (or the store
    has no `bouwenvelop` layer).

    :param store: services.processes.location_check.Store (has(layer), query(layer, minx, miny, maxx, maxy))
    :param building_row: the pand's row of the store's buildings layer
    :param footprint: its footprint (shapely, RD New)
    :param solids: its building_solids rows (lod, part, solid as JSON text or parsed)
    """
    if footprint is None or footprint.is_empty or not store.has(BOUWENVELOP):
        return None
    hits = [(rec, geom) for rec, geom in store.query(BOUWENVELOP, *footprint.bounds)
            if geom is not None and geom.intersection(footprint).area >= MIN_OVERLAP_M2]
    if not hits:
        return None
    maaiveld = _num(building_row.get("b3_h_maaiveld"))
    envelopes, meshes = [], []
    for rec, geom in hits:
        base = _num(rec.get("peil_nap"))
        own_peil = bool(rec.get("relatief")) or rec.get("soort") != "bouwvlak"
        info = {k: rec.get(k) for k in ("object_id", "soort", "vlak_id", "max_goothoogte", "max_bouwhoogte",
                                        "max_dakhelling", "peil_nap", "peil_methode")}
        info["relatief"] = bool(rec.get("relatief"))
        info["plan_ids"] = json.loads(rec.get("plan_ids") or "[]")
        info["bron_object_ids"] = json.loads(rec.get("bron_object_ids") or "[]")
        if own_peil:
            if maaiveld is None:
                info["peil_gebruikt"] = None
                info["peil_gebruikt_methode"] = text("b3_h_maaiveld van het pand onbekend: envelop niet te plaatsen",
                                                     "the pand's b3_h_maaiveld is unknown: envelope not placed")
                envelopes.append(info)
                continue
            shift, info["peil_gebruikt"] = maaiveld - (base or 0.0), round(maaiveld, 3)
            info["peil_gebruikt_methode"] = text("b3_h_maaiveld van het pand", "the pand's b3_h_maaiveld")
        else:
            shift, info["peil_gebruikt"] = 0.0, base
            info["peil_gebruikt_methode"] = text("peil_nap van de envelop", "the envelope's peil_nap")
        try:
            meshes.append((translated(mesh_from_solid(_solid(rec)), shift), geom))
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            info["peil_gebruikt_methode"] = text(f"solid van de envelop onleesbaar ({e})",
                                                 f"envelope solid not readable ({e})")
            envelopes.append(info)
            continue
        envelopes.append(info)
    out: dict[str, Any] = {"envelopes": envelopes, "status": "onbekend", "method": "manifold3d difference: "
                           "building solid − union of the envelopes"}
    mesh, lod, why = building_mesh(building_row, footprint, solids)
    out["solid_lod"], out["solid_fallback_reason"] = lod or None, why
    if mesh is None:
        out["reason"] = text("geen solid van het gebouw (hoogten niet gemeten)",
                             "no building solid (heights not measured)")
        return out
    if not meshes:
        out["reason"] = text("geen envelop te plaatsen (peil onbekend)", "no envelope could be placed (peil unknown)")
        return out
    try:
        result: Excess = excess(mesh, meshes)
    except ValueError as e:
        out["reason"] = text(f"solid niet bruikbaar voor het verschil ({e})", f"solid not usable for the boolean ({e})")
        return out
    over = result.above_m3 > VOLUME_TOLERANCE_M3 or result.max_height_m > HEIGHT_TOLERANCE_M
    out.update({
        "status": "overschrijdt" if over else "binnen_envelop",
        "excess_volume_m3": round(result.volume_m3, 3),
        "excess_above_m3": round(result.above_m3, 3),
        "excess_outside_m3": round(result.outside_m3, 3),
        "max_excess_height_m": round(result.max_height_m, 3),
        "max_excess_at": None if result.at is None else [round(c, 3) for c in result.at],
        "excess_solid": None if result.mesh.empty else result.mesh.solid_json(),
        "tolerance": {"volume_m3": VOLUME_TOLERANCE_M3, "height_m": HEIGHT_TOLERANCE_M},
    })
    return out
