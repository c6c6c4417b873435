"""The roofs of real Amsterdam buildings (AHN class 6 points in their BAG footprints, ../shared/data):
LoD2.2 fits the points clearly better than LoD1.2, and every solid is valid."""

from __future__ import annotations

import csv
import json

import laspy
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from etl.roofs import reconstruct, solid_errors
from tests.conftest import SHARED_DATA, missing_tier

CROP = SHARED_DATA / "amsterdam-ai-urban-pointcloud"
BUILDING, GROUND = 6, 2  # ASPRS classes


def crop_buildings(tile: str):
    """(points, footprint, ground height) of every footprint with at least 20 m² inside the crop; the
    ground is the 10th percentile of the ground points 0.5–4 m around the footprint."""
    if not (CROP / "ahn" / f"{tile}.laz").exists():
        missing_tier(f"real AHN crop {CROP}/ahn/{tile}.laz is absent")
    las = laspy.read(CROP / "ahn" / f"{tile}.laz")
    xyz = np.column_stack([las.x, las.y, las.z])
    cls = np.asarray(las.classification)
    extent = shapely.box(*xyz[:, :2].min(axis=0), *xyz[:, :2].max(axis=0))
    with open(CROP / "bag" / "bag_buildings_demo.csv", newline="") as f:
        footprints = [Polygon(json.loads(row["polygon"])) for row in csv.DictReader(f)]
    out = []
    for footprint in footprints:
        part = footprint.intersection(extent)
        if part.geom_type != "Polygon" or part.area < 20:
            continue
        roof = xyz[(cls == BUILDING) & shapely.contains_xy(part, xyz[:, 0], xyz[:, 1])]
        around = part.buffer(4).difference(part.buffer(0.5))
        ground = xyz[(cls == GROUND) & shapely.contains_xy(around, xyz[:, 0], xyz[:, 1]), 2]
        if len(roof) and len(ground):
            out.append((roof, part, float(np.percentile(ground, 10))))
    return out


@pytest.fixture(scope="module")
def models():
    return [reconstruct(*b) for b in crop_buildings("ahn_2397_9705")]


def test_lod22_fits_real_roofs_clearly_better_than_lod12(models):
    lod22 = [m for m in models if m.lod22]
    assert len(lod22) >= 0.8 * len(models) >= 8
    median12 = float(np.median([m.rmse["1.2"] for m in lod22]))
    median22 = float(np.median([m.rmse["2.2"] for m in lod22]))
    print(f"ahn_2397_9705: {len(lod22)} buildings, median b3_rmse_lod12 {median12:.2f} m, lod22 {median22:.2f} m")
    assert median22 < 0.6 * median12


def test_every_real_solid_is_valid(models, solid_problems):
    for m in models:
        for factory in (m.lod12, m.lod13, m.lod22):
            if factory:
                vertices, geometry = factory(0)
                assert solid_errors(vertices, geometry) == [] and solid_problems(vertices, geometry) == []


def test_real_roof_heights_are_plausible(models):
    for m in models:
        if m.lod22:
            assert m.h_goot <= m.h_nok + 1e-9
            assert 0 <= m.pitch_min <= m.pitch_max <= 75
