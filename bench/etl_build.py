"""ETL benchmark: synthetic districts of 1k, 10k and 100k buildings → `stadsmodel build`.

Prints, per size: points, buildings, LAZ decode-only rate (laspy + lazrs, the floor), end-to-end build rate in
points/s and buildings/s, the ratio build/decode time, and the build's peak memory (RSS of the child process).

    .venv/bin/python bench/etl_build.py                 # 1k and 10k
    .venv/bin/python bench/etl_build.py --sizes 1000 10000 100000 --workdir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path


def _synth(out: Path, n: int, seed: int) -> None:
    from etl.synth import write_district

    write_district(out, buildings=n, seed=seed)


def _build(inp: Path, out: Path) -> None:
    from etl.build import build_model

    build_model([inp / "bgt"], [inp / "bag.gpkg"], sorted((inp / "ahn").glob("*.laz")), out, progress=False)


def _decode(paths: list[Path]) -> None:
    import laspy

    for p in paths:
        with laspy.open(p) as r:
            for chunk in r.chunk_iterator(2_000_000):
                chunk.x, chunk.y, chunk.z, chunk.classification  # noqa: B018 - decode and scale, like the ETL


def _in_child(fn, *args) -> tuple[float, float]:
    """Run fn in a fresh process; wall seconds and that process's peak RSS in MiB."""
    ctx = mp.get_context("spawn")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = ctx.Process(target=fn, args=args)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"{fn.__name__} failed with exit code {p.exitcode}")
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/stadsmodel-bench"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print(f"{'buildings':>10} {'points':>12} {'synth s':>8} {'decode pt/s':>12} {'build s':>8} {'build pt/s':>11} "
          f"{'bldg/s':>8} {'build/decode':>12} {'peak MiB':>9}")
    for n in a.sizes:
        inp, out = a.workdir / f"synth-{n}", a.workdir / f"model-{n}"
        if not (inp / "truth.json").exists():
            t_synth, _ = _in_child(_synth, inp, n, a.seed)
        else:
            t_synth = float("nan")
        lazs = sorted((inp / "ahn").glob("*.laz"))
        t_decode, _ = _in_child(_decode, lazs)
        _, peak = _in_child(_build, inp, out)
        report = json.loads((out / "report.json").read_text())
        t_build = report["timings_s"]["total"]  # without interpreter start-up and imports
        points = report["counts"]["ahn"]["points"]
        buildings = report["counts"]["buildings"]["out"]
        print(f"{buildings:>10,} {points:>12,} {t_synth:>8.1f} {points / t_decode:>12,.0f} {t_build:>8.1f} "
              f"{points / t_build:>11,.0f} {buildings / t_build:>8,.0f} {t_build / t_decode:>12.2f} {peak:>9,.0f}",
              flush=True)
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in report["timings_s"].items())
        print(f"{'':>10} stages: {stages}", flush=True)


if __name__ == "__main__":
    main()
