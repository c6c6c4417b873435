"""A synthetic city model: LoD1.2 buildings with known coordinates and attributes, as CityJSONSeq.

Input for the tiler without running the ETL: the tiles tests check the tilesets against its truth, and
bench/tiles_build.py tiles 10k / 100k of its buildings. Footprints are boxes and L-shapes (6 corners, so
earcut runs too) on a grid near Delft, in RD New + NAP, with the 3DBAG attributes a model carries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from core.crs import CITYJSON_CRS_URI

ORIGIN = (84000.0, 446000.0)
HEADER = {
    "type": "CityJSON", "version": "2.0",
    "transform": {"scale": [0.001, 0.001, 0.001], "translate": [ORIGIN[0], ORIGIN[1], 0.0]},
    "metadata": {"referenceSystem": CITYJSON_CRS_URI},
    "CityObjects": {}, "vertices": [],
}


def footprints(n: int, seed: int) -> list[dict]:
    """Building truth: id, footprint (RD, counter-clockwise), ground and roof height, attributes."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    out = []
    for i in range(n):
        gx, gy = i % side, i // side
        x0 = ORIGIN[0] + 20.0 * gx + rng.uniform(0, 3)
        y0 = ORIGIN[1] + 20.0 * gy + rng.uniform(0, 3)
        w, d = rng.uniform(6, 14), rng.uniform(6, 14)
        if i % 3 == 2:  # L-shape
            fp = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + d / 2), (x0 + w / 2, y0 + d / 2), (x0 + w / 2, y0 + d),
                  (x0, y0 + d)]
        else:
            fp = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + d), (x0, y0 + d)]
        ground = round(float(rng.uniform(-1.0, 2.0)), 3)
        roof = round(ground + float(rng.uniform(3, 30)), 3)
        pid = f"NL.IMBAG.Pand.0503100000{i:06d}"
        out.append({
            "id": pid, "footprint": [(round(x, 3), round(y, 3)) for x, y in fp], "ground": ground, "roof": roof,
            "attributes": {
                "identificatie": pid,
                "oorspronkelijkbouwjaar": None if i % 17 == 0 else int(1900 + i % 120),
                "status": "Pand in gebruik",
                "gebruiksdoel": ["woonfunctie", "kantoorfunctie", "winkelfunctie"][i % 3],
                "aantal_verblijfsobjecten": int(i % 7),
                "b3_h_maaiveld": ground, "b3_h_dak_min": roof - 0.5, "b3_h_dak_50p": roof - 0.2,
                "b3_h_dak_70p": roof, "b3_h_dak_max": roof + 0.4,
                "b3_n_punten": int(100 + i % 500), "b3_puntdichtheid": 9.5,
                "b3_reconstructie_onvolledig": i % 11 == 0,
                "b3_onvolledig_reden": "te weinig punten" if i % 11 == 0 else None,
            },
        })
    return out


def feature(b: dict) -> dict:
    fp = b["footprint"]
    k = len(fp)
    tx, ty = ORIGIN
    verts = [[round((x - tx) * 1000), round((y - ty) * 1000), round(b["ground"] * 1000)] for x, y in fp]
    verts += [[vx, vy, round(b["roof"] * 1000)] for vx, vy, _ in verts]
    ground = [list(range(k - 1, -1, -1))]
    roof = [list(range(k, 2 * k))]
    walls = [[[j, (j + 1) % k, k + (j + 1) % k, k + j]] for j in range(k)]
    return {
        "type": "CityJSONFeature", "id": b["id"],
        "CityObjects": {b["id"]: {"type": "Building", "attributes": b["attributes"], "geometry": [{
            "type": "Solid", "lod": "1.2", "boundaries": [[ground, roof, *walls]],
            "semantics": {"surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}],
                          "values": [[0, 1] + [2] * k]}}]}},
        "vertices": verts,
    }


def write_city_model(path: Path, n: int, seed: int = 1) -> list[dict]:
    """Write ``n`` buildings as CityJSONSeq to ``path``; returns their truth."""
    truth = footprints(n, seed)
    with Path(path).open("wb") as f:
        f.write(orjson.dumps(HEADER) + b"\n")
        for b in truth:
            f.write(orjson.dumps(feature(b)) + b"\n")
    return truth
