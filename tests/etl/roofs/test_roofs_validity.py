"""Our solid checker finds what it claims to find (val3dity's codes)."""

from __future__ import annotations

import copy

import numpy as np
from shapely.geometry import box

from core.cityjson import lod12_solid
from etl.roofs import solid_errors
from etl.roofs.validity import signed_volume


def block():
    return lod12_solid(box(0, 0, 10, 6), 0.0, 5.0)


def test_a_block_is_valid_and_has_its_volume():
    vertices, geometry = block()
    assert solid_errors(vertices, geometry) == []
    assert signed_volume(vertices, geometry["boundaries"][0]) == 300.0


def test_a_missing_face_opens_the_shell():
    vertices, geometry = block()
    geometry["boundaries"][0].pop()
    assert 302 in solid_errors(vertices, geometry)


def test_a_flipped_face_is_wrongly_oriented():
    vertices, geometry = block()
    geometry["boundaries"][0][3] = [ring[::-1] for ring in geometry["boundaries"][0][3]]
    assert 307 in solid_errors(vertices, geometry)


def test_a_shell_turned_inside_out_has_a_negative_volume():
    vertices, geometry = block()
    geometry["boundaries"][0] = [[ring[::-1] for ring in face] for face in geometry["boundaries"][0]]
    assert solid_errors(vertices, geometry) == [307]


def test_a_face_twice_is_non_manifold():
    vertices, geometry = block()
    shell = geometry["boundaries"][0]
    shell += [copy.deepcopy(shell[2]), [r[::-1] for r in shell[2]]]
    assert 303 in solid_errors(vertices, geometry)


def test_a_lifted_corner_makes_the_roof_non_planar():
    vertices, geometry = block()
    vertices = vertices.copy()
    roof = geometry["boundaries"][0][1][0]
    vertices[roof[0], 2] += 0.05
    assert 203 in solid_errors(vertices, geometry)


def test_a_bowtie_ring_self_intersects():
    vertices = np.array([[0, 0, 0], [1, 1, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    geometry = {"type": "Solid", "boundaries": [[[[0, 1, 2, 3]]]]}
    assert 104 in solid_errors(vertices, geometry)


def test_repeated_and_too_few_points():
    vertices, geometry = block()
    geometry["boundaries"][0][0][0].insert(1, geometry["boundaries"][0][0][0][0])
    assert 102 in solid_errors(vertices, geometry)
    geometry["boundaries"][0][1][0] = geometry["boundaries"][0][1][0][:2]
    assert 101 in solid_errors(vertices, geometry)
