"""Generators of synthetic, deterministic inputs in the real formats, upstream of the ETL.

``district`` (BGT/BAG-like layers, a classified LAZ point cloud and the true world in ``truth.json``),
``plan`` (an IMRO bestemmingsplan and an Omgevingsplan over such a district) and ``model`` (CityJSONSeq
districts for the tiler alone). Used by ``stadsmodel synth``/``demo``, the tests and the benchmarks; nothing in
``etl``, ``tiles`` or ``services`` imports them.
"""
