"""The verbs beyond `--help`, end to end as a user runs them: `.venv/bin/stadsmodel demo`, `load` and `zoning import`
in a subprocess, asserting exit status, output (never a traceback) and the products against counts taken
independently from the inputs (laspy headers, the GML text, the store's own tables).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import laspy
import pytest

from tests.conftest import ROOT, shared_path
from tests.services.conftest import postgis_dsn, service_store  # noqa: F401  (fixtures: a live PostGIS)
from tests.services.test_built_store_postgis import fresh_database

STADSMODEL = ROOT / ".venv" / "bin" / "stadsmodel"
DEMO_BUILDINGS = 12
# one worker holds the module's demo (pytest -n 2 --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("commands")]


def stadsmodel(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    run = subprocess.run([str(STADSMODEL), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert "Traceback" not in run.stdout + run.stderr, run.stderr[-3000:]
    return run


def _table_counts(gpkg: Path) -> dict[str, int]:
    with sqlite3.connect(gpkg) as c:
        tables = [r[0] for r in c.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        return {t: c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


# ------------------------------------------------------------------------------------------------- demo

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    run = stadsmodel("demo", "--out", str(out), "--buildings", str(DEMO_BUILDINGS), "--no-serve")
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_demo_builds_model_and_store_from_its_inputs(demo):
    inputs, model = demo / "input", demo / "model"
    with sqlite3.connect(inputs / "bag.gpkg") as c:
        panden = {r[0] for r in c.execute("SELECT identificatie FROM pand")}
    assert len(panden) == DEMO_BUILDINGS
    city = json.loads((model / "model.city.json").read_text())
    assert city["type"] == "CityJSON" and city["version"] == "2.0"
    ids = {k for k, v in city["CityObjects"].items() if v["type"] == "Building"}
    assert {i.removeprefix("NL.IMBAG.Pand.") for i in ids} == {str(p).removeprefix("NL.IMBAG.Pand.").zfill(16)
                                                                for p in panden}
    assert all(re.fullmatch(r"NL\.IMBAG\.Pand\.\d{16}", i) for i in ids)
    counts = _table_counts(model / "stadsmodel.gpkg")
    assert counts["buildings"] == DEMO_BUILDINGS
    report = json.loads((model / "report.json").read_text())
    assert not report["skipped"]
    for name in ("dtm.tif", "dsm.tif", "model.city.jsonl"):
        assert (model / name).stat().st_size > 0


def test_demo_imports_its_permit_check(demo):
    from etl.rules.sttr import read_sttr

    (source,) = (demo / "input" / "regels").glob("*.sttr.xml")
    (activity,) = read_sttr(source)
    with sqlite3.connect(demo / "model" / "stadsmodel.gpkg") as c:
        stored = c.execute("SELECT activity, model FROM toepasbare_regels").fetchall()
    assert [a for a, _ in stored] == ["kozijn-plaatsen-synthetisch"]
    assert json.loads(stored[0][1]) == activity.to_json()


def test_demo_imports_its_plan_and_monuments(demo):
    plan = next((demo / "input" / "zoning").glob("NL.IMRO.*.gml"))
    text = plan.read_text(encoding="utf-8")
    counts = _table_counts(demo / "model" / "stadsmodel.gpkg")
    for element, layer in (("Bestemmingsplangebied", "bestemmingsplangebied"), ("Enkelbestemming", "enkelbestemming"),
                           ("Bouwvlak", "bouwvlak"), ("Maatvoering", "maatvoering")):
        n = len(re.findall(rf"<imro:{element}[\s>]", text))
        assert n > 0 and counts[layer] == n, (layer, counts.get(layer), n)
    for geojson, layer in (("rce-rijksmonumenten.geojson", "monumenten"),
                           ("rce-beschermde-gezichten.geojson", "beschermde_gezichten")):
        features = json.loads((demo / "input" / "zoning" / geojson).read_text())["features"]
        assert counts[layer] == len(features) > 0
    zoning = json.loads((demo / "model" / "zoning_report.json").read_text())
    assert not zoning["rejected"] and not zoning["skipped"]


def test_demo_tiles_buildings_terrain_and_points(demo):
    model = demo / "model"
    index = json.loads((model / "tiles" / "index.json").read_text())
    by_name = {t["name"]: t for t in index["tilesets"]}
    assert set(by_name) == {"buildings", "buildings-lod12", "terrain", "pointcloud", "envelopes", "excess"}
    assert by_name["buildings-lod12"]["features"] == by_name["buildings"]["features"]
    city = json.loads((model / "model.city.json").read_text())
    kinds = [v["type"] for v in city["CityObjects"].values() if "parents" not in v]
    assert by_name["buildings"]["features"] == kinds.count("Building") == DEMO_BUILDINGS
    assert by_name["terrain"]["features"] == len(kinds) - kinds.count("Building")
    points = sum(laspy.open(p).header.point_count for p in (demo / "input" / "ahn").glob("*.laz"))
    assert by_name["pointcloud"]["features"] == points
    for t in index["tilesets"]:
        tileset = json.loads((model / "tiles" / t["url"]).read_text())
        # py3dtiles writes its point-cloud tileset (pnts content) as 3D Tiles 1.0, which 1.1 clients read
        assert tileset["asset"]["version"] == ("1.0" if t["name"] == "pointcloud" else "1.1"), t
        assert tileset["root"]["geometricError"] >= 0
    run = stadsmodel("tiles", "validate", str(model / "tiles"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(re.findall(r"0 errors", run.stdout)) == len(index["tilesets"]), run.stdout


def test_demo_rerun_reuses_inputs_and_keeps_one_copy_of_the_plan(demo):
    truth = demo / "input" / "truth.json"
    before = truth.stat().st_mtime_ns, _table_counts(demo / "model" / "stadsmodel.gpkg")
    run = stadsmodel("demo", "--out", str(demo), "--buildings", str(DEMO_BUILDINGS), "--no-serve")
    assert run.returncode == 0, run.stderr[-3000:]
    assert truth.stat().st_mtime_ns == before[0]  # the synthetic district is not regenerated
    assert _table_counts(demo / "model" / "stadsmodel.gpkg") == before[1]  # re-import replaces, never doubles


# ------------------------------------------------------------------------------------------ zoning import

IMRO_REJECTED = {"NL.IMRO.0513_Gouda_besluitsubvlak_2008.gml", "NL.IMRO.1730_Tynaarlo_beheersverordening.gml"}


def test_zoning_import_one_real_plan(tmp_path):
    goes = shared_path("imro-b3partners", "NL.IMRO.0664.BPBS03-ON99_Goes.gml")
    run = stadsmodel("zoning", "import", str(goes), "--data", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "1 sources imported, 0 rejected, 0 features skipped" in run.stderr
    text = goes.read_text(encoding="utf-8")
    report = json.loads((tmp_path / "zoning_report.json").read_text())
    counts = _table_counts(tmp_path / "stadsmodel.gpkg")
    imported = report["imported"][str(goes)]
    # one article per distinct regels anchor its bestemmingen and aanduidingen refer to (issue 16)
    anchors = set(re.findall(r"verwijzingNaarTekst>(r_[^<#]+\.html#[^<]+)<", text))  # not the plan's PDFs
    assert counts["regels"] == imported.pop("regels") == len(anchors)
    for layer, n in imported.items():
        element = {"bestemmingsplangebied": "Bestemmingsplangebied"}.get(layer, layer.capitalize())
        assert counts[layer] == n == len(re.findall(rf"<imro:{element}[\s>]", text)), layer


def test_zoning_import_a_folder_with_unusable_plans_is_partial(tmp_path):
    folder = shared_path("imro-b3partners")
    run = stadsmodel("zoning", "import", str(folder), "--data", str(tmp_path))
    # two of the eight files are not bestemmingsplannen: rejected with a reason, the rest imported, exit 3
    assert run.returncode == 3, (run.returncode, run.stderr[-2000:])
    report = json.loads((tmp_path / "zoning_report.json").read_text())
    assert {Path(r["file"]).name for r in report["rejected"]} == IMRO_REJECTED
    assert len(report["imported"]) == len(list(folder.glob("*.gml"))) - len(IMRO_REJECTED)
    for name in IMRO_REJECTED:
        assert name in run.stderr  # each rejected file is named on the console too
    assert "6 sources imported, 2 rejected" in run.stderr


def test_zoning_import_omgevingsplan_reports_what_has_no_geometry(tmp_path):
    """The Gemeentestad delivery locates some rules on the Ambtsgebied, whose geometry is not in the delivery:
    those are skipped, each named, the rest imported, exit 3."""
    from lxml import etree

    delivery = shared_path("geonovum-omgevingsplan-gemeentestad", "opdracht")
    run = stadsmodel("zoning", "import", str(delivery), "--data", str(tmp_path))
    assert run.returncode == 3, (run.returncode, run.stderr[-2000:])
    ns = {"l": "http://www.geostandaarden.nl/imow/locatie", "r": "http://www.geostandaarden.nl/imow/regels"}
    ambtsgebieden, on_ambtsgebied = set(), 0
    for f in delivery.glob("ow*.xml"):
        doc = etree.parse(str(f))
        ambtsgebieden |= set(doc.xpath("//l:Ambtsgebied/l:identificatie/text()", namespaces=ns))
    for f in delivery.glob("ow*.xml"):
        for ala in etree.parse(str(f)).xpath("//r:ActiviteitLocatieaanduiding", namespaces=ns):
            refs = ala.xpath("r:locatieaanduiding/l:LocatieRef/@xlink:href",
                             namespaces={**ns, "xlink": "http://www.w3.org/1999/xlink"})
            on_ambtsgebied += sum(r in ambtsgebieden for r in refs)
    assert ambtsgebieden and on_ambtsgebied
    report = json.loads((tmp_path / "zoning_report.json").read_text())
    assert len(report["skipped"]) == len(ambtsgebieden) + on_ambtsgebied
    assert all(any(a in s["reason"] or a == s["feature"] for a in ambtsgebieden) for s in report["skipped"])
    assert f"1 sources imported, 0 rejected, {len(report['skipped'])} features skipped" in run.stderr
    counts = _table_counts(tmp_path / "stadsmodel.gpkg")
    # the envelopes are made from every plan in the store, after the import (etl.envelopes)
    assert counts.pop("bouwenvelop") == report["envelopes"]["envelopes"] > 0
    assert counts == report["imported"][str(delivery)]


def test_zoning_import_of_nothing_usable_fails_clearly(tmp_path):
    bad = tmp_path / "plan.gml"
    bad.write_text("<imro:FeatureCollectionIMRO xmlns:imro='http://www.geonovum.nl/imro/2012/1.1'><oops")
    run = stadsmodel("zoning", "import", str(bad), "--data", str(tmp_path / "data"))
    assert run.returncode == 2
    assert "plan.gml" in run.stderr and "not well-formed XML" in run.stderr
    assert not (tmp_path / "data" / "stadsmodel.gpkg").exists()


# -------------------------------------------------------------------------------------------------- load

@pytest.mark.postgis
def test_load_cli_rows_equal_in_postgis_and_the_geopackage(demo, postgis_dsn):  # noqa: F811
    import psycopg

    dsn = fresh_database(postgis_dsn, "demo_cli")
    run = stadsmodel("load", "--data", str(demo / "model"), "--postgres", dsn)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = _table_counts(demo / "model" / "stadsmodel.gpkg")
    with psycopg.connect(dsn) as con:
        got = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in expected}
        srids = {r[0] for r in con.execute("SELECT DISTINCT srid FROM geometry_columns "
                                           "WHERE f_table_schema = 'public'")}
        pg_ids = {r[0] for r in con.execute("SELECT identificatie FROM buildings")}
    assert got == expected
    assert srids == {28992}
    with sqlite3.connect(demo / "model" / "stadsmodel.gpkg") as c:
        assert pg_ids == {r[0] for r in c.execute("SELECT identificatie FROM buildings")}
    # loading again replaces the tables: same counts, not doubled
    run = stadsmodel("load", "--data", str(demo / "model"), "--postgres", dsn)
    assert run.returncode == 0, run.stderr[-3000:]
    with psycopg.connect(dsn) as con:
        assert con.execute("SELECT count(*) FROM buildings").fetchone()[0] == expected["buildings"]


def test_load_to_an_unreachable_database_is_a_clear_error(demo):
    from tests.services.conftest import free_port

    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/stadsmodel"  # nothing listens there
    run = stadsmodel("load", "--data", str(demo / "model"), "--postgres", dsn, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "PostGIS" in run.stderr and "stadsmodel.gpkg" in run.stderr


def test_load_without_a_store_names_the_directory(tmp_path):
    run = stadsmodel("load", "--data", str(tmp_path), "--postgres", "postgresql://postgres@127.0.0.1:1/x")
    assert run.returncode == 2
    assert str(tmp_path / "stadsmodel.gpkg") in run.stderr and "stadsmodel build" in run.stderr
