"""The clash of a building with the bouwenvelop, read from the store.

The policy (which solid of the building, which peil, tolerances, the result) is core.clash's, shared with a
planned solid's check (core.clash.clash_mesh); this module only queries the store's `bouwenvelop` layer
(written by etl.envelopes; rules in docs/bouwenvelop.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.clash import clash_building, in_force
from core.products import BOUWENVELOP


def envelopes_at(store, footprint, include_ontwerp: bool = False) -> list[tuple[dict, Any]]:
    """The store's bouwenvelop rows (with their footprint) whose bbox meets the footprint's ([] without the layer):
    those of plans in force, and with include_ontwerp the drafts' too (core.clash.in_force)."""
    if footprint is None or footprint.is_empty or not store.has(BOUWENVELOP):
        return []
    return in_force(store.query(BOUWENVELOP, *footprint.bounds), include_ontwerp)


def clash(store, building_row: Mapping[str, Any], footprint, solids: Sequence[Mapping[str, Any]],
          include_ontwerp: bool = False) -> dict | None:
    """The building against the envelopes its footprint lies in, or None when it lies in none (or the store
    has no `bouwenvelop` layer): core.clash.clash_building on the store's envelopes.

    :param store: services.processes.location_check.Store (has(layer), query(layer, minx, miny, maxx, maxy))
    :param building_row: the pand's row of the store's buildings layer
    :param footprint: its footprint (shapely, RD New)
    :param solids: its building_solids rows (lod, part, solid as JSON text or parsed)
    :param include_ontwerp: count the envelopes of draft plans too
    """
    candidates = envelopes_at(store, footprint, include_ontwerp)
    if not candidates:
        return None
    return clash_building(candidates, building_row, footprint, solids)
