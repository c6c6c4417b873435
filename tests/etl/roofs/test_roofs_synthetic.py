"""Accuracy and validity of the roof reconstruction on synthetic roofs with known truth (synth.roofs)."""

from __future__ import annotations

import numpy as np
import pytest

from etl.roofs import reconstruct, solid_errors
from synth.roofs import SHAPES, roof_building, roof_buildings

N_BUILDINGS = 240  # every shape 30 times; a third of them with a chimney, a tree or a neighbour's strip


@pytest.fixture(scope="module")
def reconstructed():
    buildings = roof_buildings(N_BUILDINGS, seed=7, nuisance_share=0.33)
    return [(b, reconstruct(b.points, b.footprint, b.z_ground)) for b in buildings]


def share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


def test_the_sample_holds_every_shape_and_nuisance(reconstructed):
    assert {b.shape for b, _ in reconstructed} == set(SHAPES)
    assert {b.nuisance for b, _ in reconstructed} == {None, "chimney", "tree", "neighbour"}


def test_eave_and_ridge_within_15_cm_for_95_percent(reconstructed):
    # no roof planes, no eave or ridge (None): a miss
    eave = share(m.h_goot is not None and abs(m.h_goot - b.truth.h_goot) <= 0.15 for b, m in reconstructed)
    ridge = share(m.h_nok is not None and abs(m.h_nok - b.truth.h_nok) <= 0.15 for b, m in reconstructed)
    assert eave >= 0.95 and ridge >= 0.95, (eave, ridge)


def test_roof_type_right_for_95_percent(reconstructed):
    assert share(m.dak_type == b.truth.roof_type for b, m in reconstructed) >= 0.95


def test_pitch_of_sloped_roofs_within_2_degrees(reconstructed):
    sloped = [(b, m) for b, m in reconstructed if b.truth.roof_type == "slanted" and m.pitch_max is not None]
    assert share(abs(m.pitch_max - b.truth.pitch_max) <= 2.0 for b, m in sloped) >= 0.95


def test_lod22_made_for_95_percent_and_every_solid_valid_by_both_checks(reconstructed, solid_problems):
    assert share(m.lod22 is not None for _, m in reconstructed) >= 0.95
    for b, m in reconstructed:
        for lod, factory in (("1.2", m.lod12), ("1.3", m.lod13), ("2.2", m.lod22)):
            if factory is None:
                assert m.reason, f"building {b.seed}: LoD{lod} missing without a reason"
                continue
            vertices, geometry = factory(0)
            assert geometry["lod"] == lod
            assert solid_errors(vertices, geometry) == [] == m.val3dity[lod]
            assert solid_problems(vertices, geometry) == [], f"building {b.seed} LoD{lod}"


def test_lod22_fits_the_points_better_than_lod12(reconstructed):
    sloped = [m for b, m in reconstructed if b.truth.roof_type != "horizontal" and m.lod22]
    assert np.median([m.rmse["2.2"] for m in sloped]) < 0.1 < np.median([m.rmse["1.2"] for m in sloped])


def test_volumes_follow_the_roof(reconstructed):
    for b, m in reconstructed:
        if b.shape == "gable" and m.lod22:
            # a gable's volume: the walls' prism plus the roof's triangular prism
            assert m.volume["2.2"] < m.volume["1.2"] * 1.2
            assert m.volume["2.2"] == pytest.approx(
                b.footprint.area * ((b.truth.h_goot + b.truth.h_nok) / 2 - b.z_ground), rel=0.02)


def test_geometry_factories_index_from_their_base():
    m = reconstruct(*_args(roof_building(3, "hip")))
    vertices, geometry = m.lod22(1000)
    used = [i for face in geometry["boundaries"][0] for ring in face for i in ring]
    assert min(used) == 1000 and max(used) == 1000 + len(vertices) - 1
    assert {s["type"] for s in geometry["semantics"]["surfaces"]} == {"GroundSurface", "WallSurface", "RoofSurface"}


def test_lod13_splits_a_height_jump_into_two_blocks():
    b = roof_building(11, "jump_flat")
    m = reconstruct(*_args(b))
    assert len(m.lod13_parts) == 2
    # each block at its part's 70th percentile: the plane's height plus a fraction of the 2–3 cm noise
    assert sorted(h for _, h in m.lod13_parts) == pytest.approx(sorted(p[2] for p in b.truth.planes), abs=0.05)
    assert sum(p.area for p, _ in m.lod13_parts) == pytest.approx(b.footprint.area, rel=1e-6)


def test_attributes_are_plain_values_with_3dbag_names():
    m = reconstruct(*_args(roof_building(5, "gable")))
    a = m.attributes()
    assert a["b3_dak_type"] == "slanted" and a["b3_lod_gereconstrueerd"] == "2.2" and a["b3_lod_terugval_reden"] is None
    assert "b3_reconstructie_onvolledig" not in a  # the build's flag (heights unknown) keeps its meaning
    for key in ("b3_rmse_lod12", "b3_rmse_lod13", "b3_rmse_lod22", "b3_volume_lod12", "b3_volume_lod22",
                "b3_h_goot", "b3_h_nok", "b3_hellingshoek_min", "b3_hellingshoek_max"):
        assert isinstance(a[key], float), key
    assert a["b3_val3dity_lod22"] == []


def test_the_generator_is_a_pure_function_of_its_seed():
    a, b = roof_building(9), roof_building(9)
    assert a.shape == b.shape and np.array_equal(a.points, b.points) and a.footprint.equals(b.footprint)
    assert a.truth == b.truth
    assert not np.array_equal(roof_building(10, a.shape).points, a.points)


def test_same_points_same_roof():
    b = roof_building(21, "dormer")
    assert reconstruct(*_args(b)).attributes() == reconstruct(*_args(b)).attributes()


def _args(b):
    return b.points, b.footprint, b.z_ground
