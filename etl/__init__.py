"""The ETL: readers (BGT, BAG, AHN) → lifting (points → heights per footprint, BGT surfaces like 3dfier)
→ writers (CityJSON, CityJSONSeq, GeoPackage store, DTM/DSM). Entry point: `etl.build.build_model`."""
