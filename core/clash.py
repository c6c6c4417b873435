"""The clash policy: a building (or a user's planned solid) against the bouwenvelop, store-agnostic.

One place decides, for a measured building (clash_building: the location check, via services.envelopes) and for
a planned solid (clash_mesh: the what-if, process bouwplan-check), so their numbers are equal:

* which envelopes: those of the plans that are law (a draft's, ``ontwerp`` = 1, only when asked: in_force) whose
  footprint overlaps the building's by at least MIN_OVERLAP_M2 (less is a shared wall);
* which solid of the building: its LoD2.2 solid where the build made one (every part's, for a building of several
  polygons, unioned), else the LoD1.2 block (footprint from b3_h_maaiveld up to b3_h_dak_70p, as the build);
* which peil: a bouwvlak's envelope stands on its own peil (peil_nap, the median DTM inside the bouwvlak). An
  envelope over a whole werkingsgebied or maatvoering area, or a relative one (no DTM when it was made), stands
  on the building's own maaiveld (b3_h_maaiveld): one median over a large area is no peil for each building;
* tolerances: below VOLUME_TOLERANCE_M3 of excess above the envelopes and HEIGHT_TOLERANCE_M of excess height
  the building is inside (the envelope's cone approximation and the millimetre rounding of stored solids);
* the result dict (`building.bouwenvelop` of the location check): status (overschrijdt / binnen_envelop /
  onbekend), envelopes[] (each with the peil used), excess_* numbers, max_excess_height_m, max_excess_at,
  excess_solid, solid_lod, solid_fallback_reason, tolerance, method, reason (when onbekend).

Texts are {"nl": …, "en": …} dicts, as services.rules.text makes them. Geometry comes in as shapely (RD New);
solids as the store's JSON (text or parsed: vertices in EPSG:7415 and a CityJSON Solid).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from core.envelope import Excess, TriMesh, block_mesh, excess, mesh_from_solid, translated, union, validated

VOLUME_TOLERANCE_M3 = 0.05
HEIGHT_TOLERANCE_M = 0.02
LOD12_ROOF = "b3_h_dak_70p"  # the LoD1.2 block height, as the build's lifting.lod12_roof_percentile
# A footprint overlap smaller than this (m²) is a shared wall, not a building inside the envelope's area.
MIN_OVERLAP_M2 = 0.01
METHOD = "manifold3d difference: building solid − union of the envelopes"
ENVELOPE_INFO = ("object_id", "soort", "vlak_id", "max_goothoogte", "max_bouwhoogte", "max_dakhelling", "peil_nap",
                 "peil_methode")

Text = dict[str, str]
EnvelopeRow = tuple[Mapping[str, Any], Any]  # (bouwenvelop row, its footprint as shapely)


def _text(nl: str, en: str) -> Text:
    return {"nl": nl, "en": en}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _solid(row: Mapping[str, Any]) -> dict:
    s = row["solid"]
    return json.loads(s) if isinstance(s, (str, bytes)) else s


def _ids(v: Any) -> list:
    if v is None:
        return []
    return json.loads(v) if isinstance(v, (str, bytes)) else list(v)


def stands_on_maaiveld(envelope: Mapping[str, Any]) -> bool:
    """Whether the envelope is placed on each building's maaiveld (relative, or not a bouwvlak) rather than on
    its own peil_nap."""
    return bool(envelope.get("relatief")) or envelope.get("soort") != "bouwvlak"


def in_force(envelopes: Iterable[EnvelopeRow], include_ontwerp: bool = False) -> list[EnvelopeRow]:
    """The envelopes a verdict rests on: those of plans in force, and the drafts' too with include_ontwerp."""
    return [(rec, geom) for rec, geom in envelopes if include_ontwerp or not rec.get("ontwerp")]


def overlapping(envelopes: Iterable[EnvelopeRow], footprint) -> list[EnvelopeRow]:
    """The envelopes whose footprint overlaps the given one (at least MIN_OVERLAP_M2)."""
    if footprint is None or footprint.is_empty:
        return []
    return [(rec, geom) for rec, geom in envelopes
            if geom is not None and not geom.is_empty and geom.intersection(footprint).area >= MIN_OVERLAP_M2]


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
            why = _text(f"LoD2.2-solid niet bruikbaar ({e})", f"LoD2.2 solid not usable ({e})")
    else:
        why = _text("geen LoD2.2-solid", "no LoD2.2 solid")
    ground, roof = _num(building.get("b3_h_maaiveld")), _num(building.get(LOD12_ROOF))
    if ground is None or roof is None or footprint is None:
        return None, "", why
    block = block_mesh(footprint, ground, roof)
    return (None if block.empty else block), "1.2", why


def envelope_mesh(rec: Mapping[str, Any], cache: MutableMapping[Any, TriMesh] | None = None) -> TriMesh:
    """The envelope's stored solid as a mesh (at its own peil). :raises ValueError, KeyError, TypeError,
    json.JSONDecodeError: the solid cannot be read. With a cache (keyed by object_id) each solid is read once."""
    key = rec.get("object_id")
    if cache is not None and key is not None and key in cache:
        return cache[key]
    mesh = mesh_from_solid(_solid(rec))
    if cache is not None and key is not None:
        cache[key] = mesh
    return mesh


def place_envelopes(envelopes: Sequence[EnvelopeRow], maaiveld: float | None,
                    cache: MutableMapping[Any, TriMesh] | None = None) -> tuple[list[dict], list[tuple[TriMesh, Any]]]:
    """(envelope infos for the answer, [(placed mesh, footprint)]): each envelope on its peil (see the module)."""
    infos, meshes = [], []
    for rec, geom in envelopes:
        base = _num(rec.get("peil_nap"))
        info = {k: rec.get(k) for k in ENVELOPE_INFO}
        info["relatief"] = bool(rec.get("relatief"))
        info["ontwerp"] = bool(rec.get("ontwerp"))  # a draft plan's envelope (counted only when asked)
        info["plan_ids"] = _ids(rec.get("plan_ids"))
        info["bron_object_ids"] = _ids(rec.get("bron_object_ids"))
        infos.append(info)
        if stands_on_maaiveld(rec):
            if maaiveld is None:
                info["peil_gebruikt"] = None
                info["peil_gebruikt_methode"] = _text("b3_h_maaiveld van het pand onbekend: envelop niet te plaatsen",
                                                      "the pand's b3_h_maaiveld is unknown: envelope not placed")
                continue
            shift, info["peil_gebruikt"] = maaiveld - (base or 0.0), round(maaiveld, 3)
            info["peil_gebruikt_methode"] = _text("b3_h_maaiveld van het pand", "the pand's b3_h_maaiveld")
        else:
            shift, info["peil_gebruikt"] = 0.0, base
            info["peil_gebruikt_methode"] = _text("peil_nap van de envelop", "the envelope's peil_nap")
        try:
            meshes.append((translated(envelope_mesh(rec, cache), shift), geom))
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            info["peil_gebruikt_methode"] = _text(f"solid van de envelop onleesbaar ({e})",
                                                  f"envelope solid not readable ({e})")
    return infos, meshes


def _measure(out: dict, mesh: TriMesh, placed: list[tuple[TriMesh, Any]]) -> dict:
    if not placed:
        out["reason"] = _text("geen envelop te plaatsen (peil onbekend)", "no envelope could be placed (peil unknown)")
        return out
    try:
        result: Excess = excess(mesh, placed)
    except ValueError as e:
        out["reason"] = _text(f"solid niet bruikbaar voor het verschil ({e})",
                              f"solid not usable for the boolean ({e})")
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


def clash_building(envelopes: Iterable[EnvelopeRow], building_row: Mapping[str, Any], footprint,
                   solids: Sequence[Mapping[str, Any]],
                   cache: MutableMapping[Any, TriMesh] | None = None) -> dict | None:
    """A building of the store against the envelopes, or None when its footprint lies in none of them.

    :param envelopes: candidate (bouwenvelop row, footprint) pairs, e.g. those whose bbox meets the footprint's;
        the overlap test is made here
    :param building_row: the pand's row of the buildings layer (b3_h_maaiveld, b3_h_dak_70p are used)
    :param footprint: its footprint (shapely, RD New)
    :param solids: its building_solids rows (lod, part, solid as JSON text or parsed)
    :param cache: optional {object_id: envelope mesh}, to read each envelope's solid once over many buildings
    """
    hits = overlapping(envelopes, footprint)
    if not hits:
        return None
    infos, placed = place_envelopes(hits, _num(building_row.get("b3_h_maaiveld")), cache)
    out: dict[str, Any] = {"envelopes": infos, "status": "onbekend", "method": METHOD}
    mesh, lod, why = building_mesh(building_row, footprint, solids)
    out["solid_lod"], out["solid_fallback_reason"] = lod or None, why
    if mesh is None:
        out["reason"] = _text("geen solid van het gebouw (hoogten niet gemeten)",
                              "no building solid (heights not measured)")
        return out
    return _measure(out, mesh, placed)


def clash_mesh(envelopes: Iterable[EnvelopeRow], mesh: TriMesh, footprint, maaiveld: float | None) -> dict:
    """A user's planned solid (closed TriMesh, RD New + NAP) against the envelopes: the same dict as
    :func:`clash_building` with solid_lod "ontwerp"; status "onbekend" with a reason when its footprint lies in
    no envelope (envelopes [] then) or none can be placed.

    :param footprint: the solid's footprint (shapely, RD New): chooses the envelopes
    :param maaiveld: the ground height (NAP) the maaiveld-standing envelopes are placed on (see the module)
    :raises ValueError: the mesh is not closed (core.envelope.validated; checked once an envelope overlaps)
    """
    hits = overlapping(envelopes, footprint)
    out: dict[str, Any] = {"envelopes": [], "status": "onbekend", "method": METHOD, "solid_lod": "ontwerp",
                           "solid_fallback_reason": None}
    if not hits:
        out["reason"] = _text("niet in een bouwenvelop", "not inside any bouwenvelop")
        return out
    if mesh.empty:
        out["reason"] = _text("leeg ontwerp-solid", "empty planned solid")
        return out
    out["envelopes"], placed = place_envelopes(hits, maaiveld)
    return _measure(out, validated(mesh), placed)
