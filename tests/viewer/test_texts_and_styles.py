"""The viewer's static parts without a browser: i18n texts complete in Dutch and English, 3D Tiles styles
and their legends consistent, and nothing in the viewer that would reach the internet."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT

VIEWER = ROOT / "viewer"
STYLES = ROOT / "styles"


def _texts(lang: str) -> dict[str, str]:
    return json.loads((VIEWER / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def _used_keys() -> set[str]:
    keys = set()
    for js in (VIEWER / "js").glob("*.js"):
        src = js.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", src))
        keys |= set(re.findall(r"""label: ["']([\w.]+)["']""", src))
    html = (VIEWER / "index.html").read_text(encoding="utf-8")
    keys |= set(re.findall(r'data-i18n="([\w.]+)"', html))
    keys |= {k for pair in re.findall(r'data-i18n-attr="([^"]+)"', html) for k in re.findall(r":([\w.]+)", pair)}
    # keys built at run time from data values
    keys |= {f"outcome.{o}" for o in ("vergunningvrij", "vergunning_nodig", "melding", "onbekend")}
    keys |= {f"compliance.status.{s}" for s in ("overschrijding", "binnen", "onbekend")}
    keys |= {f"layers.{k}" for k in ("buildings", "terrain", "pointcloud")}
    return keys


def test_dutch_and_english_have_the_same_texts():
    nl, en = _texts("nl"), _texts("en")
    assert set(nl) == set(en)
    for key in nl:
        assert nl[key].strip() and en[key].strip(), key
        assert set(re.findall(r"\{(\w+)\}", nl[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_text_the_viewer_uses_exists():
    missing = sorted(_used_keys() - set(_texts("nl")))
    assert missing == []


def test_every_activity_of_the_rules_has_a_name():
    activities = {p.stem for p in (ROOT / "config" / "rules").glob("*.yml")}
    assert activities, "config/rules holds the rule files"
    assert {f"activity.name.{a}" for a in activities} <= set(_texts("nl"))


def test_styles_are_3d_tiles_styles_with_a_legend_per_condition():
    catalogue = json.loads((STYLES / "index.json").read_text(encoding="utf-8"))["styles"]
    texts = _texts("nl")
    files = {s["file"] for s in catalogue if s["file"]}
    assert files == {p.name for p in STYLES.glob("*.json")} - {"index.json"}, "a style file is not listed"
    for s in catalogue:
        assert s["label"] in texts
        if not s["file"]:
            continue
        style = json.loads((STYLES / s["file"]).read_text(encoding="utf-8"))
        conditions = style["color"]["conditions"]
        assert len(conditions) == len(s["legend"]), s["id"]
        assert conditions[-1][0] == "true", f"{s['id']}: the last condition must catch everything else"
        for (_, colour), label in zip(conditions, s["legend"]):
            assert re.fullmatch(r"color\('#[0-9a-f]{6}'\)", colour), colour
            assert label in texts, label
        colours = [c for _, c in conditions]
        assert len(set(colours)) == len(colours), f"{s['id']}: two classes share a colour"


def test_the_viewer_loads_nothing_from_the_internet():
    for path in [VIEWER / "index.html", *VIEWER.glob("js/*.js"), *VIEWER.glob("css/*.css")]:
        src = path.read_text(encoding="utf-8")
        code = re.sub(r"//[^\n]*|/\*.*?\*/|<!--.*?-->", "", src, flags=re.S)
        assert not re.search(r"""(src|href|url|fetch)\s*[(=]\s*["'`]?https?://""", code), path
        assert "IonImageryProvider" not in code and "createWorldTerrain" not in code, path
        assert "fonts.googleapis" not in code and "cdn" not in code.lower(), path
