"""Where the external tools the tests and benchmarks drive are installed: the one finder of each, and a free port.

scripts/setup.sh calls this file (``python scripts/tools.py chromium|pg-bindir|free-port``: prints the path or
port, exit status 1 when there is none); the test fixtures (tests/viewer, tests/services) and bench/ import it.
Standard library only, so it runs before anything else is installed. The products themselves need none of these.

``root`` lets the tests build a fake file system; PATH and ``pg_config`` are asked only on the real root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

# Where Debian (chromium) and Ubuntu (chromium-browser, the snap) put Chromium.
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_DIRS = ("usr/bin", "usr/local/bin", "usr/lib/chromium", "snap/bin")
CHROMIUM_SETUP = "apt-get install chromium (Debian), or set STADSMODEL_CHROMIUM to its executable"
# How the viewer tests and bench/viewer.py run it: WebGL without a GPU (ANGLE on SwiftShader), and no
# background traffic, since the viewer must work offline.
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
]
# The server tools a scratch cluster needs (psql alone, the client package, is not a server).
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
PG_SETUP = "apt-get install postgresql postgresql-<major>-postgis-3 (Debian)"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_chromium(root: Path = Path("/")) -> Path | None:
    """Chromium's executable: STADSMODEL_CHROMIUM if set (then only that: a wrong override is reported, not
    replaced by a guess), else PATH (on the real root), else the known install directories below ``root``."""
    if os.environ.get("STADSMODEL_CHROMIUM"):
        given = Path(os.environ["STADSMODEL_CHROMIUM"])
        return given if _executable(given) else None
    if root == Path("/"):
        on_path = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
        if on_path:
            return Path(on_path)
    return next((root / d / name for d in CHROMIUM_DIRS for name in CHROMIUM_NAMES
                 if _executable(root / d / name)), None)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _has_server(bindir: Path) -> bool:
    return all((bindir / tool).is_file() for tool in PG_TOOLS)


def find_pg_bindir(root: Path = Path("/")) -> Path | None:
    """The PostgreSQL server's bin directory, wherever Debian or Ubuntu put it.

    The highest major under ``root``/usr/lib/postgresql/<major>/bin that holds the server tools, else (on the
    real root only) ``pg_config --bindir``, else ``postgres`` on PATH.
    """
    installed = [d for d in (root / "usr" / "lib" / "postgresql").glob("*/bin") if _has_server(d)]
    if installed:
        return max(installed, key=lambda d: _version_key(d.parent.name))
    if root != Path("/"):
        return None
    candidates = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    if shutil.which("postgres"):
        candidates.append(Path(shutil.which("postgres")).parent)
    return next((d for d in candidates if _has_server(d)), None)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for a scratch server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COMMANDS = {"chromium": find_chromium, "pg-bindir": find_pg_bindir, "free-port": free_port}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: {Path(__file__).name} {'|'.join(COMMANDS)}", file=sys.stderr)
        return 2
    found = COMMANDS[argv[0]]()
    if found is None:
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
