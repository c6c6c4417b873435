"""What one tileset writer reports: the line of ``index.json`` for its tileset, and how long it took."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class TilesetSummary:
    name: str
    tileset: Path
    features: int
    tiles: int
    bytes: int
    seconds: float

    def as_json(self, root: Path) -> dict[str, Any]:
        return {"name": self.name, "url": self.tileset.relative_to(root).as_posix(), "features": self.features,
                "tiles": self.tiles, "bytes": self.bytes}
