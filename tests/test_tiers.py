"""The test tiers: found wherever Debian or Ubuntu install them, and never skipped silently in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.tools import find_chromium, find_pg_bindir
from tests.conftest import ROOT, missing_tier
from tests.services.conftest import LivePostgres


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_postgres_finder_takes_the_highest_complete_major(tmp_path):
    for major in ("9.6", "15", "16"):
        for tool in ("initdb", "pg_ctl", "postgres"):
            _executable(tmp_path / "usr/lib/postgresql" / major / "bin" / tool)
    _executable(tmp_path / "usr/lib/postgresql/17/bin/psql")  # client tools only: no server to start
    assert find_pg_bindir(tmp_path) == tmp_path / "usr/lib/postgresql/16/bin"


def test_postgres_finder_without_a_server(tmp_path):
    _executable(tmp_path / "usr/lib/postgresql/16/bin/initdb")  # no pg_ctl, no postgres
    assert find_pg_bindir(tmp_path) is None


def test_a_postgres_that_does_not_start_fails_in_ci_with_its_reason(tmp_path, monkeypatch):
    bindir = tmp_path / "usr/lib/postgresql/16/bin"
    for tool in ("initdb", "pg_ctl", "postgres"):
        _executable(bindir / tool).write_text("#!/bin/sh\necho 'initdb: cannot create directory' >&2\nexit 1\n")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="could not start PostgreSQL"):
        LivePostgres.started(bindir)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="could not start PostgreSQL"):
        LivePostgres.started(bindir)


@pytest.mark.parametrize("place", ["usr/bin/chromium", "usr/bin/chromium-browser", "usr/lib/chromium/chromium",
                                   "snap/bin/chromium"])
def test_chromium_finder_looks_where_debian_and_ubuntu_install_it(tmp_path, monkeypatch, place):
    monkeypatch.delenv("STADSMODEL_CHROMIUM", raising=False)
    assert find_chromium(tmp_path) is None
    exe = _executable(tmp_path / place)
    assert find_chromium(tmp_path) == exe


def test_chromium_override_is_taken_as_given(tmp_path, monkeypatch):
    _executable(tmp_path / "usr/bin/chromium")
    own = _executable(tmp_path / "opt/my-chromium/chrome")
    monkeypatch.setenv("STADSMODEL_CHROMIUM", str(own))
    assert find_chromium(tmp_path) == own
    monkeypatch.setenv("STADSMODEL_CHROMIUM", str(tmp_path / "nowhere"))
    assert find_chromium(tmp_path) is None  # a wrong override is reported, not replaced by a guess


def test_setup_asks_the_same_finders_on_the_command_line(tmp_path):
    """scripts/setup.sh runs `python scripts/tools.py NAME`: the path on stdout, or exit status 1 and nothing."""
    own = _executable(tmp_path / "opt/chrome")

    def tools(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "tools.py"), *args], capture_output=True,
                              text=True, env={**os.environ, **env}, timeout=60)

    assert tools("chromium", STADSMODEL_CHROMIUM=str(own)).stdout == f"{own}\n"
    missing = tools("chromium", STADSMODEL_CHROMIUM=str(tmp_path / "nowhere"))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert tools("pg-bindir").stdout.strip() == str(find_pg_bindir() or "")
    assert tools("frobnicator").returncode == 2


def test_missing_tier_skips_outside_ci_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        missing_tier("no frobnicator")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no frobnicator"):
        missing_tier("no frobnicator")


def _run_pytest(suite_dir: Path, ci: str | None, **env_extra: str) -> subprocess.CompletedProcess:
    """pytest in a subprocess on a tiny suite with tests/conftest.py as a plugin, with CI=ci (or no CI)."""
    (suite_dir / "pytest.ini").write_text("[pytest]\n")  # not this repo's settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "CI"}
    env |= {"PYTHONPATH": str(ROOT), **env_extra}
    if ci:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-p", "no:randomly", "-p", "tests.conftest", str(suite_dir)],
                          cwd=suite_dir, env=env, capture_output=True, text=True, timeout=120)


# tier → a test needing it, the environment that takes it away, what the report must say
MISSING_TIERS = {
    "shared data": ("def test_it(shared_data):\n    pass\n", {"STADSMODEL_SHARED": "/nonexistent/shared"},
                    "real sample data not available: /nonexistent/shared/data"),
    "glTF validator": ("def test_it(gltf_validator):\n    pass\n", {"PATH": "/nonexistent/bin"},
                       "the Khronos glTF validator needs Node.js"),
}


@pytest.mark.parametrize("tier", MISSING_TIERS)
@pytest.mark.parametrize("ci", [None, "true"])
def test_a_run_with_a_tier_missing_fails_in_ci_and_says_which(tmp_path, ci, tier):
    suite, env, reason = MISSING_TIERS[tier]
    (tmp_path / "test_tiny.py").write_text(suite)
    done = _run_pytest(tmp_path, ci, **env)
    assert reason in done.stdout, done.stdout
    if ci:
        assert done.returncode == 1 and "1 error" in done.stdout, done.stdout
    else:
        assert done.returncode == 0 and "1 skipped" in done.stdout, done.stdout


SKIPPING_SUITE = '''
import pytest


@pytest.mark.skipif(True, reason="no gizmo here")
def test_marked():
    pass


def test_bare_skip():
    pytest.skip("no widget here")
'''
MODULE_SKIP = '''
import pytest

pytest.importorskip("no_such_module_here")


def test_never_collected():
    pass
'''


@pytest.mark.parametrize("ci", [None, "true"])
def test_any_skip_fails_in_ci_with_its_reason(tmp_path, ci):
    (tmp_path / "test_skips.py").write_text(SKIPPING_SUITE)
    done = _run_pytest(tmp_path, ci)
    if ci:
        assert done.returncode == 1 and "1 failed, 1 error" in done.stdout, done.stdout  # skipif: at setup
        assert "no gizmo here" in done.stdout and "no widget here" in done.stdout
    else:
        assert done.returncode == 0 and "2 skipped" in done.stdout, done.stdout


@pytest.mark.parametrize("ci", [None, "true"])
def test_a_module_level_skip_fails_in_ci(tmp_path, ci):
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    (tmp_path / "test_other.py").write_text("def test_runs():\n    pass\n")
    done = _run_pytest(tmp_path, ci)
    assert "no_such_module_here" in done.stdout, done.stdout
    if ci:
        assert done.returncode != 0 and "1 error" in done.stdout, done.stdout
    else:
        assert done.returncode == 0 and "1 passed, 1 skipped" in done.stdout, done.stdout
