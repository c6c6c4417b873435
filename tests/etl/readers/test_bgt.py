"""BGT reader on the real Otterlo PDOK delivery (IMGeo 2.1.1) and on bad inputs made from it."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from core.errors import InputError
from etl.readers.bgt import COLUMNS, DEFAULT_OBJECT_TYPES, read_bgt
from tests.conftest import shared_path

OTTERLO_BBOX = (178637, 452437, 185514, 459534)
MEMBER = re.compile(r"<cityObjectMember>.*?</cityObjectMember>", re.DOTALL)


def otterlo() -> Path:
    return shared_path("nlextract-bgt-otterlo", "otterlo.zip")


def raw_gml(object_type: str) -> str:
    with zipfile.ZipFile(otterlo()) as archive:
        return archive.read(f"bgt_{object_type}.gml").decode("utf-8")


def current_members(text: str) -> list[str]:
    """Members that are no historic version, found with a regex (independent of the reader)."""
    return [m for m in MEMBER.findall(text) if "eindRegistratie" not in m and "terminationDate" not in m]


def lokaal_id(member: str) -> str:
    return re.search(r"<imgeo:lokaalID>(.*?)</imgeo:lokaalID>", member).group(1)


@pytest.fixture(scope="module")
def otterlo_result():
    return read_bgt([otterlo()])


@pytest.mark.parametrize("object_type", DEFAULT_OBJECT_TYPES)
def test_otterlo_has_every_current_object_once(otterlo_result, object_type):
    text = raw_gml(object_type)
    expected = {lokaal_id(m) for m in current_members(text)}
    layer = otterlo_result.layers[object_type]
    assert len(layer) == len(expected) > 0
    assert set(layer["identificatie"]) == expected
    assert otterlo_result.counts_in[object_type] == len(MEMBER.findall(text))
    assert list(layer.columns) == [*COLUMNS, "geometry"]
    assert (layer["object_type"] == object_type).all()
    assert (layer["bron"] == f"bgt_{object_type}.gml").all()


def test_otterlo_geometry_is_valid_2d_and_inside_the_area(otterlo_result):
    assert len(otterlo_result.skipped) == 0
    for object_type, layer in otterlo_result.layers.items():
        assert layer.crs.to_epsg() == 28992
        geoms = layer.geometry.values
        assert shapely.is_valid(geoms).all(), object_type
        assert not shapely.has_z(geoms).any()
        minx, miny, maxx, maxy = layer.total_bounds
        assert OTTERLO_BBOX[0] <= minx and maxx <= OTTERLO_BBOX[2]
        assert OTTERLO_BBOX[1] <= miny and maxy <= OTTERLO_BBOX[3]
        kinds = set(layer.geom_type)
        if object_type == "scheiding":  # fences are lines in the real data, walls polygons
            assert kinds == {"LineString", "Polygon"}
        else:
            assert kinds <= {"Polygon", "MultiPolygon"}, object_type


def test_otterlo_pand_carries_its_bag_id(otterlo_result):
    pand = otterlo_result.layers["pand"]
    expected = {
        lokaal_id(m): re.search(r"<imgeo:identificatieBAGPND>(\d+)<", m).group(1)
        for m in current_members(raw_gml("pand"))
    }
    assert pand["identificatie_bag_pnd"].str.fullmatch(r"\d{16}").all()
    assert dict(zip(pand["identificatie"], pand["identificatie_bag_pnd"])) == expected
    assert otterlo_result.layers["wegdeel"]["identificatie_bag_pnd"].isna().all()


def test_otterlo_attributes_come_from_the_right_elements(otterlo_result):
    layers = otterlo_result.layers
    # Values as they occur in the GML (function/surfaceMaterial/class/bgt-type per type).
    assert {"fietspad", "rijbaan lokale weg"} <= set(layers["wegdeel"]["functie"])
    assert {"gesloten verharding", "open verharding"} <= set(layers["wegdeel"]["fysiek_voorkomen"])
    assert {"watervlakte"} <= set(layers["waterdeel"]["functie"])
    assert {"groenvoorziening", "naaldbos"} <= set(layers["begroeidterreindeel"]["fysiek_voorkomen"])
    assert {"erf"} <= set(layers["onbegroeidterreindeel"]["fysiek_voorkomen"])
    assert set(layers["scheiding"]["functie"]) >= {"hek", "muur"}
    assert list(layers["overbruggingsdeel"]["functie"]) == ["dek"]
    raw_status = {
        lokaal_id(m): re.search(r"<imgeo:bgt-status[^>]*>([^<]*)<", m).group(1)
        for m in current_members(raw_gml("pand"))
    }
    assert dict(zip(layers["pand"]["identificatie"], layers["pand"]["bgt_status"])) == raw_status
    assert set(layers["wegdeel"]["relatieve_hoogteligging"]) <= {-1, 0, 1, 2}


def cross(u, v):
    """z of the 2D cross product: > 0 when v turns counter-clockwise from u."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def circle_through(p0, p1, p2) -> tuple[np.ndarray, float]:
    """Centre and radius of the circle through three points: |c - p|² equal for all three, as a linear system
    (relative to p1, so RD metres keep their precision). Independent of the reader's bisector formula."""
    a, b = p0 - p1, p2 - p1
    centre = np.linalg.solve(2 * np.array([a, b]), [a @ a, b @ b])
    return p1 + centre, float(np.hypot(*centre))


def stroked_run(ring: np.ndarray, p0, p1, p2) -> np.ndarray | None:
    """The ring's vertices from p0 to p2, either way round: the one passing nearest p1 (a small round object can
    be two arcs on one circle); None when p0 or p2 is no vertex of this ring (within 1 mm)."""
    ring = ring[:-1]  # closed: the last vertex repeats the first
    d0, d2 = (np.hypot(*(ring - p).T) for p in (p0, p2))
    i0, i2 = d0.argmin(), d2.argmin()  # the nearest: real rings hold vertices 1 mm apart
    if d0[i0] > 0.001 or d2[i2] > 0.001:
        return None
    n = len(ring)
    runs = [ring[(i0 + np.arange((i2 - i0) % n + 1)) % n], ring[(i0 - np.arange((i0 - i2) % n + 1)) % n]]
    return min(runs, key=lambda r: shapely.LineString(r).distance(shapely.Point(p1)))


def test_arcs_are_stroked_close_to_the_true_curve(otterlo_result):
    """Every stroked gml:Arc of the real wegdeel objects lies within 1 cm of the circle through its three points:
    the arc's ends are vertices, every vertex between them is on the circle, every segment's middle (where a
    chord is farthest from the circle) is within 1 cm of it, and the stroke bends the way of the middle point."""
    wegdeel = otterlo_result.layers["wegdeel"].set_index("identificatie")
    checked = vertices = 0
    for member in current_members(raw_gml("wegdeel")):
        arcs = re.findall(r"<gml:Arc>\s*<gml:posList[^>]*>([^<]+)<", member)
        if not arcs:
            continue
        geom = wegdeel.loc[lokaal_id(member), "geometry"]
        rings = [np.asarray(r.coords)[:, :2]
                 for p in getattr(geom, "geoms", [geom]) for r in (p.exterior, *p.interiors)]
        for arc in arcs:
            p0, p1, p2 = np.array(list(map(float, arc.split()))).reshape(3, 2)
            centre, radius = circle_through(p0, p1, p2)
            run = next((r for ring in rings if (r := stroked_run(ring, p0, p1, p2)) is not None), None)
            assert run is not None, f"{lokaal_id(member)}: the arc's ends {p0}, {p2} are no vertices of the polygon"
            assert len(run) >= 3, f"{lokaal_id(member)}: the arc is not stroked (a straight chord)"
            mids = (run[1:] + run[:-1]) / 2
            assert np.abs(np.hypot(*(run - centre).T) - radius).max() < 0.01, lokaal_id(member)
            assert np.abs(np.hypot(*(mids - centre).T) - radius).max() < 0.01, lokaal_id(member)
            side = np.sign(cross(p2 - p0, p1 - p0))
            assert (np.sign(cross(p2 - p0, run[1:-1] - p0)) == side).all(), f"{lokaal_id(member)}: wrong way round"
            assert shapely.LineString(run).distance(shapely.Point(p1)) < 0.01  # the arc's own middle point
            checked += 1
            vertices += len(run)
    assert checked > 100 and vertices > 3 * checked  # Otterlo's wegdeel has hundreds of rounded corners


# ---------------------------------------------------------------------------------------------
# Bad input, made at test time from a few real waterdeel objects


def waterdeel_snippet(n: int = 8) -> tuple[str, list[str], str]:
    """(header, n current single-ring members, footer) of the real bgt_waterdeel.gml."""
    text = raw_gml("waterdeel")
    header = text[: text.index("<cityObjectMember>")]
    members = [m for m in current_members(text) if m.count("<gml:posList") == 1 and "<gml:LinearRing>" in m][:n]
    return header, members, "\n</CityModel>\n"


def test_bad_features_are_skipped_with_file_id_and_reason(tmp_path):
    header, members, footer = waterdeel_snippet()
    pos_list = re.compile(r"(<gml:posList[^>]*>)([^<]+)(<)")

    def drop_last_point(m):
        return pos_list.sub(lambda g: g[1] + " ".join(g[2].split()[:-2]) + g[3], m)

    bowtie = "181000 456000 181010 456010 181010 456000 181000 456010 181000 456000"
    bad = {
        0: (drop_last_point, "ring not closed"),
        1: (lambda m: pos_list.sub(lambda g: g[1] + bowtie + g[3], m), "Self-intersection"),
        2: (lambda m: re.sub(r"<imgeo:geometrie2dWaterdeel>.*</imgeo:geometrie2dWaterdeel>", "", m, flags=re.DOTALL),
            "missing geometry"),
        3: (lambda m: pos_list.sub(lambda g: g[1] + g[2].replace(".", ",x", 1) + g[3], m), "unparsable coordinates"),
    }
    edited = [bad[i][0](m) if i in bad else m for i, m in enumerate(members)]
    path = tmp_path / "bgt_waterdeel.gml"
    path.write_text(header + "\n".join(edited) + footer, encoding="utf-8")

    result = read_bgt([path], ["waterdeel"])

    good = {lokaal_id(m) for i, m in enumerate(members) if i not in bad}
    assert set(result.layers["waterdeel"]["identificatie"]) == good
    assert len(result.skipped) == len(bad)
    by_id = {s.feature: s for s in result.skipped.items}
    for i, (_edit, reason) in bad.items():
        skip = by_id[lokaal_id(members[i])]
        assert skip.path == str(path) and reason in skip.reason


def test_truncated_gml_names_file_and_line(tmp_path):
    header, members, footer = waterdeel_snippet()
    text = header + "\n".join(members) + footer
    path = tmp_path / "bgt_waterdeel.gml"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(InputError, match=r"bgt_waterdeel\.gml: not well-formed XML at line \d+") as info:
        read_bgt([path])
    assert info.value.path == str(path)


def test_not_well_formed_gml_inside_a_zip_names_the_member(tmp_path):
    header, members, footer = waterdeel_snippet(3)
    path = tmp_path / "bgt.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bgt_waterdeel.gml", header + members[0].replace("</imgeo:Waterdeel>", "") + footer)
    with pytest.raises(InputError, match=r"bgt\.zip!bgt_waterdeel\.gml: not well-formed XML at line \d+"):
        read_bgt([path])


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_bgt([tmp_path / "nowhere" / "bgt.zip"])
    assert info.value.path == str(tmp_path / "nowhere" / "bgt.zip")


def test_empty_layer_gives_an_empty_frame_and_a_note(tmp_path):
    header, _members, footer = waterdeel_snippet(1)
    (tmp_path / "bgt_wegdeel.gml").write_text(header + footer, encoding="utf-8")
    result = read_bgt([tmp_path], ["wegdeel"])
    assert len(result.layers["wegdeel"]) == 0 and list(result.layers["wegdeel"].columns) == [*COLUMNS, "geometry"]
    assert any("bgt_wegdeel.gml: empty layer" in n for n in result.notes)


def test_folder_of_gml_equals_the_zip(tmp_path, otterlo_result):
    with zipfile.ZipFile(otterlo()) as archive:
        archive.extract("bgt_waterdeel.gml", tmp_path)
        archive.extract("bgt_overbruggingsdeel.gml", tmp_path)
    result = read_bgt([tmp_path], ["waterdeel", "overbruggingsdeel"])
    for object_type in ("waterdeel", "overbruggingsdeel"):
        got, want = result.layers[object_type], otterlo_result.layers[object_type]
        assert list(got["identificatie"]) == list(want["identificatie"])
        assert got.geometry.geom_equals_exact(want.geometry, 0).all()


def test_the_same_object_in_two_inputs_is_kept_once(tmp_path):
    header, members, footer = waterdeel_snippet(3)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bgt_waterdeel.gml").write_text(header + "\n".join(members) + footer, encoding="utf-8")
    result = read_bgt([tmp_path / "a", tmp_path / "b"], ["waterdeel"])
    assert len(result.layers["waterdeel"]) == 3
    assert len(result.skipped) == 3 and all("duplicate" in s.reason for s in result.skipped.items)


# ---------------------------------------------------------------------------------------------
# GeoPackage


def test_geopackage_layer_with_identificatie_lokaalid():
    path = shared_path("amsterdam-ai-urban-pointcloud", "bgt", "bgt_voetpad.gpkg")
    raw = gpd.read_file(path)
    result = read_bgt([path], ["voetpad"])
    layer = result.layers["voetpad"]
    assert list(layer["identificatie"]) == list(raw["identificatie_lokaalid"])
    assert layer.geometry.geom_equals_exact(raw.geometry, 0).all()
    # With the default types the file holds nothing we read: a note, not an error.
    default = read_bgt([path])
    assert all(len(f) == 0 for f in default.layers.values())
    assert any("no layer of the requested object types" in n for n in default.notes)


def test_geopackage_maps_columns_filters_history_and_skips_bad_geometry(tmp_path):
    path = tmp_path / "bgt.gpkg"
    square = shapely.box(181000, 456000, 181010, 456010)
    bowtie = shapely.Polygon([(181000, 456000), (181010, 456010), (181010, 456000), (181000, 456010)])
    frame = gpd.GeoDataFrame(
        {
            "lokaalid": ["G1.a", "G1.b", "G1.c", "G1.d"],
            "bgt-functie": ["rijbaan lokale weg", "fietspad", "voetpad", "inrit"],
            "bgt-fysiekVoorkomen": ["open verharding"] * 4,
            "relatieveHoogteligging": [1, 0, 0, 0],
            "eindRegistratie": [None, None, None, "2019-01-01T00:00:00"],
        },
        geometry=[square, bowtie, None, square],
        crs="EPSG:28992",
    )
    frame.to_file(path, layer="bgt_wegdeel")
    gpd.GeoDataFrame({"lokaalid": []}, geometry=[], crs="EPSG:28992").to_file(path, layer="waterdeel")

    result = read_bgt([path], ["wegdeel", "waterdeel"])

    wegdeel = result.layers["wegdeel"]
    assert list(wegdeel["identificatie"]) == ["G1.a"]
    assert wegdeel.iloc[0][["functie", "fysiek_voorkomen", "relatieve_hoogteligging"]].tolist() == [
        "rijbaan lokale weg", "open verharding", 1]
    assert {(s.feature, s.reason.split(":")[0]) for s in result.skipped.items} == {
        ("G1.b", "invalid geometry"), ("G1.c", "missing geometry")}
    assert result.counts_in == {"wegdeel": 4, "waterdeel": 0}
    assert len(result.layers["waterdeel"]) == 0 and any("[waterdeel]: empty layer" in n for n in result.notes)
