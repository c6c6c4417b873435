"""ETL benchmark: synthetic districts → `stadsmodel build`, against decoding the same LAZ alone.

Like against like: the decode and the build are each a whole process started the same way (the decode a
`python -c` script that reads every point as the ETL does, the build the `stadsmodel build` CLI), so both
include interpreter start-up and imports. Each process's own peak RSS and CPU time come from os.wait4 (the
rusage of that one child, not the largest child so far). Prints per size: points, buildings, decode and
build seconds, points/s and buildings/s, the ratio build/decode (wall, and CPU: the steadier figure on a shared
machine), both peaks, and the build's stage breakdown (report.json `timings_s`, which leaves out start-up: the
difference is shown as start-up); then the split of issue 15: the LoD1.x pass (the whole process but its roofs
stage) against the decode, the LoD1.3/2.2 roofs apart with their buildings/s, and the whole build against the
decode (the roof workers' CPU counts in the build's, their memory not in its peak). The LoD1.x pass's wall
figure moves with the machine's load; with `--lod1-cpu` the same build runs again with `roofs.lod22: false` (no
roofs stage, no roof points kept) and its CPU seconds are set against the decode's, the steadier figure.

    .venv/bin/python bench/etl_build.py                       # 1k and 3k buildings
    .venv/bin/python bench/etl_build.py --sizes 1000 10000 --repeat 3 --workdir /tmp/bench
    .venv/bin/python bench/etl_build.py --sizes 3000 --repeat 3 --lod1-cpu  # + the LoD1.x pass in CPU seconds
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from core.config import ROOT, pipeline_config

PYTHON = Path(sys.executable)
STADSMODEL = PYTHON.with_name("stadsmodel")

# Reads every point of every file the way etl.readers.ahn.iter_point_chunks does (laspy's default LAZ backend,
# the pipeline's chunk size, coordinates scaled to float64 and classification), and nothing else.
DECODE = """
import sys
import laspy
import numpy as np
n = 0
for path in sys.argv[2:]:
    with laspy.open(path) as reader:
        for pts in reader.chunk_iterator(int(sys.argv[1])):
            np.asarray(pts.x, dtype=np.float64), np.asarray(pts.y, dtype=np.float64)
            np.asarray(pts.z, dtype=np.float32), np.asarray(pts.classification, dtype=np.uint8)
            n += len(pts)
print(n)
"""


class Run:
    """One child process: wall seconds, its own peak RSS (MiB) and CPU seconds (from os.wait4), exit status."""

    def __init__(self, argv: list[str], timeout: float, ok: tuple[int, ...] = (0,)):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err)
            killer = threading.Timer(timeout, proc.kill)
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not RUSAGE_CHILDREN
            finally:
                killer.cancel()
            self.wall = time.perf_counter() - t
            proc.returncode = self.status = os.waitstatus_to_exitcode(status)
            out.seek(0), err.seek(0)
            self.stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        self.peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
        self.cpu = usage.ru_utime + usage.ru_stime
        what = f"{Path(argv[0]).name} {argv[1]}"
        if self.wall >= timeout:
            raise SystemExit(f"{what}: killed, no result within {timeout:.0f} s")
        if self.status not in ok:
            tail = " | ".join(stderr.strip().splitlines()[-3:])
            raise SystemExit(f"{what}: exit status {self.status}: {tail}")


def pipeline_chunk_points() -> int:
    """The chunk size the ETL reads points in (config/pipeline.yml), so the decode does the same reads."""
    return int(pipeline_config()["lifting"]["chunk_points"])


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/stadsmodel-bench"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each process; the fastest is reported")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed to each process")
    ap.add_argument("--lod1-cpu", action="store_true",
                    help="also build with roofs.lod22: false and give that LoD1.x pass's CPU against the decode's")
    a = ap.parse_args()
    lod1_config = a.workdir / "pipeline-lod1.yml"
    if a.lod1_cpu:
        cfg = pipeline_config()
        cfg["roofs"]["lod22"] = False
        a.workdir.mkdir(parents=True, exist_ok=True)
        lod1_config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    chunk = pipeline_chunk_points()
    print(f"each figure: the fastest of {a.repeat} whole-process run(s); {os.cpu_count()} CPUs; "
          f"peak = that process's max RSS", flush=True)
    print(f"{'buildings':>10} {'points':>12} {'decode s':>8} {'decode pt/s':>12} {'ETL s':>7} {'ETL pt/s':>10} "
          f"{'bldg/s':>7} {'ETL/decode':>10} {'cpu s dec/ETL':>13} {'cpu ratio':>9} {'peak MiB dec/ETL':>16}",
          flush=True)
    for n in a.sizes:
        inp, out = a.workdir / f"synth-{n}", a.workdir / f"model-{n}"
        if not (inp / "truth.json").exists():
            Run([str(STADSMODEL), "synth", "--out", str(inp), "--buildings", str(n), "--seed", str(a.seed)],
                a.timeout)
        lazs = [str(p) for p in sorted((inp / "ahn").glob("*.laz"))]
        decodes = [Run([str(PYTHON), "-c", DECODE, str(chunk), *lazs], a.timeout) for _ in range(a.repeat)]
        builds = []
        for _ in range(a.repeat):
            shutil.rmtree(out, ignore_errors=True)
            build = Run([str(STADSMODEL), "build", "--bgt", str(inp / "bgt"), "--bag", str(inp / "bag.gpkg"),
                         "--ahn", *lazs, "--out", str(out)], a.timeout, ok=(0, 3))
            build.report = json.loads((out / "report.json").read_text())
            builds.append(build)
        d, b = best(decodes), best(builds)
        report = b.report
        points = report["counts"]["ahn"]["points"]
        decoded = int(d.stdout.split()[-1])
        if decoded != points:
            raise SystemExit(f"decode read {decoded:,} points, the build {points:,}: not the same work")
        buildings = report["counts"]["buildings"]["out"]
        print(f"{buildings:>10,} {points:>12,} {d.wall:>8.1f} {points / d.wall:>12,.0f} {b.wall:>7.1f} "
              f"{points / b.wall:>10,.0f} {buildings / b.wall:>7,.0f} {b.wall / d.wall:>10.2f} "
              f"{f'{d.cpu:.1f} / {b.cpu:.1f}':>13} {b.cpu / d.cpu:>9.2f} {f'{d.peak_mib:,.0f} / {b.peak_mib:,.0f}':>16}"
              + ("  (exit 3: partial, see report.json)" if b.status == 3 else ""), flush=True)
        timings = dict(report["timings_s"])
        total = timings.pop("total", sum(timings.values()))
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        print(f"{'':>10} stages: {stages}; start-up, imports and exit {b.wall - total:.1f} s", flush=True)
        roofs = timings.get("roofs", 0.0)
        lod = report["counts"]["buildings"].get("lod", {})
        workers = pipeline_config()["roofs"].get("workers", 1)
        # The LoD1.x pass is the whole process without the roofs stage (start-up included, as in the decode's).
        lod1 = b.wall - roofs
        print(f"{'':>10} decode {d.wall:.1f} s; LoD1.x pass (every stage but roofs, start-up included) {lod1:.1f} s "
              f"= {lod1 / d.wall:.2f}x decode; LoD1.3/2.2 roofs {roofs:.1f} s on {workers} process(es), "
              f"{buildings / max(roofs, 1e-9):,.1f} buildings/s; whole build {b.wall:.1f} s = {b.wall / d.wall:.2f}x "
              f"decode", flush=True)
        print(f"{'':>10} best LoD {lod.get('best', {})}, fallbacks {lod.get('fallback_reasons', {})}", flush=True)
        if a.lod1_cpu:
            runs = []
            for _ in range(a.repeat):
                shutil.rmtree(out, ignore_errors=True)
                argv = [str(STADSMODEL), "build", "--bgt", str(inp / "bgt"), "--bag", str(inp / "bag.gpkg"),
                        "--ahn", *lazs, "--out", str(out), "--config", str(lod1_config)]
                runs.append(Run(argv, a.timeout, ok=(0, 3)))
            c = min(r.cpu for r in runs)
            print(f"{'':>10} LoD1.x pass alone (roofs.lod22: false, start-up included), CPU: {c:.1f} s = "
                  f"{c / min(r.cpu for r in decodes):.2f}x the decode's {min(r.cpu for r in decodes):.1f} s "
                  f"(fastest of {a.repeat})", flush=True)


if __name__ == "__main__":
    main()
