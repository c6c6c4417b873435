"""The command line contract: every verb exists, has --help with an example, and bad input is a one-line error."""

import subprocess
import sys

import pytest

from stadsmodel.cli import main

VERBS = [["synth"], ["build"], ["tiles"], ["zoning", "import"], ["load"], ["serve"], ["demo"]]


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
