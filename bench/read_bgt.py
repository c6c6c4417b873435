"""BGT GML reader benchmark: `read_bgt` on a synthetic district and on the real Otterlo zip.

Prints, per input: features parsed (cityObjectMember elements of the requested types, historic
versions included), features kept, skipped, wall and CPU seconds, and features/s on both clocks.
CPU time (time.process_time) is the fairer figure on a shared, loaded machine.

    .venv/bin/python bench/read_bgt.py                         # 1k-building district + Otterlo
    .venv/bin/python bench/read_bgt.py --buildings 10000 --repeat 3 --workdir /tmp/bench-bgt
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

OTTERLO = Path(__file__).resolve().parents[2] / "shared" / "data" / "nlextract-bgt-otterlo" / "otterlo.zip"


def _measure(label: str, paths: list[Path], repeat: int, object_types: tuple[str, ...] | None) -> None:
    from etl.readers.bgt import read_bgt

    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = read_bgt(paths, object_types)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    features = sum(result.counts_in.values())
    kept = sum(len(frame) for frame in result.layers.values())
    print(
        f"{label:<28} {features:>8} features {kept:>8} kept {len(result.skipped):>5} skipped  "
        f"wall {best_wall:6.2f} s ({features / best_wall:>8,.0f}/s)  "
        f"cpu {best_cpu:6.2f} s ({features / best_cpu:>8,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buildings", type=int, default=1000, help="synthetic district size (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per input; the best is printed (default 3)")
    parser.add_argument("--workdir", type=Path, help="keep the synthetic district here (default: a temp folder)")
    args = parser.parse_args()

    from etl.readers.bgt import DEFAULT_OBJECT_TYPES
    from synth.district import write_district

    with tempfile.TemporaryDirectory() as tmp:
        district = (args.workdir or Path(tmp)) / f"district-{args.buildings}"
        if not (district / "bgt").is_dir():
            print(f"writing synthetic district of {args.buildings} buildings to {district} ...")
            write_district(district, buildings=args.buildings, seed=1, points_per_m2=1)
        _measure(f"synthetic {args.buildings} buildings", [district / "bgt"], args.repeat, None)
    if OTTERLO.exists():
        _measure("otterlo.zip (default types)", [OTTERLO], args.repeat, None)
        # Every type in the zip, including point and line objects (paal, put, vegetatieobject, ...).
        types = ("bak", "bord", "gebouwinstallatie", "kast", "kunstwerkdeel", "openbareruimtelabel", "overigbouwwerk",
                 "paal", "put", "sensor", "straatmeubilair", "vegetatieobject", "weginrichtingselement")
        _measure("otterlo.zip (all types)", [OTTERLO], args.repeat, DEFAULT_OBJECT_TYPES + types)
    else:
        print(f"skipped Otterlo: {OTTERLO} not found")


if __name__ == "__main__":
    main()
