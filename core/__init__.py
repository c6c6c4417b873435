"""The ground floor: the contract every part of Stadsmodel shares, and nothing above it.

``products`` (file and layer names), ``crs`` (CRS roles, URIs, the RDNAPTRANS2018 converter), ``config``
(repository paths, configuration files checked against their schemas), ``errors``, ``atomic`` (the one atomic
file writer), ``cityjson`` (the CityJSON object model: how a building becomes a city object), ``gpkg``
(read-only GeoPackage access without SpatiaLite) and ``lasfile`` (the LAS/LAZ reader). Modules here import
only each other and third-party libraries, never ``etl``, ``tiles``, ``services``, ``synth`` or the CLI.
"""
