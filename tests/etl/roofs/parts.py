"""A pand of two disjoint footprint polygons, two gable houses of synth.roofs with their truth, as the BAG gives
a pand in several pieces: one identificatie, a MultiPolygon footprint, the points of both houses, one ground
height. Reconstructed by the build's roof stage (etl.roofs.buildings.area_roofs), so the tests see what
`stadsmodel build` writes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon

from core.cityjson import building_object
from etl.lifting import FootprintPoints
from etl.roofs.buildings import AreaRoofs, area_roofs
from etl.roofs.reconstruction import RoofConfig
from synth.roofs import SyntheticRoof, roof_building

ROOF_PERCENTILE = 70
IDENT = "NL.IMBAG.Pand.0599100000123456"


@dataclass
class TwoHouses:
    houses: list[SyntheticRoof]  # by descending footprint area: house k is BuildingPart k
    footprint: MultiPolygon
    points: np.ndarray
    z_ground: float
    roofs: AreaRoofs
    attributes: dict  # the buildings row: heights and roof columns

    def building(self):
        return building_object(self.attributes, self.footprint, ROOF_PERCENTILE, self.roofs.solids[0])


def two_houses(seed: int = 21, few_points: bool = False, ident: str = IDENT) -> TwoHouses:
    """Two gable houses 30 m apart; with `few_points` the smaller one has too few points for a roof."""
    # the larger house is part 0; the smaller, part 1, is the one with few points (a footprint does not
    # depend on the density of its points)
    big, small = sorted((seed, seed + 1), key=lambda s: -roof_building(s, "gable").footprint.area)
    a, b = roof_building(big, "gable"), roof_building(small, "gable", "few_points" if few_points else None)
    # b beside a on a's ground: footprint, points and truth shifted
    shift = np.array([a.footprint.centroid.x + 30.0 - b.footprint.centroid.x,
                      a.footprint.centroid.y - b.footprint.centroid.y, a.z_ground - b.z_ground])
    b.footprint = shapely.set_precision(shapely.transform(b.footprint, lambda c: c + shift[:2]), 0.001)
    b.points = b.points + shift
    b.truth.h_goot += shift[2]
    b.truth.h_nok += shift[2]
    b.z_ground = a.z_ground
    assert a.footprint.area > b.footprint.area and not a.footprint.intersects(b.footprint)
    footprint = MultiPolygon([a.footprint, b.footprint])
    points = np.vstack([a.points, b.points])
    order = np.lexsort((points[:, 2], points[:, 1], points[:, 0]))  # as the build hands them over
    points = points[order]
    z = float(np.percentile(points[:, 2], ROOF_PERCENTILE))
    grouped = FootprintPoints(points, np.array([0]), np.array([len(points)]))
    roofs = area_roofs(np.array([footprint], dtype=object), grouped, np.array([a.z_ground]), np.array([True]),
                       RoofConfig(), lod12_roof=np.array([z]), roof_percentile=ROOF_PERCENTILE)
    attributes = {"identificatie": ident, "b3_h_maaiveld": round(a.z_ground, 3),
                  **{f"b3_h_dak_{p}": round(float(np.percentile(points[:, 2], q)), 3)
                     for p, q in (("min", 0), ("50p", 50), ("70p", 70), ("max", 100))},
                  "b3_n_punten": len(points), "b3_reconstructie_onvolledig": False, "b3_onvolledig_reden": None,
                  **roofs.columns.iloc[0].to_dict()}
    return TwoHouses([a, b], footprint, points, a.z_ground, roofs, attributes)
