"""Viewer benchmark: time to first frame, time until all tiles of the demo district are loaded, the time
from a click until the panel's rules are on screen (Element Timing's presentation time, split into its
parts: input, pick, before request, request, panel, until on screen) and the building LoD switch
(LoD2.2 ⇄ LoD1.2, until the view's tiles are in), in Debian's Chromium (headless, WebGL on SwiftShader)
against `stadsmodel serve`.

    .venv/bin/python bench/viewer.py                      # synthetic district of 300 panden
    .venv/bin/python bench/viewer.py --buildings 1000 --runs 5
    .venv/bin/python bench/viewer.py --screenshot docs/screenshot.png
    .venv/bin/python bench/viewer.py --data SITE          # a site built, zoned and tiled before (e.g. 10k with roofs)

Times count from navigation start. SwiftShader renders on the CPU, so the figures are an upper bound
for a machine with a GPU; on a busy 2-core machine they vary by tens of percent between runs. Every wait
has a time limit (--step-timeout); a step that runs out stops the run with the step's name. Chromium:
$STADSMODEL_CHROMIUM, else where Debian or Ubuntu install it (scripts/tools.py).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.tools import CHROMIUM_ARGS, CHROMIUM_SETUP, find_chromium, free_port

VIEWPORT = {"width": 1280, "height": 800}
STEP_TIMEOUT_MS = 120_000


class StepFailed(SystemExit):
    """A step of the benchmark did not finish (in time): the message names the run and the step."""


def wait(page, step: str, js: str, arg=None, timeout_ms: float | None = None):
    """page.evaluate of ``js`` (a function expression) awaiting its promise, raced against a timer: Playwright's
    evaluate itself never times out, so a promise that never settles would hang the benchmark."""
    race = (f"([arg, ms]) => Promise.race([Promise.resolve(({js})(arg)), new Promise((_, reject) => "
            f"setTimeout(() => reject(new Error(`no answer within ${{ms}} ms`)), ms))])")
    try:
        return page.evaluate(race, [arg, timeout_ms or STEP_TIMEOUT_MS])
    except Exception as e:  # playwright.sync_api.Error, TimeoutError
        raise StepFailed(f"{step}: {str(e).splitlines()[0]}") from None


def goto(page, url: str) -> None:
    try:
        page.goto(url, timeout=STEP_TIMEOUT_MS)
    except Exception as e:
        raise StepFailed(f"open {url}: {str(e).splitlines()[0]}") from None


def wait_for(page, step: str, js: str, arg=None, timeout_ms: float | None = None) -> None:
    """page.wait_for_function with a time limit, failing with the step's name."""
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout_ms or STEP_TIMEOUT_MS)
    except Exception as e:
        raise StepFailed(f"{step}: {str(e).splitlines()[0]}") from None


def build_site(work: Path, buildings: int, seed: int) -> Path:
    """Synthetic district → ETL → synthetic plan and monuments → 3D Tiles, in work/site."""
    from etl.build import build_model
    from etl.zoning import import_zoning
    from synth.district import write_district
    from synth.plan import write_synthetic_plan
    from tiles import tile_model

    district, site = work / "district", work / "site"
    t = time.perf_counter()
    write_district(district, buildings=buildings, seed=seed)
    build_model(bgt=[district / "bgt"], bag=[district / "bag.gpkg"], ahn=sorted((district / "ahn").glob("*.laz")),
                out=site)
    import_zoning(write_synthetic_plan(district), site)
    shutil.copy(district / "zoning" / "expected.json", site / "expected.json")
    tile_model(site, site / "tiles")
    print(f"district of {buildings} panden built, zoned and tiled in {time.perf_counter() - t:.1f} s", flush=True)
    return site


def start_server(site: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("stadsmodel")
    proc = subprocess.Popen([str(exe), "serve", "--data", str(site), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/tiles/index.json", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("stadsmodel serve did not start")


def roofs(site: Path) -> list[dict]:
    """Panden with a maximum bouwhoogte (the ones whose panel has the most to show), roof in lon/lat/h."""
    import pyogrio

    from tiles.georef import rdnap_to_etrs89

    expected = json.loads((site / "expected.json").read_text(encoding="utf-8"))["panden"]
    store = pyogrio.read_dataframe(site / "stadsmodel.gpkg", layer="buildings", read_geometry=False)
    roof = dict(zip(store["identificatie"], store["b3_h_dak_70p"]))
    out = []
    for pid, exp in sorted(expected.items()):
        if exp.get("max_bouwhoogte") is not None and roof.get(pid) is not None and math.isfinite(roof[pid]):
            lat, lon, h = rdnap_to_etrs89(exp["point"][0], exp["point"][1], float(roof[pid]))
            out.append({"id": pid, "lon": lon, "lat": lat, "h": h, **exp})
    return out


# Where a click's time goes, from the viewer's own clock (window.stadsmodel.timings): until Cesium hands the click
# to the viewer (input), picking the feature and the position, the selection before the request, the location
# check's round trip (server and transfer), building the panel, and until the browser has put it on screen
# (Element Timing of the panel's rules heading: the paint's presentation time, not merely a callback).
PARTS = ("input", "pick", "before request", "request", "panel", "until on screen")

# The view a user clicks is on screen: two animation frames (Cesium's render of the view is submitted), then a
# one-pixel read of the canvas, which returns once the GPU (SwiftShader: a CPU thread) has drawn every frame
# submitted so far. Without it the click's pick, itself a read of the GPU, waited for the view's own frames.
VIEW_ON_SCREEN = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => {
  const canvas = document.querySelector('#cesium canvas');
  const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  r();
})))"""

# When the panel's rules were presented: the first Element Timing entry after the click.
RULES_ON_SCREEN = """since => new Promise(r => {
  const observer = new PerformanceObserver(list => {
    const hit = list.getEntries().find(e => e.identifier === 'panel-rules' && e.renderTime > since);
    if (hit) { observer.disconnect(); r(hit.renderTime); }
  });
  observer.observe({type: 'element', buffered: true});
})"""


def click(page, p: dict) -> tuple[float, dict[str, float]]:
    """Clicks the pand's roof seen from above; returns ms from the click until the panel's rules are on screen,
    and the parts of that time (PARTS)."""
    step = f"click on {p['id']}"
    wait(page, f"{step}: set camera", "s => window.stadsmodel.setCamera(s)",
         {"lon": p["lon"], "lat": p["lat"], "height": p["h"] + 150, "heading": 0, "pitch": -90, "roll": 0})
    wait(page, f"{step}: tiles loaded", "() => window.stadsmodel.tilesLoaded()")
    wait(page, f"{step}: view on screen", VIEW_ON_SCREEN)
    pos = wait(page, f"{step}: window position", "p => window.stadsmodel.windowPositionOf(p.lon, p.lat, p.h)", p)
    if not pos:
        raise StepFailed(f"{step}: the roof is not on screen")
    box = page.locator("#cesium canvas").bounding_box(timeout=STEP_TIMEOUT_MS)
    if box is None:
        raise StepFailed(f"{step}: the Cesium canvas is not visible")
    clicked = wait(page, f"{step}: start clock", "() => (window.__clicked = performance.now())")
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    wait_for(page, f"{step}: panel shows the pand's rules",
             "id => document.getElementById('panel').dataset.buildingId === id"
             " && !document.querySelector('#panel-body .loading')", p["id"])
    shown = wait(page, f"{step}: rules on screen", RULES_ON_SCREEN, clicked)
    t = wait(page, f"{step}: read clock", "() => window.stadsmodel.timings")
    total = shown - clicked
    spent = {"input": t["clickHandledAt"] - clicked, "pick": t["pickMs"], "before request": t["beforeRequestMs"],
             "request": t["requestMs"], "panel": t["panelMs"]}
    spent["until on screen"] = total - sum(spent.values())
    return total, spent


def switch_lods(page) -> list[float]:
    """ms from choosing the other building LoD until its tiles in view are loaded, there and back."""
    lods = wait(page, "building LoDs", "() => window.stadsmodel.lods()")
    if len(lods) < 2:
        return []
    out = []
    for lod in (lods[-1], lods[0]):
        out.append(wait(page, f"switch to LoD {lod}", """async lod => { const t0 = performance.now();
            window.stadsmodel.setLod(lod); await window.stadsmodel.tilesLoaded(); return performance.now() - t0; }""",
                        lod))
    return out


def main() -> None:
    global STEP_TIMEOUT_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--buildings", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3, help="page loads (default 3)")
    ap.add_argument("--clicks", type=int, default=5, help="buildings clicked per page load (default 5)")
    ap.add_argument("--data", type=Path, help="an already built, zoned and tiled site directory to serve")
    ap.add_argument("--screenshot", type=Path, help="also save a screenshot with the panel open here")
    ap.add_argument("--step-timeout", type=float, default=STEP_TIMEOUT_MS / 1000,
                    help="seconds any one step may take (default %(default)s)")
    args = ap.parse_args()
    STEP_TIMEOUT_MS = args.step_timeout * 1000
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit(f"Chromium not found: {CHROMIUM_SETUP}")

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="stadsmodel-bench-viewer-") as tmp:
        site = args.data or build_site(Path(tmp), args.buildings, args.seed)
        targets = roofs(site)
        proc, url = start_server(site)
        first, loaded, latency, switch = [], [], [], []
        parts: dict[str, list[float]] = {}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
                                             timeout=STEP_TIMEOUT_MS)
                for run in range(args.runs):
                    context = browser.new_context(viewport=VIEWPORT)
                    page = context.new_page()
                    page.set_default_timeout(STEP_TIMEOUT_MS)
                    try:
                        goto(page, url + "/")
                        wait_for(page, "viewer API present", "() => window.stadsmodel !== undefined")
                        first.append(wait(page, "first frame", "() => window.stadsmodel.firstFrame"))
                        wait(page, "viewer ready", "() => window.stadsmodel.ready")
                        wait_for(page, "all tiles loaded",
                                 "() => window.stadsmodel.timings.tilesLoadedMs !== undefined")
                        loaded.append(wait(page, "read tile timing", "() => window.stadsmodel.timings.tilesLoadedMs"))
                        for p in targets[run * args.clicks:(run + 1) * args.clicks] or targets[:args.clicks]:
                            total, spent = click(page, p)
                            latency.append(total)
                            for part, ms in spent.items():
                                parts.setdefault(part, []).append(ms)
                        switch += switch_lods(page)
                    except StepFailed as e:
                        raise StepFailed(f"run {run + 1}: {e}") from None
                    except Exception as e:  # playwright's own timeouts (goto) and errors
                        raise StepFailed(f"run {run + 1}: {str(e).splitlines()[0]}") from None
                    print(f"run {run + 1}: first frame {first[-1]:.0f} ms, all tiles {loaded[-1]:.0f} ms, "
                          f"clicks {', '.join(f'{v:.0f}' for v in latency[-args.clicks:])} ms, "
                          f"LoD switches {', '.join(f'{v:.0f}' for v in switch[-2:]) or '(one LoD)'} ms", flush=True)
                    context.close()
                if args.screenshot:
                    screenshot(browser, url, targets, args.screenshot)
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def line(name, values):
        q = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else values * 9
        print(f"{name:<34} median {statistics.median(values):7.0f} ms   p90 {q[-1]:7.0f} ms   (n={len(values)})")

    print(f"\nviewer, synthetic district of {args.buildings if not args.data else '?'} panden, "
          f"{VIEWPORT['width']}x{VIEWPORT['height']}, Chromium + SwiftShader")
    line("time to first frame", first)
    line("time until all tiles loaded", loaded)
    line("click-to-panel latency", latency)
    for part in PARTS:
        if parts.get(part):
            line(f"  of which {part}", parts[part])
    if switch:
        line("LoD switch until its tiles loaded", switch)


def screenshot(browser, url: str, targets: list[dict], path: Path) -> None:
    """The viewer coloured by compliance, with the panel open on the pand that exceeds its maximum."""
    over = next((p for p in targets if p.get("compliance") == "overschrijdt"), targets[0])
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    goto(page, url + "/")
    wait_for(page, "screenshot: viewer API present", "() => window.stadsmodel !== undefined")
    wait(page, "screenshot: viewer ready", "() => window.stadsmodel.ready")
    wait(page, "screenshot: compliance style", "() => window.stadsmodel.setStyle('compliance')")
    wait(page, "screenshot: set camera", "s => window.stadsmodel.setCamera(s)",
         {"lon": over["lon"] - 0.0012, "lat": over["lat"] - 0.0016, "height": over["h"] + 170,
          "heading": 25, "pitch": -38, "roll": 0})
    wait(page, "screenshot: tiles loaded", "() => window.stadsmodel.tilesLoaded()")
    wait(page, f"screenshot: select {over['id']}", "p => window.stadsmodel.select(p.lon, p.lat)", over)
    wait_for(page, "screenshot: panel open", "id => document.getElementById('panel').dataset.buildingId === id",
             over["id"])
    wait(page, "screenshot: tiles loaded after selection", "() => window.stadsmodel.tilesLoaded()")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    context.close()
    print(f"screenshot: {path}")


if __name__ == "__main__":
    main()
