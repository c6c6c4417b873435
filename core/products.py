"""Names of the products and store layers: the contract between build, zoning import, tiles and serve.

A build folder (``stadsmodel build --out OUT``) holds the files below; ``serve --data OUT`` and ``tiles`` read
them by these names only.
"""

from __future__ import annotations

MODEL_JSON = "model.city.json"          # CityJSON 2.0, one shared vertex list
MODEL_JSONL = "model.city.jsonl"        # CityJSONSeq, one CityJSONFeature per line
STORE_NAME = "stadsmodel.gpkg"          # the GeoPackage store (RD New)
DTM_NAME = "dtm.tif"
DSM_NAME = "dsm.tif"
REPORT_NAME = "report.json"             # the build's run report
REJECTED_REPORT_NAME = "report.rejected.json"  # the report of a build that was not published
ZONING_REPORT_NAME = "zoning_report.json"
RULES_REPORT_NAME = "rules_report.json"     # what the last `rules import` did
TILES_DIR = "tiles"                     # what `serve` publishes at /tiles/
TILES_INDEX = "index.json"              # the tilesets `stadsmodel tiles` wrote

# Store layers, each with one writer. `build` owns BUILDINGS, ADDRESSES and the bgt_* layers and replaces them on
# every build (etl.writers.store refuses any other); `zoning import` owns ZONING_LAYERS and edits them in place
# (etl.zoning.store refuses any other); a rebuild carries every layer it does not own over (etl.writers.publish).
BUILDINGS = "buildings"
ADDRESSES = "addresses"
# The buildings' solids beside the LoD1.2 block `f=cityjson` rebuilds from the footprint: a GeoPackage attributes
# table (no geometry column, so no OGC API collection): identificatie, part (NULL for a single-polygon building's
# own solids, else its BuildingPart's k), lod ("1.2" for parts only, "1.3", "2.2"), solid (JSON: {"vertices":
# [[x, y, z], ...], "geometry": {...}}), attributes (a part's roof attributes, JSON, on its LoD1.2 row).
BUILDING_SOLIDS = "building_solids"
BGT_PREFIX = "bgt_"
ETL_LAYERS = (BUILDINGS, ADDRESSES, BUILDING_SOLIDS)

IMRO_LAYERS = ("bestemmingsplangebied", "enkelbestemming", "dubbelbestemming", "bouwvlak", "functieaanduiding",
               "bouwaanduiding", "gebiedsaanduiding", "maatvoering", "figuur")
OW_LAYERS = ("ow_locatie", "ow_gebiedsaanwijzing", "ow_omgevingsnorm", "ow_activiteit")
MONUMENT_LAYERS = ("monumenten", "beschermde_gezichten")
# Plan rule texts (issue 16): ow_juridische_regel, one row per OW juridische regel × locatie with the wId of its
# article; regels, one row per article (STOP Artikel or IMRO regels anchor) with its text, structure and, where it
# has one, its werkingsgebied. REGELS_FTS is the SQLite FTS5 index of regels (rowid = regels.fid: kop, tekst),
# rebuilt by every zoning import; the OGC API provider answers q= with it.
OW_JURIDISCHE_REGEL = "ow_juridische_regel"
REGELS = "regels"
REGELS_FTS = "regels_fts"
REGELS_FTS_COLUMNS = ("kop", "tekst")  # what full text searches in the articles: FTS5 here, a tsvector on PostGIS
ARTICLE_LAYERS = (OW_JURIDISCHE_REGEL, REGELS)
ZONING_LAYERS = IMRO_LAYERS + OW_LAYERS + MONUMENT_LAYERS + ARTICLE_LAYERS
# The municipality's toepasbare regels (STTR), one row per activity: an attributes table written only by
# `rules import` (etl.rules.importer): activity (id), titel, bron (file), bron_sha256, geimporteerd (UTC time),
# model (JSON: core.toepasbare_regels.Activity.to_json()).
TOEPASBARE_REGELS = "toepasbare_regels"
# The allowed building volume per bouwvlak / werkingsgebied, made from the zoning layers and the DTM by
# etl.envelopes (after `zoning import`, and after `build` when the DTM changes); its only writer.
BOUWENVELOP = "bouwenvelop"
# Per building (BAG pand) whose footprint overlaps an envelope: its clash with them (core.clash.clash_building,
# the location check's numbers) and the excess as a Solid. Written by etl.envelopes with BOUWENVELOP, and after
# every build (the buildings changed): identificatie, status, excess_*_m3, max_excess_height_m, envelope_ids,
# solid_lod, reden, solid; geometry the footprint.
BOUWENVELOP_OVERSCHRIJDING = "bouwenvelop_overschrijding"
ENVELOPE_LAYERS = (BOUWENVELOP, BOUWENVELOP_OVERSCHRIJDING)  # etl.envelopes' layers, its only writer
# The 3D Tiles `stadsmodel tiles` writes from ENVELOPE_LAYERS (tiles.envelopes), by their index.json name.
ENVELOPES_TILESET = "envelopes"
EXCESS_TILESET = "excess"


def is_etl_layer(name: str) -> bool:
    """A layer `build` writes (and replaces as a whole on every build)."""
    return name in ETL_LAYERS or name.startswith(BGT_PREFIX)
