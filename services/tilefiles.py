"""``/tiles/``: the 3D Tiles products of ``DATA/tiles/``, and nothing else in that folder.

Served: ``index.json``, the tilesets it lists (without an index: each ``tiles/*/tileset.json``), and every
file those tilesets reference — tile content, external tilesets (followed), implicit-tiling subtrees and
content (files matching the URI templates), the metadata schema. Anything else there (work files of a
build, a copied input, a stray backup) answers 404, even when it exists.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import stat
import threading
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from core.products import TILES_INDEX

LOGGER = logging.getLogger(__name__)

_TEMPLATE_VARIABLE = re.compile(r"\\\{(level|x|y|z)\\\}")


class TileProducts:
    """The set of servable paths below ``root`` (posix, relative), rebuilt when a root tileset changes."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._files: set[str] = set()
        self._patterns: list[re.Pattern] = []
        self._index_mtime: int | None = None  # index.json is parsed again only when it changes
        self._index_roots: list[str] = []

    def _roots(self) -> list[str]:
        index = self.root / TILES_INDEX
        try:
            info = index.stat()
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob("*/tileset.json"))
        if info.st_mtime_ns != self._index_mtime:
            self._index_mtime, self._index_roots = info.st_mtime_ns, self._read_index(index)
        return self._index_roots

    @staticmethod
    def _read_index(index: Path) -> list[str]:
        try:
            listed = json.loads(index.read_bytes()).get("tilesets") or []
            urls = [t.get("url") for t in listed if isinstance(t, dict)]
            return [TILES_INDEX] + [u for u in urls if isinstance(u, str)]
        except (OSError, ValueError, AttributeError) as err:
            LOGGER.warning("%s: unreadable (%s); serving no tilesets", index, err)
            return []

    def _current_stamp(self, roots: list[str]) -> tuple:
        stamp = []
        for rel in roots:
            try:
                stamp.append((rel, (self.root / rel).stat().st_mtime_ns))
            except OSError:
                stamp.append((rel, None))
        return tuple(stamp)

    def allows(self, path: str) -> bool:
        rel = posixpath.normpath(path.lstrip("/"))
        if rel.startswith("..") or rel == ".":
            return False
        with self._lock:
            roots = self._roots() if self.root.is_dir() else []
            stamp = self._current_stamp(roots)
            if stamp != self._stamp:
                self._files, self._patterns = self._collect(roots)
                self._stamp = stamp
            return rel in self._files or any(p.fullmatch(rel) for p in self._patterns)

    def _collect(self, roots: list[str]) -> tuple[set[str], list[re.Pattern]]:
        files = {TILES_INDEX} if roots[:1] == [TILES_INDEX] else set()
        patterns: list[re.Pattern] = []
        todo = [r for r in roots if r != TILES_INDEX]
        seen: set[str] = set()
        while todo:
            rel = posixpath.normpath(todo.pop())
            if rel in seen or rel.startswith(".."):
                continue
            seen.add(rel)
            try:
                tileset = json.loads((self.root / rel).read_bytes())
            except (OSError, ValueError) as err:
                LOGGER.warning("%s: not served (%s)", self.root / rel, err)
                continue
            files.add(rel)
            base = posixpath.dirname(rel)
            for uri, template in _references(tileset):
                target = _resolve(base, uri)
                if target is None:
                    continue
                if template:
                    patterns.append(re.compile(_TEMPLATE_VARIABLE.sub(r"\\d+", re.escape(target))))
                elif target.endswith(".json"):
                    todo.append(target)  # an external tileset
                else:
                    files.add(target)
        return files, patterns


def _resolve(base: str, uri: str) -> str | None:
    """A tileset URI as a path below the tiles folder; None for absolute URLs and paths leaving it."""
    if not isinstance(uri, str) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/", uri):
        return None
    uri = uri.split("?", 1)[0].split("#", 1)[0]
    target = posixpath.normpath(posixpath.join(base, uri))
    return None if target.startswith("..") else target


def _references(tileset: dict):
    """(uri, is_template) for everything a tileset points at."""
    if isinstance(tileset.get("schemaUri"), str):
        yield tileset["schemaUri"], False
    stack = [tileset.get("root")]
    while stack:
        tile = stack.pop()
        if not isinstance(tile, dict):
            continue
        implicit = isinstance(tile.get("implicitTiling"), dict)
        contents = ([tile["content"]] if isinstance(tile.get("content"), dict) else []) + \
                   [c for c in tile.get("contents") or [] if isinstance(c, dict)]
        for content in contents:
            uri = content.get("uri", content.get("url"))
            if uri is not None:
                yield uri, implicit
        if implicit:
            subtrees = tile["implicitTiling"].get("subtrees")
            if isinstance(subtrees, dict) and "uri" in subtrees:
                yield subtrees["uri"], True
        stack.extend(tile.get("children") or [])


class TileFiles(StaticFiles):
    """Static 3D Tiles: only :class:`TileProducts`; media types in app.py, range requests and ETags from
    Starlette, cache headers here.

    ``tileset.json`` and subtrees are revalidated on every use (a rebuild replaces them); content is cached.
    """

    def __init__(self, directory: Path):
        super().__init__(directory=directory, check_dir=False)
        self.products = TileProducts(Path(directory))

    async def get_response(self, path: str, scope) -> Response:
        if not self.products.allows(path):
            return Response("Not Found", status_code=404, media_type="text/plain")
        response = await super().get_response(path, scope)
        if response.status_code in (200, 206, 304):
            revalidate = path.endswith((".json", ".subtree"))
            response.headers["Cache-Control"] = "no-cache" if revalidate else "public, max-age=86400"
        return response
