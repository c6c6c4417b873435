"""A CRS84 ``bbox`` selects exactly the buildings whose footprint, in CRS84, intersects the box.

The expected sets are computed here independently of the server: the footprints read from the store,
transformed to CRS84 with pyproj, intersected with each box with shapely.
"""

from __future__ import annotations

import httpx
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely


@pytest.fixture(scope="module")
def footprints_crs84(service_store):
    frame = pyogrio.read_dataframe(service_store / "stadsmodel.gpkg", layer="buildings",
                                   columns=["identificatie"])
    to_crs84 = pyproj.Transformer.from_crs("EPSG:28992", "OGC:CRS84", always_xy=True)
    geoms = shapely.transform(np.asarray(frame.geometry.values),
                              lambda xy: np.column_stack(to_crs84.transform(xy[:, 0], xy[:, 1])))
    return list(frame["identificatie"]), geoms


def _ids(server, bbox: str) -> set[str]:
    r = httpx.get(f"{server.url}/api/collections/buildings/items",
                  params={"f": "json", "bbox": bbox, "limit": 1000, "skipGeometry": "true",
                          "properties": "identificatie"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["numberReturned"] == body["numberMatched"]
    return {f["id"] for f in body["features"]}


def test_random_small_boxes_match_an_exact_crs84_intersection(server, footprints_crs84):
    ids, geoms = footprints_crs84
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    rng = np.random.default_rng(10)
    wrong, hitting, cutting = [], 0, 0
    for _ in range(40):
        w, h = (float(v) for v in rng.uniform(0.0001, 0.0015, 2))  # about 7 to 100 m
        bx, by = float(rng.uniform(x0 - w, x1)), float(rng.uniform(y0 - h, y1))
        box = shapely.box(bx, by, bx + w, by + h)
        expected = {i for i, hit in zip(ids, shapely.intersects(geoms, box)) if hit}
        hitting += bool(expected)
        cutting += bool((shapely.intersects(geoms, box) & ~shapely.within(geoms, box)).any())  # an edge case
        got = _ids(server, f"{bx!r},{by!r},{bx + w!r},{by + h!r}")
        if got != expected:
            wrong.append((bx, by, w, h, len(expected), len(got)))
    assert not wrong, f"{len(wrong)} of 40 boxes answered wrongly: {wrong[:5]}"
    assert hitting >= 20 and cutting >= 10, f"only {hitting} boxes found buildings, {cutting} cut a footprint"


def test_world_bbox_returns_every_building(server, footprints_crs84):
    ids, _ = footprints_crs84
    assert _ids(server, "-180,-90,180,90") == set(ids)
    assert _ids(server, "-180,-89.9,180,89.9") == set(ids)
