"""Bad input gives a valid LoD1.x (or no geometry) with its reason, never an exception or a broken solid."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from etl.roofs import reconstruct, solid_errors
from synth.roofs import SHAPES, roof_building


def assert_valid_with_reasons(m, solid_problems):
    for factory in (m.lod12, m.lod13, m.lod22):
        if factory is None:
            assert m.reason
            continue
        vertices, geometry = factory(0)
        assert solid_errors(vertices, geometry) == []
        assert solid_problems(vertices, geometry) == []


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nuisance, best_lod, reason", [
    ("two_points", "1.2", "too few points"),
    ("few_points", "1.2", "too few points"),
    ("sliver", "1.2", "sliver"),
])
def test_too_little_to_see_a_roof_gives_lod12_with_reason(shape, nuisance, best_lod, reason, solid_problems):
    b = roof_building(40, shape, nuisance)
    m = reconstruct(b.points, b.footprint, b.z_ground)
    assert m.best_lod == best_lod and reason in m.reason
    assert m.attributes()["b3_lod_terugval_reden"] == m.reason and reason in m.reason_kind
    # no roof planes: eave and ridge unknown rather than the LoD1.2 block's height under their names
    assert m.attributes()["b3_h_goot"] is None and m.attributes()["b3_h_nok"] is None
    assert_valid_with_reasons(m, solid_problems)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nuisance", ["neighbour", "tree", "chimney"])
def test_nuisances_on_the_roof_are_ignored(shape, nuisance, solid_problems):
    """A neighbour's roof strip, a tree crown or a chimney makes no roof plane; the roof is still measured
    (or, if not, it falls back with a reason)."""
    b = roof_building(41, shape, nuisance)
    m = reconstruct(b.points, b.footprint, b.z_ground)
    assert_valid_with_reasons(m, solid_problems)
    if m.lod22:
        assert abs(m.h_nok - b.truth.h_nok) <= 0.15 and abs(m.h_goot - b.truth.h_goot) <= 0.15


def test_a_footprint_with_a_courtyard_keeps_its_hole(solid_problems):
    b = roof_building(42, nuisance="courtyard")
    assert len(b.footprint.interiors) == 1
    m = reconstruct(b.points, b.footprint, b.z_ground)
    assert m.best_lod == "2.2"
    assert_valid_with_reasons(m, solid_problems)
    # the volume leaves the courtyard out
    assert m.volume["2.2"] == pytest.approx(b.footprint.area * (b.truth.h_nok - b.z_ground), rel=0.01)


def test_no_points_no_footprint_or_nonsense_never_raise(solid_problems):
    square = box(0, 0, 10, 10)
    roof = np.column_stack([np.random.default_rng(1).uniform(0, 10, (500, 2)), np.full(500, 6.0)])
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    cases = {
        "no points": (np.zeros((0, 3)), square, 0.0),
        "points outside": (roof + [100, 0, 0], square, 0.0),
        "not finite": (np.full((50, 3), np.nan), square, 0.0),
        "no footprint": (roof, None, 0.0),
        "roof below ground": (roof, square, 10.0),
        "no ground": (roof, square, float("nan")),
        "bowtie footprint": (roof, bowtie, 0.0),
        "tiny footprint": (roof, box(0, 0, 0.5, 0.5), 0.0),
    }
    for name, (points, footprint, z_ground) in cases.items():
        m = reconstruct(points, footprint, z_ground)
        assert m.reason, name
        assert_valid_with_reasons(m, solid_problems)
    assert reconstruct(roof.ravel(), square, 0.0).best_lod == "2.2"  # (N*3,) is read as (N, 3)
    bowtie_model = reconstruct(roof, bowtie, 0.0)
    assert bowtie_model.best_lod == "1.2" and "invalid footprint" in bowtie_model.reason


def test_a_missing_lod13_is_given_a_reason_even_when_lod22_is_made(monkeypatch, solid_problems):
    """An invalid LoD1.3 solid (injected: no synthetic roof makes one) is left out with its reason, and the
    LoD2.2 of the same roof is still made and valid; a null reason means every LoD is there."""
    from etl.roofs import reconstruction

    def failing_for_lod13(vertices, geometry):
        return [302] if geometry["lod"] == "1.3" else solid_errors(vertices, geometry)

    b = roof_building(43, "jump_flat")
    assert reconstruct(b.points, b.footprint, b.z_ground).reason is None
    monkeypatch.setattr(reconstruction, "solid_errors", failing_for_lod13)
    m = reconstruct(b.points, b.footprint, b.z_ground)
    assert m.lod13 is None and m.val3dity["1.3"] == [302]
    assert m.lod22 is not None and m.best_lod == "2.2"
    assert m.reason == "LoD1.3 solid invalid: errors [302]" and m.reason_kind == "LoD1.3 solid invalid"
    assert_valid_with_reasons(m, solid_problems)
