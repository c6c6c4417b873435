"""Which side of the building a wall is, and what it borders: the STTR side questions, measured from the BGT.

The permit checks ask "aan welke kant van het gebouw" (voorkant / zijkant / achterkant) and, per side, whether
it "ligt aan een straat, fietspad of voetpad", "aan een gracht, kanaal of ander vaarwater", "aan een plein, park
of parkeerplaats waar iedereen mag komen". The viewer lets the user click a facade; `facade` answers for it.

The wall: the footprint (BAG, holes included) is cut into facades, straight runs of its rings (consecutive edges
turning less than MERGE_DEG are one facade). The clicked point picks the facade nearest to it, at most
WALL_TOLERANCE_M away (else FacadeError). Its outward normal points away from the pand.

In front of a facade: a strip as long as the facade and STRIP_DEPTH_M deep, cut off where another pand (or
the pand itself, in a courtyard) stands in the way: rays every RAY_SPACING_M along the facade stop at the first
pand. A BGT object borders the facade when at least MIN_OVERLAP_M2 of it lies in the strip (so a corner that
touches does not count). What it is:

- straat: bgt_wegdeel with functie rijbaan …, fietspad, voetpad, voetpad op trap, voetgangersgebied, woonerf,
  ruiterpad, and bgt_ondersteunendwegdeel berm / verkeerseiland (part of the street);
- water: bgt_waterdeel, except "greppel, droge sloot" (no vaarwater);
- openbare ruimte: bgt_wegdeel plein / parkeervlak, bgt_begroeidterreindeel groenvoorziening (park, public
  green), bgt_onbegroeidterreindeel that is not erf (erf is a private yard) and whose fysiek voorkomen is known.

Voorkant: the facade that faces the street of the pand's address. A facade faces a street when a straat object
lies in front of it within STREET_SEARCH_M (the same strip, deeper, cut off at panden). Each verblijfsobject of
the pand names the street-facing facade nearest to its point; those are the voorkanten (a corner building's
address point lies behind its entrance, so its side street becomes a zijkant; a courtyard block with addresses
on two streets has two voorkanten). A pand without an address point falls back to the facade nearest to a
street (said so in the evidence). Achterkant: a facade whose normal lies within ACHTER_DEG of the opposite of a
voorkant's normal; zijkant: the others. When no facade faces a street within STREET_SEARCH_M, the side is
unknown (None, with the reason): never a guess presented as data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, shape

from core.errors import StadsmodelError
from core.products import ADDRESSES, BUILDINGS
from services.rules import Fact, text

WALL_TOLERANCE_M = 2.0  # the clicked point lies at most this far from the wall
MERGE_DEG = 3.0  # consecutive edges turning less than this are one facade
STRIP_DEPTH_M = 10.0  # what a facade borders: BGT objects 0–10 m in front of it
STREET_SEARCH_M = 30.0  # which facades face a street (for the voorkant)
MIN_OVERLAP_M2 = 1.0  # a BGT object counts when at least this much of it lies in the strip
RAY_SPACING_M = 0.5
ACHTER_DEG = 45.0
PARTY_WALL_M = 0.5  # a pand this close in front of most of a facade: a shared (party) wall

STREET_FUNCTIONS = {"fietspad", "voetpad", "voetpad op trap", "voetgangersgebied", "woonerf", "ruiterpad"}
OPEN_FUNCTIONS = {"plein", "parkeervlak"}
STREET_SUPPORT = {"berm", "verkeerseiland"}
NOT_WATER = {"greppel, droge sloot"}
LAYERS = ("bgt_wegdeel", "bgt_ondersteunendwegdeel", "bgt_waterdeel", "bgt_begroeidterreindeel",
          "bgt_onbegroeidterreindeel")
ROLES = ("straat", "water", "openbare_ruimte")
ROLE_FACTS = {"straat": "gevel_aan_straat", "water": "gevel_aan_water", "openbare_ruimte": "gevel_aan_openbare_ruimte"}
ROLE_TEXT = {"straat": ("een straat, fietspad of voetpad", "a street, cycle path or footpath"),
             "water": ("water (gracht, kanaal of ander vaarwater)", "water (canal or other waterway)"),
             "openbare_ruimte": ("openbare ruimte (plein, park of parkeerplaats)",
                                 "public space (square, park or parking)")}
ROLE_LAYERS = {"straat": ("bgt_wegdeel", "bgt_ondersteunendwegdeel"), "water": ("bgt_waterdeel",),
               "openbare_ruimte": ("bgt_wegdeel", "bgt_begroeidterreindeel", "bgt_onbegroeidterreindeel")}


class FacadeError(StadsmodelError):
    """The point picks no wall of the pand (HTTP 400)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def role(layer: str, rec: dict) -> str | None:
    """What a BGT object is to a facade in front of it: straat, water, openbare_ruimte or None."""
    functie, fysiek = rec.get("functie"), rec.get("fysiek_voorkomen")
    if layer == "bgt_wegdeel":
        if functie in OPEN_FUNCTIONS:
            return "openbare_ruimte"
        if functie in STREET_FUNCTIONS or (functie or "").startswith("rijbaan"):
            return "straat"
    elif layer == "bgt_ondersteunendwegdeel":
        return "straat" if functie in STREET_SUPPORT else None
    elif layer == "bgt_waterdeel":
        return None if functie in NOT_WATER else "water"
    elif layer == "bgt_begroeidterreindeel":
        return "openbare_ruimte" if fysiek == "groenvoorziening" else None
    elif layer == "bgt_onbegroeidterreindeel":
        return "openbare_ruimte" if fysiek not in (None, "erf") else None
    return None


@dataclass(frozen=True)
class Wall:
    """A facade: a straight run of a footprint ring, from `start` to `end`, the pand to its left."""

    start: tuple[float, float]
    end: tuple[float, float]
    outer: bool  # on the outer ring (not a courtyard)

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)

    @property
    def normal(self) -> np.ndarray:
        (x0, y0), (x1, y1) = self.start, self.end
        return np.array([y1 - y0, x0 - x1]) / self.length

    @property
    def azimuth(self) -> float:
        """Of the outward normal, degrees clockwise from north."""
        n = self.normal
        return round(math.degrees(math.atan2(n[0], n[1])) % 360, 1)

    @property
    def line(self) -> LineString:
        return LineString([self.start, self.end])


def walls(footprint) -> list[Wall]:
    """The facades of a footprint (a Polygon, or each part of a MultiPolygon): per part its outer ring, then
    its holes, each ring from a corner where it turns."""
    fp = shapely.orient_polygons(footprint)  # exterior counter-clockwise, holes clockwise: outside is right
    rings = [(outer, ring) for part in getattr(fp, "geoms", [fp]) if isinstance(part, Polygon) and not part.is_empty
             for outer, ring in [(True, part.exterior), *((False, r) for r in part.interiors)]]
    out = []
    for outer, ring in rings:
        xy = shapely.get_coordinates(ring)[:-1]
        keep = np.hypot(*(np.roll(xy, -1, axis=0) - xy).T) > 1e-6  # repeated vertices
        xy = xy[keep]
        d = np.roll(xy, -1, axis=0) - xy
        ang = np.arctan2(d[:, 1], d[:, 0])
        turn = np.abs((ang - np.roll(ang, 1) + math.pi) % (2 * math.pi) - math.pi)
        corners = np.flatnonzero(turn > math.radians(MERGE_DEG))
        if len(corners) < 3:
            continue
        for a, b in zip(corners, np.roll(corners, -1)):
            out.append(Wall(tuple(xy[a]), tuple(xy[b]), outer))
    return out


@dataclass
class _Front:
    """What lies in front of a wall, up to a depth: the strip and the BGT objects in it by role."""

    strip: Polygon
    hits: dict[str, list[dict]] = field(default_factory=dict)  # role → objects, largest overlap first
    blocked_by: list[str] = field(default_factory=list)  # panden right in front (a party wall)


def _obstacles(store, building: dict, footprint: Polygon, box) -> list[tuple[str, Any]]:
    pid = building.get("identificatie")
    out = [(pid, footprint)]
    if store.has(BUILDINGS):
        out += [(rec.get("identificatie"), g) for rec, g in store.query(BUILDINGS, *box)
                if rec.get("identificatie") != pid and g is not None and not g.is_empty]
    return out


def _front(store, building: dict, footprint: Polygon, wall: Wall, depth: float,
           layers: tuple[str, ...] = LAYERS) -> _Front:
    n, a, b = wall.normal, np.array(wall.start), np.array(wall.end)
    bins = max(1, math.ceil(wall.length / RAY_SPACING_M))
    u = np.linspace(0.0, 1.0, bins + 1)
    mid = (u[:-1] + u[1:]) / 2
    origins = a + mid[:, None] * (b - a) + 0.01 * n  # just outside the wall
    rays = shapely.linestrings(np.stack([origins, origins + depth * n], axis=1))
    reach = np.full(bins, depth)
    far = shapely.box(*shapely.total_bounds(rays))
    obstacles = _obstacles(store, building, footprint, far.bounds)
    geoms = np.array([g for _, g in obstacles], dtype=object)
    ray_i, ob_i = shapely.STRtree(geoms).query(rays, predicate="intersects")
    hit = np.empty(0)
    if len(ray_i):
        hit = shapely.distance(shapely.points(origins[ray_i]), shapely.intersection(rays[ray_i], geoms[ob_i]))
        np.minimum.at(reach, ray_i, hit)
    blocked = []
    if (reach < PARTY_WALL_M).mean() > 0.5:  # most of the wall has a pand right in front: a shared wall
        close = {obstacles[j][0] for j in ob_i[hit < PARTY_WALL_M]}
        blocked = sorted(str(p) for p in close if p != building.get("identificatie"))
    p0, p1 = a + u[:-1, None] * (b - a), a + u[1:, None] * (b - a)
    quads = shapely.polygons(np.stack([p0, p1, p1 + reach[:, None] * n, p0 + reach[:, None] * n, p0], axis=1))
    strip = shapely.union_all(quads[reach > 0.01])
    front = _Front(strip if not strip.is_empty else Polygon(), {}, blocked)
    if front.strip.is_empty:
        return front
    line = wall.line
    for layer in layers:
        for rec, g in store.query(layer, *front.strip.bounds):
            r = role(layer, rec)
            if r is None or g is None:
                continue
            part = g.intersection(front.strip)
            if part.area < MIN_OVERLAP_M2:
                continue
            front.hits.setdefault(r, []).append({
                "layer": layer, "identificatie": rec.get("identificatie"),
                "functie": rec.get("functie"), "fysiek_voorkomen": rec.get("fysiek_voorkomen"),
                "area_m2": round(part.area, 1), "distance_m": round(line.distance(part), 2)})
    for objs in front.hits.values():
        objs.sort(key=lambda o: (o["distance_m"], -o["area_m2"], str(o["identificatie"])))
    return front


def _address_points(store, building: dict, footprint: Polygon, addresses: list[dict]) -> list[tuple[dict, Point]]:
    """(address, point) of the pand's verblijfsobjecten: from the rows given, else from the store."""
    out, missing = [], []
    for a in addresses:
        g = a.get("geometry", a.get("geom"))
        if isinstance(g, dict):
            g = shape(g)
        if isinstance(g, Point):
            out.append((a, g))
        elif a.get("x") is not None and a.get("y") is not None:
            out.append((a, Point(float(a["x"]), float(a["y"]))))
        else:
            missing.append(a)
    if missing and store.has(ADDRESSES):
        wanted = {a.get("identificatie"): a for a in missing}
        for rec, g in store.query(ADDRESSES, *footprint.buffer(1.0).bounds):
            if rec.get("identificatie") in wanted and isinstance(g, Point):
                out.append((wanted.pop(rec.get("identificatie")), g))
    return out


def _label(a: dict) -> str:
    parts = [str(a.get(k)) for k in ("openbareruimte", "huisnummer") if a.get(k) not in (None, "")]
    extra = "".join(str(a.get(k)) for k in ("huisletter",) if a.get(k))
    toev = f"-{a['huisnummertoevoeging']}" if a.get("huisnummertoevoeging") else ""
    return (" ".join(parts) + extra + toev) or str(a.get("identificatie"))


def _describe(o: dict) -> str:
    kind = o.get("functie") or o.get("fysiek_voorkomen") or "?"
    return f"{o['layer'].removeprefix('bgt_')} {o['identificatie']} ({kind}, {o['distance_m']:g} m)"


@dataclass
class Facade:
    """The picked wall of a pand: its side (kant) and what it borders, with the BGT evidence."""

    pand: str | None
    wall: Wall
    kant: str | None
    kant_reason: dict[str, str]  # evidence of the kant {nl, en}
    street: dict | None  # the street object the voorkant faces (source of the kant)
    front: _Front
    layers_present: tuple[str, ...]
    voorkanten: list[Wall]

    @property
    def facts(self) -> dict[str, Fact]:
        if self.kant is None:
            out = {"gevel_kant": Fact(None, self.kant_reason)}
        else:
            src = self.street["layer"] if self.street else None
            oid = self.street["identificatie"] if self.street else None
            out = {"gevel_kant": Fact(self.kant, self.kant_reason, src, oid)}
        for r in ROLES:
            out[ROLE_FACTS[r]] = self._role_fact(r)
        return out

    def _role_fact(self, r: str) -> Fact:
        nl, en = ROLE_TEXT[r]
        wanted = ROLE_LAYERS[r]
        absent = [layer for layer in wanted if layer not in self.layers_present]
        hits = self.front.hits.get(r, [])
        where = (f"binnen {STRIP_DEPTH_M:g} m vóór de gevel (minstens {MIN_OVERLAP_M2:g} m² in die strook)",
                 f"within {STRIP_DEPTH_M:g} m in front of the wall (at least {MIN_OVERLAP_M2:g} m² in that strip)")
        if hits:
            listed = "; ".join(_describe(o) for o in hits)
            layers = ", ".join(dict.fromkeys(o["layer"] for o in hits))
            return Fact(True, text(f"de gevel ligt aan {nl}: BGT {listed} {where[0]}",
                                   f"the wall borders {en}: BGT {listed} {where[1]}"),
                        layers, ", ".join(str(o["identificatie"]) for o in hits))
        if len(absent) == len(wanted):
            return Fact(None, text(f"de opslag heeft geen BGT-laag {', '.join(absent)}: of de gevel aan {nl} ligt is "
                                   "onbekend", f"the store has no BGT layer {', '.join(absent)}: whether the wall "
                                   f"borders {en} is unknown"))
        looked = ", ".join(layer for layer in wanted if layer in self.layers_present)
        party = (f" (gemeenschappelijke muur met pand {', '.join(self.front.blocked_by)})",
                 f" (shared wall with pand {', '.join(self.front.blocked_by)})") if self.front.blocked_by else ("", "")
        return Fact(False, text(f"geen {nl} in de BGT ({looked}) {where[0]}{party[0]}",
                                f"no {en} in the BGT ({looked}) {where[1]}{party[1]}"), looked, None)

    def as_json(self) -> dict:
        w = self.wall
        return {
            "pand": self.pand,
            "edge": [[round(v, 3) for v in w.start], [round(v, 3) for v in w.end]],
            "length_m": round(w.length, 2), "azimuth": w.azimuth, "outer_ring": w.outer,
            "kant": self.kant, "kant_evidence": self.kant_reason, "street": self.street,
            "voorkanten": [{"edge": [list(v.start), list(v.end)], "azimuth": v.azimuth} for v in self.voorkanten],
            "borders": {r: self.front.hits.get(r, []) for r in ROLES},
            "shared_wall_with": self.front.blocked_by,
            "method": "BGT objects in a strip in front of the wall, cut off at panden (services.gevel)",
            "tolerance": {"wall_m": WALL_TOLERANCE_M, "strip_depth_m": STRIP_DEPTH_M,
                          "street_search_m": STREET_SEARCH_M, "min_overlap_m2": MIN_OVERLAP_M2,
                          "achterkant_deg": ACHTER_DEG},
        }


def pick_wall(footprint: Polygon, point: tuple[float, float]) -> Wall:
    """The facade nearest to the point, at most WALL_TOLERANCE_M away."""
    p = Point(point)
    candidates = walls(footprint)
    if not candidates:
        raise FacadeError("the footprint has no walls")
    best = min(candidates, key=lambda w: w.line.distance(p))
    d = best.line.distance(p)
    if d > WALL_TOLERANCE_M:
        raise FacadeError(f"the point RD ({point[0]:.2f}, {point[1]:.2f}) lies {d:.2f} m from the nearest wall of "
                          f"the pand; pick a wall (at most {WALL_TOLERANCE_M:g} m from it)")
    return best


def facade(store, building: dict, footprint: Polygon, point: tuple[float, float], addresses: list[dict]) -> Facade:
    """The side of the pand's wall at `point` and what it borders (see the module docstring for the rules).

    :param store: services.processes.location_check.Store (query, has)
    :param building: the store row of the pand; footprint its polygon (RD New)
    :param point: RD New x, y of the clicked wall point
    :param addresses: the pand's verblijfsobject rows (openbareruimte, huisnummer, identificatie; a point
        geometry as ``geometry``/``geom`` or ``x``/``y``, else looked up in the store's addresses)
    :raises FacadeError: the point is farther than WALL_TOLERANCE_M from every wall, or the footprint is too
        broken to tell its walls apart
    """
    pand = building.get("identificatie")
    if not footprint.is_valid:  # the store keeps BAG footprints as delivered; a crossing ring has no inside
        footprint = max(shapely.get_parts(shapely.make_valid(footprint)), key=lambda g: g.area, default=None)
        if footprint is None or footprint.geom_type != "Polygon" or footprint.area <= 0:
            raise FacadeError(f"the footprint of pand {pand} is invalid and has no area to take walls from")
    try:
        wall = pick_wall(footprint, point)
        present = tuple(layer for layer in LAYERS if store.has(layer))
        front = _front(store, building, footprint, wall, STRIP_DEPTH_M)
        kant, reason, street, voorkanten = _kant(store, building, footprint, wall, addresses, present)
    except shapely.errors.GEOSException as e:  # a BGT or BAG geometry GEOS cannot combine
        raise FacadeError(f"the wall of pand {pand} cannot be measured against the BGT ({e})") from None
    return Facade(pand, wall, kant, reason, street, front, present, voorkanten)


def _kant(store, building, footprint, wall, addresses, present):
    street_layers = tuple(layer for layer in ROLE_LAYERS["straat"] if layer in present)
    if not street_layers:
        return None, text("de opslag heeft geen BGT-wegdelen: welke kant de voorkant is, is onbekend",
                          "the store has no BGT wegdelen: which side is the voorkant is unknown"), None, []
    facing = []  # (wall, nearest street object)
    for w in walls(footprint):
        hits = _front(store, building, footprint, w, STREET_SEARCH_M, street_layers).hits.get("straat")
        if hits:
            facing.append((w, hits[0]))
    if not facing:
        return None, text(f"geen straat (BGT wegdeel) binnen {STREET_SEARCH_M:g} m vóór een gevel van het pand: "
                          "welke kant de voorkant is, is onbekend",
                          f"no street (BGT wegdeel) within {STREET_SEARCH_M:g} m in front of any wall of the pand: "
                          "which side is the voorkant is unknown"), None, []
    points = _address_points(store, building, footprint, addresses)
    chosen: dict[Wall, list[dict]] = {}
    if points:
        for a, p in points:
            w, _ = min(facing, key=lambda f: f[0].line.distance(p))
            chosen.setdefault(w, []).append(a)
        why = ("de gevel aan een straat die het dichtst bij het adres ligt",
               "the street-facing wall nearest to the address")
    else:
        w, _ = min(facing, key=lambda f: (f[1]["distance_m"], -f[0].length))
        chosen[w] = []
        why = ("het pand heeft geen adres(punt): de voorkant is de gevel die het dichtst aan een straat ligt",
               "the pand has no address (point): the voorkant is the wall nearest to a street")
    street_of = dict(facing)
    voorkanten = list(chosen)
    if wall in chosen:
        kant, ref = "voorkant", wall
    else:
        ref = max(voorkanten, key=lambda v: float(-wall.normal @ v.normal))
        kant = "achterkant" if float(-wall.normal @ ref.normal) >= math.cos(math.radians(ACHTER_DEG)) else "zijkant"
    street = street_of[ref]
    labels = ", ".join(_label(a) for a in chosen[ref]) or "-"
    st = _describe(street)
    rel = {"voorkant": ("deze gevel", "this wall"),
           "achterkant": ("de gevel tegenover deze", "the wall opposite this one"),
           "zijkant": ("een andere gevel, niet tegenover deze", "another wall, not opposite this one")}[kant]
    reason = text(f"{kant}: {rel[0]} (azimut {ref.azimuth:g}°) is de voorkant — {why[0]} ({labels}); "
                  f"hij ligt aan BGT {st}; achterkant = normaal binnen {ACHTER_DEG:g}° van de tegengestelde richting",
                  f"{kant}: {rel[1]} (azimuth {ref.azimuth:g}°) is the voorkant — {why[1]} ({labels}); "
                  f"it faces BGT {st}; achterkant = normal within {ACHTER_DEG:g}° of the opposite direction")
    return kant, reason, street, voorkanten
