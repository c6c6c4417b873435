"""``f=cityjson`` serves the model the build wrote: the LoD1.2 roof at the build's percentile, not a fixed one.

A synthetic district is built with the CLI and a copy of config/pipeline.yml whose lod12_roof_percentile is 50
(the default is 70). The build records the percentile in report.json (``model.lod12_roof_percentile``); the
server reads it there, and falls back to config/pipeline.yml for a data directory without that record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from core.config import DEFAULT_PIPELINE, pipeline_config
from core.errors import InputError
from scripts.tools import free_port
from services.config import lod12_roof_percentile
from tests.services.conftest import LiveServer

BUILD_PERCENTILE = 50
DEFAULT_PERCENTILE = pipeline_config()["lifting"]["lod12_roof_percentile"]


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "stadsmodel.cli", *args], check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def model_p50(tmp_path_factory) -> Path:
    """A model built with lifting.lod12_roof_percentile: 50."""
    assert BUILD_PERCENTILE != DEFAULT_PERCENTILE, "the test needs a non-default percentile"
    root = tmp_path_factory.mktemp("p50")
    cfg = yaml.safe_load(DEFAULT_PIPELINE.read_text(encoding="utf-8"))
    cfg["lifting"]["lod12_roof_percentile"] = BUILD_PERCENTILE
    assert {BUILD_PERCENTILE, DEFAULT_PERCENTILE} <= set(cfg["lifting"]["roof_percentiles"])
    (root / "pipeline.yml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    _cli("synth", "--out", str(root / "input"), "--buildings", "20", "--seed", "3")
    _cli("build", "--bgt", str(root / "input" / "bgt"), "--bag", str(root / "input" / "bag.gpkg"),
         "--ahn", *map(str, sorted((root / "input" / "ahn").glob("*.laz"))),
         "--out", str(root / "model"), "--config", str(root / "pipeline.yml"))
    return root / "model"


@pytest.fixture(scope="module")
def model_without_record(model_p50, tmp_path_factory) -> Path:
    """The same model with report.json's ``model`` record removed, as in a store built before it existed."""
    copy = Path(shutil.copytree(model_p50, tmp_path_factory.mktemp("norecord") / "model"))
    report = json.loads((copy / "report.json").read_text(encoding="utf-8"))
    report.pop("model", None)
    (copy / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return copy


def _discriminating_building(url: str) -> dict:
    """A building with a solid whose 50th and 70th roof percentiles differ by more than a centimetre."""
    r = httpx.get(f"{url}/api/collections/buildings/items", params={"f": "json", "limit": 100}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    for f in r.json()["features"]:
        p = f["properties"]
        if not p["b3_reconstructie_onvolledig"] and abs(p["b3_h_dak_50p"] - p["b3_h_dak_70p"]) > 0.01:
            return p
    pytest.fail("no building whose roof percentiles differ; the district cannot tell them apart")


def _indices(node) -> list[int]:
    return [i for child in node for i in _indices(child)] if isinstance(node, list) else [node]


def _lod12_top(feature: dict) -> float:
    """The highest vertex of the feature's LoD1.2 solid (its roof; LoD1.3/2.2 follow it in the list)."""
    geometry = feature["CityObjects"][feature["id"]]["geometry"][0]
    assert geometry["lod"] == "1.2"
    return max(feature["vertices"][i][2] for i in _indices(geometry["boundaries"]))


def _served_roof(url: str, identificatie: str) -> float:
    r = httpx.get(f"{url}/api/collections/buildings/items/{identificatie}", params={"f": "cityjson"}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    return _lod12_top(r.json())


def _served_seq_roof(url: str, identificatie: str) -> float:
    r = httpx.get(f"{url}/api/collections/buildings/items", timeout=30,
                  params={"f": "cityjson", "filter": f"identificatie = '{identificatie}'"})
    assert r.status_code == 200, r.text[:300]
    head, *features = [json.loads(line) for line in r.text.splitlines()]
    scale, translate = head["transform"]["scale"][2], head["transform"]["translate"][2]
    assert len(features) == 1
    return _lod12_top(features[0]) * scale + translate


def _file_roof(model: Path, identificatie: str) -> float:
    """The roof of the building's LoD1.2 solid in model.city.json."""
    doc = json.loads((model / "model.city.json").read_text(encoding="utf-8"))
    geometry = doc["CityObjects"][identificatie]["geometry"][0]
    assert geometry["lod"] == "1.2"
    scale, translate = doc["transform"]["scale"][2], doc["transform"]["translate"][2]
    return max(doc["vertices"][i][2] for i in _indices(geometry["boundaries"])) * scale + translate


def test_cityjson_roof_is_the_build_percentile(model_p50):
    report = json.loads((model_p50 / "report.json").read_text(encoding="utf-8"))
    assert report["model"]["lod12_roof_percentile"] == BUILD_PERCENTILE
    with LiveServer(model_p50) as server:
        building = _discriminating_building(server.url)
        pand = building["identificatie"]
        served, served_seq = _served_roof(server.url, pand), _served_seq_roof(server.url, pand)
    expected = building[f"b3_h_dak_{BUILD_PERCENTILE}p"]
    assert served == pytest.approx(expected, abs=0.0015)
    assert served_seq == pytest.approx(expected, abs=0.0015)
    assert served == pytest.approx(_file_roof(model_p50, pand), abs=0.0015)


def test_without_the_record_the_configured_percentile_is_served(model_without_record):
    assert lod12_roof_percentile(model_without_record) == DEFAULT_PERCENTILE
    with LiveServer(model_without_record) as server:
        building = _discriminating_building(server.url)
        served = _served_roof(server.url, building["identificatie"])
    assert served == pytest.approx(building[f"b3_h_dak_{DEFAULT_PERCENTILE}p"], abs=0.0015)


def test_the_percentile_comes_from_report_json(tmp_path):
    assert lod12_roof_percentile(tmp_path) == DEFAULT_PERCENTILE  # no report.json at all
    (tmp_path / "report.json").write_text(json.dumps({"model": {"lod12_roof_percentile": 50}}), encoding="utf-8")
    assert lod12_roof_percentile(tmp_path) == 50


@pytest.mark.parametrize("content, words", [
    ("{not json", "not a readable build report"),
    (json.dumps({"model": {"lod12_roof_percentile": "70"}}), "model.lod12_roof_percentile: '70' is not a percentile"),
    (json.dumps({"model": {"lod12_roof_percentile": 170}}), "170 is not a percentile"),
])
def test_a_broken_report_is_refused_naming_the_file(tmp_path, content, words):
    (tmp_path / "report.json").write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        lod12_roof_percentile(tmp_path)
    assert "report.json" in str(err.value) and words in str(err.value)


def test_a_rebuild_with_another_percentile_is_followed(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"model": {"lod12_roof_percentile": 50}}), encoding="utf-8")
    assert lod12_roof_percentile(tmp_path) == 50
    report.write_text(json.dumps({"model": {"lod12_roof_percentile": 60}}), encoding="utf-8")
    stat = report.stat()
    os.utime(report, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new build, however fast
    assert lod12_roof_percentile(tmp_path) == 60


def test_serve_refuses_a_broken_report_before_starting_workers(model_without_record, tmp_path):
    data = tmp_path / "model"
    shutil.copytree(model_without_record, data)
    (data / "report.json").write_text("{not json", encoding="utf-8")
    run = subprocess.run([str(Path(sys.executable).with_name("stadsmodel")), "serve", "--data", str(data),
                          "--workers", "2", "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-500:]
    assert "report.json" in run.stderr and "not a readable build report" in run.stderr
    assert "Traceback" not in run.stderr
