"""The Khronos glTF validator (npm gltf-validator), run by Node.js on glb / b3dm content.

Optional, for ``validate_tileset(..., gltf=True)``: a missing Node.js or npm package is a setup problem
(ToolMissing, with the command that fixes it), not bad input.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from core.config import ROOT
from core.errors import TilingError, ToolMissing

SCRIPT = Path(__file__).with_name("gltf_validator.mjs")
PACKAGE_DIR = ROOT / "node_modules" / "gltf-validator"
BATCH = 200  # files per Node process: one start-up for many files, and command lines of bounded length


def gltf_validator_available() -> bool:
    return shutil.which("node") is not None and PACKAGE_DIR.is_dir()


def run_gltf_validator(files: list[Path]) -> list[dict[str, Any]]:
    """Khronos glTF validator reports (file, errors, warnings, messages) for .glb / .b3dm files.

    :raises ToolMissing: no Node.js, or no npm package gltf-validator.
    """
    if shutil.which("node") is None:
        raise ToolMissing("Node.js (for the glTF validator)", "apt-get install nodejs npm && npm ci")
    if not PACKAGE_DIR.is_dir():
        raise ToolMissing("the npm package gltf-validator", f"npm ci (in {ROOT})", detail=f"no {PACKAGE_DIR}")
    reports = []
    for i in range(0, len(files), BATCH):
        chunk = [str(f) for f in files[i:i + BATCH]]
        try:
            res = subprocess.run(["node", str(SCRIPT), *chunk], cwd=ROOT, capture_output=True, text=True,
                                 timeout=600)
        except subprocess.TimeoutExpired:
            raise TilingError(f"{SCRIPT}: glTF validator did not finish {len(chunk)} files in 600 s") from None
        if res.returncode != 0:
            raise TilingError(f"{SCRIPT}: glTF validator failed: {res.stderr.strip()[:500]}")
        try:
            reports += [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
        except ValueError:
            raise TilingError(f"{SCRIPT}: glTF validator printed something other than its JSON reports: "
                              f"{res.stdout.strip()[:300]}") from None
    return reports
