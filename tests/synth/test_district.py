"""The synthetic district: real formats, exact determinism, and points that agree with the truth."""

from __future__ import annotations

import json
import re
import zipfile

import laspy
import numpy as np
import pyogrio
import pytest
import shapely
from lxml import etree

from core.errors import StadsmodelError
from synth.district import BGT_TYPES, plan_district, write_district
from synth.roofs import SHAPES
from tests.conftest import DISTRICT_BUILDINGS, DISTRICT_SEED, shared_path

NS = {"gml": "http://www.opengis.net/gml", "imgeo": "http://www.geostandaarden.nl/imgeo/2.1",
      "c": "http://www.opengis.net/citygml/2.0"}
PAND_COLUMNS = {"identificatie", "bouwjaar", "status"}
VBO_COLUMNS = {"identificatie", "pand_identificatie", "gebruiksdoel", "oppervlakte", "status", "openbare_ruimte_naam",
               "huisnummer", "huisletter", "toevoeging", "postcode", "woonplaats_naam"}


@pytest.fixture(scope="module")
def district(synth_input):
    """The session's synthetic district with its BAG, truth and all points read back."""
    pand = pyogrio.read_dataframe(synth_input / "bag.gpkg", layer="pand")
    vbo = pyogrio.read_dataframe(synth_input / "bag.gpkg", layer="verblijfsobject")
    truth = json.loads((synth_input / "truth.json").read_text())
    parts = [laspy.read(f) for f in sorted((synth_input / "ahn").glob("*.laz"))]
    xyzc = {k: np.concatenate([np.asarray(getattr(p, k)) for p in parts]) for k in ("x", "y", "z", "classification")}
    footprints = shapely.from_wkb(shapely.to_wkb(pand.geometry.values))
    # which footprint each point lies strictly inside (footprints never overlap): as BAG draws them, and as
    # the world has them (the registers sit a few decimetres off the points)
    plan = plan_district(DISTRICT_BUILDINGS, DISTRICT_SEED)
    tree = shapely.STRtree(footprints)
    inside, in_bag = np.full(len(xyzc["x"]), -1), np.full(len(xyzc["x"]), -1)
    pts, fps = tree.query(shapely.points(*plan.misalignment.to_register(xyzc["x"], xyzc["y"])), predicate="within")
    inside[pts] = fps
    pts, fps = tree.query(shapely.points(xyzc["x"], xyzc["y"]), predicate="within")
    in_bag[pts] = fps
    return {"dir": synth_input, "pand": pand, "vbo": vbo, "truth": truth, "footprints": footprints,
            "inside": inside, "in_bag": in_bag, "plan": plan, **xyzc}


def _truth_of(district, k: int) -> dict:
    return district["truth"]["panden"][f"NL.IMBAG.Pand.{district['pand'].identificatie[k]}"]


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_district(tmp_path / name, buildings=30, seed=seed, points_per_m2=2.0)
        runs[name] = {p.relative_to(tmp_path / name): p.read_bytes()
                      for p in sorted((tmp_path / name).rglob("*")) if p.suffix in (".gml", ".laz", ".json")}
    assert runs["a"].keys() == runs["b"].keys()
    assert any(k.suffix == ".laz" for k in runs["a"]) and any(k.suffix == ".gml" for k in runs["a"])
    for key, data in runs["a"].items():
        assert data == runs["b"][key], f"{key} differs between two runs with the same seed"
    for suffix in (".gml", ".laz"):
        differ = [k for k in runs["a"] if k.suffix == suffix and runs["a"][k] != runs["c"].get(k)]
        assert differ, f"seed 4 wrote the same {suffix} files as seed 3"


def test_bag_geopackage_has_the_contract_layers_and_columns(district):
    info = pyogrio.read_info(district["dir"] / "bag.gpkg", layer="pand")
    assert info["crs"] == "EPSG:28992" and info["geometry_type"] == "Polygon"
    assert PAND_COLUMNS <= set(info["fields"])
    info = pyogrio.read_info(district["dir"] / "bag.gpkg", layer="verblijfsobject")
    assert info["crs"] == "EPSG:28992" and info["geometry_type"] == "Point"
    assert VBO_COLUMNS <= set(info["fields"])

    pand, vbo = district["pand"], district["vbo"]
    assert len(pand) == DISTRICT_BUILDINGS and pand.identificatie.is_unique
    assert pand.identificatie.str.fullmatch(r"\d{16}").all()
    assert pand.bouwjaar.between(1600, 2024).all()
    assert pand.geometry.is_valid.all()
    assert vbo.identificatie.str.fullmatch(r"\d{16}").all() and vbo.identificatie.is_unique
    assert set(vbo.pand_identificatie) == set(pand.identificatie), "every pand has at least one verblijfsobject"
    assert vbo.postcode.str.fullmatch(r"[1-9]\d{3}[A-Z]{2}").all()
    assert (vbo.huisnummer > 0).all() and (vbo.oppervlakte > 0).all()
    uses = {u for g in vbo.gebruiksdoel for u in g.split(",")}
    assert "woonfunctie" in uses and uses & {"winkelfunctie", "kantoorfunctie"}
    assert (vbo.woonplaats_naam == "Stadsmodel").all()
    # no two verblijfsobjecten share a full address
    address = (vbo.openbare_ruimte_naam + " " + vbo.huisnummer.astype(str) + vbo.huisletter.fillna("")
               + "-" + vbo.toevoeging.fillna(""))
    assert address.is_unique
    # every verblijfsobject point lies in its own pand
    by_id = dict(zip(pand.identificatie, district["footprints"]))
    own = shapely.from_wkb(shapely.to_wkb([by_id[p] for p in vbo.pand_identificatie]))
    assert shapely.contains(own, shapely.from_wkb(shapely.to_wkb(vbo.geometry.values))).all()


def test_footprints_include_rows_with_shared_walls_l_shapes_and_a_courtyard(district):
    fps = district["footprints"]
    assert any(len(p.interiors) == 1 for p in fps), "no courtyard pand (footprint with a hole)"
    assert any(not p.interiors and shapely.get_num_coordinates(p) > 5 for p in fps), "no L-shaped pand"
    left, right = shapely.STRtree(fps).query(fps, predicate="touches")
    shared = shapely.length(shapely.intersection(fps[left], fps[right]))
    assert (shared > 5).any(), "no row houses sharing a wall"
    areas = shapely.area(fps)
    assert 50 < np.median(areas) < 200


def test_every_bgt_gml_parses_and_bgt_pand_matches_bag(district, synth_input):
    for bgt in BGT_TYPES:
        root = etree.parse(str(synth_input / "bgt" / f"bgt_{bgt}.gml")).getroot()
        members = root.findall("c:cityObjectMember", NS)
        assert members, f"bgt_{bgt}.gml has no objects"
        ids = [m.findtext(".//imgeo:lokaalID", namespaces=NS) for m in members]
        assert len(set(ids)) == len(ids)
        for m in members:
            assert m.find(".//imgeo:relatieveHoogteligging", NS) is not None
            assert m.find(".//imgeo:tijdstipRegistratie", NS) is not None
            rings = m.findall(".//gml:posList", NS)
            assert rings and all(r.get("srsDimension") == "2" for r in rings)
            for r in rings:
                xy = np.array(r.text.split(), dtype=float).reshape(-1, 2)
                assert (xy[0] == xy[-1]).all(), "ring not closed"
    root = etree.parse(str(synth_input / "bgt" / "bgt_pand.gml")).getroot()
    bag_ids = [t.text for t in root.iterfind(".//imgeo:identificatieBAGPND", NS)]
    assert sorted(bag_ids) == sorted(district["pand"].identificatie)
    # footprints in GML and GeoPackage are the same numbers
    first = root.find(".//gml:posList", NS).text.split()
    gpkg = shapely.get_coordinates(district["footprints"][0].exterior).ravel()
    assert [float(v) for v in first] == gpkg.tolist()
    bridge = etree.parse(str(synth_input / "bgt" / "bgt_overbruggingsdeel.gml")).getroot()
    assert {e.text for e in bridge.iterfind(".//imgeo:relatieveHoogteligging", NS)} == {"1"}


def _children(member) -> list[str]:
    obj = member[0]
    return [etree.QName(c).localname for c in obj if isinstance(c.tag, str)]


def test_gml_has_the_structure_of_the_pdok_download(synth_input):
    """Each object carries the same elements, in the same order, as in the real Otterlo BGT."""
    zpath = shared_path("nlextract-bgt-otterlo", "otterlo.zip")
    optional = {"terminationDate", "eindRegistratie", "nummeraanduidingreeks"}
    with zipfile.ZipFile(zpath) as z:
        for bgt in BGT_TYPES:
            name = next(n for n in z.namelist() if n.endswith(f"bgt_{bgt}.gml"))
            real = etree.fromstring(z.read(name))
            ours = etree.parse(str(synth_input / "bgt" / f"bgt_{bgt}.gml")).getroot()
            assert ours.nsmap == real.nsmap, bgt
            real_member = real.find("c:cityObjectMember", NS)
            ours_member = ours.find("c:cityObjectMember", NS)
            assert etree.QName(ours_member[0]).text == etree.QName(real_member[0]).text, bgt
            shape = [c for c in _children(real_member) if c not in optional]
            assert [c for c in _children(ours_member) if c not in optional] == shape, bgt


def test_laz_sheets_are_readable_las14_with_crs_and_all_classes(synth_input):
    sheets = sorted((synth_input / "ahn").glob("ahn_*.laz"))
    assert len(sheets) >= 2
    classes = set()
    for f in sheets:
        las = laspy.read(f)
        h = las.header
        assert (h.version.major, h.version.minor, h.point_format.id) == (1, 4, 6)
        assert np.allclose(h.scales, 0.001)
        assert h.parse_crs().to_epsg() == 7415
        assert h.generating_software == "stadsmodel synth"
        x0, y0 = (int(v) for v in re.fullmatch(r"ahn_(\d+)_(\d+)\.laz", f.name).groups())
        assert x0 <= las.x.min() and las.x.max() < x0 + 250 and y0 <= las.y.min() and las.y.max() < y0 + 250
        classes |= set(np.unique(las.classification).tolist())
    assert {1, 2, 6, 9, 26} <= classes


def test_roof_points_only_inside_footprints_and_no_ground_under_a_built_pand(district):
    cls, inside = district["classification"], district["inside"]
    assert (inside[cls == 6] >= 0).all(), "a building point outside every footprint (as the world has them)"
    planned = set(np.flatnonzero(district["pand"].status == "Bouwvergunning verleend"))
    assert planned, "no pand with status Bouwvergunning verleend"
    ground_in = inside[(cls == 2) & (inside >= 0)]
    assert set(np.unique(ground_in).tolist()) <= planned, "ground points inside a built pand"
    for k in planned:
        t = _truth_of(district, k)
        assert t["has_points"] is False and t["h_dak_50p"] is None
        assert ((inside == k) & (cls == 2)).sum() > 10, "a pand not yet built should show the ground"
        assert not ((inside == k) & (cls == 6)).any()


def test_bag_footprints_sit_a_few_decimetres_off_the_points(district):
    """As between a BAG survey and an AHN flight: some roof points fall outside the BAG footprints, the
    points are not on the footprints' millimetre grid, and the offset is a few decimetres everywhere."""
    cls, in_bag = district["classification"], district["in_bag"]
    outside = (cls == 6) & (in_bag < 0)
    assert 0.01 < outside.sum() / (cls == 6).sum() < 0.15
    offsets = np.array([np.hypot(*t["misalignment_m"]) for t in district["truth"]["panden"].values()])
    assert 0.05 <= offsets.min() and offsets.max() <= 0.45 and np.median(offsets) >= 0.1
    plan = district["plan"]
    wx, wy = plan.misalignment.to_world(*shapely.get_coordinates(district["footprints"][0]).T)
    assert np.abs(np.round(wx, 3) - wx).max() > 1e-5, "world corners on the register grid"


def test_truth_agrees_with_the_points(district):
    cls, inside, z = district["classification"], district["inside"], district["z"]
    roof = cls == 6
    order = np.argsort(inside[roof], kind="stable")
    roof_k, roof_z = inside[roof][order], z[roof][order]
    seen = set()
    for k in range(len(district["pand"])):
        t = _truth_of(district, k)
        zs = roof_z[np.searchsorted(roof_k, k):np.searchsorted(roof_k, k, side="right")]
        assert t["n_roof_points"] == len(zs) and t["has_points"] == (len(zs) > 0)
        if not t["measurable"]:
            continue
        seen.add(t["roof_type"])
        if t["roof_type"] == "flat":
            assert abs(np.median(zs) - t["h_dak_50p"]) < 0.03
            assert t["h_dak_min"] == t["h_dak_50p"] == t["h_dak_70p"] == t["h_dak_max"]
        else:
            assert abs(np.percentile(zs, 50) - t["h_dak_50p"]) < 0.06, t["roof_type"]
            assert abs(np.percentile(zs, 70) - t["h_dak_70p"]) < 0.06, t["roof_type"]
            assert t["h_dak_min"] <= t["h_dak_50p"] <= t["h_dak_70p"] <= t["h_dak_max"]
            assert t["h_dak_min"] < t["h_dak_max"]
        if t["roof_type"] == "gable":  # a gable's height is uniform between eave and ridge
            assert np.isclose(t["h_dak_50p"], (t["h_dak_min"] + t["h_dak_max"]) / 2, atol=0.0011)
        assert 3 <= t["h_dak_max"] - t["h_maaiveld"] <= 25
    assert seen == set(SHAPES) - {"l_gable"}, "every roof shape of the district has measurable panden"


def test_maaiveld_truth_matches_ground_points_around_each_pand(district):
    ground = district["classification"] == 2
    gx, gy, gz = district["x"][ground], district["y"][ground], district["z"][ground]
    tree = shapely.STRtree(shapely.points(gx, gy))
    errors = []
    for k, fp in enumerate(district["footprints"]):
        ring = fp.buffer(1.5).difference(fp.buffer(0.5))
        near = tree.query(ring, predicate="contains")
        if len(near) > 20:
            errors.append(abs(np.median(gz[near]) - _truth_of(district, k)["h_maaiveld"]))
    assert len(errors) > len(district["footprints"]) // 2
    assert np.percentile(errors, 90) < 0.05


def test_water_is_flat_and_the_bridge_deck_carries_its_points(district):
    truth, cls, z = district["truth"], district["classification"], district["z"]
    assert np.abs(z[cls == 9] - truth["water_level"]).max() < 0.06
    assert truth["water_level"] < np.median(z[cls == 2]) - 0.5
    (deck,) = truth["bridges"].values()
    assert np.abs(z[cls == 26] - deck["h_dek"]).max() < 0.15  # 5 sigma of the noise
    assert -1.0 <= np.percentile(z[cls == 2], 1) and np.percentile(z[cls == 2], 99) <= 2.0


def _roof_surface(district, k: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The height of pand k's roof surface at register positions (x, y), from its planned shape."""
    return district["plan"].roofs.height(np.full(len(x), k), x, y)


def test_garden_tree_crowns_reach_over_roof_edges(district):
    """Crowns over a roof hide part of it: mostly classified as vegetation, a few taken for roof, as in AHN."""
    cls, inside, z = district["classification"], district["inside"], district["z"]
    rx, ry = district["plan"].misalignment.to_register(district["x"], district["y"])
    truth = [district["truth"]["panden"][f"NL.IMBAG.Pand.{p}"] for p in district["pand"].identificatie]
    over = [k for k, t in enumerate(truth) if t["tree_over_roof"]]
    assert len(over) >= 3
    veg = building = 0
    opbouw = district["plan"].opbouw
    for k in over:
        on = np.flatnonzero(inside == k)
        for _, x0, y0, x1, y1, _, _ in opbouw[opbouw[:, 0] == k]:  # chimneys are not crowns
            on = on[~((rx[on] > x0) & (rx[on] < x1) & (ry[on] > y0) & (ry[on] < y1))]
        above = on[z[on] > _roof_surface(district, k, rx[on], ry[on]) + 0.3]
        veg += int((cls[above] == 1).sum())
        building += int((cls[above] == 6).sum())
    assert veg > 100 and 0 < building < veg / 5
    # park and courtyard trees still keep clear of buildings: high vegetation away from garden trees' panden
    high = (cls == 1) & (z - np.median(z[cls == 2]) > 3.5) & ~np.isin(inside, over)
    assert high.sum() > 100


def test_roofs_carry_chimneys_and_antennas_and_the_cloud_outliers(district):
    cls, inside, z = district["classification"], district["inside"], district["z"]
    rx, ry = district["plan"].misalignment.to_register(district["x"], district["y"])
    truth = [district["truth"]["panden"][f"NL.IMBAG.Pand.{p}"] for p in district["pand"].identificatie]
    with_opbouw = [k for k, t in enumerate(truth) if t["opbouw"] and t["has_points"]]
    assert len(with_opbouw) >= 10
    raised = 0
    for k in with_opbouw:
        on = np.flatnonzero((inside == k) & (cls == 6))
        raised += (z[on] > _roof_surface(district, k, rx[on], ry[on]) + 0.4).any()
    assert raised >= len(with_opbouw) // 2, "superstructures show in the points"
    assert (cls == 7).sum() > 10, "no points classified as noise"
    on_roof = np.flatnonzero((cls == 6) & (inside >= 0))
    off_roof = np.zeros(len(on_roof))
    for k in np.unique(inside[on_roof]):
        sel = inside[on_roof] == k
        off_roof[sel] = z[on_roof[sel]] - _roof_surface(district, k, rx[on_roof[sel]], ry[on_roof[sel]])
    assert (off_roof > 5).any() or (off_roof < -0.5).any(), "no outlier the classifier took for roof"
    dark = [k for k, t in enumerate(truth) if t["dark_roof"]]
    assert dark and all(truth[k]["roof_returns_per_m2"] < 5 for k in dark)
    assert any(not t["measurable"] and t["has_points"] for t in truth), "a nearly black roof with a few returns"


@pytest.mark.slow
def test_more_buildings_make_a_larger_district_at_a_steady_density(tmp_path):
    small = write_district(tmp_path / "small", buildings=40, seed=1, points_per_m2=0.5)
    large = write_district(tmp_path / "large", buildings=2000, seed=1, points_per_m2=0.5)
    assert (small["panden"], large["panden"]) == (40, 2000)
    assert large["tiles"] > small["tiles"]
    assert 0.22 < large["built_up_fraction"] < 0.40
    x0, y0, x1, y1 = large["bbox"]
    assert 80 < (x1 - x0) * (y1 - y0) * large["built_up_fraction"] / 2000 < 150, "mean footprint off"
    assert large["points"] == pytest.approx((x1 - x0) * (y1 - y0) * 0.5, rel=0.15)
    assert 150_000 < (x0 + x1) / 2 < 160_000 and 460_000 < (y0 + y1) / 2 < 466_000
    pand = pyogrio.read_dataframe(tmp_path / "large" / "bag.gpkg", layer="pand", columns=["identificatie", "status"])
    assert pand.identificatie.is_unique and len(pand) == 2000
    assert 20 <= (pand.status == "Bouwvergunning verleend").sum() <= 60


def test_level0_bgt_surfaces_tile_the_district_without_gaps_or_overlaps():
    """Like the real BGT: panden, roads, water, terrain and fences at level 0 cover the area exactly once."""
    d = plan_district(300, seed=2)
    level0 = d.s_geom[np.array(d.s_level) == 0]
    assert shapely.is_valid(level0).all()
    x0, y0, x1, y1 = d.bbox
    assert shapely.area(level0).sum() == pytest.approx((x1 - x0) * (y1 - y0), abs=1e-3)
    a, b = shapely.STRtree(level0).query(level0, predicate="overlaps")
    assert len(a) == 0, "overlapping level-0 surfaces"
    assert shapely.union_all(level0).equals(shapely.box(x0, y0, x1, y1))
    # above level 0 there are only the bridge deck and the road on it
    above = {(t, attrs[0]) for t, attrs, lvl in zip(d.s_type, d.s_attrs, d.s_level) if lvl}
    assert above == {("overbruggingsdeel", "dek"), ("wegdeel", "rijbaan lokale weg")}


def test_no_buildings_is_a_clear_error(tmp_path):
    with pytest.raises(StadsmodelError, match="at least 1"):
        write_district(tmp_path / "x", buildings=0, seed=1)


# --- roofs ---------------------------------------------------------------------------------------------------
DAK_TYPES = {"horizontal", "multiple horizontal", "slanted"}


def test_a_1000_building_district_has_every_roof_shape_by_era_and_kind():
    d = plan_district(1000, seed=1)
    shapes = dict(zip(*np.unique(d.roof, return_counts=True)))
    assert set(shapes) == set(SHAPES) - {"l_gable"} and min(shapes.values()) >= 5, shapes
    kind, main = np.array(d.kind), np.array(d.main_roof)
    slanted = np.array([t == "slanted" for t in d.measures["dak_type"]])
    assert not slanted[kind == "flat"].any() and not slanted[kind == "hofblok"].any(), "apartment slabs are flat"
    villas = (kind == "vrijstaand") & slanted
    assert np.isin(main[villas], ["hip", "mansard"]).mean() >= 0.3
    rows = (kind == "rijwoning") & slanted
    assert np.isin(main[rows], ["gable", "hip"]).mean() >= 0.7
    old = d.bouwjaar < 1940  # before the war: no shed roofs on row houses
    assert not (rows & old & (main == "shed")).any() and (rows & ~old & (main == "shed")).any()
    # annexes and the lower parts of two-part buildings are flat pieces in front of the main roof
    for k in np.flatnonzero(np.isin(d.roof, ["jump_annex", "jump_flat"])):
        first = d.roofs.start[k]
        assert d.roofs.count[k] == 2 and d.roofs.n_planes[first] == 1
        assert (d.roofs.planes[first, 0, :2] == 0).all()


def test_truth_roof_keys_mean_what_the_roof_reconstruction_measures(district):
    """dak_type, h_goot, h_nok, hellingshoek_* follow docs/roofs.md (b3_dak_type, b3_h_goot, ...), and the roof
    types map onto dak_type as in synth.roofs."""
    from synth.roofs import ROOF_TYPE

    for pid, t in district["truth"]["panden"].items():
        if t["h_dak_max"] is None:  # not built yet
            assert t["dak_type"] is None and t["h_goot"] is None and t["h_nok"] is None, pid
            continue
        assert t["dak_type"] == ROOF_TYPE.get(t["roof_type"], "slanted"), pid
        assert t["h_nok"] == t["h_dak_max"] and t["h_dak_min"] <= t["h_goot"] <= t["h_nok"], pid
        if t["dak_type"] == "slanted":
            assert 5 <= t["hellingshoek_min"] <= t["hellingshoek_max"] <= 70, pid
            assert t["h_goot"] < t["h_nok"] - 1, pid
        else:
            assert t["hellingshoek_min"] == t["hellingshoek_max"] == 0, pid
            assert t["h_goot"] == t["h_dak_max"] or t["roof_type"] == "jump_flat", pid
        if t["roof_type"] == "jump_annex":  # the annex is lower than the main eave, which it does not move
            assert t["h_dak_min"] < t["h_goot"] - 0.9, pid
        if t["roof_type"] == "mansard":
            assert t["hellingshoek_max"] >= 55 and t["hellingshoek_min"] <= 28, pid
        if t["roof_type"] in ("gable", "dormer", "shed"):  # one pitch on every main plane
            assert t["hellingshoek_min"] == t["hellingshoek_max"], pid


def test_roof_points_lie_on_the_true_roof_and_its_truth_planes(district):
    """Each roof point lies on its pand's true roof surface within the noise (but for chimneys, antennas,
    crowns and outliers), and on one of the roof planes truth.json gives in world coordinates."""
    cls, inside, z = district["classification"], district["inside"], district["z"]
    x, y = district["x"], district["y"]
    rx, ry = district["plan"].misalignment.to_register(x, y)
    by_shape: dict[str, list[np.ndarray]] = {}
    for k in range(len(district["pand"])):
        t = _truth_of(district, k)
        on = np.flatnonzero((inside == k) & (cls == 6))
        if not t["measurable"] or len(on) < 20:
            continue
        off = z[on] - _roof_surface(district, k, rx[on], ry[on])
        by_shape.setdefault(t["roof_type"], []).append(off)
        planes = np.array(t["dakvlakken"])
        to_plane = np.abs(z[on, None] - (planes[:, 0] * x[on, None] + planes[:, 1] * y[on, None] + planes[:, 2]))
        assert np.mean(to_plane.min(axis=1) < 0.1) > 0.9, t["roof_type"]
    assert set(by_shape) == set(SHAPES) - {"l_gable"}
    for shape, offs in by_shape.items():
        off = np.concatenate(offs)
        assert abs(np.median(off)) < 0.005 and np.mean(np.abs(off) < 0.1) > 0.95, shape
        assert 0.025 < np.std(off[np.abs(off) < 0.1]) < 0.035, shape  # the 3 cm noise


def test_roof_percentiles_agree_with_a_fine_grid_over_each_shape(district):
    """The exact area-weighted percentiles and extremes of truth.json, against the roof surface sampled every
    2 cm over the footprint: one pand of each shape."""
    plan, done = district["plan"], set()
    for k in range(len(district["pand"])):
        t = _truth_of(district, k)
        if t["roof_type"] in done or t["h_dak_max"] is None or district["footprints"][k].area > 400:
            continue
        done.add(t["roof_type"])
        fp = district["footprints"][k]
        x0, y0, x1, y1 = fp.bounds
        gx, gy = (g.ravel() for g in np.meshgrid(np.arange(x0 + 0.01, x1, 0.02), np.arange(y0 + 0.01, y1, 0.02)))
        keep = shapely.contains_xy(fp, gx, gy)
        zz = plan.roofs.height(np.full(int(keep.sum()), k), gx[keep], gy[keep])
        for key, value in (("h_dak_50p", np.percentile(zz, 50)), ("h_dak_70p", np.percentile(zz, 70)),
                           ("h_dak_min", zz.min()), ("h_dak_max", zz.max())):
            assert t[key] == pytest.approx(value, abs=0.02), (t["roof_type"], key)
    assert done == set(SHAPES) - {"l_gable"}
