"""The one way a product file is written: under a temporary name beside it, moved into place only when complete.

A reader (``serve``, ``tiles``, a resumed run) therefore sees either the earlier file or the whole new one,
never a half-written file, and a failed writer leaves the earlier file as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def temporary_sibling(path: Path) -> Path:
    """A hidden name beside ``path``, unique to this process and thread (the tiled build writes from worker
    threads), with the same suffix (GDAL picks its driver by it). Not created here: GDAL wants to create it."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{threading.get_ident()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path for a writer that wants a file name (GDAL, rasterio, laspy); on success the file
    replaces ``path``, on failure it is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = temporary_sibling(path)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """An open file (``"w"`` text in UTF-8, or ``"wb"``) that replaces ``path`` when the block ends without error."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> None:
    """``value`` as JSON (UTF-8, non-ASCII kept), atomically."""
    with atomic_open(path) as f:
        f.write(json.dumps(value, indent=indent, ensure_ascii=False, default=str))
        if indent is not None:
            f.write("\n")
