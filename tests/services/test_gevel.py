"""The picked wall's side and what it borders (services.gevel), on the real chain: the synthetic district as
synth.district writes it, built by the ETL, read from the store; compared with the generator's own truth of
every facade (truth.json "gevels"), which knows each pand's street and the role of every surface it laid out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from shapely.geometry import LineString, Point, Polygon

from services.gevel import (
    LAYERS,
    MIN_OVERLAP_M2,
    STRIP_DEPTH_M,
    WALL_TOLERANCE_M,
    FacadeError,
    facade,
    role,
    walls,
)
from services.processes.location_check import Store

ROLES = ("straat", "water", "openbare_ruimte")
# A truth distance this close to the strip's depth is not compared: the strip's overlap threshold
# (MIN_OVERLAP_M2) decides there, not the layout.
AMBIGUOUS = (STRIP_DEPTH_M - 1.5, STRIP_DEPTH_M + 1.0)


class District:
    def __init__(self, model: Path, inputs: Path):
        self.store = Store(model / "stadsmodel.gpkg")
        self.truth = json.loads((inputs / "truth.json").read_text(encoding="utf-8"))["gevels"]
        self.panden = {rec["identificatie"]: (rec, g) for rec, g in self.store.query("buildings", 0, 0, 1e7, 1e7)}
        self.addresses: dict[str, list[dict]] = {}
        for rec, _ in self.store.query("addresses", 0, 0, 1e7, 1e7):
            # as the location check passes them: the rows' attributes, no geometry
            self.addresses.setdefault(rec["pand_identificatie"], []).append(
                {k: rec.get(k) for k in ("identificatie", "openbareruimte", "huisnummer", "huisletter")})
        self.bgt = {rec["identificatie"]: (layer, rec, g) for layer in LAYERS
                    for rec, g in self.store.query(layer, 0, 0, 1e7, 1e7)}

    def check(self, pid: str, f: dict, addresses: list[dict] | None = None):
        rec, fp = self.panden[pid]
        (x0, y0), (x1, y1) = f["edge"]
        point = ((x0 + x1) / 2, (y0 + y1) / 2)
        return facade(self.store, rec, fp, point, self.addresses.get(pid, []) if addresses is None else addresses)

    def facades(self, **want):
        """(pand, facade truth) of every facade whose truth has the wanted values (a role: within the strip)."""
        for pid, fs in sorted(self.truth.items()):
            for f in fs:
                if all(_expected(f, k) == v if k in ROLES else f[k] == v for k, v in want.items()):
                    yield pid, f


def _expected(f: dict, r: str) -> bool | None:
    d = f[f"{r}_m"]
    if d is not None and AMBIGUOUS[0] <= d <= AMBIGUOUS[1]:
        return None
    return d is not None and d < STRIP_DEPTH_M


@pytest.fixture(scope="module")
def district(built_district, synth_input) -> District:
    return District(built_district, synth_input)


def _assert_evidence(district: District, res, r: str) -> None:
    """A true border names BGT objects of that role that really lie within the strip in front of the wall."""
    fact = res.facts[f"gevel_aan_{r}"]
    assert fact.object_id, fact
    line = LineString([res.wall.start, res.wall.end])
    for oid in fact.object_id.split(", "):
        layer, rec, geom = district.bgt[oid]
        assert role(layer, rec) == r and layer in fact.source
        assert line.distance(geom) < STRIP_DEPTH_M
        assert oid in fact.evidence["nl"] and oid in fact.evidence["en"]


def test_every_facade_of_the_district_gets_the_truth(district):
    compared = {r: [0, 0] for r in ROLES}  # [true, false] facades compared
    n = 0
    for pid, fs in sorted(district.truth.items()):
        for f in fs:
            res = district.check(pid, f)
            facts = res.facts
            assert facts["gevel_kant"].value == f["kant"], (pid, f, facts["gevel_kant"].evidence["en"])
            for r in ROLES:
                want = _expected(f, r)
                if want is None:
                    continue
                got = facts[f"gevel_aan_{r}"]
                assert got.value is want, (pid, f, r, got.evidence["en"])
                compared[r][0 if want else 1] += 1
                if want:
                    _assert_evidence(district, res, r)
            n += 1
    assert n >= 200
    # the district shows every case: facades at a street, at water, at a park, and ones at none of them
    assert compared["straat"][0] >= 50 and compared["straat"][1] >= 50
    assert compared["water"][0] >= 1 and compared["water"][1] >= 100
    assert compared["openbare_ruimte"][0] >= 10 and compared["openbare_ruimte"][1] >= 50
    kinds = [f["kant"] for fs in district.truth.values() for f in fs]
    assert {kinds.count(k) >= 20 for k in ("voorkant", "zijkant", "achterkant")} == {True}


def test_a_front_on_the_street(district):
    """A row house's front: voorkant, on the sidewalk (its own front garden, erf, is no public space)."""
    pid, f = next(district.facades(kant="voorkant", straat=True, water=False, openbare_ruimte=False))
    res = district.check(pid, f)
    facts = res.facts
    assert facts["gevel_kant"].value == "voorkant"
    assert facts["gevel_kant"].source == "bgt_wegdeel" and facts["gevel_kant"].object_id in district.bgt
    assert facts["gevel_aan_straat"].value is True
    functies = {district.bgt[o][1]["functie"] for o in facts["gevel_aan_straat"].object_id.split(", ")}
    assert functies & {"voetpad", "rijbaan lokale weg"}
    assert facts["gevel_aan_water"].value is False and facts["gevel_aan_openbare_ruimte"].value is False
    assert "bgt_begroeidterreindeel" in facts["gevel_aan_openbare_ruimte"].source
    out = res.as_json()
    assert out["kant"] == "voorkant" and out["pand"] == pid and out["edge"] == f["edge"]
    assert out["borders"]["straat"][0]["identificatie"] in facts["gevel_aan_straat"].object_id
    assert out["tolerance"]["strip_depth_m"] == STRIP_DEPTH_M and out["tolerance"]["min_overlap_m2"] == MIN_OVERLAP_M2


def test_a_facade_at_the_water(district):
    pid, f = next(district.facades(water=True))
    res = district.check(pid, f)
    fact = res.facts["gevel_aan_water"]
    assert fact.value is True and fact.source == "bgt_waterdeel"
    _assert_evidence(district, res, "water")
    assert res.facts["gevel_kant"].value == f["kant"]


def test_a_facade_at_a_park(district):
    """A facade on public green (groenvoorziening) and not on a street: the courtyard or a flat's green."""
    pid, f = next(district.facades(openbare_ruimte=True, straat=False, water=False))
    res = district.check(pid, f)
    fact = res.facts["gevel_aan_openbare_ruimte"]
    assert fact.value is True and "bgt_begroeidterreindeel" in fact.source
    assert {district.bgt[o][1]["fysiek_voorkomen"] for o in fact.object_id.split(", ")} == {"groenvoorziening"}
    assert res.facts["gevel_aan_straat"].value is False


def test_a_back_on_the_yard_borders_nothing_public(district):
    pid, f = next(district.facades(kant="achterkant", straat=False, water=False, openbare_ruimte=False))
    facts = district.check(pid, f).facts
    assert facts["gevel_kant"].value == "achterkant"
    front = f"(azimuth {(f['azimuth'] + 180) % 360:g}°) is the voorkant"  # the evidence names the opposite wall
    assert front in facts["gevel_kant"].evidence["en"], facts["gevel_kant"].evidence["en"]
    assert [facts[f"gevel_aan_{r}"].value for r in ROLES] == [False, False, False]


def test_a_corner_house_front_is_its_address_street(district):
    """An end house of a row stands on the side street with its gable (zijkant, on a street); its voorkant is
    still the facade towards its address street."""
    pid, f = next((p, f) for p, f in district.facades(kant="zijkant") if f["straat_m"] is not None
                  and f["straat_m"] < 0.1)  # the gable right on the side street's sidewalk
    front = next(g for g in district.truth[pid] if g["kant"] == "voorkant")
    assert front["straat_m"] > f["straat_m"], "the address street is not the nearest one"
    facts = district.check(pid, f).facts
    assert facts["gevel_kant"].value == "zijkant" and facts["gevel_aan_straat"].value is True
    assert district.check(pid, front).facts["gevel_kant"].value == "voorkant"


def test_a_party_wall_is_a_zijkant_on_a_pand(district):
    pid, f = next(district.facades(kant="zijkant", pand_m=0.01))
    res = district.check(pid, f)
    assert res.facts["gevel_kant"].value == "zijkant"
    assert [res.facts[f"gevel_aan_{r}"].value for r in ROLES] == [False, False, False]
    assert res.as_json()["shared_wall_with"], "the neighbour is named"


def test_a_pand_without_an_address_falls_back_to_the_nearest_street(district):
    """A middle row house (party walls on both sides): the nearest street is its front street."""
    pid = next(p for p, fs in sorted(district.truth.items())
               if sum(f["pand_m"] == 0.01 for f in fs) == 2 and len(fs) == 4)
    for f in district.truth[pid]:
        fact = district.check(pid, f, addresses=[]).facts["gevel_kant"]
        assert fact.value == f["kant"], (f, fact.evidence["en"])
        assert "no address" in fact.evidence["en"] and "geen adres" in fact.evidence["nl"]


def test_a_point_far_from_every_wall_is_refused(district):
    pid, fs = next(iter(sorted(district.truth.items())))
    rec, fp = district.panden[pid]
    addresses = district.addresses.get(pid, [])
    with pytest.raises(FacadeError, match="from the nearest wall"):
        facade(district.store, rec, fp, (fp.bounds[2] + 3.0, fp.bounds[3] + 3.0), addresses)
    (x0, y0), (x1, y1) = fs[0]["edge"]
    n = math.sin(math.radians(fs[0]["azimuth"])), math.cos(math.radians(fs[0]["azimuth"]))
    mid = (x0 + x1) / 2, (y0 + y1) / 2
    near = (mid[0] + 0.9 * WALL_TOLERANCE_M * n[0], mid[1] + 0.9 * WALL_TOLERANCE_M * n[1])
    assert facade(district.store, rec, fp, near, addresses).as_json()["edge"] == fs[0]["edge"]
    off = (mid[0] + 1.1 * WALL_TOLERANCE_M * n[0], mid[1] + 1.1 * WALL_TOLERANCE_M * n[1])
    assert fp.exterior.distance(Point(off)) > WALL_TOLERANCE_M  # just beyond the tolerance, straight out
    with pytest.raises(FacadeError):
        facade(district.store, rec, fp, off, addresses)


def test_an_invalid_footprint_is_a_facade_error_or_its_repaired_walls(district):
    """A bowtie (a ring that crosses itself) has no inside GEOS can work with: repaired, or refused by name."""
    pid, _ = next(iter(sorted(district.truth.items())))
    rec, fp = district.panden[pid]
    x0, y0, x1, y1 = fp.bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    assert not bowtie.is_valid
    for point in ((x1, (y0 + y1) / 2), (x0, (y0 + y1) / 2)):  # on the right and on the left triangle
        try:
            res = facade(district.store, rec, bowtie, point, [])
        except FacadeError as e:
            assert "wall" in e.reason
        else:
            assert res.facts["gevel_kant"].evidence["nl"] and res.wall.line.distance(Point(point)) < 1e-6


class _Without:
    """The store with some layers hidden."""

    def __init__(self, store: Store, hidden: set[str]):
        self.store, self.hidden = store, hidden

    def has(self, layer: str) -> bool:
        return layer not in self.hidden and self.store.has(layer)

    def query(self, layer: str, *box):
        return [] if layer in self.hidden else self.store.query(layer, *box)


def test_without_the_bgt_everything_is_unknown_with_the_reason(district):
    pid, f = next(district.facades(kant="voorkant", straat=True))
    rec, fp = district.panden[pid]
    (x0, y0), (x1, y1) = f["edge"]
    res = facade(_Without(district.store, set(LAYERS)), rec, fp, ((x0 + x1) / 2, (y0 + y1) / 2),
                 district.addresses[pid])
    for name, fact in res.facts.items():
        assert fact.value is None, name
        assert "no BGT" in fact.evidence["en"] or "has no" in fact.evidence["en"]


def test_no_street_near_leaves_the_side_unknown(district):
    """Water and green still answer, but without wegdelen no facade faces a street: the side is unknown."""
    pid, f = next(district.facades(water=True))
    rec, fp = district.panden[pid]
    (x0, y0), (x1, y1) = f["edge"]
    res = facade(_Without(district.store, {"bgt_wegdeel", "bgt_ondersteunendwegdeel"}), rec, fp,
                 ((x0 + x1) / 2, (y0 + y1) / 2), district.addresses[pid])
    assert res.facts["gevel_kant"].value is None and "voorkant" in res.facts["gevel_kant"].evidence["en"]
    assert res.facts["gevel_aan_water"].value is True


def test_walls_are_straight_runs_with_outward_normals():
    """Collinear edges and slight kinks (< 3°) are one facade; a courtyard's walls face into the courtyard."""
    ring = [(0, 0), (10, 0), (20, 0.1), (30, 0), (30, 20), (15, 20), (0, 20)]  # a 0.6° kink, a vertex on an edge
    hole = [(10, 5), (10, 15), (20, 15), (20, 5)]
    got = walls(Polygon(ring, [hole]))
    assert sorted((w.outer, w.azimuth, w.length) for w in got) == [
        (False, 0.0, 10.0), (False, 90.0, 10.0), (False, 180.0, 10.0), (False, 270.0, 10.0),
        (True, 0.0, 30.0), (True, 90.0, 20.0), (True, 180.0, 30.0), (True, 270.0, 20.0)]
    inner_north = next(w for w in got if not w.outer and w.azimuth == 180.0)  # faces south, into the court
    assert inner_north.line.distance(Point(15, 15)) == 0
