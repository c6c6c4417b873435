"""The command line contract: every verb exists, has --help with an example, and bad input is a one-line error."""

import json
import sqlite3
import subprocess
import sys

import pytest
import yaml

from stadsmodel.cli import main

VERBS = [["synth"], ["build"], ["tiles"], ["tiles", "validate"], ["zoning", "import"], ["rules", "import"], ["load"],
         ["serve"], ["demo"]]


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help_with_an_example(verb, capsys):
    with pytest.raises(SystemExit) as e:
        main([*verb, "--help"])
    assert e.value.code == 0
    assert "example: stadsmodel " + " ".join(verb) in capsys.readouterr().out


def test_installed_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "stadsmodel.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and all(v[0] in out.stdout for v in VERBS)


def test_bad_input_is_one_line_not_a_traceback(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "d"), "--buildings", "0"]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert main(["tiles", "validate", str(tmp_path / "missing" / "tileset.json")]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ tiles

def test_tiles_needs_a_model_and_an_output_or_validate(capsys):
    with pytest.raises(SystemExit) as e:
        main(["tiles", "--model", "m"])
    assert e.value.code == 2
    assert "tiles needs --model and --out, or: tiles validate TILESET" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["tiles", "validate"])  # validate without its PATH
    assert e.value.code == 2


def _tileset(geometric_error: float, content: str | None = None) -> dict:
    root = {"boundingVolume": {"region": [0.07, 0.9, 0.0701, 0.9001, 0, 20]}, "geometricError": 0, "refine": "ADD"}
    if content:
        root["content"] = {"uri": content}
    return {"asset": {"version": "1.1"}, "geometricError": geometric_error, "root": root}


def test_tiles_validate_prints_each_tileset_of_a_folder_and_fails_on_an_error(tmp_path, capsys):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "good" / "tileset.json").write_text(json.dumps(_tileset(10)))
    (tmp_path / "bad" / "tileset.json").write_text(json.dumps(_tileset(-1, "missing.glb")))
    (tmp_path / "index.json").write_text(json.dumps(
        {"tilesets": [{"name": "good", "url": "good/tileset.json"}, {"name": "bad", "url": "bad/tileset.json"}]}))

    assert main(["tiles", "validate", str(tmp_path / "good" / "tileset.json")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'good' / 'tileset.json'}: 1 tiles, 0 contents, 0 errors, " \
                                      "0 warnings\n"

    assert main(["tiles", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("good/tileset.json: 1 tiles, 0 contents, 0 errors, 0 warnings")
    assert any("geometricError -1" in line for line in out) and any("missing.glb" in line for line in out)
    assert out[-1].endswith("bad/tileset.json: 1 tiles, 1 contents, 2 errors, 0 warnings")


def test_tiles_with_model_out_and_jobs_writes_valid_tilesets(tmp_path, capsys, monkeypatch):
    from synth.model import write_city_model

    model = tmp_path / "district.city.jsonl"
    write_city_model(model, 40, seed=3)
    out = tmp_path / "tiles"
    assert main(["tiles", "--model", str(model), "--out", str(out), "--jobs", "2"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert [t["features"] for t in index["tilesets"] if t["name"] == "buildings"] == [40]
    capsys.readouterr()
    assert main(["tiles", "validate", str(out)]) == 0
    assert all(line.endswith(" 0 errors, 0 warnings") for line in capsys.readouterr().out.splitlines()
               if " tiles, " in line)
    # without Node.js the glTF validator is a missing tool: the setup command, the config-error status
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert main(["tiles", "validate", str(out), "--gltf"]) == 2
    err = capsys.readouterr().err
    assert "stadsmodel tiles: error: Node.js (for the glTF validator) is not installed; run: " in err
    assert "Traceback" not in err
    # the forms of the verb from before `validate` was a subcommand still work: --gltf before the action
    assert main(["tiles", "--gltf", "validate", str(out)]) == 2
    assert "Node.js (for the glTF validator) is not installed" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["tiles", "validate", str(out)]) == 0  # no --gltf: no Node.js needed


# ------------------------------------------------------------------------------------------------ serve

def test_serve_print_config_is_the_effective_pygeoapi_configuration(built_district, capsys, monkeypatch):
    monkeypatch.delenv("STADSMODEL_PUBLIC_URL", raising=False)
    assert main(["serve", "--data", str(built_district), "--port", "8123", "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["server"]["url"] == "http://127.0.0.1:8123/api"
    assert config["server"]["bind"] == {"host": "127.0.0.1", "port": 8123}
    with sqlite3.connect(built_district / "stadsmodel.gpkg") as con:
        layers = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")}
    collections = {name for name, r in config["resources"].items() if r["type"] == "collection"}
    assert collections == layers | {"dtm", "dsm"}  # one per store layer, and the two rasters beside it
    provider = config["resources"]["buildings"]["providers"][0]
    assert provider["data"] == str(built_district / "stadsmodel.gpkg") and provider["table"] == "buildings"


def test_serve_print_config_without_a_store_names_it(tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "stadsmodel.gpkg") in err and "Traceback" not in err
