"""OGC API service over the Stadsmodel store.

* :func:`services.app.create_app` / :func:`services.app.serve`: the site (pygeoapi at ``/api``, 3D Tiles at
  ``/tiles``, CesiumJS at ``/cesium``, the viewer at ``/``).
* :func:`services.config.effective_config`: pygeoapi configuration generated from a data directory.
* :class:`services.providers.geopackage.GeoPackageProvider`: CQL2-filtering GeoPackage provider.
* :func:`services.load.load_postgis`: the store into PostGIS (production backend).
"""
