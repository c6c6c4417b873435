"""core.envelope against the analytic formula: the envelope's top at random points, its volume by numeric
integration, the rules for missing values, stored-solid triangulation and the clash of simple blocks."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from core.envelope import CONE_SIDES, block_mesh, envelope_mesh, excess, mesh_from_solid, top_heights, validated
from tests.envelopes.helpers import allowed_top, grid

X0, Y0 = 155000.0, 463000.0  # RD New coordinates: the local frame must keep millimetres there
# An L with a hole: reflex vertices (cones), a hole (its edges slope too), edges of different lengths.
L_SHAPE = Polygon([(X0, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 12), (X0 + 10, Y0 + 12), (X0 + 10, Y0 + 20),
                   (X0, Y0 + 20)], [[(X0 + 2, Y0 + 2), (X0 + 5, Y0 + 2), (X0 + 5, Y0 + 4), (X0 + 2, Y0 + 4)]])
# Cone approximation: at most h·(1 − cos(π/CONE_SIDES)) too generous, h the roof height above the goot (+ 1 m
# clearance), and only near reflex vertices.
CONE_ERROR = (12.0 - 4.0 + 1.0) * (1 - np.cos(np.pi / CONE_SIDES))


def _random_points(poly, n, seed=1):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = poly.bounds
    pts = rng.uniform((x0, y0), (x1, y1), size=(n * 4, 2))
    return pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])][:n]


@pytest.mark.parametrize("dak", [30.0, 45.0, 60.0])
def test_pitched_roof_matches_the_formula(dak):
    mesh = envelope_mesh(L_SHAPE, 1.25, 12.0, 4.0, dak)
    pts = _random_points(L_SHAPE, 3000)
    got = top_heights(mesh, pts)
    want = allowed_top(pts, 1.25, 12.0, 4.0, dak, L_SHAPE)
    assert not np.isnan(got).any()
    assert np.abs(got - want).max() <= max(CONE_ERROR, 1e-6) + 1e-6
    assert got.min() >= 1.25 + 4.0 - 1e-6  # the walls stand to the goothoogte
    # the volume: the formula integrated on a 5 cm grid
    cells = grid(L_SHAPE, 0.05)
    want_volume = (allowed_top(cells, 1.25, 12.0, 4.0, dak, L_SHAPE) - 1.25).sum() * 0.05 ** 2
    assert mesh.volume == pytest.approx(want_volume, rel=2e-3)
    assert mesh.vertices[:, 2].min() == pytest.approx(1.25)


def test_the_roof_reaches_the_bouwhoogte_and_is_cut_flat_there():
    wide = box(X0, Y0, X0 + 40, Y0 + 30)
    mesh = envelope_mesh(wide, 0.0, 10.0, 6.0, 45.0)
    assert mesh.vertices[:, 2].max() == pytest.approx(10.0, abs=1e-6)
    centre = top_heights(mesh, np.array([[X0 + 20, Y0 + 15], [X0 + 0.5, Y0 + 15]]))
    assert centre == pytest.approx([10.0, 6.5], abs=1e-6)


def test_without_dakhelling_a_flat_top_at_the_bouwhoogte():
    mesh = envelope_mesh(L_SHAPE, -0.4, 9.0, 6.0, None)
    pts = _random_points(L_SHAPE, 500)
    assert top_heights(mesh, pts) == pytest.approx(np.full(len(pts), 8.6), abs=1e-6)
    assert mesh.volume == pytest.approx(L_SHAPE.area * 9.0, rel=1e-9)


def test_dakhelling_zero_is_flat_at_the_goothoogte_and_ninety_at_the_bouwhoogte():
    assert envelope_mesh(L_SHAPE, 0.0, 9.0, 6.0, 0.0).vertices[:, 2].max() == pytest.approx(6.0)
    assert envelope_mesh(L_SHAPE, 0.0, 9.0, 6.0, 90.0).vertices[:, 2].max() == pytest.approx(9.0)


def test_goothoogte_and_dakhelling_without_bouwhoogte_close_at_the_ridge():
    house = box(X0, Y0, X0 + 10, Y0 + 30)  # the slopes meet 5 m in: ridge 3 + 5 · tan 45°
    mesh = envelope_mesh(house, 0.0, None, 3.0, 45.0)
    assert mesh.vertices[:, 2].max() == pytest.approx(8.0, abs=1e-6)


@pytest.mark.parametrize("heights", [(None, None, 45.0), (None, 6.0, None), (-1.0, None, None), (0.0, None, None)])
def test_no_volume_limit_no_envelope(heights):
    bouw, goot, dak = heights
    assert envelope_mesh(L_SHAPE, 0.0, bouw, goot, dak).empty


def test_a_piece_slopes_from_its_bouwvlak_not_from_its_own_cut():
    vlak = box(X0, Y0, X0 + 20, Y0 + 10)
    piece = box(X0, Y0, X0 + 10, Y0 + 10)  # a maatvoering covers the western half
    mesh = envelope_mesh(piece, 0.0, 20.0, 3.0, 45.0, reference=vlak)
    pts = _random_points(piece, 1000)
    assert top_heights(mesh, pts) == pytest.approx(allowed_top(pts, 0.0, 20.0, 3.0, 45.0, vlak), abs=1e-6)
    # at the cut (x = 10) the roof is not back at the goothoogte
    assert top_heights(mesh, np.array([[X0 + 9.99, Y0 + 5]]))[0] == pytest.approx(8.0, abs=0.02)


def _box_solid(x0, y0, x1, y1, z0, z1):
    v = [[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0], [x0, y0, z1], [x1, y0, z1], [x1, y1, z1],
         [x0, y1, z1]]
    faces = [[[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]]
    return {"vertices": v, "geometry": {"type": "Solid", "boundaries": [faces]}}


def test_stored_solids_triangulate_into_closed_meshes():
    mesh = validated(mesh_from_solid(_box_solid(X0, Y0, X0 + 4, Y0 + 3, 0.5, 2.5)))
    assert mesh.volume == pytest.approx(24.0)
    # a solid that is not closed is refused, not measured
    broken = _box_solid(X0, Y0, X0 + 4, Y0 + 3, 0.5, 2.5)
    broken["geometry"]["boundaries"][0].pop()
    with pytest.raises(ValueError, match="manifold"):
        validated(mesh_from_solid(broken))
    # a surface with a hole (a courtyard roof): volume of the ring
    ring = envelope_mesh(box(X0, Y0, X0 + 10, Y0 + 10).difference(box(X0 + 4, Y0 + 4, X0 + 6, Y0 + 6)), 0, 3.0)
    assert ring.volume == pytest.approx(96 * 3.0)


def test_excess_of_a_block_above_and_beside_a_flat_envelope():
    vlak = box(X0, Y0, X0 + 10, Y0 + 10)
    env = envelope_mesh(vlak, 0.2, 9.0)
    # 2 m above the bouwhoogte over 6 × 5 m, 1 m of it beside the bouwvlak; its ground below peil is no excess
    block = block_mesh(box(X0 + 5, Y0 + 2, X0 + 11, Y0 + 7), 0.0, 11.2)
    out = excess(block, [(env, vlak)])
    assert out.above_m3 == pytest.approx(5 * 5 * 2.0, rel=1e-6)
    assert out.outside_m3 == pytest.approx(1 * 5 * 11.2, rel=1e-6)
    assert out.volume_m3 == pytest.approx(50.0 + 56.0, rel=1e-6)
    assert out.max_height_m == pytest.approx(2.0, abs=1e-6)
    assert out.mesh.volume == pytest.approx(out.volume_m3, rel=1e-6)
    inside = excess(block_mesh(box(X0 + 1, Y0 + 1, X0 + 9, Y0 + 9), -0.5, 9.1), [(env, vlak)])
    assert inside.volume_m3 == pytest.approx(0.0, abs=1e-6) and inside.max_height_m == 0.0


def test_excess_under_a_pitched_envelope_matches_integration():
    vlak = box(X0, Y0, X0 + 12, Y0 + 9)
    env = envelope_mesh(vlak, 0.0, 10.0, 4.0, 40.0)
    block = block_mesh(box(X0 + 1, Y0 + 1, X0 + 11, Y0 + 8), 0.0, 8.0)
    out = excess(block, [(env, vlak)])
    cells = grid(box(X0 + 1, Y0 + 1, X0 + 11, Y0 + 8), 0.02)
    over = np.clip(8.0 - allowed_top(cells, 0.0, 10.0, 4.0, 40.0, vlak), 0, None)
    assert out.above_m3 == pytest.approx(over.sum() * 0.02 ** 2, rel=5e-3)
    assert out.max_height_m == pytest.approx(over.max(), abs=0.01)
    assert out.max_height_m == pytest.approx(8.0 - (4.0 + np.tan(np.radians(40.0))), abs=1e-6)  # at a corner
