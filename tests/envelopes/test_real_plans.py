"""Envelopes of the real plans in ../shared/data: the IMRO bestemmingsplannen with maatvoeringen (imro-b3partners)
and the Omgevingsplan Gemeentestad's Bouwhoogte GIO. Every bouwvlak or werkingsgebied with a maximum height gets
envelopes whose footprints make up the plan polygon and whose vertical extent is the plan's maximum bouwhoogte,
with walls up to the goothoogte; the rest are reported. No DTM here: every envelope is relative (peil 0)."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest
import shapely

from core.envelope import envelope_mesh, mesh_from_solid, top_heights, validated
from core.products import BOUWENVELOP
from etl.envelopes import write_envelopes
from etl.zoning import import_zoning
from tests.conftest import shared_path

TOL_M = 0.01


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    imro = sorted(shared_path("imro-b3partners").glob("*.gml"))
    ow = shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht")
    data = tmp_path_factory.mktemp("real-envelopes")
    import_zoning(imro + [ow], data)
    report = write_envelopes(data)
    gpkg = data / "stadsmodel.gpkg"
    layers = {name: pyogrio.read_dataframe(gpkg, layer=name)
              for name in ("bouwvlak", "maatvoering", "ow_omgevingsnorm", "ow_locatie", BOUWENVELOP)}
    return report, layers


def _heights(rec) -> dict[str, float]:
    """The maatvoering's heights from its waarden list as delivered (not the importer's columns)."""
    out = {}
    for w in json.loads(rec["waarden"] or "[]"):
        t = (w["waardetype"] or "").lower()
        for key, name in (("bouw", "maximum bouwhoogte"), ("goot", "maximum goothoogte")):
            if t.startswith(name):
                out[key] = min(float(w["waarde"].replace(",", ".")), out.get(key, np.inf))
    return out


def _inner_ring_points(geom, offset=0.02, n=200):
    """Points just inside the footprint's boundary: where the walls stand."""
    inner = geom.buffer(-offset)
    ring = inner.boundary
    return np.array([ring.interpolate(f, normalized=True).coords[0][:2] for f in np.linspace(0, 1, n, endpoint=False)])


def test_every_bouwvlak_with_a_height_has_its_envelope(store):
    report, layers = store
    env, vlakken, mv = layers[BOUWENVELOP], layers["bouwvlak"], layers["maatvoering"]
    sources = [(r["geometry"], _heights(r)) for r in mv.to_dict("records") if _heights(r)]
    assert len(sources) == 33  # Hilvarenbeek 7, Durperdam 26 (goot + bouw; none with a dakhelling)
    checked = 0
    for vlak in vlakken.itertuples():
        covering = [(g, h) for g, h in sources if g.intersection(vlak.geometry).area > 1.0]
        mine = env[env["vlak_id"] == vlak.object_id]
        if not covering:
            assert mine.empty
            assert any(s["object_id"] == vlak.object_id for s in report.skipped)
            continue
        covered = vlak.geometry.intersection(shapely.union_all([g for g, _ in covering]))
        footprint = shapely.union_all(list(mine.geometry))
        assert footprint.symmetric_difference(covered).area <= 1e-4 * covered.area, vlak.object_id
        for row in mine.itertuples():
            mesh = mesh_from_solid(json.loads(row.solid))
            here = [h for g, h in covering if g.intersection(row.geometry).area > 0.5 * row.geometry.area]
            bouw = min(h["bouw"] for h in here)
            goot = min(h["goot"] for h in here)
            assert mesh.vertices[:, 2].min() == pytest.approx(0.0, abs=TOL_M) and row.relatief == 1
            assert mesh.vertices[:, 2].max() - mesh.vertices[:, 2].min() == pytest.approx(bouw, abs=TOL_M)
            assert row.max_bouwhoogte == bouw and row.max_goothoogte == goot
            walls = top_heights(mesh, _inner_ring_points(row.geometry))
            assert np.nanmin(walls) >= goot - TOL_M  # walls reach the goothoogte (flat top: the bouwhoogte)
            assert np.nanmax(np.abs(walls - bouw)) <= TOL_M
            assert mesh.volume == pytest.approx(row.geometry.area * bouw, rel=1e-4)
            checked += 1
    assert checked == 25


def test_maatvoering_without_bouwvlak_is_its_own_area(store):
    _, layers = store
    env, mv = layers[BOUWENVELOP], layers["maatvoering"]
    hilvarenbeek = mv[mv["bron"].str.contains("Hilvarenbeek") & mv["max_bouwhoogte"].notna()]
    own = env[env["soort"] == "maatvoering"]
    assert len(own) == len(hilvarenbeek) == 7
    for rec in hilvarenbeek.to_dict("records"):
        row = own[own["bron_object_ids"] == json.dumps([rec["object_id"]])].iloc[0]
        assert row.geometry.symmetric_difference(rec["geometry"]).area <= 1e-4 * rec["geometry"].area
        mesh = mesh_from_solid(json.loads(row.solid))
        assert mesh.vertices[:, 2].max() == pytest.approx(_heights(rec)["bouw"], abs=TOL_M)
    # Doornboom is an ontwerp: its envelopes are its own and marked so; Durperdam (vastgesteld) is law
    assert set(own["ontwerp"]) == {1}
    durperdam = env[env["plan_ids"].str.contains("0999")]
    assert len(durperdam) == 25 and set(durperdam["ontwerp"]) == {0}


def test_omgevingsplan_bouwhoogte_werkingsgebieden(store):
    report, layers = store
    env, norms, locaties = layers[BOUWENVELOP], layers["ow_omgevingsnorm"], layers["ow_locatie"]
    gebieden = env[env["soort"] == "werkingsgebied"]
    values = norms[(norms["type"] == "MaximumBouwhoogte") & norms["kwantitatieve_waarde"].notna()]
    assert len(gebieden) == len(values) == 4
    for norm in values.itertuples():
        row = gebieden[gebieden["bron_object_ids"] == json.dumps([norm.object_id])].iloc[0]
        gio = locaties[locaties["identificatie"] == norm.locatie].geometry.iloc[0]
        assert row.geometry.symmetric_difference(gio).area <= 1e-4 * gio.area
        mesh = mesh_from_solid(json.loads(row.solid))
        assert mesh.vertices[:, 2].max() - mesh.vertices[:, 2].min() == pytest.approx(norm.kwantitatieve_waarde,
                                                                                       abs=TOL_M)
        assert row.max_bouwhoogte == norm.kwantitatieve_waarde and np.isnan(row.max_goothoogte)
    # the welstand areas carry typeNorm MaximumBouwhoogte with a qualitative value: reported, no envelope
    welstand = [s for s in report.skipped if "without a quantitative value" in s["reason"]]
    assert len(welstand) == 3


def test_relative_without_dtm_and_nothing_refused(store):
    report, layers = store
    assert report.relative and set(layers[BOUWENVELOP]["relatief"]) == {1}
    assert not report.repaired and not report.conflicts
    assert report.envelopes == len(layers[BOUWENVELOP]) == 36


def test_pitched_envelopes_of_real_shapes_survive_the_store(store):
    """The real bouwvlakken (stroked arcs, many short edges) under an assumed 45° roof: the stored solid (mm
    precision) reads back as a closed mesh with the same volume, and its top follows the formula."""
    _, layers = store
    for geom in list(layers["bouwvlak"].geometry)[::4]:
        mesh = envelope_mesh(geom, 0.0, 12.0, 6.0, 45.0)
        back = validated(mesh_from_solid(json.loads(json.dumps(mesh.solid_json()))))
        assert back.volume == pytest.approx(mesh.volume, rel=1e-4)
        pts = np.array(geom.representative_point().coords)
        d = geom.boundary.distance(shapely.Point(pts[0]))
        assert top_heights(back, pts)[0] == pytest.approx(min(12.0, 6.0 + d), abs=0.02)
