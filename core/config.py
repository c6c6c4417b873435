"""Pipeline configuration: config/pipeline.yml (classes, percentiles, resolutions, BGT mapping).

Values are data, not code; a user copies the file, edits it and passes it with ``--config``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
DEFAULT_PIPELINE = CONFIG_DIR / "pipeline.yml"


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None


@lru_cache(maxsize=8)
def _pipeline_config(path: str) -> dict[str, Any]:
    cfg = load_yaml(path)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for key in ("classes", "lifting", "rasters", "bgt"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing section '{key}'")
    return cfg


def pipeline_config(path: str | Path | None = None) -> dict[str, Any]:
    """The pipeline configuration (cached; treat as read-only)."""
    return _pipeline_config(str(path or DEFAULT_PIPELINE))
