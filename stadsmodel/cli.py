"""The `stadsmodel` command line. It parses arguments and calls one function per verb; no logic lives here.

Subcommands and their arguments are a contract (tests, docs and other parts rely on them):
extend, don't rename.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import StadsmodelError

log = logging.getLogger("stadsmodel")

EPILOG_SYNTH = "example: stadsmodel synth --out demo/input --buildings 500 --seed 1"
EPILOG_BUILD = (
    "example: stadsmodel build --bgt demo/input/bgt --bag demo/input/bag.gpkg "
    "--ahn demo/input/ahn/*.laz --out demo/model\n"
    "tiled:   stadsmodel build ... --out demo/model --workers 2 --tile-size 500   "
    "(exit status 3: partial, see report.json)"
)
EPILOG_TILES = "example: stadsmodel tiles --model demo/model --out demo/model/tiles"
EPILOG_TILES_VALIDATE = "example: stadsmodel tiles validate demo/model/tiles --gltf"
EPILOG_ZONING = ("example: stadsmodel zoning import plan.gml --data demo/model   "
                 "(exit status 3: partial, a source rejected or features skipped; see zoning_report.json)")
EPILOG_LOAD = "example: stadsmodel load --data demo/model --postgres postgresql://localhost/stadsmodel"
EPILOG_SERVE = "example: stadsmodel serve --data demo/model --port 8000"
EPILOG_DEMO = "example: stadsmodel demo --out demo --buildings 300"


EPILOG_RULES = ("example: stadsmodel rules import ../shared/data/amsterdam-sttr --data demo/model   (each file becomes "
                "an activity, e.g. kozijn-plaatsen; re-importing replaces it; exit status 3: a file rejected, see "
                "rules_report.json)")


def _cmd_synth(a: argparse.Namespace) -> int:
    from synth.district import write_district

    write_district(Path(a.out), buildings=a.buildings, seed=a.seed, points_per_m2=a.density)
    return 0


def _cmd_build(a: argparse.Namespace) -> int:
    from etl.writers.publish import check_output_folder

    check_output_folder(a.out, "--out")
    inputs = {"bgt": [Path(p) for p in a.bgt], "bag": [Path(p) for p in a.bag or []],
              "ahn": [Path(p) for p in a.ahn], "out": Path(a.out), "config_path": a.config}
    if a.workers or a.scheduler or a.tile_size:
        from etl.tiled import DEFAULT_TILE_SIZE, build_tiled

        report = build_tiled(**inputs, tile_size=a.tile_size or DEFAULT_TILE_SIZE, workers=a.workers,
                             scheduler=a.scheduler)
    else:
        from etl.build import build_model

        report = build_model(**inputs)
    return 0 if report.complete else 3


def _cmd_tiles(a: argparse.Namespace) -> int:
    from etl.writers.publish import check_output_folder
    from tiles import tile_model

    check_output_folder(a.out, "--out")
    tile_model(Path(a.model), Path(a.out), ahn=[Path(p) for p in a.ahn or []], lod=a.lod, jobs=a.jobs)
    return 0


def _cmd_tiles_validate(a: argparse.Namespace) -> int:
    from tiles.validate import tileset_targets, validate_tileset

    status = 0
    for target in tileset_targets(Path(a.path)):
        report = validate_tileset(target, gltf=getattr(a, "gltf", False))
        for problem in report.problems:
            print(problem)
        n_err = len(report.errors)
        print(f"{report.tileset}: {report.tiles} tiles, {report.contents} contents, "
              f"{n_err} errors, {len(report.problems) - n_err} warnings")
        if n_err:
            status = 1
    return status


def _cmd_zoning_import(a: argparse.Namespace) -> int:
    from etl.writers.publish import check_output_folder
    from etl.zoning import import_zoning

    report = import_zoning([Path(p) for p in a.paths], check_output_folder(a.data, "--data"))
    return 0 if report.complete else 3


def _cmd_rules_import(a: argparse.Namespace) -> int:
    from etl.rules.importer import import_rules
    from etl.writers.publish import check_output_folder

    report = import_rules([Path(p) for p in a.paths], check_output_folder(a.data, "--data"))
    for source, ids in report.imported.items():
        print(f"{Path(source).name}: {', '.join(ids)}")
    for r in report.rejected:
        print(f"rejected {r['file']}: {r['reason']}", file=sys.stderr)
    return 0 if report.complete else 3


def _cmd_load(a: argparse.Namespace) -> int:
    from services.load import load_postgis

    load_postgis(Path(a.data), a.postgres)
    return 0


def _cmd_serve(a: argparse.Namespace) -> int:
    if a.print_config:
        return _print_serve_config(a)
    from services.limits import ServerLimits
    from services.server import serve

    limits = ServerLimits.from_env(max_body=a.max_body, max_url=a.max_url, max_head=a.max_head,
                                   header_timeout=a.header_timeout, keep_alive=a.keep_alive,
                                   max_connections=a.max_connections, request_timeout=a.request_timeout)
    serve(Path(a.data), host=a.host, port=a.port, workers=a.workers, postgres=a.postgres, limits=limits)
    return 0


def _print_serve_config(a: argparse.Namespace) -> int:
    import yaml

    from services.config import effective_config

    config = effective_config(Path(a.data), postgres=a.postgres, host=a.host, port=a.port)
    print(yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=120), end="")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from stadsmodel.demo import run_demo

    run_demo(Path(a.out), buildings=a.buildings, seed=a.seed, host=a.host, port=a.port, serve=not a.no_serve)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stadsmodel",
        description="3D city model of a Dutch municipality from BGT, BAG and AHN: ETL, 3D Tiles, OGC API, viewer.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("synth", help="write a realistic synthetic district (BGT GML, BAG GeoPackage, classified LAZ)",
                       epilog=EPILOG_SYNTH)
    s.add_argument("--out", required=True, help="output directory (bgt/, bag.gpkg, ahn/*.laz, truth.json)")
    s.add_argument("--buildings", type=int, default=500, help="number of panden (default 500)")
    s.add_argument("--seed", type=int, default=1, help="random seed; same seed, same bytes (default 1)")
    s.add_argument("--density", type=float, default=10.0, help="AHN-like points per m² (default 10)")
    s.set_defaults(func=_cmd_synth)

    b = sub.add_parser("build", help="lift BGT/BAG footprints with AHN points into a 3D city model",
                       epilog=EPILOG_BUILD)
    b.add_argument("--bgt", nargs="+", required=True, metavar="PATH",
                   help="BGT: PDOK zip, folder of IMGeo GML files, GML file(s) or GeoPackage(s)")
    b.add_argument("--bag", nargs="+", metavar="PATH",
                   help="BAG: extract zip/folder/XML, GeoPackage or GeoJSON (else footprints from BGT pand)")
    b.add_argument("--ahn", nargs="+", required=True, metavar="PATH", help="AHN LAS/LAZ file(s), classified")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--config", help="pipeline configuration (default config/pipeline.yml)")
    b.add_argument("--workers", type=int, metavar="N",
                   help="tiled build on a local Dask cluster of N worker processes (resumable: a re-run skips "
                        "finished tiles)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="tiled build on an existing Dask cluster, e.g. tcp://host:8786 (inputs and --out on a "
                        "filesystem every worker sees)")
    b.add_argument("--tile-size", type=float, metavar="METRES",
                   help="tiled build with tiles of this edge in RD New metres (default 1000 when tiled)")
    b.set_defaults(func=_cmd_build)

    t = sub.add_parser("tiles", help="3D Tiles 1.1 from a model (or 'tiles validate TILESET')", epilog=EPILOG_TILES,
                       usage="stadsmodel tiles --model M --out O [--ahn PATH ...] [--lod LOD ...] [--jobs N]\n"
                             "       stadsmodel tiles validate PATH [--gltf]")
    t.add_argument("--model", help="model directory from 'stadsmodel build', or a CityJSON/CityJSONSeq file")
    t.add_argument("--out", help="output directory for the tilesets")
    t.add_argument("--ahn", nargs="+", metavar="PATH", help="also tile these LAS/LAZ point clouds")
    t.add_argument("--lod", nargs="+", metavar="LOD",
                   help="building LoD(s) to tile, e.g. 2.2 or 1.2: each building in that LoD or the best lower one "
                        "it has; several: one tileset each, the first as buildings/, the others as "
                        "buildings-lod<NN>/ (default: the highest each building has as buildings/, and 1.2 as "
                        "buildings-lod12/ for the viewer's LoD switch)")
    t.add_argument("--jobs", type=int, metavar="N",
                   help="processes that write the tiles, point clouds included (default: all CPUs for large models)")
    # --gltf before `validate` (and, ignored, beside --model) was accepted when validate was a positional
    t.add_argument("--gltf", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    t.set_defaults(func=_cmd_tiles)
    # optional: without it, `tiles --model M --out O` writes tilesets (the verb's original form)
    tsub = t.add_subparsers(dest="tiles_command", metavar="ACTION")
    tv = tsub.add_parser("validate", help="check a tileset (exit status 1 when it has errors)",
                         epilog=EPILOG_TILES_VALIDATE)
    tv.add_argument("path", metavar="PATH", help="tileset.json, or a folder written by 'stadsmodel tiles'")
    tv.add_argument("--gltf", action="store_true", default=argparse.SUPPRESS,
                    help="also run the Khronos glTF validator on the content")
    tv.set_defaults(func=_cmd_tiles_validate)

    z = sub.add_parser("zoning", help="planning data: bestemmingsplannen, omgevingsplan, monuments")
    zsub = z.add_subparsers(dest="zoning_command", required=True, metavar="ACTION")
    zi = zsub.add_parser("import", help="import IMRO GML, an Omgevingsplan delivery or RCE GeoJSON into the store",
                         epilog=EPILOG_ZONING)
    zi.add_argument("paths", nargs="+", metavar="PATH")
    zi.add_argument("--data", required=True, help="model directory holding stadsmodel.gpkg (created if absent)")
    zi.set_defaults(func=_cmd_zoning_import)

    r = sub.add_parser("rules", help="toepasbare regels: the municipality's permit checks (STTR)")
    rsub = r.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    ri = rsub.add_parser("import", help="import STTR files (.xml, a folder or a zip of them) into the store",
                         epilog=EPILOG_RULES)
    ri.add_argument("paths", nargs="+", metavar="PATH")
    ri.add_argument("--data", required=True, help="model directory holding stadsmodel.gpkg (created if absent)")
    ri.set_defaults(func=_cmd_rules_import)

    lo = sub.add_parser("load", help="load the store into PostGIS (production)", epilog=EPILOG_LOAD)
    lo.add_argument("--data", required=True, help="model directory holding stadsmodel.gpkg")
    lo.add_argument("--postgres", required=True, metavar="DSN", help="e.g. postgresql://user@localhost/stadsmodel")
    lo.set_defaults(func=_cmd_load)

    sv = sub.add_parser("serve", help="OGC API (pygeoapi), 3D Tiles and the viewer", epilog=EPILOG_SERVE)
    sv.add_argument("--data", required=True, help="model directory")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, default=1, help="server worker processes (production: several)")
    sv.add_argument("--postgres", metavar="DSN", help="serve from PostGIS instead of the GeoPackage")
    sv.add_argument("--print-config", action="store_true",
                    help="print the effective pygeoapi configuration for --data as YAML and exit")
    limits = sv.add_argument_group("limits (each also as STADSMODEL_<NAME> in the environment, e.g. "
                                   "STADSMODEL_MAX_BODY; see README 'Server limits')")
    limits.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body (default 1048576; 413)")
    limits.add_argument("--max-url", type=int, metavar="BYTES", help="longest URL, path and query (default 65536; 414)")
    limits.add_argument("--max-head", type=int, metavar="BYTES",
                        help="largest request line + headers (default 262144; 431)")
    limits.add_argument("--header-timeout", type=float, metavar="SECONDS",
                        help="time to send a request head or a body chunk (default 10)")
    limits.add_argument("--keep-alive", type=float, metavar="SECONDS", help="idle keep-alive timeout (default 5)")
    limits.add_argument("--max-connections", type=int, metavar="N",
                        help="open connections per worker (default 1000, and below the file-descriptor limit; 503)")
    limits.add_argument("--request-timeout", type=float, metavar="SECONDS",
                        help="time to answer one request (default 60; 503)")
    sv.set_defaults(func=_cmd_serve)

    d = sub.add_parser("demo", help="synthetic district → ETL → tiles → server → viewer", epilog=EPILOG_DEMO)
    d.add_argument("--out", default="demo", help="working directory (default ./demo)")
    d.add_argument("--buildings", type=int, default=300)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-serve", action="store_true", help="build everything, do not start the server")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is _cmd_tiles and not (args.model and args.out):
        parser.error("tiles needs --model and --out, or: tiles validate TILESET")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("pyogrio").setLevel(logging.WARNING)  # one line per layer written is noise here
    try:
        return args.func(args)
    except StadsmodelError as e:
        print(f"stadsmodel {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
