"""Roofs: LoD1.3 and LoD2.2 buildings from their AHN roof points, with eave and ridge heights (issue 12).

`reconstruct(points, footprint, z_ground, config)` is a pure function per building; docs/roofs.md states the
method and its limits.
"""

from etl.roofs.reconstruction import RoofConfig, RoofModel, reconstruct
from etl.roofs.validity import solid_errors

__all__ = ["RoofConfig", "RoofModel", "reconstruct", "solid_errors"]
