"""The bouwenvelop in 3D Tiles: ``envelopes/`` (the allowed volume per bouwvlak / area, translucent) and
``excess/`` (what of each building lies outside it, opaque red), from the store's layers `bouwenvelop` and
`bouwenvelop_overschrijding` (written by etl.envelopes; docs/bouwenvelop.md "3D Tiles").

The solids are the store's JSON (``{"vertices": [[x, y, z], ...], "geometry": {"type": "Solid", ...}}``, RD New +
NAP, triangles) read into the tiler's SurfaceSet the way tiles.model reads a CityJSON geometry
(:func:`envelope_sets`); tiles.tiler.tile_model tiles them with tile_surfaces in the model's frame: the same
quadtree, glb writer and property tables as the buildings. One feature per envelope (properties
:data:`ENVELOPE_PROPERTIES`) and per building with an excess solid (:data:`EXCESS_PROPERTIES`).

A relative envelope (``relatief`` 1: made without a DTM) has no NAP base: its solid stands on 0 m NAP, which is
nowhere near the ground, so it is left out of the tileset and listed in the index's ``skipped``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import gpkg as geopackage
from core.errors import SkipLog
from core.products import BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING, ENVELOPES_TILESET, EXCESS_TILESET
from tiles.model import BATCH_BLOCKS, SurfaceSet, _SetBuilder, _surfaces_of

log = logging.getLogger(__name__)

# (name, rgb[a]) per surface class, as tiles.tiler's BUILDING_MATERIALS: an alpha below 1 is alpha-blended
ENVELOPE_COLOUR = (0.55, 0.78, 0.96, 0.35)  # light blue, translucent: the buildings stay visible inside
EXCESS_COLOUR = (0.86, 0.08, 0.08)  # opaque red
ENVELOPE_MATERIALS = [("bouwenvelop", ENVELOPE_COLOUR)]
EXCESS_MATERIALS = [("overschrijding", EXCESS_COLOUR)]
ENVELOPE_PROPERTIES = ("object_id", "soort", "max_goothoogte", "max_bouwhoogte", "max_dakhelling", "peil_nap",
                       "relatief", "ontwerp", "plan_ids")
EXCESS_PROPERTIES = ("identificatie", "excess_volume_m3", "max_excess_height_m", "status")
RELATIVE = ("relatief: gemaakt zonder DTM, geen NAP-peil; niet in de envelopes-tileset (relative envelope: no NAP "
            "base, not tiled)")


def envelope_layers(store: Path) -> set[str]:
    """Which of the two layers the store holds (none for a store without them, or no store)."""
    if not Path(store).is_file():
        return set()
    con = geopackage.connect(store)
    try:
        return set(geopackage.feature_layers(con)) & {BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING}
    finally:
        con.close()


def _read(store: Path, layer: str, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of a layer (the wanted columns that exist, and solid), in fid order."""
    con = geopackage.connect(store)
    try:
        meta = geopackage.feature_layers(con, layer)[layer]
        used = [c for c in dict.fromkeys([*columns, "solid"]) if c in meta.columns]
        q = geopackage.quote
        cur = con.execute(f"SELECT {', '.join(map(q, used))} FROM {q(layer)} ORDER BY {q(meta.primary_key or 'rowid')}")
        return [dict(zip(used, r)) for r in cur.fetchall()]
    finally:
        con.close()


def solid_surfaces(rows: list[dict[str, Any]], key: str, properties: tuple[str, ...], store: Path,
                   skipped: SkipLog) -> SurfaceSet:
    """One feature per row with a readable ``solid`` (the store's JSON), its ``properties`` as attributes."""
    builder = _SetBuilder(store, np.ones(3), np.zeros(3), skipped)
    for row in rows:
        oid = str(row.get(key))
        try:
            solid = json.loads(row["solid"])
            surfaces, classes = _surfaces_of(solid["geometry"], None, 0)
            vertices = solid["vertices"]
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            skipped.add(store.name, oid, f"solid not readable ({e.__class__.__name__}: {e}); not tiled")
            continue
        builder.start_block(vertices)
        builder.add(oid, surfaces, classes, {p: row.get(p) for p in properties})
        if builder.pending_blocks >= BATCH_BLOCKS:
            builder.flush()
    return builder.finish()


@dataclass
class EnvelopeSet:
    """One tileset to write: its index name, metadata class, features and materials."""

    name: str
    class_name: str
    surfaces: SurfaceSet
    materials: list


def envelope_sets(store: Path) -> tuple[list[EnvelopeSet], SkipLog]:
    """The tilesets of the store's bouwenvelop layers, each only when its layer is there and has a solid to draw
    (``envelopes``: every envelope with a NAP base; ``excess``: every building with an excess solid), and what
    was left out (relative envelopes, unreadable solids) for the index's ``skipped``. tiles.tiler.tile_model
    tiles them with tile_surfaces in the model's frame."""
    store = Path(store)
    skipped = SkipLog()
    sets: list[EnvelopeSet] = []
    present = envelope_layers(store)
    if BOUWENVELOP in present:
        rows = _read(store, BOUWENVELOP, ENVELOPE_PROPERTIES)
        for r in rows:
            if r.get("relatief"):
                skipped.add(store.name, str(r.get("object_id")), RELATIVE)
        absolute = [r for r in rows if not r.get("relatief")]
        surfaces = solid_surfaces(absolute, "object_id", ENVELOPE_PROPERTIES, store, skipped)
        if len(surfaces):
            sets.append(EnvelopeSet(ENVELOPES_TILESET, "bouwenvelop", surfaces, ENVELOPE_MATERIALS))
    if BOUWENVELOP_OVERSCHRIJDING in present:
        rows = [r for r in _read(store, BOUWENVELOP_OVERSCHRIJDING, EXCESS_PROPERTIES) if r.get("solid")]
        surfaces = solid_surfaces(rows, "identificatie", EXCESS_PROPERTIES, store, skipped)
        if len(surfaces):
            sets.append(EnvelopeSet(EXCESS_TILESET, "overschrijding", surfaces, EXCESS_MATERIALS))
    log.info("%s: %s", store.name, ", ".join(f"{s.name} {len(s.surfaces)} features" for s in sets)
             or "no bouwenvelop tilesets")
    return sets, skipped


def remove_stale(out: Path, written: Iterable[str]) -> None:
    """Remove an earlier run's envelopes/ or excess/ that this run did not write (the index no longer names it)."""
    written = set(written)
    for name in (ENVELOPES_TILESET, EXCESS_TILESET):
        if name not in written and (Path(out) / name / "tileset.json").is_file():
            shutil.rmtree(Path(out) / name, ignore_errors=True)
