"""The viewer end to end: the synthetic district (built, zoned and tiled) served by a real
`stadsmodel serve` process on loopback, and Debian's Chromium driven by Playwright (WebGL via SwiftShader).

Chromium, Playwright and axe-core are tiers (tests.conftest.missing_tier): skipped with the reason when
missing, a failure in CI. Screenshots go to test-artifacts/viewer/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.tools import CHROMIUM_ARGS, CHROMIUM_SETUP, find_chromium, free_port
from tests.conftest import ROOT, SHARED_DATA, missing_tier

ARTIFACTS = ROOT / "test-artifacts" / "viewer"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}
PAGE_TIMEOUT_MS = 60_000
STTR = SHARED_DATA / "amsterdam-sttr"  # the real STTR files (the Vergunningcheck tests skip without them)


@pytest.fixture(scope="session")
def viewer_site(synth_input: Path, built_district: Path, tmp_path_factory) -> Path:
    """A served data directory: the built store with the synthetic plan and monuments imported, the
    municipality's STTR rules (../shared/data/amsterdam-sttr, where present) and 3D Tiles (buildings, terrain,
    the district's AHN point cloud and, where tiles.envelopes has them, the bouwenvelop and the buildings'
    excess, as `stadsmodel demo` tiles them).

    The zoning goes into a copy of the store, so the session's `built_district` stays as the ETL wrote it.
    """
    from etl.rules.importer import import_rules
    from etl.zoning import import_zoning
    from synth.plan import write_synthetic_plan
    from tiles import tile_model

    base = tmp_path_factory.mktemp("viewer")
    district = base / "district"
    district.mkdir()
    for name in ("bag.gpkg", "truth.json"):
        shutil.copy(synth_input / name, district / name)
    site = base / "site"
    site.mkdir()
    for name in ("stadsmodel.gpkg", "dtm.tif", "dsm.tif"):
        if (built_district / name).exists():
            shutil.copy(built_district / name, site / name)
    import_zoning(write_synthetic_plan(district), site)
    shutil.copy(district / "zoning" / "expected.json", site / "expected.json")
    if STTR.is_dir():
        report = import_rules([STTR], site)
        assert not report.rejected, report.rejected
    # tiled from the model beside the zoned store: its bouwenvelop layers (written by the zoning import) give the
    # envelopes/ and excess/ tilesets ("Toegestane bouwmassa") next to buildings, terrain and the point cloud
    model = base / "model"
    model.mkdir()
    for name in ("model.city.jsonl", "model.city.json"):
        if (built_district / name).exists():
            (model / name).symlink_to(built_district / name)
    (model / "stadsmodel.gpkg").symlink_to(site / "stadsmodel.gpkg")
    tile_model(model, site / "tiles", ahn=sorted((synth_input / "ahn").glob("*.laz")))
    return site


@pytest.fixture(scope="session")
def expected_zoning(viewer_site: Path) -> dict:
    """Per pand what the location check must answer (synth.plan's expected.json)."""
    return json.loads((viewer_site / "expected.json").read_text(encoding="utf-8"))["panden"]


@pytest.fixture(scope="session")
def server_url(viewer_site: Path, tmp_path_factory) -> str:
    """`stadsmodel serve --data SITE` in its own process on a free loopback port."""
    port = free_port()
    exe = Path(sys.executable).with_name("stadsmodel")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "stadsmodel.cli"]
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd + ["serve", "--data", str(viewer_site), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/tiles/index.json", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"stadsmodel serve did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    chromium = find_chromium()
    if chromium is None:
        missing_tier(f"Chromium not found (STADSMODEL_CHROMIUM, PATH, /usr/lib/chromium, /snap/bin): {CHROMIUM_SETUP}")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tier("PyPI playwright is not installed (pip install -e '.[test]'; no `playwright install` needed)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as err:
            missing_tier(f"Chromium {chromium} does not start under Playwright: {str(err)[:600]}")
        yield b
        b.close()


class ViewerPage:
    """A Playwright page on the viewer that records console errors, failed requests and hosts contacted."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.set_default_timeout(PAGE_TIMEOUT_MS)

    def open(self, hash_: str = "") -> ViewerPage:
        self.page.goto(f"{self.base_url}/{hash_}")
        self.page.wait_for_function("window.stadsmodel !== undefined")
        self.page.evaluate("window.stadsmodel.ready")
        self.wait_tiles()
        return self

    def wait_tiles(self) -> None:
        self.page.evaluate("window.stadsmodel.tilesLoaded()")

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def panel_text(self) -> str:
        return self.page.inner_text("#panel")

    def wait_panel_for(self, building_id: str) -> None:
        """Until the panel shows the location-check result for this building."""
        self.page.wait_for_function(
            "id => document.getElementById('panel').dataset.buildingId === id"
            " && document.querySelector('#panel-body .panel-section') !== null"
            " && !document.querySelector('#panel-body .loading')", arg=building_id)

    def assert_clean(self) -> None:
        assert not self.page.query_selector(".cesium-widget-errorPanel"), "Cesium showed its error panel"
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
def viewer(browser, server_url):
    context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
    page = ViewerPage(context.new_page(), server_url)
    yield page
    context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        missing_tier(f"axe-core not installed ({AXE}); run npm ci")
    return AXE.read_text(encoding="utf-8")
