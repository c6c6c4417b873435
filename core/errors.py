"""One root exception and a small tree. Messages name the file, the feature and the reason.

The CLI turns a StadsmodelError into a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class StadsmodelError(Exception):
    """Root of every error this project raises on purpose."""


class InputError(StadsmodelError):
    """An input file is missing, unreadable, malformed or in the wrong CRS."""

    def __init__(self, path: str | Path, reason: str, feature: str | None = None):
        self.path = str(path)
        self.feature = feature
        self.reason = reason
        where = f"{self.path}" + (f" [{feature}]" if feature else "")
        super().__init__(f"{where}: {reason}")


class ConfigError(StadsmodelError):
    """A configuration file is invalid."""


class LiftingError(StadsmodelError):
    """Lifting could not produce a model (e.g. no point cloud overlaps the footprints)."""


class TilingError(StadsmodelError):
    """3D Tiles could not be produced or fail validation."""


class ToolMissing(StadsmodelError):
    """A required external tool (node, an npm package, Chromium) is not installed.

    A setup problem, not bad input: the message names the tool and the command that installs it.
    """

    def __init__(self, tool: str, setup: str, detail: str | None = None):
        self.tool = tool
        self.setup = setup
        super().__init__(f"{tool} is not installed" + (f" ({detail})" if detail else "") + f"; run: {setup}")


@dataclass
class Skipped:
    """One feature left out, with where it came from and why (goes into report.json)."""

    path: str
    feature: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.path}" + (f" [{self.feature}]" if self.feature else "") + f": {self.reason}"


@dataclass
class SkipLog:
    """Collects skipped features so one bad feature never stops the rest, and none is lost silently."""

    items: list[Skipped] = field(default_factory=list)

    def add(self, path: str | Path, feature: str | None, reason: str) -> None:
        self.items.append(Skipped(str(path), feature, reason))

    def extend(self, other: SkipLog) -> None:
        self.items.extend(other.items)

    def __len__(self) -> int:
        return len(self.items)

    def as_json(self) -> list[dict]:
        return [{"file": s.path, "feature": s.feature, "reason": s.reason} for s in self.items]
