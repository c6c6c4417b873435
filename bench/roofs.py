"""Roof reconstruction benchmark: `etl.roofs.reconstruct` (LoD1.2, 1.3 and 2.2 with their checks) on N
synthetic buildings of every roof shape (synth.roofs), a third with a chimney, a tree or a neighbour's strip.

Prints buildings/s on the wall clock and per CPU, the share that got LoD2.2, and the peak resident memory
(resource.getrusage, the largest process). With --jobs > 1 the buildings are spread over worker processes,
as a build spreads its tiles.

    .venv/bin/python bench/roofs.py                  # 1,000 buildings on 2 processes
    .venv/bin/python bench/roofs.py --n 10000 --jobs 1
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ProcessPoolExecutor


def _reconstruct_range(args: tuple[int, int, int]) -> tuple[int, int, float]:
    """(buildings, with LoD2.2, CPU seconds) for buildings start..stop of the seeded sample."""
    from etl.roofs import reconstruct
    from synth.roofs import sample_building

    start, stop, seed = args
    buildings = [sample_building(i, seed, nuisance_share=0.33) for i in range(start, stop)]
    cpu = time.process_time()
    lod22 = sum(reconstruct(b.points, b.footprint, b.z_ground).lod22 is not None for b in buildings)
    return len(buildings), lod22, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="number of buildings (default 1000)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    chunk = max(1, args.n // (args.jobs * 4))
    ranges = [(s, min(s + chunk, args.n), args.seed) for s in range(0, args.n, chunk)]
    wall = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_reconstruct_range, ranges))
    else:
        results = [_reconstruct_range(r) for r in ranges]
    wall = time.perf_counter() - wall  # includes generating the points, which a build reads instead
    n = sum(r[0] for r in results)
    lod22 = sum(r[1] for r in results)
    cpu = sum(r[2] for r in results)
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(f"{n} buildings on {args.jobs} process(es): {n / wall:.1f} buildings/s wall "
          f"(points generated too), {n / cpu:.1f} buildings/s per CPU (reconstruction only), "
          f"LoD2.2 for {lod22 / n:.1%}, peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
