"""BAG reader on the real Doesburg extract (BAG 2.0 XML), wippolder GeoPackage, tudcampus GeoJSON."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from core.errors import InputError
from etl.readers.bag import PAND_COLUMNS_OUT, VBO_COLUMNS_OUT, aggregate_verblijfsobjecten, normalise_id, read_bag
from tests.conftest import shared_path

GONE = {"Pand gesloopt", "Niet gerealiseerd pand", "Pand ten onrechte opgevoerd"}
PAND = re.compile(r"<Objecten:Pand>.*?</Objecten:Pand>", re.DOTALL)


def doesburg(*parts: str) -> Path:
    return shared_path("nlextract-bag-doesburg", *parts)


def tag(block: str, name: str) -> str | None:
    match = re.search(rf"<[\w-]+:{name}\b[^>]*>([^<]*)<", block)
    return match.group(1) if match else None


def expected_current_panden(texts: list[str]) -> dict[str, str]:
    """id -> bouwjaar of current, standing panden, computed from the raw XML with regexes."""
    latest: dict[str, tuple[str, str]] = {}
    blocks = {}
    for text in texts:
        for block in PAND.findall(text):
            if "eindGeldigheid" in block or "tijdstipInactief" in block:
                continue
            pid, begin = tag(block, "identificatie"), tag(block, "beginGeldigheid")
            if pid not in latest or latest[pid] < (begin, tag(block, "voorkomenidentificatie")):
                latest[pid] = (begin, tag(block, "voorkomenidentificatie"))
                blocks[pid] = block
    return {
        f"NL.IMBAG.Pand.{pid}": tag(b, "oorspronkelijkBouwjaar")
        for pid, b in blocks.items() if tag(b, "status") not in GONE
    }


@pytest.fixture(scope="module")
def pnd_texts() -> list[str]:
    with zipfile.ZipFile(doesburg("0221PND15092020.zip")) as archive:
        return [archive.read(n).decode("utf-8") for n in archive.namelist()]


@pytest.fixture(scope="module")
def doesburg_all():
    """The full PND zip plus the subset of every object type, as Kadaster delivers them."""
    return read_bag([doesburg("0221PND15092020.zip"), doesburg("subset-all-objecttypes")])


def test_doesburg_current_panden_match_an_independent_count(pnd_texts, doesburg_all):
    expected = expected_current_panden(pnd_texts)
    panden = doesburg_all.panden
    assert len(panden) == len(expected) == panden["identificatie"].nunique()
    assert set(panden["identificatie"]) == set(expected)
    assert sum(len(PAND.findall(t)) for t in pnd_texts) == 13098  # every voorkomen seen
    assert doesburg_all.counts_in["pand"] == 13098 + 6  # + the subset's 6 PND voorkomens
    bouwjaar = dict(zip(panden["identificatie"], panden["oorspronkelijkbouwjaar"]))
    for pid, year in expected.items():
        assert (pd.isna(bouwjaar[pid]) and year == "9999") or bouwjaar[pid] == int(year)


def test_doesburg_panden_columns_and_geometry(doesburg_all):
    panden = doesburg_all.panden
    assert list(panden.columns) == [*PAND_COLUMNS_OUT, "geometry"]
    assert panden.crs.to_epsg() == 28992
    assert panden["identificatie"].str.fullmatch(r"NL\.IMBAG\.Pand\.\d{16}").all()
    assert not shapely.has_z(panden.geometry.values).any() and panden.is_valid.all()
    assert set(panden.geom_type) == {"Polygon"}
    minx, miny, maxx, maxy = panden.total_bounds
    assert 205078 <= minx and maxx <= 209127 and 445632 <= miny and maxy <= 450115  # README bbox, rounded
    assert not panden["status"].isin(GONE).any()
    assert str(panden["oorspronkelijkbouwjaar"].dtype) == "Int64"
    assert str(panden["geconstateerd"].dtype) == "boolean"
    assert panden["begingeldigheid"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert len(doesburg_all.skipped) == 0


def test_doesburg_vbo_joined_to_pand_and_address(doesburg_all):
    vbos = doesburg_all.verblijfsobjecten.set_index("identificatie")
    assert list(doesburg_all.verblijfsobjecten.columns) == [*VBO_COLUMNS_OUT, "geometry"]
    # Read off the subset XML: VBO 0221010000330226's current voorkomen (4) lies in pand
    # 0221100000312938 with hoofdadres 0221200000330227 = Kosterstraat 4, 6981CH (OPR
    # 0221300000311333, which lies in woonplaats 2142 Doesburg).
    vbo = vbos.loc["NL.IMBAG.Verblijfsobject.0221010000330226"]
    assert vbo["pand_identificatie"] == vbo["pand_identificaties"] == "NL.IMBAG.Pand.0221100000312938"
    assert vbo["nummeraanduiding_identificatie"] == "NL.IMBAG.Nummeraanduiding.0221200000330227"
    assert (vbo["openbareruimte"], vbo["huisnummer"], vbo["huisletter"], vbo["postcode"], vbo["woonplaats"]) == (
        "Kosterstraat", 4, None, "6981CH", "Doesburg"
    )
    assert (vbo["gebruiksdoel"], vbo["oppervlakte"], vbo["status"]) == (
        "woonfunctie", 223, "Verbouwing verblijfsobject")
    # VBO ...330999: hoofdadres ...330229, whose current voorkomen (3) is 9l without postcode.
    other = vbos.loc["NL.IMBAG.Verblijfsobject.0221010000330999"]
    assert (other["openbareruimte"], other["huisnummer"], other["huisletter"], other["postcode"],
            other["woonplaats"]) == (
        "Schout bij Nacht Doormansingel", 9, "l", None, "Doesburg"
    )
    assert len(vbos) == 2  # the other 3 voorkomens in the file are history of ...330226
    # The pand side of the join.
    pand = doesburg_all.panden.set_index("identificatie").loc["NL.IMBAG.Pand.0221100000312938"]
    assert (pand["gebruiksdoel"], pand["aantal_verblijfsobjecten"], pand["oppervlakte_min"],
            pand["oppervlakte_max"]) == (
        "woonfunctie", 1, 223, 223
    )
    assert doesburg_all.verblijfsobjecten.geom_type.eq("Point").all()


def test_nested_zip_as_kadaster_delivers_reads_the_same(tmp_path, doesburg_all):
    outer = tmp_path / "BAGGEM0221L-15092020.zip"
    subset = doesburg("subset-all-objecttypes")
    with zipfile.ZipFile(outer, "w") as archive:
        archive.write(doesburg("0221PND15092020.zip"), "0221PND15092020.zip")
        for code in ("VBO", "NUM", "OPR", "WPL"):
            inner = tmp_path / f"0221{code}15092020.zip"
            with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
                z.write(subset / f"0221{code}15092020-000001.xml", f"0221{code}15092020-000001.xml")
            archive.write(inner, inner.name)
        archive.write(subset / "Leveringsdocument-BAG-Extract.xml", "Leveringsdocument-BAG-Extract.xml")
    result = read_bag([outer])
    assert set(result.panden["identificatie"]) == set(doesburg_all.panden["identificatie"])
    pd.testing.assert_frame_equal(
        result.verblijfsobjecten.drop(columns="geometry"), doesburg_all.verblijfsobjecten.drop(columns="geometry")
    )


# ---------------------------------------------------------------------------------------------
# GeoPackage / GeoJSON


def test_wippolder_geopackage_with_aggregated_attributes():
    path = shared_path("geoflow-bag-wippolder-delft", "wippolder.gpkg")
    raw = gpd.read_file(path)
    result = read_bag([path])
    panden = result.panden
    assert len(panden) == len(raw) == 60
    # One fixture pand has the id "x2": kept as given, and said so.
    want_ids = [f"NL.IMBAG.Pand.{i.zfill(16)}" if i.isdigit() else i for i in raw["identificatie"]]
    assert list(panden["identificatie"]) == want_ids
    assert any("x2" in n for n in result.notes)
    assert list(panden["oorspronkelijkbouwjaar"].astype("float")) == pytest.approx(list(raw["bouwjaar"]), nan_ok=True)
    assert list(panden["aantal_verblijfsobjecten"].astype("float")) == pytest.approx(
        list(raw["aantal_verblijfsobjecten"]), nan_ok=True)
    for got, want in zip(panden["gebruiksdoel"], raw["gebruiksdoel"]):
        assert (got is None and pd.isna(want)) or got.split(",") == [p.strip() for p in want.split(",")]


def test_tudcampus_geojson_one_row_per_pand():
    path = shared_path("city4cfd-bag-tudcampus-delft", "tudcampus.geojson")
    raw = gpd.read_file(path)
    result = read_bag([path])
    panden = result.panden.set_index("identificatie")
    # 1,529 features hold 1,526 panden: one pand was clipped into 4 pieces, which are merged.
    assert len(raw) == 1529 and len(panden) == raw["identificatie"].nunique() == 1526
    assert set(panden.index) == set(raw["identificatie"])
    years = raw.drop_duplicates("identificatie").set_index("identificatie")["oorspronkelijkbouwjaar"]
    assert (panden.loc[years.index, "oorspronkelijkbouwjaar"].astype(int) == years).all()
    pieces = raw[raw["identificatie"].duplicated(keep=False)]
    for pid, group in pieces.groupby("identificatie"):
        assert panden.loc[pid, "geometry"].area == pytest.approx(group.area.sum(), rel=1e-6)
    assert panden["status"].notna().all() and panden["documentdatum"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_bag_light_geopackage_with_verblijfsobjecten(tmp_path):
    """PDOK bag-light style: layers pand and verblijfsobject (what the synthetic generator writes)."""
    path = tmp_path / "bag.gpkg"
    a, b = shapely.box(206000, 447000, 206010, 447010), shapely.box(206020, 447000, 206030, 447010)
    gpd.GeoDataFrame(
        {"identificatie": ["0221100000000001", "0221100000000002", "0221100000000003"], "bouwjaar": [1990, 2005, 1900],
         "status": ["Pand in gebruik", "Pand in gebruik", "Pand gesloopt"]},
        geometry=[a, b, a], crs="EPSG:28992",
    ).to_file(path, layer="pand")
    gpd.GeoDataFrame(
        {
            "identificatie": ["0221010000000011", "0221010000000012", "0221010000000013"],
            "pand_identificatie": ["0221100000000001", "0221100000000001", "0221100000000002"],
            "gebruiksdoel": ["woonfunctie", "winkelfunctie", "woonfunctie"],
            "oppervlakte": [80, 120, 60],
            "openbare_ruimte_naam": ["Kerkstraat"] * 3,
            "huisnummer": [1, 3, 5],
            "huisletter": [None, "a", None],
            "toevoeging": [None, None, "2"],
            "postcode": ["6981AA"] * 3,
            "woonplaats_naam": ["Doesburg"] * 3,
            "status": ["Verblijfsobject in gebruik"] * 3,
        },
        geometry=[shapely.Point(206005, 447005), shapely.Point(206006, 447006), shapely.Point(206025, 447005)],
        crs="EPSG:28992",
    ).to_file(path, layer="verblijfsobject")

    result = read_bag([path])

    panden = result.panden.set_index("identificatie")
    assert list(panden.index) == ["NL.IMBAG.Pand.0221100000000001", "NL.IMBAG.Pand.0221100000000002"]
    first = panden.loc["NL.IMBAG.Pand.0221100000000001"]
    assert (first["gebruiksdoel"], first["aantal_verblijfsobjecten"], first["oppervlakte_min"],
            first["oppervlakte_max"]) == (
        "winkelfunctie,woonfunctie", 2, 80, 120
    )
    vbo = result.verblijfsobjecten.set_index("identificatie").loc["NL.IMBAG.Verblijfsobject.0221010000000013"]
    assert (vbo["pand_identificatie"], vbo["openbareruimte"], vbo["huisnummer"], vbo["huisnummertoevoeging"],
            vbo["woonplaats"]) == (
        "NL.IMBAG.Pand.0221100000000002", "Kerkstraat", 5, "2", "Doesburg"
    )


def test_aggregate_counts_a_vbo_in_two_panden_for_both():
    panden = gpd.GeoDataFrame({"identificatie": ["P1", "P2", "P3"]}, geometry=[shapely.box(0, 0, 1, 1)] * 3)
    vbos = pd.DataFrame(
        {"pand_identificaties": ["P1,P2", "P1"], "gebruiksdoel": ["woonfunctie", "kantoorfunctie,woonfunctie"],
         "oppervlakte": [50, 70]}
    )
    out = aggregate_verblijfsobjecten(panden, vbos).set_index("identificatie")
    assert out.loc["P1", "gebruiksdoel"] == "kantoorfunctie,woonfunctie"
    assert out.loc["P1", "aantal_verblijfsobjecten"] == 2
    assert out.loc["P2", "oppervlakte_max"] == 50 and out.loc["P3", "aantal_verblijfsobjecten"] == 0
    assert out.loc["P3", "gebruiksdoel"] is None and pd.isna(out.loc["P3", "oppervlakte_min"])


# ---------------------------------------------------------------------------------------------
# Bad input, made at test time from the start of the real Doesburg PND file


def pnd_snippet(pnd_texts: list[str], n: int = 40) -> tuple[str, list[str], str]:
    text = pnd_texts[0]
    head = text[: text.index("<sl:stand>")]
    stands = re.findall(r"<sl:stand>.*?</sl:stand>", text, re.DOTALL)[:n]
    return head, stands, "</sl:standBestand></sl-bag-extract:bagStand>"


def test_bad_panden_are_skipped_with_file_id_and_reason(tmp_path, pnd_texts):
    head, stands, foot = pnd_snippet(pnd_texts)
    standing = [i for i, s in enumerate(stands) if "eindGeldigheid" not in s and tag(s, "status") not in GONE]
    ids = [tag(stands[i], "identificatie") for i in standing]
    targets = [standing[ids.index(pid)] for pid in dict.fromkeys(ids)][:4]  # four distinct panden
    pos_list = re.compile(r"(<gml:posList[^>]*>)([^<]+)(<)")
    edits = [
        (lambda s: pos_list.sub(lambda g: g[1] + " ".join(g[2].split()[:-3]) + g[3], s), "ring not closed"),
        (lambda s: pos_list.sub(lambda g: g[1] + "206000 447000 0 206010 447010 0 206010 447000 0 206000 447010 0 "
                                "206000 447000 0" + g[3], s), "Self-intersection"),
        (lambda s: re.sub(r"<Objecten:geometrie>.*?</Objecten:geometrie>", "", s, flags=re.DOTALL), "missing geometry"),
        (lambda s: pos_list.sub(lambda g: g[1] + g[2].replace(" ", " NaNx ", 1) + g[3], s), "unparsable coordinates"),
    ]
    for i, (edit, _reason) in zip(targets, edits):
        stands[i] = edit(stands[i])
    path = tmp_path / "0221PND15092020-000001.xml"
    path.write_text(head + "".join(stands) + foot, encoding="utf-8")

    result = read_bag([path])

    expected = expected_current_panden([head + "".join(stands) + foot])
    bad = {f"NL.IMBAG.Pand.{tag(stands[i], 'identificatie')}" for i in targets}
    assert set(result.panden["identificatie"]) == set(expected) - bad
    by_id = {s.feature: s for s in result.skipped.items}
    assert len(result.skipped) == 4
    for i, (_edit, reason) in zip(targets, edits):
        skip = by_id[tag(stands[i], "identificatie")]
        assert skip.path == str(path) and reason in skip.reason


def test_truncated_xml_names_file_and_line(tmp_path):
    source = doesburg("subset-all-objecttypes", "0221VBO15092020-000001.xml").read_text(encoding="utf-8")
    path = tmp_path / "0221VBO15092020-000001.xml"
    path.write_text(source[: len(source) // 2], encoding="utf-8")
    with pytest.raises(InputError, match=r"0221VBO15092020-000001\.xml: not well-formed XML at line \d+"):
        read_bag([doesburg("subset-all-objecttypes", "0221PND15092020-000001.xml"), path])


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_bag([tmp_path / "bag.gpkg"])
    assert info.value.path == str(tmp_path / "bag.gpkg")


def test_corrupt_zip_is_an_input_error(tmp_path):
    path = tmp_path / "0221PND15092020.zip"
    shutil.copyfile(doesburg("0221PND15092020.zip"), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InputError, match="0221PND15092020.zip"):
        read_bag([path])


def test_empty_pand_layer_gives_an_empty_frame_and_a_note(tmp_path):
    path = tmp_path / "bag.gpkg"
    gpd.GeoDataFrame({"identificatie": [], "bouwjaar": []}, geometry=[], crs="EPSG:28992").to_file(path, layer="pand")
    result = read_bag([path])
    assert len(result.panden) == 0 and list(result.panden.columns) == [*PAND_COLUMNS_OUT, "geometry"]
    assert len(result.verblijfsobjecten) == 0
    assert any("empty layer" in n for n in result.notes)


def test_integer_identificatie_columns_give_16_digit_ids(tmp_path):
    """BAG ids in INTEGER columns lose their leading zero (503100000018603): panden, the pand ids of
    verblijfsobjecten, in a GeoPackage and in GeoJSON, all come out with 16 digits."""
    wippolder = gpd.read_file(shared_path("geoflow-bag-wippolder-delft", "wippolder.gpkg"))
    wippolder = wippolder[wippolder["identificatie"].str.fullmatch(r"\d+")].reset_index(drop=True)
    as_int = wippolder["identificatie"].astype("int64")
    assert (as_int < 10**15).all(), "premise: the Delft ids start with 0503, so the integer has 15 digits"
    panden = wippolder.assign(identificatie=as_int)
    vbos = gpd.GeoDataFrame({"identificatie": as_int + 10**10, "pand_identificatie": as_int,
                             "gebruiksdoel": "woonfunctie", "status": "Verblijfsobject in gebruik"},
                            geometry=wippolder.geometry.representative_point(), crs="EPSG:28992")
    gpkg = tmp_path / "bag.gpkg"
    panden.to_file(gpkg, layer="pand")
    vbos.to_file(gpkg, layer="verblijfsobject")
    geojson = tmp_path / "panden.geojson"
    panden.to_file(geojson, driver="GeoJSON")
    expected = {f"NL.IMBAG.Pand.{v:016d}" for v in as_int}
    result = read_bag([gpkg])
    assert set(result.panden["identificatie"]) == expected
    assert set(result.verblijfsobjecten["pand_identificatie"]) == expected
    assert result.verblijfsobjecten["identificatie"].str.fullmatch(r"NL\.IMBAG\.Verblijfsobject\.\d{16}").all()
    assert set(read_bag([geojson]).panden["identificatie"]) == expected


@pytest.mark.parametrize("given", [503100000018603, 503100000018603.0, "503100000018603", "0503100000018603",
                                   "503100000018603.0", "NL.IMBAG.Pand.503100000018603",
                                   "NL.IMBAG.Pand.0503100000018603"])
def test_every_form_of_a_bag_id_gives_the_same_16_digits(given):
    assert normalise_id(given, "PND") == "NL.IMBAG.Pand.0503100000018603"


@pytest.mark.parametrize("given", ["x2", "12345678901234567", "", None, float("nan"), "NL.IMBAG.Pand.",
                                   "NL.IMBAG.Verblijfsobject.0503010000018603"])
def test_what_is_not_a_bag_id_is_none(given):
    assert normalise_id(given, "PND") is None
