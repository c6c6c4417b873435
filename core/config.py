"""Repository paths and the configuration files, each checked against its JSON Schema when it is loaded.

``config/pipeline.yml`` (classes, percentiles, resolutions, BGT mapping; schema ``config/pipeline.schema.json``)
and ``config/collections.yml`` (the OGC API collections; ``config/collections.schema.json``). Values are data,
not code; a user copies a file, edits it and passes it with ``--config``. A wrong value is reported when the
file is read, naming the file, the key and the reason, not as a KeyError deep inside a build.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
DEFAULT_PIPELINE = CONFIG_DIR / "pipeline.yml"
DEFAULT_COLLECTIONS = CONFIG_DIR / "collections.yml"


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{_shown(path)}: configuration file not found") from None
    except OSError as e:
        raise ConfigError(f"{_shown(path)}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{_shown(path)}: invalid YAML: {e}") from None


@cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((CONFIG_DIR / f"{schema_name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_checked(path: str | Path, schema_name: str) -> Any:
    """The YAML document at ``path``, checked against ``config/<schema_name>.schema.json``.

    :raises ConfigError: one line naming the file, then each problem as key path and reason, e.g.
        ``config/pipeline.yml: lifting.lod12_roof_percentile: 120 is greater than the maximum of 99``
    """
    doc = load_yaml(path)
    errors = sorted(_validator(schema_name).iter_errors(doc),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        # jsonschema reports a missing key once per key, each naming the whole required list: hence the dedup
        problems = dict.fromkeys(p for e in errors for p in _problems(e))
        raise ConfigError(f"{_shown(Path(path))}: " + "; ".join(problems))
    return doc


def _problems(error: jsonschema.ValidationError) -> list[str]:
    if error.validator == "additionalProperties":
        # name the unknown key itself (a typo, usually), and what is allowed there
        allowed = sorted(error.schema.get("properties", {}))
        expected = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return [f"{_key_path([*error.absolute_path, k])}: unknown key{expected}"
                for k in sorted(set(error.instance) - set(allowed))]
    if error.validator == "required":
        return [f"{_key_path([*error.absolute_path, k])}: missing"
                for k in error.validator_value if k not in error.instance]
    return [f"{_key_path(error.absolute_path) or '(top level)'}: {error.message}"]


def _key_path(parts) -> str:
    """lifting.roof_percentiles[1]: the key path as a user finds it in the YAML file."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _shown(path: Path) -> str:
    """A file under the repository as config/pipeline.yml; any other as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@lru_cache(maxsize=8)
def _pipeline_config(path: str) -> dict[str, Any]:
    return load_checked(path, "pipeline")


def pipeline_config(path: str | Path | None = None) -> dict[str, Any]:
    """The pipeline configuration (cached; treat as read-only)."""
    return _pipeline_config(str(path or DEFAULT_PIPELINE))


@lru_cache(maxsize=8)
def _collections_config(path: str) -> dict[str, Any]:
    return load_checked(path, "collections")


def collections_config(path: str | Path | None = None) -> dict[str, Any]:
    """The OGC API collections table, ``{"defaults": {...}, "collections": {id: {...}}}`` (cached; read-only)."""
    return _collections_config(str(path or DEFAULT_COLLECTIONS))
