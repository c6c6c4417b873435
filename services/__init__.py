"""OGC API service over the Stadsmodel store.

* :func:`services.app.create_app`: the site (pygeoapi at ``/api``, 3D Tiles at ``/tiles``, CesiumJS at
  ``/cesium``, the viewer at ``/``, ``/health``); :func:`services.server.serve` runs it (``--workers``).
* :mod:`services.limits` (request limits), :mod:`services.params` / :mod:`services.filters` (what is refused
  with a 400 before pygeoapi), :mod:`services.bbox` (exact bbox areas), :mod:`services.health`,
  :mod:`services.tilefiles` (only tileset products under ``/tiles``), :mod:`services.middleware` (errors,
  redirects).
* :func:`services.config.effective_config`: pygeoapi configuration generated from a data directory.
* :mod:`services.cityjson`: ``f=cityjson`` from store rows with core.cityjson, at the build's roof percentile
  (:func:`services.config.lod12_roof_percentile`).
* :class:`services.providers.geopackage.GeoPackageProvider`: CQL2-filtering GeoPackage provider.
* :func:`services.load.load_postgis`: the store into PostGIS (production backend).
"""
