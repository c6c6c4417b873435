"""config/pipeline.yml and config/collections.yml are checked against their JSON Schemas when they are loaded: a
wrong value is one line naming the file, the key and the reason, before any input is read."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from core.config import DEFAULT_COLLECTIONS, DEFAULT_PIPELINE, collections_config, pipeline_config
from core.errors import ConfigError
from tests.conftest import ROOT


def _pipeline() -> dict:
    return yaml.safe_load(DEFAULT_PIPELINE.read_text(encoding="utf-8"))


def _collections() -> dict:
    return yaml.safe_load(DEFAULT_COLLECTIONS.read_text(encoding="utf-8"))


def _write(tmp_path, doc, name="bad.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_files_pass_their_schemas():
    assert pipeline_config() == _pipeline()
    assert collections_config() == _collections()
    assert pipeline_config() is pipeline_config(DEFAULT_PIPELINE)  # cached: read once per path


def _broken_pipeline(change) -> dict:
    doc = copy.deepcopy(_pipeline())
    change(doc)
    return doc


PIPELINE_FAULTS = {
    "lifting.lod12_roof_percentile: 120 is greater than the maximum of 99":
        lambda d: d["lifting"].update(lod12_roof_percentile=120),
    "lifting.roof_percentiles[1]: 0 is less than the minimum of 1":
        lambda d: d["lifting"].update(roof_percentiles=[50, 0]),
    "lifting.maaiveld_percentile: 101 is greater than the maximum of 100":
        lambda d: d["lifting"].update(maaiveld_percentile=101),
    "lifting.chunk_points: 'many' is not of type 'integer'": lambda d: d["lifting"].update(chunk_points="many"),
    "rasters.resolution: 0 is less than or equal to the minimum of 0": lambda d: d["rasters"].update(resolution=0),
    "classes.ground[0]: 300 is greater than the maximum of 255": lambda d: d["classes"].update(ground=[300]),
    "rasters: missing": lambda d: d.pop("rasters"),
    "lifting.min_roof_points: missing": lambda d: d["lifting"].pop("min_roof_points"),
    "daken: unknown key": lambda d: d.update(daken={"lod22": True}),
    "roofs.lod: unknown key": lambda d: d["roofs"].update(lod=2.2),
    "roofs.lod22: 'yes' is not of type 'boolean'": lambda d: d["roofs"].update(lod22="yes"),
    "lifting.lod12_roof_percentil: unknown key": lambda d: d["lifting"].update(lod12_roof_percentil=50),
    "bgt.wegdeel.lift: 'hover' is not one of": lambda d: d["bgt"]["wegdeel"].update(lift="hover"),
    "bgt.wegdeel.lift: None is not of type 'string'": lambda d: d["bgt"]["wegdeel"].update(lift=None),
}


@pytest.mark.parametrize("message", PIPELINE_FAULTS)
def test_a_broken_pipeline_key_is_named_with_its_reason(tmp_path, message):
    path = _write(tmp_path, _broken_pipeline(PIPELINE_FAULTS[message]))
    with pytest.raises(ConfigError) as e:
        pipeline_config(path)
    assert str(e.value).startswith(f"{path}: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    def three(d):
        d["lifting"]["lod12_roof_percentile"] = 120
        d["rasters"] = {}

    with pytest.raises(ConfigError) as e:
        pipeline_config(_write(tmp_path, _broken_pipeline(three)))
    assert str(e.value).split(": ", 1)[1] == ("lifting.lod12_roof_percentile: 120 is greater than the maximum of 99; "
                                              "rasters.resolution: missing; rasters.nodata: missing")


def test_yaml_and_missing_files_are_config_errors(tmp_path):
    (tmp_path / "broken.yml").write_text("lifting: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yml: invalid YAML"):
        pipeline_config(tmp_path / "broken.yml")
    with pytest.raises(ConfigError, match="nowhere.yml: configuration file not found"):
        pipeline_config(tmp_path / "nowhere.yml")


COLLECTION_FAULTS = {
    "collections.buildings.heights: ['b3_h_maaiveld'] is too short":
        lambda d: d["collections"]["buildings"].update(heights=["b3_h_maaiveld"]),
    "collections.buildings.cityjson: 'yes' is not of type 'boolean'":
        lambda d: d["collections"]["buildings"].update(cityjson="yes"),
    "collections.dtm.file: missing": lambda d: d["collections"]["dtm"].pop("file"),
    "collections.addresses.geometrie: unknown key": lambda d: d["collections"]["addresses"].update(geometrie="Point"),
    "collections.dsm.kind: 'raster' is not one of ['features', 'coverage']":
        lambda d: d["collections"]["dsm"].update(kind="raster"),
    "collections: missing": lambda d: d.pop("collections"),
    "collections: 'Gebouwen' does not match": lambda d: d["collections"].update(Gebouwen={"title": "x"}),
}


@pytest.mark.parametrize("message", COLLECTION_FAULTS)
def test_a_broken_collection_key_is_named_with_its_reason(tmp_path, message):
    doc = copy.deepcopy(_collections())
    COLLECTION_FAULTS[message](doc)
    path = _write(tmp_path, doc, "collections.yml")
    with pytest.raises(ConfigError) as e:
        collections_config(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value), str(e.value)


def test_build_with_a_broken_config_exits_with_the_config_error_and_names_the_key(tmp_path):
    bad = _write(tmp_path, _broken_pipeline(lambda d: d["lifting"].update(lod12_roof_percentile=120)))
    for tiled in ([], ["--workers", "1"]):
        run = subprocess.run([sys.executable, "-m", "stadsmodel.cli", "build", "--config", str(bad),
                              "--bgt", str(tmp_path / "bgt"), "--ahn", str(tmp_path / "a.laz"),
                              "--out", str(tmp_path / "out"), *tiled],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr
        assert f"stadsmodel build: error: {bad}: lifting.lod12_roof_percentile: 120 is greater than the maximum " \
               "of 99" in run.stderr, run.stderr
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
