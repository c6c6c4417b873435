"""Checking 3D Tiles 1.0 / 1.1 tilesets, by concern:

- :mod:`tiles.validate.checker`: the tileset walk (structure, bounding volumes, implicit tiling) and the API;
- :mod:`tiles.validate.volumes`: box / region / sphere maths (geodesy from tiles/georef.py);
- :mod:`tiles.validate.formats`: parsing glb / b3dm / pnts; :mod:`tiles.validate.content`: checking them;
- :mod:`tiles.validate.gltf_validator`: the Khronos glTF validator, run by Node.js.

Nothing here prints: the CLI (stadsmodel/cli.py) prints a Report's problems.
"""

from tiles.validate.checker import tileset_targets, validate_tileset
from tiles.validate.gltf_validator import gltf_validator_available
from tiles.validate.report import Problem, Report

__all__ = ["Problem", "Report", "gltf_validator_available", "tileset_targets", "validate_tileset"]

