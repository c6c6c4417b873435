"""Stadsmodel: shared plumbing (errors, configuration, CRS roles, paths) and the `stadsmodel` CLI.

The working parts live in sibling packages that depend on this one and not on each other's internals:
``etl`` (readers → lifting → writers), ``tiles`` (3D Tiles), ``services`` (pygeoapi plugins, server).
"""

__version__ = "0.1.0"
