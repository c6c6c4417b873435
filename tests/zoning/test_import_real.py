"""Real plans and exports from ../shared/data: every IMRO file imports (counts match the GML) or is
rejected with a clear reason; the Omgevingsplan delivery and the RCE GeoJSON land in RD New."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from lxml import etree

from core.errors import InputError
from etl.zoning import import_zoning
from etl.zoning.imro import LAYERS
from tests.conftest import shared_path


def _gml_counts(path: Path) -> dict[str, int]:
    """Planobjecten per type, counted independently of the importer: tag names in the raw text."""
    text = path.read_text(encoding="utf-8")
    return {t: len(re.findall(rf"<imro:{t}[\s>]", text)) for t in LAYERS}


def _store_counts(gpkg: Path, bron: str) -> dict[str, int]:
    with sqlite3.connect(gpkg) as c:
        tables = {r[0] for r in c.execute("SELECT table_name FROM gpkg_contents")}
        return {t: (c.execute(f'SELECT count(*) FROM "{layer}" WHERE bron = ?', (bron,)).fetchone()[0]
                    if layer in tables else 0) for t, layer in LAYERS.items()}


def test_every_imro_file_imports_with_matching_counts_or_is_rejected(tmp_path):
    folder = shared_path("imro-b3partners")
    files = sorted(folder.glob("*.gml"))
    report = import_zoning(files, tmp_path)
    rejected = {Path(r["file"]).name: r["reason"] for r in report.rejected}
    assert set(rejected) == {"NL.IMRO.0513_Gouda_besluitsubvlak_2008.gml",
                             "NL.IMRO.1730_Tynaarlo_beheersverordening.gml"}
    assert all("no Bestemmingsplangebied" in r and "Besluitvlak_X" in r for r in rejected.values())
    assert len(report.imported) + len(rejected) == len(files)
    assert not len(report.skipped)
    for f in files:
        if f.name in rejected:
            continue
        assert _store_counts(tmp_path / "stadsmodel.gpkg", f.name) == _gml_counts(f), f.name


def test_imro_attributes_and_maatvoering_values(tmp_path):
    goes = shared_path("imro-b3partners", "NL.IMRO.0664.BPBS03-ON99_Goes.gml")
    import_zoning([goes], tmp_path)
    with sqlite3.connect(tmp_path / "stadsmodel.gpkg") as c:
        plan = c.execute("SELECT plan_id, plan_naam, plan_status, plan_datum FROM bestemmingsplangebied").fetchone()
        assert plan == ("NL.IMRO.0664.BPBS03-ON99", "Stationsomgeving Zuid-West", "ontwerp", "2015-02-25")
        eb = c.execute("SELECT naam, bestemmingshoofdgroep, artikelnummer FROM enkelbestemming "
                       "WHERE identificatie = 'NL.IMRO.0664.EP5302177522-00'").fetchone()
        assert eb == ("Kantoor", "kantoor", "4")
        mv = c.execute("SELECT waarden, max_bouwlagen FROM maatvoering "
                       "WHERE identificatie = 'NL.IMRO.0664.MP18312983563-00'").fetchone()
        assert mv == ('[{"waardetype": "maximum aantal bouwlagen", "waarde": "8"}]', 8.0)
        srs = {r[0] for r in c.execute("SELECT srs_id FROM gpkg_geometry_columns")}
        assert srs == {28992}


def test_imro2008_plan_imports(tmp_path):
    f = shared_path("imro-b3partners", "NL.IMRO.1680.1800030105-0000_AaEnHunze_Gieterveen.gml")
    report = import_zoning([f], tmp_path)
    assert report.imported[str(f)]["bouwvlak"] == 88
    with sqlite3.connect(tmp_path / "stadsmodel.gpkg") as c:
        assert c.execute("SELECT bron_type, plan_status FROM bestemmingsplangebied").fetchone() == (
            "IMRO2008", "concept")


def test_omgevingsplan_delivery(tmp_path):
    d = shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht")
    report = import_zoning([d], tmp_path)
    n = report.imported[str(d)]
    # 14 Gebieden + 6 Gebiedengroepen with geometry; the Ambtsgebied has none in the delivery (reported)
    assert n["ow_locatie"] == 20 and n["ow_gebiedsaanwijzing"] == 2
    skipped = [s.reason for s in report.skipped.items]
    assert any("Ambtsgebied" in r for r in skipped) and all("no geometry" in r or "Ambtsgebied" in r for r in skipped)
    with sqlite3.connect(tmp_path / "stadsmodel.gpkg") as c:
        norms = c.execute("SELECT kwantitatieve_waarde, locatie_noemer, regeltekst FROM ow_omgevingsnorm "
                          "WHERE type = 'MaximumBouwhoogte' AND kwantitatieve_waarde IS NOT NULL ORDER BY 2").fetchall()
        assert [v for v, _, _ in norms] == [7.0, 7.0, 13.0, 13.0]
        assert all(r == "gm0297_1__chp_2__subchp_2.5__art_2.14" for _, _, r in norms)
        act = c.execute("SELECT regelkwalificatie, regeltekst, plan_id FROM ow_activiteit WHERE naam = "
                        "'uitoefenen van bedrijfstypen van categorie 2'").fetchone()
        assert act == ("Toegestaan", "gm0297_1__chp_2__subchp_2.2__art_2.4", "/akn/nl/act/gm0297/2019/reg456")


def test_rce_geojson_to_rd_within_a_metre_of_rdnaptrans(tmp_path):
    f = shared_path("rce-zuid-holland", "beschermde-gezichten.geojson")
    import_zoning([f, shared_path("rce-zuid-holland", "archeologische-rijksmonumenten.geojson")], tmp_path)
    import json

    import geopandas as gpd
    from pyrdnap import RDNAP2018v1

    src = json.loads(f.read_text())["features"][0]
    lon, lat = src["geometry"]["coordinates"][0][0][0]
    stored = gpd.read_file(tmp_path / "stadsmodel.gpkg", layer="beschermde_gezichten")
    row = stored[stored["identificatie"] == src["properties"]["gezichtsnummer"]].iloc[0]
    r = RDNAP2018v1().forward(lat, lon, None)
    x, y = row.geometry.geoms[0].exterior.coords[0]
    assert abs(x - r.RDx) < 1.0 and abs(y - r.RDy) < 1.0
    assert len(stored) == 105
    assert len(gpd.read_file(tmp_path / "stadsmodel.gpkg", layer="monumenten")) == 99


@pytest.mark.parametrize("content, reason", [
    ("<imro:FeatureCollectionIMRO xmlns:imro='http://www.geonovum.nl/imro/2012/1.1'><oops", "not well-formed XML"),
    ("<x xmlns:y='http://www.geonovum.nl/imro/2012/1.1'/>", "not an IMRO2008/IMRO2012"),
    ("<imro:FeatureCollectionIMRO xmlns:imro='http://www.geonovum.nl/imro/2012/1.1'/>", "no Bestemmingsplangebied"),
])
def test_bad_files_rejected_with_reason(tmp_path, content, reason):
    bad = tmp_path / "bad.gml"
    bad.write_text(content)
    with pytest.raises(InputError, match=reason) as e:
        import_zoning([bad], tmp_path / "data")
    assert "bad.gml" in str(e.value)


def test_bad_feature_skipped_rest_imported(tmp_path):
    good = shared_path("imro-b3partners", "NL.IMRO.0798.BPDoornboom-ON01_Hilvarenbeek.gml").read_text()
    # break one Bouwaanduiding ring (leave it unclosed): that feature is skipped, counted, named
    tree = etree.fromstring(good.encode())
    ba = tree.find(".//{*}Bouwaanduiding")
    pl = ba.find(".//{*}posList")
    pl.text = " ".join(pl.text.split()[:-2] + ["1", "1"])
    f = tmp_path / "broken.gml"
    f.write_bytes(etree.tostring(tree))
    report = import_zoning([f], tmp_path / "data")
    assert report.imported[str(f)]["bouwaanduiding"] == 3
    assert len(report.skipped) == 1 and "Bouwaanduiding" in report.skipped.items[0].feature


def test_missing_and_unknown_sources(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="not a recognised planning source"):
        import_zoning([tmp_path / "x.txt"], tmp_path / "d")
    with pytest.raises(InputError, match="not found"):
        import_zoning([tmp_path / "nope.gml"], tmp_path / "d")
