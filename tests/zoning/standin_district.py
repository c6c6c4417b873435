"""A small district with the synthetic generator's contract (bag.gpkg layer ``pand``, truth.json) and the
store the ETL would build from it (stadsmodel.gpkg ``buildings`` + ``addresses``), written directly.

Used when the real generator (etl.synth) and ETL (etl.build) are not available, and by the benchmark for
large stores that would take too long to build from points. Heights in the store are the truth plus up to
±3 cm, as the ETL's accuracy target allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, box

RD_ORIGIN = (155000.0, 463000.0)  # Amersfoort area


def write_standin_district(out: Path, rows: int = 6, cols: int = 8, seed: int = 7) -> Path:
    """Panden on a grid (12 × 9 m footprints, 20 m apart); returns ``out``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    recs, truth, addrs = [], {}, []
    n = 0
    for r in range(rows):
        for c in range(cols):
            n += 1
            x, y = RD_ORIGIN[0] + c * 20.0, RD_ORIGIN[1] + r * 20.0
            ident = f"0307100000{n:06d}"
            pid = f"NL.IMBAG.Pand.{ident}"
            maaiveld = float(rng.uniform(0.5, 1.5))
            height = float(rng.uniform(6.0, 14.0))
            truth[pid] = {"h_maaiveld": round(maaiveld, 3), "h_dak_max": round(maaiveld + height, 3),
                          "h_dak_70p": round(maaiveld + height - 1.0, 3), "h_dak_min": round(maaiveld + height - 3.0, 3)}
            recs.append({"identificatie": ident, "bouwjaar": int(rng.integers(1900, 2020)), "status": "Pand in gebruik",
                         "geometry": box(x, y, x + 12.0, y + 9.0)})
            addrs.append({"identificatie": f"0307010000{n:06d}", "pand_identificatie": pid, "openbareruimte": "Synthstraat",
                          "huisnummer": n, "huisletter": None, "huisnummertoevoeging": None, "postcode": "3811AA",
                          "woonplaats": "Amersfoort", "gebruiksdoel": "woonfunctie", "oppervlakte": 120, "status":
                          "Verblijfsobject in gebruik", "geometry": Point(x + 6.0, y + 1.0)})
    panden = gpd.GeoDataFrame(recs, crs="EPSG:28992")
    panden.to_file(out / "bag.gpkg", layer="pand", driver="GPKG")
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")

    noise = rng.uniform(-0.03, 0.03, size=(len(recs), 2))
    b = gpd.GeoDataFrame({
        "identificatie": [f"NL.IMBAG.Pand.{p['identificatie']}" for p in recs],
        "oorspronkelijkbouwjaar": [p["bouwjaar"] for p in recs], "status": "Pand in gebruik",
        "gebruiksdoel": "woonfunctie", "aantal_verblijfsobjecten": 1,
        "b3_h_maaiveld": [truth[f"NL.IMBAG.Pand.{p['identificatie']}"]["h_maaiveld"] + e[0] for p, e in zip(recs, noise)],
        "b3_h_dak_min": [truth[f"NL.IMBAG.Pand.{p['identificatie']}"]["h_dak_min"] for p in recs],
        "b3_h_dak_50p": [truth[f"NL.IMBAG.Pand.{p['identificatie']}"]["h_dak_70p"] - 0.5 for p in recs],
        "b3_h_dak_70p": [truth[f"NL.IMBAG.Pand.{p['identificatie']}"]["h_dak_70p"] for p in recs],
        "b3_h_dak_max": [truth[f"NL.IMBAG.Pand.{p['identificatie']}"]["h_dak_max"] + e[1] for p, e in zip(recs, noise)],
        "b3_reconstructie_onvolledig": False, "b3_onvolledig_reden": None,
        "geometry": [p["geometry"] for p in recs]}, crs="EPSG:28992")
    b.to_file(out / "stadsmodel.gpkg", layer="buildings", driver="GPKG")
    gpd.GeoDataFrame(addrs, crs="EPSG:28992").to_file(out / "stadsmodel.gpkg", layer="addresses", driver="GPKG")
    return out
