"""`make bench`: every benchmark script at a small size, each in its own process with a time limit.

The sizes here are chosen to finish in minutes on a 2-core machine; the figures in README.md come from the
scripts run at their own (larger) defaults or with the options shown there. A benchmark that fails or runs out
of time is reported by name and the others still run; the exit status is 1 when any failed.

    .venv/bin/python bench/run.py                       # all, small sizes
    .venv/bin/python bench/run.py etl_build api_load    # some of them
    .venv/bin/python bench/run.py --timeout 600
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name → arguments for a small run; work folders under one temporary directory ({work})
SMALL = {
    "read_bgt": ["--buildings", "500", "--repeat", "1"],
    "etl_build": ["--sizes", "1000", "--workdir", "{work}/etl"],
    "scale": ["--sizes", "1000", "--workers", "1", "2", "--workdir", "{work}/scale"],
    "tiles_build": ["--sizes", "2000", "--points", "500000"],
    "api_load": ["--buildings", "300", "--seconds", "2", "--clients", "1", "8"],
    "location_check": ["--buildings", "10000", "--zoning", "4000", "--queries", "500"],
    "viewer": ["--buildings", "60", "--runs", "1", "--clicks", "3", "--step-timeout", "120"],
}


def run(argv: list[str], timeout: float) -> int | str:
    """Exit status of the benchmark, or why it has none. It runs in its own process group, so a time-out
    also ends the servers and browsers it started."""
    proc = subprocess.Popen(argv, cwd=BENCH.parent, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return f"no result within {timeout:.0f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(SMALL)} (default: all)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per benchmark (default 900)")
    a = ap.parse_args()
    if unknown := [n for n in a.names if n not in SMALL]:
        ap.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(SMALL)}")
    failed = []
    with tempfile.TemporaryDirectory(prefix="stadsmodel-bench-") as work:
        for name in a.names or SMALL:
            argv = [sys.executable, str(BENCH / f"{name}.py"), *(s.format(work=work) for s in SMALL[name])]
            print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
            t = time.perf_counter()
            status = run(argv, a.timeout)
            print(f"=== {name}: {'done' if status == 0 else f'FAILED ({status})'} in {time.perf_counter() - t:.0f} s",
                  flush=True)
            if status != 0:
                failed.append(name)
    if failed:
        sys.exit(f"\nbenchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
