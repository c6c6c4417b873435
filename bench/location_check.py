"""Location-check latency on a synthetic district: irregular buildings under a realistic plan on every layer
the check reads, clicked at random points.

Writes the store directly (no point cloud needed): buildings of varied size, shape and orientation (some
L-shaped) with addresses; a few IMRO bestemmingsplannen over most of the area, each an irregular polygon, with
enkelbestemmingen (Voronoi cells of clustered seeds, so sizes vary from tens to hundreds of metres),
dubbelbestemmingen, bouwvlakken around the buildings (some spanning neighbours), maatvoeringen, functie-,
bouw- and gebiedsaanduidingen and figuren; an Omgevingsplan over the rest (ow_locatie, ow_gebiedsaanwijzing,
ow_omgevingsnorm MaximumBouwhoogte, ow_activiteit); rijksmonumenten (points and complexes) and beschermde
gezichten. The zoning layers go through the importer's own writer (etl.zoning.store.write_layers), so columns
and spatial indexes are the store's; the bouwenvelop is written from them as `zoning import` does (relative: the
store has no DTM), so a click on a pand in a bouwvlak with a maximum pays for its clash. Clicks: 70 % on a random
building, 30 % anywhere in the district, new ones for each timed loop (so no loop finds its pages cached by the one
before); the script prints what the clicks found (share with a bouwvlak, a maximum, a monument, …) so the figures can be
judged against a real plan. The municipality's permit checks go in too: the synthetic STTR activity
(synth.sttr) and, with --sttr, real STTR files (e.g. ../shared/data/amsterdam-sttr), through `rules import`.
Prints p50/p99.

    .venv/bin/python bench/location_check.py [--buildings 100000] [--zoning 40000] [--queries 2000] [--sttr DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from etl.envelopes import write_envelopes
from etl.rules.importer import import_rules
from etl.zoning.store import write_layers
from services.processes.location_check import LocationCheckProcessor, check_location, open_store
from synth.sttr import write_synthetic_sttr

X0, Y0 = 150000.0, 460000.0
PITCH = 20.0  # metres between building centres, as in a Dutch residential area
OW_SHARE = 0.3  # the eastern part of the district is under the Omgevingsplan, the rest under IMRO plans
HOOFDGROEPEN = ("wonen", "wonen", "wonen", "centrum", "gemengd", "groen", "verkeer", "bedrijf", "maatschappelijk",
                "water", "tuin")
# Shares of the --zoning polygons per layer (bestemmingsplangebied and ow_locatie come on top: a few plans).
SHARES = {"enkelbestemming": 0.28, "dubbelbestemming": 0.04, "bouwvlak": 0.30, "maatvoering": 0.15,
          "functieaanduiding": 0.05, "bouwaanduiding": 0.02, "gebiedsaanduiding": 0.03, "figuur": 0.01,
          "ow_gebiedsaanwijzing": 0.03, "ow_omgevingsnorm": 0.05, "ow_activiteit": 0.02, "monumenten": 0.015,
          "beschermde_gezichten": 0.0005}


def blobs(rng, centres: np.ndarray, radii: np.ndarray, vertices: int = 12) -> np.ndarray:
    """Star-shaped irregular polygons: sorted random angles, radii between 55 and 100 % of ``radii``."""
    n = len(centres)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, vertices)), axis=1)
    r = radii[:, None] * rng.uniform(0.55, 1.0, (n, vertices))
    ring = np.stack([centres[:, :1] + r * np.cos(angles), centres[:, 1:] + r * np.sin(angles)], axis=-1)
    return shapely.make_valid(shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1)))


def voronoi(rng, n: int, area) -> np.ndarray:
    """Irregular cells of varied size tiling ``area``: Voronoi of seeds half uniform, half in clusters."""
    minx, miny, maxx, maxy = area.bounds
    uniform = np.column_stack([rng.uniform(minx, maxx, n // 2), rng.uniform(miny, maxy, n // 2)])
    hubs = np.column_stack([rng.uniform(minx, maxx, max(n // 40, 1)), rng.uniform(miny, maxy, max(n // 40, 1))])
    near = hubs[rng.integers(0, len(hubs), n - n // 2)] + rng.normal(0, (maxx - minx) / 40, (n - n // 2, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(np.vstack([uniform, near])),
                                                        extend_to=area))
    cells = shapely.intersection(cells, area)
    return cells[~shapely.is_empty(cells) & (shapely.area(cells) > 1.0)]


def buildings(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Footprints (varied size, rotated, 15 % L-shaped) on a jittered grid; and one point inside each."""
    side = math.ceil(math.sqrt(n))
    i = np.arange(n)
    cx = X0 + (i % side) * PITCH + rng.uniform(-2, 2, n)
    cy = Y0 + (i // side) * PITCH + rng.uniform(-2, 2, n)
    w, d = rng.uniform(5, 14, n), rng.uniform(6, 12, n)
    rect = np.stack([np.column_stack([-w, w, w, -w]), np.column_stack([-d, -d, d, d])], axis=-1) / 2
    wing = rng.random(n) < 0.15  # an L: a wing on one side
    ww, wd = w * rng.uniform(0.3, 0.5, n), d * rng.uniform(0.4, 0.8, n)
    lx = np.column_stack([w / 2 - 0.1, w / 2 + ww, w / 2 + ww, w / 2 - 0.1])  # overlapping: one polygon
    ly = np.column_stack([-d / 2, -d / 2, -d / 2 + wd, -d / 2 + wd])
    theta = rng.uniform(0, np.pi, n)
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]

    def place(x, y):
        ring = np.stack([cx[:, None] + x * cos - y * sin, cy[:, None] + x * sin + y * cos], axis=-1)
        return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))

    main = place(rect[..., 0], rect[..., 1])
    footprints = np.where(wing, shapely.union(main, place(lx, ly)), main)
    return footprints, np.column_stack([cx, cy])  # the centre is inside the main rectangle


def write_store(d: Path, n_buildings: int, n_zoning: int, rng) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The store in d/stadsmodel.gpkg; returns the footprints, a point inside each, and the district's extent."""
    t = time.perf_counter()
    gpkg = d / "stadsmodel.gpkg"
    footprints, inside = buildings(rng, n_buildings)
    n = n_buildings
    mv = rng.uniform(-1, 3, n)
    h = rng.uniform(3, 25, n)
    ids = np.array([f"NL.IMBAG.Pand.0000100000{k:06d}" for k in range(n)])
    gpd.GeoDataFrame({
        "identificatie": ids, "oorspronkelijkbouwjaar": rng.integers(1600, 2025, n), "status": "Pand in gebruik",
        "gebruiksdoel": rng.choice(["woonfunctie", "winkelfunctie", "kantoorfunctie", "industriefunctie"], n,
                                   p=[0.8, 0.08, 0.07, 0.05]),
        "aantal_verblijfsobjecten": rng.integers(1, 4, n), "b3_h_maaiveld": mv, "b3_h_dak_min": mv + h * 0.6,
        "b3_h_dak_50p": mv + h * 0.9, "b3_h_dak_70p": mv + h * 0.95, "b3_h_dak_max": mv + h,
        "b3_reconstructie_onvolledig": rng.random(n) < 0.01, "b3_onvolledig_reden": None,
        "geometry": footprints}, crs="EPSG:28992").to_file(gpkg, layer="buildings", driver="GPKG")
    gpd.GeoDataFrame({"identificatie": [f"NL.IMBAG.Verblijfsobject.{k:016d}" for k in range(n)],
                      "pand_identificatie": ids, "postcode": "1234AB", "huisnummer": np.arange(n) % 200 + 1,
                      "geometry": gpd.points_from_xy(*inside.T)}, crs="EPSG:28992").to_file(
        gpkg, layer="addresses", driver="GPKG")

    extent = shapely.box(*shapely.total_bounds(footprints)).buffer(30, join_style="mitre")
    minx, miny, maxx, maxy = extent.bounds
    split = maxx - OW_SHARE * (maxx - minx)
    # the boundary between the two regimes is irregular, as municipal plan boundaries are
    wobble = np.linspace(miny - 1, maxy + 1, 40)
    line = np.column_stack([split + rng.uniform(-150, 150, len(wobble)), wobble])
    west = shapely.intersection(extent, shapely.Polygon([(minx - 1, miny - 1), *line, (minx - 1, maxy + 1)]))
    east = shapely.difference(extent, west)
    count = {k: max(1, round(v * n_zoning)) for k, v in SHARES.items()}

    # IMRO: a few plans, each with its own rows on every plan layer
    plans = voronoi(rng, max(2, n_zoning // 2500), west)
    plan_tree = shapely.STRtree(plans)

    def plan_of(geoms) -> np.ndarray:
        pts = shapely.point_on_surface(geoms)
        idx = plan_tree.query(pts, predicate="intersects")
        out = np.full(len(geoms), -1)
        out[idx[0]] = idx[1]
        return out

    imro: dict[int, dict[str, list]] = {p: {} for p in range(len(plans))}

    def add_imro(layer: str, geoms, rows=None) -> None:
        for k, (g, p) in enumerate(zip(geoms, plan_of(geoms))):
            if p < 0 or g is None or shapely.is_empty(g):
                continue
            imro[p].setdefault(layer, []).append({"identificatie": f"NL.IMRO.{layer[:3]}.{p}.{k}",
                                                  **(rows[k] if rows is not None else {}), "geometry": g})

    enkel = voronoi(rng, count["enkelbestemming"], west)
    groep = rng.choice(HOOFDGROEPEN, len(enkel))
    add_imro("enkelbestemming", enkel, [{"naam": g.capitalize(), "bestemmingshoofdgroep": g,
                                         "artikelnummer": str(3 + HOOFDGROEPEN.index(g))} for g in groep])
    dubbel = voronoi(rng, count["dubbelbestemming"] * 3, west)[::3]
    dubbel = shapely.buffer(dubbel, -rng.uniform(5, 40, len(dubbel)), join_style="mitre")
    add_imro("dubbelbestemming", dubbel, [{"naam": rng.choice(["Waarde - Archeologie 2", "Leiding - Gas",
                                                               "Waterstaat - Waterkering"]),
                                           "artikelnummer": str(20 + k % 3)} for k in range(len(dubbel))])
    in_west = shapely.contains_xy(west, *inside.T)
    west_ids = np.flatnonzero(in_west)
    # bouwvlakken: around runs of neighbouring buildings (a row of houses, or one detached house), so that most
    # buildings under a bestemmingsplan stand in one, as in real plans
    mean = max(1.0, 0.8 * len(west_ids) / count["bouwvlak"])
    cuts = np.cumsum(rng.integers(1, max(2, round(2 * mean)), len(west_ids)))
    runs = np.split(west_ids, cuts[cuts < len(west_ids)])
    runs = [runs[k] for k in sorted(rng.choice(len(runs), min(count["bouwvlak"], len(runs)), replace=False))]
    around = np.array([shapely.union_all(footprints[r]) for r in runs], dtype=object)
    bouwvlak = shapely.buffer(around, rng.uniform(0.5, 3.0, len(runs)), join_style="mitre")
    add_imro("bouwvlak", bouwvlak)
    mv_idx = rng.choice(len(bouwvlak), min(count["maatvoering"], len(bouwvlak)), replace=False)
    max_h = np.round(rng.uniform(6, 20, len(mv_idx)), 1)
    add_imro("maatvoering", bouwvlak[mv_idx], [
        {"naam": "maximum bouwhoogte (m)", "max_bouwhoogte": hmax, "max_goothoogte": round(hmax * 0.6, 1),
         "waarden": json.dumps([{"waardetype": "maximum bouwhoogte (m)", "waarde": str(hmax)},
                                {"waardetype": "maximum goothoogte (m)", "waarde": str(round(hmax * 0.6, 1))}])}
        for hmax in max_h.tolist()])

    def spots(k: int, region, r_lo: float, r_hi: float) -> np.ndarray:
        rx0, ry0, rx1, ry1 = region.bounds
        c = np.column_stack([rng.uniform(rx0, rx1, k), rng.uniform(ry0, ry1, k)])
        return shapely.intersection(blobs(rng, c, rng.uniform(r_lo, r_hi, k)), region)

    add_imro("functieaanduiding", spots(count["functieaanduiding"], west, 10, 60),
             [{"naam": rng.choice(["horeca", "dienstverlening", "kantoor"])}
              for _ in range(count["functieaanduiding"])])
    add_imro("bouwaanduiding", spots(count["bouwaanduiding"], west, 8, 30),
             [{"naam": rng.choice(["karakteristiek", "specifieke bouwaanduiding - 1"])}
              for _ in range(count["bouwaanduiding"])])
    add_imro("gebiedsaanduiding", spots(count["gebiedsaanduiding"], west, 60, 400),
             [{"naam": rng.choice(["wetgevingzone - wijzigingsgebied", "veiligheidszone - lpg",
                                   "geluidzone - industrie"])} for _ in range(count["gebiedsaanduiding"])])
    fx = rng.uniform(west.bounds[0], west.bounds[2], count["figuur"])
    fy = rng.uniform(west.bounds[1], west.bounds[3], count["figuur"])
    add_imro("figuur", shapely.linestrings(np.stack([np.column_stack([fx, fx + rng.uniform(-40, 40, len(fx))]),
                                                     np.column_stack([fy, fy + rng.uniform(-40, 40, len(fy))])],
                                                    axis=-1)), [{"naam": "relatie"} for _ in fx])
    for p, layers in imro.items():
        plan = {"plan_id": f"NL.IMRO.9999.BENCH{p:04d}", "plan_naam": f"Bestemmingsplan Bench {p}",
                "plan_type": "bestemmingsplan", "plan_status": "vastgesteld", "plan_datum": "2020-01-01",
                "bron": f"bench-{p}.gml", "bron_type": "imro"}
        layers["bestemmingsplangebied"] = [{"identificatie": plan["plan_id"], "naam": plan["plan_naam"],
                                            "geometry": plans[p]}]
        for rows in layers.values():
            for r in rows:
                r.update(plan, object_id=r["identificatie"], verwijzing_regels=None)
        write_layers(gpkg, layers, plan["plan_id"])

    # The Omgevingsplan over the east: its area, gebiedsaanwijzingen, normen (maximum bouwhoogte), activiteiten
    ow_plan = {"plan_id": "/akn/nl/act/gm9999/2024/omgevingsplan", "plan_naam": "Omgevingsplan Bench",
               "plan_type": "omgevingsplan", "plan_status": "geldend", "plan_datum": "2024-01-01",
               "bron": "owLocaties.xml", "bron_type": "ow"}

    def ow_rows(kind: str, geoms, fields) -> list[dict]:
        return [{**ow_plan, "identificatie": f"nl.imow-gm9999.{kind}.{k}", "object_id": f"{kind}.{k}",
                 "locatie": f"nl.imow-gm9999.gebied.{kind}{k}", "locatie_noemer": f"{kind} {k}", **fields(k),
                 "geometry": g} for k, g in enumerate(geoms) if not shapely.is_empty(g)]

    norm_cells = voronoi(rng, count["ow_omgevingsnorm"], east)
    ow = {
        "ow_locatie": ow_rows("ambtsgebied", [east], lambda k: {"noemer": "ambtsgebied"}),
        "ow_gebiedsaanwijzing": ow_rows("gebiedsaanwijzing", spots(count["ow_gebiedsaanwijzing"], east, 40, 300),
                                        lambda k: {"naam": "wonen", "type": "Functie", "groep": "wonen",
                                                   "regeltekst": f"art_{k % 9 + 1}"}),
        "ow_omgevingsnorm": ow_rows("omgevingsnorm", norm_cells, lambda k: {
            "norm": f"nl.imow-gm9999.omgevingsnorm.{k % 20}", "soort": "omgevingsnorm",
            "naam": "maximum bouwhoogte", "type": "MaximumBouwhoogte",
            "kwantitatieve_waarde": float(6 + (k * 7) % 15), "eenheid": "m", "regeltekst": f"art_{k % 9 + 1}"}),
        "ow_activiteit": ow_rows("activiteit", spots(count["ow_activiteit"], east, 50, 400), lambda k: {
            "activiteit": "nl.imow-gm9999.activiteit.bouwen", "naam": "bouwactiviteit (ruimtelijk)",
            "groep": "bouwactiviteit", "regelkwalificatie": "vergunningplicht", "regeltekst": f"art_{k % 9 + 1}"}),
    }
    write_layers(gpkg, ow, ow_plan["plan_id"])

    # RCE: rijksmonumenten as points on buildings, one in ten a complex (an area), and a few beschermde gezichten
    mon = rng.choice(n, min(count["monumenten"], n), replace=False)
    geoms = np.where(np.arange(len(mon)) % 10 == 0, shapely.buffer(footprints[mon], 15.0),
                     shapely.points(inside[mon] + rng.uniform(-1, 1, (len(mon), 2))))
    write_layers(gpkg, {"monumenten": [{"identificatie": str(500000 + k), "naam": f"Monument {k}",
                                        "bron": "rce-monumenten.geojson", "bron_type": "rce", "geometry": g}
                                       for k, g in enumerate(geoms)]}, "rce-monumenten.geojson")
    write_layers(gpkg, {"beschermde_gezichten": [
        {"identificatie": f"gezicht-{k}", "naam": f"Beschermd gezicht {k}", "bron": "rce-gezichten.geojson",
         "bron_type": "rce", "geometry": g}
        for k, g in enumerate(spots(count["beschermde_gezichten"], extent, 300, 1200))]}, "rce-gezichten.geojson")

    written = Counter()
    for layers in (*imro.values(), ow):
        written.update({name: len(rows) for name, rows in layers.items()})
    written |= {"monumenten": len(mon), "beschermde_gezichten": count["beschermde_gezichten"]}
    print(f"store: {n_buildings:,} buildings, {sum(written.values()):,} zoning polygons "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(written.items()))}) over "
          f"{extent.area / 1e6:.1f} km², {len(plans)} IMRO plans + an Omgevingsplan, written in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    return footprints, inside, extent.bounds


def clicks(rng, footprints, inside, bounds, k: int) -> np.ndarray:
    """70 % on a random building (anywhere on its footprint), 30 % anywhere in the district."""
    on = rng.random(k) < 0.7
    pts = np.column_stack([rng.uniform(bounds[0], bounds[2], k), rng.uniform(bounds[1], bounds[3], k)])
    which = rng.integers(0, len(footprints), on.sum())
    # a random point inside the footprint: its centre nudged towards a random vertex
    rings = [shapely.get_coordinates(footprints[w]) for w in which]
    towards = np.array([r[rng.integers(0, len(r))] for r in rings]).reshape(-1, 2)
    pts[on] = inside[which] + rng.uniform(0, 0.8, (len(which), 1)) * (towards - inside[which])
    return pts


def pct(values, p):
    return float(np.percentile(np.asarray(values) * 1000, p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=100_000)
    ap.add_argument("--zoning", type=int, default=40_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sttr", type=Path, nargs="*", default=[], help="STTR files or folders to import as well")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    with tempfile.TemporaryDirectory(prefix="stadsmodel-bench-location-") as tmp:
        d = Path(tmp)
        footprints, inside, bounds = write_store(d, a.buildings, a.zoning, rng)
        t = time.perf_counter()
        envelopes = write_envelopes(d)  # as `zoning import` does: every click on a pand in one is clashed with it
        print(f"bouwenvelop: {envelopes.envelopes:,} envelopes, {envelopes.overschrijding.buildings:,} panden "
              f"in one, written in {time.perf_counter() - t:.1f} s", flush=True)
        report = import_rules([write_synthetic_sttr(d / "regels"), *a.sttr], d)
        sttr = [i for ids in report.imported.values() for i in ids]
        print(f"STTR activities: {len(sttr)} ({', '.join(sttr)})", flush=True)
        store = open_store(d)
        check_location(store, *clicks(rng, footprints, inside, bounds, 1)[0])  # warm: rules parsed, connection open
        found = Counter()
        for label, activity in (("all activities", None), ("one activity", "aanbouw"),
                                ("one STTR activity", "kozijn-plaatsen-synthetisch")):
            times = []
            sample = clicks(rng, footprints, inside, bounds, a.queries)  # new clicks: no page cached by the last loop
            for x, y in sample:
                t = time.perf_counter()
                answer = check_location(store, float(x), float(y), activity)
                times.append(time.perf_counter() - t)
                if activity is None:
                    facts = answer["facts"]
                    found.update(k for k, v in (
                        ("on a building", facts["gebouw_aanwezig"]["value"]),
                        ("in a plan", facts["plan_aanwezig"]["value"]),
                        ("in a bouwvlak", facts["in_bouwvlak"]["value"]),
                        ("a maximum bouwhoogte", facts["maximum_bouwhoogte"]["value"] is not None),
                        ("a rijksmonument", facts["rijksmonument"]["value"]),
                        ("a beschermd gezicht", facts["beschermd_gezicht"]["value"]),
                        ("under the Omgevingsplan", any(p.get("plan_type") == "omgevingsplan"
                                                        for p in answer["plans"])),
                    ) if v)
            print(f"check_location ({label}): n={len(times)} p50={pct(times, 50):.2f} ms p99={pct(times, 99):.2f} ms",
                  flush=True)
            if activity is None:
                print("  the clicks found: " + ", ".join(f"{k} {found[k] / len(sample):.0%}" for k in (
                    "on a building", "in a plan", "in a bouwvlak", "a maximum bouwhoogte", "a rijksmonument",
                    "a beschermd gezicht", "under the Omgevingsplan")), flush=True)
        proc = LocationCheckProcessor({"name": "location-check", "data": str(d)})
        times = []
        for x, y in clicks(rng, footprints, inside, bounds, min(a.queries, 500)):
            t = time.perf_counter()
            proc.execute({"location": {"type": "Point", "coordinates": [float(x), float(y)]},
                          "crs": "http://www.opengis.net/def/crs/EPSG/0/28992"})
            times.append(time.perf_counter() - t)
        print(f"processor.execute (input parsing + all activities): n={len(times)} p50={pct(times, 50):.2f} ms "
              f"p99={pct(times, 99):.2f} ms")


if __name__ == "__main__":
    main()
