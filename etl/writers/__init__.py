"""One writer per product of `stadsmodel build`: CityJSON/CityJSONSeq, the GeoPackage store, rasters."""
