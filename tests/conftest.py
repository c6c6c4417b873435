"""Shared fixtures: the real data in ../shared/data, and a small synthetic district built once per session.

Real data is read in place, never copied into the repository. Whatever a test needs from outside the venv
(the shared data, PostgreSQL + PostGIS, Chromium, Node + the Khronos glTF validator, ogctests) is a *tier*;
a missing tier goes through ``missing_tier``: it skips with the reason on a developer's machine and fails in
CI (CI=true), where scripts/setup.sh --test has installed and proven every tier, so CI never goes green by
skipping.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from core.config import ROOT

SHARED = Path(os.environ.get("STADSMODEL_SHARED", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"
SCHEMAS = SHARED / "schemas"

# The synthetic district every cross-part test uses: small enough to build in seconds, big enough to
# hold every BGT type, flat and gable roofs, water, a bridge and trees.
DISTRICT_BUILDINGS = 60
DISTRICT_SEED = 7


def in_ci() -> bool:
    """True under CI (CI=true, as GitHub, GitLab and .ci/run's callers set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_tier(reason: str) -> NoReturn:
    """The one rule for a test whose tier is missing: skip with the reason, but fail with it in CI."""
    if in_ci():
        pytest.fail(f"{reason} [CI=true: every test tier must run; scripts/setup.sh --test installs them]",
                    pytrace=False)
    pytest.skip(reason)


def _skip_fails_in_ci(report) -> None:
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


# In CI a skip from anywhere (a skipif, importorskip, a bare or module-level pytest.skip) is a failure that
# keeps its reason; missing_tier says what to install, these hooks catch the skips that do not go through it.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _skip_fails_in_ci((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    _skip_fails_in_ci((yield).get_result())


def shared_path(*parts: str) -> Path:
    """A path below ../shared/data; a missing tier when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        missing_tier(f"real sample data not available: {p} (needs ../shared/data beside the project)")
    return p


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        missing_tier(f"real sample data not available: {SHARED_DATA} (needs ../shared beside the project)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sttr_dir() -> Path:
    """The 8 real STTR files of Amsterdam (toepasbare regels as the DSO delivers them)."""
    return shared_path("amsterdam-sttr")


@pytest.fixture(scope="session")
def cityjson_schema_dir() -> Path:
    d = SCHEMAS / "cityjson-2.0.2"
    if not d.is_dir():
        missing_tier(f"CityJSON schemas not available: {d} (needs ../shared beside the project)")
    return d


@pytest.fixture(scope="session")
def gltf_validator() -> None:
    """The Khronos glTF validator tier: Node.js and npm gltf-validator (tiles.validate runs it)."""
    from tiles.validate import gltf_validator_available

    if not gltf_validator_available():
        missing_tier("the Khronos glTF validator needs Node.js on PATH and node_modules/gltf-validator (npm ci)")


@pytest.fixture(scope="session")
def synth_input(tmp_path_factory) -> Path:
    """A synthetic district's inputs (bgt/, bag.gpkg, ahn/*.laz, truth.json)."""
    from synth.district import write_district

    out = tmp_path_factory.mktemp("synth") / "input"
    write_district(out, buildings=DISTRICT_BUILDINGS, seed=DISTRICT_SEED)
    return out


@pytest.fixture(scope="session")
def built_district(synth_input, tmp_path_factory) -> Path:
    """The model directory `stadsmodel build` writes for the synthetic district."""
    from etl.build import build_model

    out = tmp_path_factory.mktemp("model") / "model"
    build_model(
        bgt=[synth_input / "bgt"],
        bag=[synth_input / "bag.gpkg"],
        ahn=sorted((synth_input / "ahn").glob("*.laz")),
        out=out,
    )
    return out


class ZonedDistrict:
    """The built synthetic district with known zoning imported (synth.plan)."""

    def __init__(self, model: Path, plan_files: list[Path], expected: dict, report: dict):
        self.model = model  # model directory: stadsmodel.gpkg with the zoning layers added
        self.plan_files = plan_files  # the plan GML and RCE GeoJSON that were imported
        self.expected = expected  # expected.json: per pand and per open spot, the answers known in advance
        self.report = report  # the import's report (ZoningReport.as_json())


@pytest.fixture(scope="session")
def zoned_district(synth_input, built_district, tmp_path_factory) -> ZonedDistrict:
    """`built_district` with the synthetic plan and monuments imported, as the demo does.

    The plan is written next to copies of bag.gpkg and truth.json and imported into a copy of the model
    directory, so the shared `synth_input` and `built_district` stay as synth.district and the ETL wrote them.
    """
    import json
    import shutil

    from etl.zoning import import_zoning
    from synth.plan import write_synthetic_plan

    root = tmp_path_factory.mktemp("zoned")
    inputs = root / "input"
    inputs.mkdir()
    for name in ("bag.gpkg", "truth.json"):
        shutil.copy2(synth_input / name, inputs / name)
    files = write_synthetic_plan(inputs)
    model = Path(shutil.copytree(built_district, root / "model"))
    report = import_zoning(files, model)
    expected = json.loads((inputs / "zoning" / "expected.json").read_text(encoding="utf-8"))
    return ZonedDistrict(model, files, expected, report.as_json())
