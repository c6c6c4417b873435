"""One writer per product of `stadsmodel build`: CityJSON/CityJSONSeq, the GeoPackage store, rasters; the
single-machine and the tiled build write through the same ones (whole, or streamed tile by tile)."""
