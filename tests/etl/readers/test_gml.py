"""GML geometry parsing and arc stroking (etl/readers/gml.py), on small hand-written GML."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from lxml import etree

from etl.readers.gml import ARC_MAX_DEVIATION, GeometryError, parse_geometry, stroke_arc

GML = "http://www.opengis.net/gml"


def element(xml: str) -> etree._Element:
    return etree.fromstring(f'<root xmlns:gml="{GML}">{xml}</root>')[0]


def test_arc_stays_within_deviation_and_keeps_its_ends():
    # A quarter circle of radius 50 around (180000, 450000), counter-clockwise.
    c, r = np.array([180000.0, 450000.0]), 50.0
    p0, p1, p2 = c + [r, 0], c + r * np.array([math.cos(math.pi / 4), math.sin(math.pi / 4)]), c + [0, r]
    points = stroke_arc(p0, p1, p2)
    assert np.array_equal(points[0], p0) and np.array_equal(points[-1], p2)
    assert np.allclose(np.hypot(*(points - c).T), r, atol=1e-6)  # every vertex on the circle
    mids = (points[1:] + points[:-1]) / 2  # chord midpoints are where the stroke is farthest off
    assert (r - np.hypot(*(mids - c).T)).max() <= ARC_MAX_DEVIATION
    assert np.all(points[:, 0] >= c[0] - 1e-9) and np.all(points[:, 1] >= c[1] - 1e-9)  # the short way round


def test_clockwise_arc_goes_through_its_middle_point():
    r = 10.0
    p0, p1, p2 = np.array([0.0, r]), np.array([r, 0.0]), np.array([0.0, -r])  # right half, clockwise
    points = stroke_arc(p0, p1, p2)
    assert points[:, 0].min() >= -1e-9 and points[:, 0].max() == pytest.approx(r, abs=ARC_MAX_DEVIATION)


def test_collinear_arc_is_a_straight_line():
    points = stroke_arc(np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    assert points.tolist() == [[0, 0], [1, 1], [2, 2]]


def test_ring_of_line_segment_and_arc_becomes_a_valid_polygon():
    # A half disc: straight diameter, then an arc back to the start.
    g = parse_geometry(
        element(
            """<gml:Polygon><gml:exterior><gml:Ring><gml:curveMember><gml:Curve><gml:segments>
            <gml:LineStringSegment><gml:posList>100 0 120 0</gml:posList></gml:LineStringSegment>
            <gml:Arc><gml:posList srsDimension="2">120 0 110 10 100 0</gml:posList></gml:Arc>
            </gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:Polygon>"""
        )
    )
    assert g.is_valid and g.geom_type == "Polygon"
    assert g.area == pytest.approx(math.pi * 100 / 2, abs=math.pi * 10 * ARC_MAX_DEVIATION)  # r=10, half disc


def test_circle_and_3d_pos_list():
    circle = parse_geometry(
        element(
            """<gml:Polygon><gml:exterior><gml:Ring><gml:curveMember><gml:Curve><gml:segments>
            <gml:Circle><gml:posList>10 0 0 10 -10 0</gml:posList></gml:Circle>
            </gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:Polygon>"""
        )
    )
    assert circle.area == pytest.approx(math.pi * 100, abs=2 * math.pi * 10 * ARC_MAX_DEVIATION)
    bag = parse_geometry(
        element(
            """<gml:Polygon srsDimension="3"><gml:exterior><gml:LinearRing>
            <gml:posList count="4">0 0 0.0 4 0 0.0 0 3 0.0 0 0 0.0</gml:posList>
            </gml:LinearRing></gml:exterior></gml:Polygon>"""
        )
    )
    assert not bag.has_z and bag.area == 6


def test_multisurface_with_pos_elements_and_one_member_is_a_polygon():
    g = parse_geometry(
        element(
            """<gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>
            <gml:pos>0 0</gml:pos><gml:pos>1 0</gml:pos><gml:pos>1 1</gml:pos><gml:pos>0 0</gml:pos>
            </gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface>"""
        )
    )
    assert g.geom_type == "Polygon" and g.area == 0.5


def test_composite_surface_is_dissolved():
    square = ("<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{}</gml:posList>"
              "</gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>")
    g = parse_geometry(
        element(
            "<gml:CompositeSurface>"
            + square.format("0 0 1 0 1 1 0 1 0 0")
            + square.format("1 0 2 0 2 1 1 1 1 0")
            + "</gml:CompositeSurface>"
        )
    )
    assert g.geom_type == "Polygon" and g.area == pytest.approx(2)


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ("<gml:LinearRing><gml:posList>0 0 1 0 1 1 0 1</gml:posList></gml:LinearRing>", "ring not closed"),
        ("<gml:LinearRing><gml:posList>0 0 1 x 1 1 0 0</gml:posList></gml:LinearRing>", "unparsable coordinates"),
        ("<gml:LinearRing><gml:posList>0 0 1 0 1</gml:posList></gml:LinearRing>", "do not make 2D"),
        ("<gml:Ring><gml:curveMember><gml:Curve><gml:segments><gml:Arc><gml:posList>0 0 1 1</gml:posList></gml:Arc>"
         "</gml:segments></gml:Curve></gml:curveMember></gml:Ring>", "arc with 2 control points"),
    ],
)
def test_bad_rings_raise_geometry_error_with_reason(xml, reason):
    with pytest.raises(GeometryError, match=reason):
        parse_geometry(element(f"<gml:Polygon><gml:exterior>{xml}</gml:exterior></gml:Polygon>"))


def test_unsupported_geometry_is_named():
    with pytest.raises(GeometryError, match="gml:Solid"):
        parse_geometry(element("<gml:Solid/>"))


def test_self_intersecting_polygon_parses_but_is_reported_invalid():
    from etl.readers.gml import invalid_reason

    bowtie = parse_geometry(
        element("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 1 1 1 0 0 1 0 0</gml:posList>"
                "</gml:LinearRing></gml:exterior></gml:Polygon>")
    )
    assert "Self-intersection" in invalid_reason(bowtie)
    assert invalid_reason(shapely.box(0, 0, 1, 1)) is None


# GeometryBatch (the bulk path read_bgt uses) must give exactly what parse_geometry + invalid_reason
# give one element at a time: the same coordinates, the same type, the same reason for bad input.

def one_by_one(elements: list[etree._Element]) -> tuple[list, list]:
    from etl.readers.gml import invalid_reason

    geometries, reasons = [], []
    for e in elements:
        try:
            g = parse_geometry(e)
        except GeometryError as exc:
            geometries.append(None)
            reasons.append(str(exc))
            continue
        reason = invalid_reason(g)
        geometries.append(None if reason else g)
        reasons.append(reason)
    return geometries, reasons


def in_batch(elements: list[etree._Element]) -> tuple[list, list]:
    from etl.readers.gml import GeometryBatch

    batch = GeometryBatch()
    for e in elements:
        batch.add(e)
    return batch.build()


def assert_same(elements: list[etree._Element]) -> None:
    expected_geometries, expected_reasons = one_by_one(elements)
    geometries, reasons = in_batch(elements)
    assert reasons == expected_reasons
    assert [None if g is None else g.wkb for g in geometries] == [
        None if g is None else g.wkb for g in expected_geometries]


RING = "<gml:LinearRing><gml:posList srsDimension='2'>{}</gml:posList></gml:LinearRing>"
ARC_RING = (
    "<gml:Ring><gml:curveMember><gml:Curve><gml:segments>"
    "<gml:Arc><gml:posList srsDimension='2'>100 0 110 10 120 0</gml:posList></gml:Arc>"
    "<gml:LineStringSegment><gml:posList srsDimension='2'>120 0 120 -5 100 -5 100 0</gml:posList>"
    "</gml:LineStringSegment>"
    "</gml:segments></gml:Curve></gml:curveMember></gml:Ring>"
)


def polygon(*rings: str) -> str:
    exterior, *interiors = rings
    return (
        f"<gml:Polygon><gml:exterior>{exterior}</gml:exterior>"
        + "".join(f"<gml:interior>{r}</gml:interior>" for r in interiors)
        + "</gml:Polygon>"
    )


BATCH_CASES = [
    polygon(RING.format("0 0 10 0 10 10 0 10 0 0"), RING.format("2 2 2 4 4 4 4 2 2 2")),
    polygon(ARC_RING),
    polygon(RING.format("90 -10 130 -10 130 20 90 20 90 -10"), ARC_RING),  # arc ring as a hole
    "<gml:MultiSurface><gml:surfaceMember>" + polygon(RING.format("0 0 1 0 1 1 0 0"))
    + "</gml:surfaceMember></gml:MultiSurface>",
    "<gml:MultiSurface>"
    + "".join(f"<gml:surfaceMember>{polygon(RING.format(c))}</gml:surfaceMember>"
              for c in ("0 0 1 0 1 1 0 0", "5 5 6 5 6 6 5 5"))
    + "</gml:MultiSurface>",
    "<gml:LineString><gml:posList srsDimension='2'>0 0 3 4 6 0</gml:posList></gml:LineString>",
    "<gml:Point><gml:pos srsDimension='2'>155000.5 463000.25</gml:pos></gml:Point>",
    "<gml:Point><gml:pos srsDimension='3'>1 2 3</gml:pos></gml:Point>",
    polygon("<gml:LinearRing><gml:posList srsDimension='3'>0 0 1 4 0 1 0 3 1 0 0 1</gml:posList></gml:LinearRing>"),
    polygon("<gml:LinearRing><gml:posList>0 0 4 0 0 3 0 0</gml:posList></gml:LinearRing>"),  # srsDimension missing
    polygon(RING.format("0 0 1.0 0 1 1 0.00 0")),  # closed, written differently
    polygon(RING.format("0 0 1 0 1 1 0 1")),  # not closed
    polygon(RING.format("0 0 1 0 0 0")),  # too few points
    polygon(RING.format("0 0 1 x 1 1 0 0")),  # unparsable
    polygon(RING.format("0 0 1 nan 1 1 0 0")),  # non-finite
    polygon(RING.format("0 0 1 0 1")),  # odd count
    polygon(RING.format("0 0 1 1 1 0 0 1 0 0")),  # self-intersecting: invalid
    "<gml:MultiSurface><gml:surfaceMember>" + polygon(RING.format("0 0 1 0 1 0 0 0")) + "</gml:surfaceMember>"
    "<gml:surfaceMember><gml:Surface/></gml:surfaceMember></gml:MultiSurface>",  # bad ring, then an unusual member
    "<gml:MultiSurface/>",
    "<gml:Polygon/>",
    "<gml:Curve><gml:segments><gml:Arc><gml:posList>0 0 1 1 2 0</gml:posList></gml:Arc></gml:segments></gml:Curve>",
    "<gml:Solid/>",
]


def test_batch_equals_one_by_one_parsing_on_edge_cases():
    assert_same([element(xml) for xml in BATCH_CASES])


def test_batch_equals_one_by_one_parsing_on_every_otterlo_geometry():
    import zipfile

    from etl.readers.gml import LOCAL_NAMES
    from tests.conftest import shared_path

    elements = []
    with zipfile.ZipFile(shared_path("nlextract-bgt-otterlo", "otterlo.zip")) as archive:
        for name in archive.namelist():
            root = etree.fromstring(archive.read(name), etree.XMLParser(huge_tree=True))
            for feature in (member[0] for member in root):
                for prop in feature:
                    if LOCAL_NAMES[prop.tag].startswith("geometrie") and len(prop):
                        elements.append(prop[0])
    kinds = {LOCAL_NAMES[e.tag] for e in elements} | {LOCAL_NAMES[e.tag] for g in elements for e in g.iter("{*}Arc")}
    assert {"Polygon", "MultiSurface", "LineString", "Point", "Curve", "Arc"} <= kinds
    assert_same(elements)
