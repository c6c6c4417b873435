"""One building's roof: LoD1.2, LoD1.3 and LoD2.2 solids with the roof's measures, from its roof points.

`reconstruct` never raises on bad input: it falls back LoD2.2 → LoD1.3 → LoD1.2 and says why in
`RoofModel.reason`. Every geometry it returns has passed `validity.solid_errors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import shapely
from shapely.geometry import Polygon

from core.cityjson import GeometryFactory, lod12_solid
from etl.roofs.mesh import Mesh, MeshError, cell_rings, prism_mesh
from etl.roofs.partition import boundary_segments, label_cells, main_directions, region_outline
from etl.roofs.partition import cells as partition_cells
from etl.roofs.planes import Plane, detect_planes
from etl.roofs.validity import signed_volume, solid_errors


@dataclass(frozen=True)
class RoofConfig:
    lod12_percentile: float = 70  # as the LoD1.2 blocks of the build (3DBAG: 70p)
    min_points: int = 30  # fewer roof points: no LoD1.3/2.2
    min_density: float = 2.0  # points per m² of footprint, idem
    min_width: float = 1.5  # m: a thinner footprint (a sliver) gets LoD1.2 only
    # plane detection
    inlier_distance: float = 0.1  # m from the plane: noise of AHN on a roof is 2–5 cm
    min_plane_points: int = 20  # ~2 m² at AHN4 density: chimneys and dormer sides make no plane
    max_planes: int = 12
    ransac_hypotheses: int = 100
    score_points: int = 1000
    max_slope_deg: float = 75  # steeper is a wall
    patch_cell: float = 0.75  # m: grid of the connectivity of a plane's support
    horizontal_deg: float = 5  # flatter is snapped to horizontal
    merge_angle_deg: float = 5
    merge_distance: float = 0.1  # m
    min_plane_width: float = 1.0  # m: a thinner plane is a neighbour's roof edge or a wall, not this roof
    min_plane_support: float = 0.6  # of the plane's points and those below it, the share that fits it
    # partition
    contact_reach: float = 0.8  # m: two planes meet where their points are this close
    min_contact_points: int = 6
    line_width: float = 0.3  # m: contact midpoints this close to a line lie on it
    segment_extension: float = 4.0  # m at most beyond the contact, up to the next boundary or wall
    max_lines_per_pair: int = 4
    min_cell_area: float = 0.5  # m²: smaller cells take their neighbour's plane
    # measures
    main_plane_share: float = 0.25  # of the largest sloped plane's area: smaller ones (dormers) are not main
    min_type_area: float = 2.0  # m²: smaller planes do not decide the roof type
    lod13_min_step: float = 1.0  # m: LoD1.3 parts closer in height are one block
    seed: int = 12


@dataclass
class RoofModel:
    dak_type: str  # b3_dak_type: horizontal, multiple horizontal, slanted; "no points", "could not detect"
    lod12: GeometryFactory | None = None
    lod13: GeometryFactory | None = None
    lod22: GeometryFactory | None = None
    lod13_parts: list[tuple[Polygon, float]] = field(default_factory=list)  # footprint part, roof height NAP
    reason: str | None = None  # why a LoD is missing (None: all three made): "<kind>" or "<kind>: <detail>"
    h_goot: float | None = None
    h_nok: float | None = None
    pitch_min: float | None = None
    pitch_max: float | None = None
    rmse: dict[str, float | None] = field(default_factory=lambda: {"1.2": None, "1.3": None, "2.2": None})
    val3dity: dict[str, list[int] | None] = field(default_factory=lambda: {"1.2": None, "1.3": None, "2.2": None})
    volume: dict[str, float | None] = field(default_factory=lambda: {"1.2": None, "1.3": None, "2.2": None})
    n_points: int = 0
    h_lod12: float | None = None  # the LoD1.2 block's roof, NAP
    # the points each LoD's RMSE was taken over (pooling a building's parts weighs by them)
    rmse_points: dict[str, int] = field(default_factory=lambda: {"1.2": 0, "1.3": 0, "2.2": 0})
    planes: list[tuple[float, float, float]] = field(default_factory=list)  # z = a x + b y + c, RD New

    @property
    def reason_kind(self) -> str | None:
        """The reason without its detail (measured values): what report.json counts."""
        return None if self.reason is None else self.reason.split(":")[0]

    @property
    def best_lod(self) -> str | None:
        return "2.2" if self.lod22 else "1.3" if self.lod13 else "1.2" if self.lod12 else None

    def attributes(self) -> dict:
        """The CityJSON attributes and store columns, 3DBAG names where 3DBAG has them."""
        out = {"b3_dak_type": self.dak_type, "b3_h_goot": _rounded(self.h_goot), "b3_h_nok": _rounded(self.h_nok),
               "b3_hellingshoek_min": _rounded(self.pitch_min, 1), "b3_hellingshoek_max": _rounded(self.pitch_max, 1),
               "b3_lod_gereconstrueerd": self.best_lod, "b3_lod_terugval_reden": self.reason}
        for lod, key in (("1.2", "lod12"), ("1.3", "lod13"), ("2.2", "lod22")):
            out[f"b3_rmse_{key}"] = _rounded(self.rmse[lod])
            out[f"b3_val3dity_{key}"] = self.val3dity[lod]
            out[f"b3_volume_{key}"] = _rounded(self.volume[lod], 1)
        return out


def _rounded(v, digits=3):
    return None if v is None else round(float(v), digits)


def reconstruct(points: np.ndarray, footprint: Polygon, z_ground: float,
                config: RoofConfig = RoofConfig()) -> RoofModel:
    """The roof of one building from its roof-class points (N, 3; RD New + NAP) inside its BAG footprint."""
    footprint, problem = _usable_footprint(footprint)
    if footprint is None:
        return RoofModel("could not detect", reason=problem)
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    pts = pts[shapely.contains_xy(footprint, pts[:, 0], pts[:, 1])]
    model = RoofModel("no points", n_points=len(pts))
    if len(pts) == 0 or not math.isfinite(z_ground):
        model.reason = "no roof points inside the footprint" if len(pts) == 0 else "no ground height"
        return model
    h12 = float(np.percentile(pts[:, 2], config.lod12_percentile))
    if h12 <= z_ground + 0.1:
        model.reason = f"roof not above the ground: roof {h12:.2f} m, ground {z_ground:.2f} m"
        return model
    _add_lod12(model, footprint, z_ground, h12, pts)  # goot and nok stay unknown without the roof planes
    if problem:
        model.reason = problem
        return model
    if len(pts) < max(config.min_points, config.min_density * footprint.area):
        model.reason = f"too few points for LoD1.3/2.2: {len(pts)} on {footprint.area:.0f} m²"
        return model
    if footprint.buffer(-config.min_width / 2).is_empty:
        model.reason = f"sliver footprint: narrower than {config.min_width} m"
        return model
    try:
        _add_roof(model, footprint, z_ground, pts, config)
    except (MeshError, ValueError, IndexError, np.linalg.LinAlgError, shapely.errors.GEOSException) as err:
        model.reason = f"reconstruction failed: {err}"
    return model


def _usable_footprint(footprint) -> tuple[Polygon | None, str | None]:
    if footprint is None or footprint.is_empty or footprint.geom_type not in ("Polygon", "MultiPolygon"):
        return None, "no footprint polygon"
    problem = None
    if not footprint.is_valid:
        footprint = shapely.make_valid(footprint)
        problem = "invalid footprint: repaired, LoD1.2 only"
    if footprint.geom_type != "Polygon":
        polygons = [g for g in shapely.get_parts(footprint) if g.geom_type == "Polygon"]
        if not polygons:
            return None, "footprint has no area"
        footprint = max(polygons, key=lambda g: g.area)
        # the build reconstructs each polygon as a BuildingPart of its own (core.cityjson.footprint_parts)
        problem = problem or "footprint of several parts: LoD1.2 of the largest only"
    if footprint.area < 1.0:
        return None, f"footprint too small: {footprint.area:.2f} m²"
    return shapely.orient_polygons(footprint), problem


def _add_lod12(model: RoofModel, footprint: Polygon, z_ground: float, h12: float, pts: np.ndarray) -> None:
    factory = partial(lod12_solid, footprint, z_ground, h12)
    vertices, geometry = factory(0)
    model.lod12 = factory
    model.val3dity["1.2"] = solid_errors(vertices, geometry)
    model.volume["1.2"] = signed_volume(vertices, geometry["boundaries"][0])
    model.rmse["1.2"] = float(np.sqrt(np.mean((pts[:, 2] - h12) ** 2)))
    model.rmse_points["1.2"] = len(pts)
    model.h_lod12 = h12
    model.dak_type = "could not detect"


def _add_roof(model: RoofModel, footprint: Polygon, z_ground: float, pts: np.ndarray, config: RoofConfig) -> None:
    origin = (float(np.floor(footprint.centroid.x)), float(np.floor(footprint.centroid.y)))
    local = pts - np.array([origin[0], origin[1], 0.0])
    shape = shapely.transform(footprint, lambda c: c - np.array(origin))
    rng = np.random.default_rng(config.seed)  # the same points give the same roof, in any build
    planes = [p for p in detect_planes(local, config, rng) if _is_roof_plane(local, p, config)]
    if not planes:
        model.reason = "no roof plane found: LoD1.2 only"
        return
    point_plane = np.full(len(local), -1)
    for k, p in enumerate(planes):
        point_plane[p.inliers] = k
    segments = boundary_segments(local[:, :2], planes, main_directions(shape), shape, config)
    cells = partition_cells(shape, segments)
    if not cells or abs(sum(c.area for c in cells) - shape.area) > 0.01 * shape.area:
        model.reason = "footprint partition failed: LoD1.2 only"
        return

    def labelled(cells: list[Polygon]) -> np.ndarray:
        labels = label_cells(cells, local[:, :2], point_plane)
        return _within_roof(cells, labels, planes, local, config.min_type_area)

    labels = labelled(cells)
    point_cell = _point_cells(cells, local)
    lost = [k for k, p in enumerate(planes) if len(p.inliers) and np.mean(labels[point_cell[p.inliers]] == k) < 0.5]
    if lost:
        # planes whose boundary no straight line traced: cut out their points' outline instead
        outlines = [region_outline(local[planes[k].inliers, :2], config.patch_cell) for k in lost]
        refined = partition_cells(shape, segments + [o for o in outlines if o is not None])
        if refined and abs(sum(c.area for c in refined) - shape.area) <= 0.01 * shape.area:
            cells = refined
            labels = labelled(cells)
    labels = _absorb_slivers(cells, labels, planes, config.min_cell_area)
    point_cell = _point_cells(cells, local)
    # every LoD's RMSE over the same points: those on a roof plane (not walls, balconies, trees, chimneys)
    counted = (point_cell >= 0) & (point_plane >= 0)
    h12 = float(np.percentile(local[:, 2], config.lod12_percentile))
    model.rmse["1.2"] = float(np.sqrt(np.mean((local[counted, 2] - h12) ** 2)))
    model.rmse_points["1.2"] = int(counted.sum())

    # LoD1.3: cells whose roofs meet without a step form one part; parts of about one height are one block
    cell_planes = [planes[k] for k in labels]
    part = _parts(cells, cell_planes, local, point_cell, config)
    part_height = _part_heights(part, local, point_cell, cell_planes, cells, config)
    lod13 = prism_mesh(cells, [(0.0, 0.0, part_height[part[i]]) for i in range(len(cells))], z_ground, origin)
    _set_lod(model, "1.3", lod13, local[:, 2] - part_height[part[point_cell]], counted)
    if not model.lod13:  # LoD2.2 may still be made: the reason says which LoD is missing
        model.reason = f"LoD1.3 solid invalid: errors {model.val3dity['1.3']}"
    if model.lod13:
        model.lod13_parts = [(shapely.transform(shapely.union_all([cells[i] for i in np.flatnonzero(part == k)]),
                                                lambda c: c + np.array(origin)), float(part_height[k]))
                             for k in np.unique(part)]

    # LoD2.2: each cell on its plane
    roof_z = [p.z(*np.asarray(c.exterior.coords).T) for p, c in zip(cell_planes, cells)]
    below = "LoD1.3" if model.lod13 else "LoD1.2"
    if min(float(z.min()) for z in roof_z) < z_ground + 0.3:
        model.reason = f"a roof plane reaches the ground: {below} only"
        return
    lod22 = prism_mesh(cells, [(p.a, p.b, p.c) for p in cell_planes], z_ground, origin)
    abc = np.array([(p.a, p.b, p.c) for p in cell_planes] + [(np.nan, np.nan, np.nan)])  # -1: no cell
    plane_z = np.einsum("ij,ij->i", abc[point_cell], np.column_stack([local[:, :2], np.ones(len(local))]))
    _set_lod(model, "2.2", lod22, local[:, 2] - plane_z, counted)
    if not model.lod22:
        model.reason = f"LoD2.2 solid invalid: errors {model.val3dity['2.2']}, {below} only"
        return
    _measure(model, cells, labels, planes, origin, config)


def _is_roof_plane(local: np.ndarray, plane: Plane, config: RoofConfig) -> bool:
    """A roof face is wider than a strip (a neighbour's roof edge, a wall), and few points lie below it
    where it has its points: a plane through a tree crown has the roof under it, while a roof face under a
    tree has the crown above."""
    xy = local[:, :2]
    hull = shapely.convex_hull(shapely.multipoints(xy[plane.inliers]))
    if hull.geom_type != "Polygon":
        return False
    rect = np.asarray(shapely.minimum_rotated_rectangle(hull).exterior.coords)
    width = min(np.hypot(*(rect[1] - rect[0])), np.hypot(*(rect[2] - rect[1])))
    cell = np.floor(xy / config.patch_cell).astype(np.int64)
    key = cell[:, 0] * 1_000_003 + cell[:, 1]
    below = local[:, 2] < plane.z(xy[:, 0], xy[:, 1]) - 2 * config.inlier_distance
    under = int((np.isin(key, key[plane.inliers]) & below).sum())
    support = len(plane.inliers) / (len(plane.inliers) + under)
    return width >= config.min_plane_width and support >= config.min_plane_support


def _within_roof(cells, labels, planes: list[Plane], local: np.ndarray, max_cap_area: float) -> np.ndarray:
    """A cell whose plane, extrapolated over it, leaves the height range of the roof's plane points (a cell
    under a tree, or a sliver near an apex, labelled from afar) takes the plane that stays in that range;
    if none does and the cell is small, a horizontal cap at the top of that range, appended to `planes`
    (a big cell keeps its plane: its points may just be hidden where the roof runs on, as under a tree)."""
    # the range of the plane points, without the few of a chimney that an extrapolated plane happens to fit
    low, high = np.percentile(local[np.concatenate([p.inliers for p in planes]), 2], [0.5, 99.5])
    bottom, top = float(low) - 0.5, float(high) + 0.5
    out = labels.copy()

    def excess(p: Plane, xy: np.ndarray) -> float:
        z = p.z(xy[:, 0], xy[:, 1])
        return max(0.0, float(z.max()) - top) + max(0.0, bottom - float(z.min()))

    for k, cell in enumerate(cells):
        xy = np.asarray(cell.exterior.coords)
        if excess(planes[labels[k]], xy) > 0:
            out[k] = min(range(len(planes)), key=lambda i: (excess(planes[i], xy), i != labels[k]))  # noqa: B023
            if excess(planes[out[k]], xy) > 0 and cell.area < max_cap_area:
                if len(planes[-1].inliers):
                    planes.append(Plane(0.0, 0.0, float(high), np.arange(0)))
                out[k] = len(planes) - 1
    return out


def _absorb_slivers(cells: list[Polygon], labels: np.ndarray, planes: list[Plane], min_area: float) -> np.ndarray:
    """A cell smaller than `min_area` (a sliver where boundary lines nearly meet) takes, of its neighbours'
    planes, the one that steps least against its neighbours along their shared boundary: it carries no roof
    of its own, and its walls would only be noise (four around one node make a non-manifold edge)."""
    out = labels.copy()
    for k in sorted(range(len(cells)), key=lambda i: cells[i].area):
        if cells[k].area >= min_area:
            break
        contacts = []  # (shared boundary segments (m, 2, 2), neighbour's plane)
        for j in range(len(cells)):
            shared = cells[k].boundary.intersection(cells[j].boundary) if j != k else None
            if shared is not None and shared.length > 0:
                lines = [np.asarray(g.coords) for g in shapely.get_parts(shapely.line_merge(shared))
                         if g.geom_type == "LineString"]
                if lines:
                    contacts.append((np.concatenate([np.stack([c[:-1], c[1:]], axis=1) for c in lines]), out[j]))
        if contacts:
            out[k] = min({n for _, n in contacts}, key=lambda label: _step_area(planes[label], contacts, planes))
    return out


def _step_area(plane: Plane, contacts, planes: list[Plane]) -> float:
    """The area of the walls a cell on `plane` would have against its neighbours (|dz| integrated along the
    shared boundary, exact while the roofs do not cross within a segment)."""
    total = 0.0
    for segments, neighbour in contacts:
        x, y = segments[..., 0], segments[..., 1]
        dz = np.abs(plane.z(x, y) - planes[neighbour].z(x, y)).mean(axis=1)
        total += float((dz * np.hypot(x[:, 1] - x[:, 0], y[:, 1] - y[:, 0])).sum())
    return total


def _point_cells(cells: list[Polygon], local: np.ndarray) -> np.ndarray:
    out = np.full(len(local), -1)
    for k, cell in enumerate(cells):
        out[shapely.contains_xy(cell, local[:, 0], local[:, 1])] = k
    return out


def _parts(cells, cell_planes, local, point_cell, config) -> np.ndarray:
    parent = list(range(len(cells)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    shared = _shared_edges(cells)
    for (i, j), (p, q) in shared.items():
        zi = cell_planes[i].z(np.array([p[0], q[0]]), np.array([p[1], q[1]]))
        zj = cell_planes[j].z(np.array([p[0], q[0]]), np.array([p[1], q[1]]))
        if np.all(np.abs(zi - zj) < 0.01):
            parent[root(j)] = root(i)
    part = np.array([root(i) for i in range(len(cells))])
    heights = _part_heights(part, local, point_cell, cell_planes, cells, config)
    for (i, j) in sorted(shared, key=lambda ij: abs(heights[part[ij[0]]] - heights[part[ij[1]]])):
        if abs(heights[part[i]] - heights[part[j]]) < config.lod13_min_step:
            parent[root(j)] = root(i)
    return np.array([root(i) for i in range(len(cells))])


def _shared_edges(cells) -> dict[tuple[int, int], tuple]:
    """One shared edge (its two end points) per pair of neighbouring cells."""
    seen: dict[tuple, int] = {}
    shared = {}
    for k, polygon in enumerate(cell_rings(cells)):
        for ring in polygon:
            for i in range(len(ring)):
                p, q = tuple(np.round(ring[i], 6)), tuple(np.round(ring[(i + 1) % len(ring)], 6))
                other = seen.get((q, p))
                if other is not None and other != k:
                    shared.setdefault((min(other, k), max(other, k)), (p, q))
                seen[(p, q)] = k
    return shared


def _part_heights(part, local, point_cell, cell_planes, cells, config) -> np.ndarray:
    """The LoD1.2 percentile of each part's points; a part without points: its roof at its centre."""
    heights = np.zeros(len(cells))
    point_part = np.where(point_cell >= 0, part[np.maximum(point_cell, 0)], -1)
    for k in np.unique(part):
        z = local[point_part == k, 2]
        if len(z):
            heights[k] = np.percentile(z, config.lod12_percentile)
        else:
            c = cells[int(np.flatnonzero(part == k)[0])].point_on_surface()
            heights[k] = cell_planes[int(np.flatnonzero(part == k)[0])].z(c.x, c.y)
    return heights


def _set_lod(model: RoofModel, lod: str, mesh: Mesh, residual: np.ndarray, counted: np.ndarray) -> None:
    factory = mesh.geometry(lod)
    vertices, geometry = factory(0)
    errors = solid_errors(vertices, geometry)
    model.val3dity[lod] = errors
    if errors:
        return
    model.volume[lod] = signed_volume(vertices, geometry["boundaries"][0])
    model.rmse[lod] = float(np.sqrt(np.mean(residual[counted] ** 2))) if counted.any() else None
    model.rmse_points[lod] = int(counted.sum())
    setattr(model, "lod13" if lod == "1.3" else "lod22", factory)


def _measure(model: RoofModel, cells, labels, planes: list[Plane], origin, config) -> None:
    """Roof type, eave (goot), ridge (nok) and pitch from the LoD2.2 faces."""
    area = np.bincount(labels, weights=[c.area for c in cells], minlength=len(planes))
    low = np.full(len(planes), np.inf)
    high = np.full(len(planes), -np.inf)
    for cell, k in zip(cells, labels):
        xy = np.vstack([np.asarray(r.coords) for r in (cell.exterior, *cell.interiors)])
        z = planes[k].z(xy[:, 0], xy[:, 1])
        low[k], high[k] = min(low[k], z.min()), max(high[k], z.max())
    used = [k for k in range(len(planes)) if area[k] > 0]
    sloped = [k for k in used if planes[k].slope_deg >= config.horizontal_deg and area[k] >= config.min_type_area]
    flat = [k for k in used if planes[k].slope_deg < config.horizontal_deg and area[k] >= config.min_type_area]
    model.h_nok = float(max(high[k] for k in used))
    if sloped:
        largest = max(area[k] for k in sloped)
        main = [k for k in sloped if area[k] >= config.main_plane_share * largest]
        model.dak_type = "slanted"
        model.h_goot = float(min(low[k] for k in main))
        model.pitch_min = min(planes[k].slope_deg for k in main)
        model.pitch_max = max(planes[k].slope_deg for k in main)
    else:
        flat = flat or used
        model.dak_type = "multiple horizontal" if len(flat) > 1 else "horizontal"
        model.h_goot = float(planes[max(flat, key=lambda k: area[k])].c)
        model.pitch_min = model.pitch_max = 0.0
    model.planes = [(p.a, p.b, p.c - p.a * origin[0] - p.b * origin[1]) for p in (planes[k] for k in used)]
