"""services.envelopes.clash on hand-made envelopes: which solid of the building, which peil, what comes back."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import MultiPolygon, box

from core.envelope import block_mesh
from core.products import BOUWENVELOP
from etl.envelopes import EnvelopeReport, build_envelopes
from services.envelopes import clash
from tests.envelopes.test_store import X0, Y0, _frame, _mv, _vlak


class FakeStore:
    """The two calls clash makes of services.processes.location_check.Store."""

    def __init__(self, rows):
        self.rows = [({k: v for k, v in r.items() if k != "geometry"}, r["geometry"]) for r in rows]

    def has(self, layer):
        return layer == BOUWENVELOP

    def query(self, layer, minx, miny, maxx, maxy):
        return [(rec, g) for rec, g in self.rows if g.intersects(box(minx, miny, maxx, maxy))]


def _rows(vlakken=(), mvs=(), norms=()):
    return build_envelopes(_frame(list(vlakken)), _frame(list(mvs)), _frame(list(norms)), None, EnvelopeReport())


def _solid_row(footprint, z0, z1, lod="2.2", part=None):
    return {"lod": lod, "part": part, "solid": json.dumps(block_mesh(footprint, z0, z1).solid_json())}


VLAK = box(X0, Y0, X0 + 10, Y0 + 10)
HOUSE = box(X0 + 2, Y0 + 2, X0 + 8, Y0 + 8)


def test_relative_envelope_stands_on_the_buildings_maaiveld():
    store = FakeStore(_rows([_vlak("BV", VLAK)], [_mv("MV", VLAK, bouw=9.0)]))
    building = {"b3_h_maaiveld": 2.0, "b3_h_dak_70p": 12.0}
    out = clash(store, building, HOUSE, [_solid_row(HOUSE, 2.0, 12.0)])
    assert out["solid_lod"] == "2.2" and out["status"] == "overschrijdt"
    assert out["max_excess_height_m"] == pytest.approx(1.0, abs=1e-6)  # 12 − (2 + 9)
    assert out["excess_above_m3"] == pytest.approx(36.0, rel=1e-6) and out["excess_outside_m3"] == 0.0
    env = out["envelopes"][0]
    assert env["relatief"] and env["peil_gebruikt"] == 2.0 and "b3_h_maaiveld" in env["peil_gebruikt_methode"]["en"]
    assert env["bron_object_ids"] == ["MV"]


def test_bouwvlak_envelope_on_its_own_peil():
    rows = _rows([_vlak("BV", VLAK)], [_mv("MV", VLAK, bouw=9.0)])
    rows[0].update(peil_nap=1.5, relatief=0, solid=json.dumps(block_mesh(VLAK, 1.5, 10.5).solid_json()))
    out = clash(FakeStore(rows), {"b3_h_maaiveld": 2.0}, HOUSE, [_solid_row(HOUSE, 2.0, 11.0)])
    assert out["max_excess_height_m"] == pytest.approx(0.5, abs=1e-6)  # 11 − (1.5 + 9): the envelope's peil
    assert out["envelopes"][0]["peil_gebruikt"] == 1.5


def test_werkingsgebied_envelope_stands_on_each_buildings_maaiveld():
    gebied = MultiPolygon([box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50)])
    rows = _rows(norms=[{"object_id": "n@g", "plan_id": "OP", "locatie": "g", "geometry": gebied, "naam": "h",
                         "type": "MaximumBouwhoogte", "eenheid": "Meter", "kwantitatieve_waarde": 7.0}])
    rows[0].update(peil_nap=-1.0, relatief=0)
    rows[0]["solid"] = json.dumps(block_mesh(gebied, -1.0, 6.0).solid_json())
    out = clash(FakeStore(rows), {"b3_h_maaiveld": 0.5}, HOUSE, [_solid_row(HOUSE, 0.5, 7.0)])
    assert out["status"] == "binnen_envelop"  # 6.5 m on its own maaiveld, not 8 m above the area's median
    assert out["envelopes"][0]["peil_gebruikt"] == 0.5


def test_lod12_block_when_the_lod22_solid_is_not_closed():
    store = FakeStore(_rows([_vlak("BV", VLAK)], [_mv("MV", VLAK, bouw=9.0)]))
    broken = json.loads(_solid_row(HOUSE, 0.0, 12.0)["solid"])
    broken["geometry"]["boundaries"][0] = broken["geometry"]["boundaries"][0][:-3]
    out = clash(store, {"b3_h_maaiveld": 0.0, "b3_h_dak_70p": 10.0}, HOUSE,
                [{"lod": "2.2", "part": None, "solid": json.dumps(broken)}])
    assert out["solid_lod"] == "1.2" and "not usable" in out["solid_fallback_reason"]["en"]
    assert out["max_excess_height_m"] == pytest.approx(1.0, abs=1e-6)


def test_parts_are_one_solid_and_beside_the_bouwvlak_is_outside():
    store = FakeStore(_rows([_vlak("BV", VLAK)], [_mv("MV", VLAK, bouw=9.0)]))
    a, b = box(X0 + 1, Y0 + 1, X0 + 5, Y0 + 9), box(X0 + 5, Y0 + 1, X0 + 12, Y0 + 9)  # b: 2 m beyond the vlak
    solids = [_solid_row(a, 0.0, 8.0, part=0), _solid_row(b, 0.0, 10.0, part=1),
              _solid_row(a, 0.0, 8.0, lod="1.2", part=0), _solid_row(b, 0.0, 10.0, lod="1.2", part=1)]
    out = clash(store, {"b3_h_maaiveld": 0.0}, a.union(b), solids)
    assert out["solid_lod"] == "2.2"
    assert out["excess_above_m3"] == pytest.approx(5 * 8 * 1.0, rel=1e-6)
    assert out["excess_outside_m3"] == pytest.approx(2 * 8 * 10.0, rel=1e-6)


def test_no_envelope_none_and_no_solid_onbekend():
    store = FakeStore(_rows([_vlak("BV", VLAK)], [_mv("MV", VLAK, bouw=9.0)]))
    assert clash(store, {}, box(X0 + 20, Y0, X0 + 25, Y0 + 5), []) is None
    assert clash(store, {}, box(X0 + 10, Y0, X0 + 15, Y0 + 5), []) is None  # a shared edge only
    out = clash(store, {"b3_h_maaiveld": None}, HOUSE, [])
    assert out["status"] == "onbekend" and out["reason"]
