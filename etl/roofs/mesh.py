"""A closed solid from a planar partition of the footprint: each cell a prism from the ground up to its own
roof plane.

The solid is the union of the prisms, so its boundary is: every cell's roof face (its ring lifted onto its
plane), every cell's floor, and vertical walls wherever two neighbouring cells' roofs differ along their
shared edge (and along the footprint's outline, down to the ground). Vertices are shared exactly: one per
(node, height), so every edge of the shell is used by exactly two faces, in opposite directions. Where two
roofs cross along a shared edge (one is higher at one end, the other at the other end) the edge is split at
the crossing first, so that every wall is a simple polygon.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from core.cityjson import GROUND, LOD12_SURFACES, ROOF, WALL

SAME_HEIGHT = 0.002  # m: roofs closer than this at a node share its vertex (planarity stays far below 1 cm)


class MeshError(ValueError):
    """The partition cannot make a solid (two cells overlap along an edge)."""


@dataclass
class Mesh:
    vertices: np.ndarray  # (n, 3) RD New + NAP
    surfaces: list[list[list[int]]]  # per face: exterior ring then holes, indices into vertices
    values: list[int]  # semantic surface per face: GROUND, ROOF or WALL (core.cityjson)

    def geometry(self, lod: str):
        """The CityJSON geometry factory of core.cityjson: base -> (vertices, Solid geometry). The vertices are
        rounded to the millimetre the products store, so the solid that is checked is the one written."""
        vertices = np.round(self.vertices, 3)

        def factory(base: int = 0) -> tuple[np.ndarray, dict]:
            shell = [[[i + base for i in ring] for ring in face] for face in self.surfaces]
            return vertices, {"type": "Solid", "lod": lod, "boundaries": [shell],
                                   "semantics": {"surfaces": LOD12_SURFACES, "values": [list(self.values)]}}
        return factory


def cell_rings(cells: list[Polygon]) -> list[list[np.ndarray]]:
    """Exterior counter-clockwise, holes clockwise, without the closing vertex."""
    out = []
    for cell in cells:
        cell = shapely.orient_polygons(cell)
        out.append([np.asarray(r.coords)[:-1, :2] for r in (cell.exterior, *cell.interiors)])
    return out


def prism_mesh(cells: list[Polygon], planes: list[tuple[float, float, float]], z_ground: float,
               origin: tuple[float, float]) -> Mesh:
    """`cells` (relative to `origin`) must form a noded partition: neighbours share their edges' nodes.
    `planes[i]` = (a, b, c) with z = a x + b y + c over cell i."""
    nodes: dict[tuple[float, float], int] = {}
    node_xy: list[tuple[float, float]] = []

    def node(p) -> int:
        key = (round(float(p[0]), 6), round(float(p[1]), 6))
        if key not in nodes:
            nodes[key] = len(node_xy)
            node_xy.append(key)
        return nodes[key]

    rings = [[[node(p) for p in ring] for ring in polygon] for polygon in cell_rings(cells)]
    rings = [[_drop_repeats(r) for r in polygon] for polygon in rings]

    def z(cell: int, n: int) -> float:
        a, b, c = planes[cell]
        x, y = node_xy[n]
        return a * x + b * y + c

    rings = _split_crossings(rings, z, node, node_xy)
    edges = _edge_sides(rings)

    # one vertex per (node, height); the ground is a height at every node
    heights: dict[int, list[float]] = defaultdict(lambda: [z_ground])
    for cell, polygon in enumerate(rings):
        for ring in polygon:
            for n in ring:
                heights[n].append(z(cell, n))
    vertex_of: dict[int, list[tuple[float, int]]] = {}
    vertices: list[tuple[float, float, float]] = []
    for n, zs in heights.items():
        levels = []
        for value in sorted(zs):
            if levels and value - levels[-1][-1] <= SAME_HEIGHT:
                levels[-1].append(value)
            else:
                levels.append([value])
        vertex_of[n] = []
        for level in levels:
            vertex_of[n].append((float(np.mean(level)), len(vertices)))
            vertices.append((node_xy[n][0] + origin[0], node_xy[n][1] + origin[1], float(np.mean(level))))

    def vid(n: int, height: float) -> int:
        return min(vertex_of[n], key=lambda hv: abs(hv[0] - height))[1]

    def between(n: int, low: int, high: int) -> list[int]:
        """Vertices on the vertical line at node n strictly between two of its vertices, bottom up: a wall
        must carry them so that its vertical edges match the walls that end there."""
        z_low, z_high = vertices[low][2], vertices[high][2]
        return [v for h, v in vertex_of[n] if z_low < h < z_high and v not in (low, high)]

    surfaces, values = [], []
    for cell, polygon in enumerate(rings):
        surfaces.append([[vid(n, z(cell, n)) for n in ring] for ring in polygon])
        values.append(ROOF)
        surfaces.append([[vid(n, z_ground) for n in ring[::-1]] for ring in polygon])
        values.append(GROUND)
    ground = -1
    for (a, b), sides in edges.items():
        # sides: the cell with a -> b in its ring, the cell with b -> a (or the ground outside)
        left, right = sides.get((a, b), ground), sides.get((b, a), ground)
        for high, (u, v), low in ((left, (a, b), right), (right, (b, a), left)):
            if high == ground:
                continue
            u_top, v_top = vid(u, z(high, u)), vid(v, z(high, v))
            u_low = vid(u, z_ground if low == ground else z(low, u))
            v_low = vid(v, z_ground if low == ground else z(low, v))
            if vertices[u_top][2] < vertices[u_low][2] or vertices[v_top][2] < vertices[v_low][2]:
                continue  # the other side is the higher one: its wall faces this way
            if u_top == u_low and v_top == v_low:
                continue  # roofs meet along the edge: no wall
            # seen from outside (from the low side), counter-clockwise
            ring = [u_low, v_low, *between(v, v_low, v_top), v_top, u_top,
                    *between(u, u_low, u_top)[::-1]]
            ring = _drop_repeats(ring)
            if len(ring) >= 3:
                surfaces.append([ring])
                values.append(WALL)
    return Mesh(np.asarray(vertices, dtype=float), surfaces, values)


def _drop_repeats(ring: list[int]) -> list[int]:
    """The ring without consecutive repeats (the closing pair included)."""
    return [n for i, n in enumerate(ring) if n != ring[i - 1]] if len(ring) > 1 else ring


def _edge_sides(rings) -> dict[tuple[int, int], dict[tuple[int, int], int]]:
    """Undirected edge -> {directed edge: the cell whose ring runs that way}."""
    edges: dict[tuple[int, int], dict[tuple[int, int], int]] = defaultdict(dict)
    for cell, polygon in enumerate(rings):
        for ring in polygon:
            for i, a in enumerate(ring):
                b = ring[(i + 1) % len(ring)]
                key = (min(a, b), max(a, b))
                if (a, b) in edges[key]:
                    raise MeshError("two cells run the same way along one edge")
                edges[key][(a, b)] = cell
    return edges


def _split_crossings(rings, z, node, node_xy):
    """Insert a node where two neighbouring roofs cross along their shared edge."""
    inserts: dict[tuple[int, int, int], int] = {}  # (cell, a, b) -> node inserted between a and b
    for (a, b), sides in _edge_sides(rings).items():
        if len(sides) != 2:
            continue
        left, right = sides[(a, b)], sides[(b, a)]
        d_a, d_b = z(left, a) - z(right, a), z(left, b) - z(right, b)
        if d_a * d_b < 0 and min(abs(d_a), abs(d_b)) > SAME_HEIGHT:
            t = d_a / (d_a - d_b)
            pa, pb = np.asarray(node_xy[a]), np.asarray(node_xy[b])
            x = node(pa + t * (pb - pa))
            inserts[(left, a, b)] = x
            inserts[(right, b, a)] = x
    if not inserts:
        return rings
    out = []
    for cell, polygon in enumerate(rings):
        new_polygon = []
        for ring in polygon:
            new_ring = []
            for i, a in enumerate(ring):
                new_ring.append(a)
                x = inserts.get((cell, a, ring[(i + 1) % len(ring)]))
                if x is not None:
                    new_ring.append(x)
            new_polygon.append(new_ring)
        out.append(new_polygon)
    return out
