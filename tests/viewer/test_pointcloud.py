"""Point-cloud tiles in the browser: the district's AHN tiled (tiles.pointcloud, py3dtiles) and served with the
viewer (tests/viewer/conftest.py `viewer_site`); the layer switched on with its checkbox as a user does.

Checked: the tileset is listed and hidden by default, its pnts tiles are requested from the server only once
it is shown, Cesium loads and draws their points (tileset statistics), the screenshot changes where the points
are (pixels decoded with rasterio's PNG driver, buildings and terrain switched off so only points can colour
the canvas), the points lie where the LAZ says (ellipsoidal height sampled on the point cloud vs the DTM of the
build, both through RDNAPTRANS2018), and nothing is fetched from outside localhost.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("viewer")]

BACKGROUND = (0xDF, 0xE6, 0xEC)  # viewer/js/scene.js: scene.backgroundColor


def _points_on_disk(tiles: Path) -> int:
    """POINTS_LENGTH summed over the pnts files (each feature table's JSON header, read without py3dtiles)."""
    total = 0
    for f in tiles.glob("pointcloud/**/*.pnts"):
        with f.open("rb") as fh:
            magic, _, _, ft_json = struct.unpack("<4sIII", fh.read(16))
            assert magic == b"pnts", f
            fh.seek(28)
            total += json.loads(fh.read(ft_json))["POINTS_LENGTH"]
    return total


def _points_state(viewer) -> dict:
    return viewer.evaluate("""() => {
        const ts = window.stadsmodel.app.tilesets.pointcloud;
        if (!ts) return null;
        let loaded = 0, ready = 0; const st = [ts.root];
        while (st.length) { const t = st.pop(); if (t.contentReady) { ready += 1; loaded += t.content.pointsLength; }
                            st.push(...t.children); }
        return {show: ts.show, pointsLoaded: loaded, tilesReady: ready,
                pointsSelected: ts.statistics.numberOfPointsSelected,
                checkbox: document.getElementById('layer-pointcloud')?.checked ?? null};
    }""")


def _canvas_pixels(viewer) -> np.ndarray:
    """The middle of the canvas as an (rows, cols, 3) uint8 array, after a fresh render. Only the middle: the
    map status and credits sit over the canvas's lower corners."""
    viewer.evaluate("() => window.stadsmodel.app.viewer.scene.requestRender()")
    viewer.wait_tiles()
    png = viewer.page.locator("#cesium canvas").screenshot()
    with MemoryFile(png) as f, f.open() as img:  # GDAL's PNG driver: no Pillow needed
        rgb = np.moveaxis(img.read()[:3], 0, -1)
    rows, cols = rgb.shape[:2]
    return rgb[rows // 5: rows * 4 // 5, cols // 5: cols * 4 // 5]


def _not_background(pixels: np.ndarray) -> float:
    return float((np.abs(pixels.astype(int) - BACKGROUND).sum(axis=2) > 24).mean())


def _open_ground(site: Path) -> tuple[float, float, float]:
    """(x, y, NAP height) of open ground nearest the district's centre: on a road, 5 m or more from any pand,
    where DSM and DTM agree (nothing above the ground, no tree)."""
    import geopandas as gpd
    import shapely

    gpkg = site / "stadsmodel.gpkg"
    roads = gpd.read_file(gpkg, layer="bgt_wegdeel").union_all()
    panden = gpd.read_file(gpkg, layer="buildings").union_all().buffer(5.0)
    x0, y0, x1, y1 = roads.bounds
    centre = shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)
    grid = shapely.points([(x, y) for x in np.arange(x0, x1, 2.0) for y in np.arange(y0, y1, 2.0)])
    candidates = sorted(grid[shapely.contains(roads.difference(panden), grid)], key=centre.distance)
    with rasterio.open(site / "dtm.tif") as dtm, rasterio.open(site / "dsm.tif") as dsm:
        for pt in candidates:
            g, s = float(next(dtm.sample([(pt.x, pt.y)]))[0]), float(next(dsm.sample([(pt.x, pt.y)]))[0])
            if g != dtm.nodata and s != dsm.nodata and abs(s - g) < 0.1:
                return pt.x, pt.y, g
    pytest.fail("no open ground on the district's roads")


def _look_down(viewer, lon: float, lat: float, h: float, range_m: float) -> None:
    viewer.evaluate("s => window.stadsmodel.setCamera(s)",
                    {"lon": lon, "lat": lat, "height": h + range_m, "heading": 0, "pitch": -90, "roll": 0})
    viewer.wait_tiles()


def test_point_cloud_layer_streams_and_draws_its_points(viewer_site, viewer):
    from tiles.georef import rdnap_to_etrs89

    index = json.loads((viewer_site / "tiles" / "index.json").read_text())
    pc = next(t for t in index["tilesets"] if t["name"] == "pointcloud")
    assert pc["features"] > 0 and pc["tiles"] > 0 and _points_on_disk(viewer_site / "tiles") >= pc["features"]

    viewer.open()
    state = _points_state(viewer)
    assert state is not None, "the viewer did not load the pointcloud tileset listed in /tiles/index.json"
    assert state["show"] is False and state["checkbox"] is False  # hidden until asked for
    assert not [u for u in viewer.requests if "/tiles/pointcloud/" in u and u.endswith(".pnts")]

    # only the points: switch off buildings and terrain, look straight down at the middle of the district
    with rasterio.open(viewer_site / "dtm.tif") as dtm:
        cx, cy = (dtm.bounds.left + dtm.bounds.right) / 2, (dtm.bounds.bottom + dtm.bounds.top) / 2
        ground_nap = float(next(dtm.sample([(cx, cy)]))[0])
        assert ground_nap != dtm.nodata
    lat, lon, h = rdnap_to_etrs89(cx, cy, ground_nap)
    viewer.page.uncheck("#layer-buildings")
    viewer.page.uncheck("#layer-terrain")
    _look_down(viewer, lon, lat, h, 250.0)
    empty = _canvas_pixels(viewer)
    assert _not_background(empty) < 0.01, "with every layer off the canvas should be background only"

    viewer.page.check("#layer-pointcloud")
    viewer.wait_tiles()
    state = _points_state(viewer)
    assert state["show"] is True and state["checkbox"] is True
    assert state["tilesReady"] > 0 and state["pointsLoaded"] > 0
    assert state["pointsSelected"] > 0, "points were loaded but none were drawn"
    assert state["pointsLoaded"] <= _points_on_disk(viewer_site / "tiles")
    pnts = [u for u in viewer.requests if re.search(r"/tiles/pointcloud/.*\.pnts$", u)]
    assert pnts, "no pnts tile was requested"

    drawn = _canvas_pixels(viewer)
    assert _not_background(drawn) > 0.2, "the point cloud does not colour the canvas"
    viewer.screenshot("pointcloud-only")

    # the points stand where the AHN says: on open ground, the point-cloud surface is the DTM there
    glat, glon, gh = rdnap_to_etrs89(*_open_ground(viewer_site))
    _look_down(viewer, glon, glat, gh, 60.0)
    sampled = viewer.evaluate("p => window.stadsmodel.surfaceHeight(p.lon, p.lat, ['buildings', 'terrain'])",
                              {"lon": glon, "lat": glat})
    assert sampled is not None, "no point-cloud surface under open ground"
    assert sampled == pytest.approx(gh, abs=0.5), (sampled, gh)

    viewer.page.uncheck("#layer-pointcloud")
    assert _not_background(_canvas_pixels(viewer)) < 0.01, "the points stay drawn after switching the layer off"

    hosts = {re.match(r"^[a-z]+://([^/:]+)", u).group(1) for u in viewer.requests if re.match(r"^https?://", u)}
    assert hosts == {"127.0.0.1"}, f"the viewer contacted other hosts: {hosts}"
    viewer.assert_clean()
