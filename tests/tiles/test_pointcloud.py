"""AHN LAZ → point cloud tileset with py3dtiles: valid, every point kept, coloured, georeferenced."""

import json
import struct

import laspy
import numpy as np
import pytest

from core.errors import InputError
from synth.model import write_city_model
from tests.conftest import shared_path
from tiles import tile_model
from tiles.georef import ecef_to_rdnap
from tiles.pointcloud import tile_pointcloud
from tiles.validate import validate_tileset


@pytest.mark.slow
def test_amsterdam_ahn_pointcloud(tmp_path):
    lazs = sorted(shared_path("amsterdam-ai-urban-pointcloud", "ahn").glob("*.laz"))
    n_in = sum(laspy.open(p).header.point_count for p in lazs)
    summary = tile_pointcloud(lazs, tmp_path / "pointcloud")
    assert summary.features == n_in
    report = validate_tileset(tmp_path / "pointcloud")
    assert [str(p) for p in report.problems] == []
    ts = json.loads((tmp_path / "pointcloud" / "tileset.json").read_text())
    world = np.asarray(ts["root"]["transform"]).reshape(4, 4).T
    # every input point is in the octree nodes; py3dtiles 12 also writes a small preview.pnts at the
    # root and (observed: node total = input + preview, exactly) repeats those preview points once
    total, preview, sample, colours = 0, 0, None, set()
    for f in (tmp_path / "pointcloud").rglob("*.pnts"):
        data = f.read_bytes()
        ftj, ftb = struct.unpack_from("<2I", data, 12)
        ft = json.loads(data[28:28 + ftj])
        if f.name == "preview.pnts":
            preview += ft["POINTS_LENGTH"]
        else:
            total += ft["POINTS_LENGTH"]
        binary = data[28 + ftj:28 + ftj + ftb]
        if "RGB" in ft:
            rgb = np.frombuffer(binary, np.uint8, count=3 * ft["POINTS_LENGTH"], offset=ft["RGB"]["byteOffset"])
            colours |= {tuple(c) for c in rgb.reshape(-1, 3)[:2000].tolist()}
        if sample is None and "POSITION" in ft:
            sample = np.frombuffer(binary, "<f4", count=3 * 5, offset=ft["POSITION"]["byteOffset"]).reshape(5, 3)
    assert total - preview == n_in
    assert {(166, 124, 82), (220, 90, 60)} <= colours  # ground and building classes coloured
    # points land back in RD within the input's extent (py3dtiles quantises float32 near the node)
    rd = ecef_to_rdnap(sample.astype(np.float64) @ world[:3, :3].T + world[:3, 3])
    h = laspy.open(lazs[0]).header
    h2 = laspy.open(lazs[-1]).header
    lo = np.minimum(h.mins, h2.mins) - 0.05
    hi = np.maximum(h.maxs, h2.maxs) + 0.05
    assert ((rd >= lo) & (rd <= hi)).all()


def test_not_a_point_cloud(tmp_path):
    bad = tmp_path / "bad.laz"
    bad.write_bytes(b"not a laz file at all")
    with pytest.raises(InputError, match="not a readable LAS/LAZ"):
        tile_pointcloud([bad], tmp_path / "pc")


def test_empty_point_cloud_refused_by_name(tmp_path):
    empty = tmp_path / "empty.las"
    las = laspy.LasData(laspy.LasHeader(point_format=6, version="1.4"))
    las.write(empty)
    with pytest.raises(InputError, match="point cloud has no points") as e:
        tile_pointcloud([empty], tmp_path / "pc")
    assert e.value.path == str(empty)


def test_tile_model_with_point_clouds_and_one_job(tmp_path):
    lazs = sorted(shared_path("amsterdam-ai-urban-pointcloud", "ahn").glob("*.laz"))
    write_city_model(tmp_path / "m.city.jsonl", 20, seed=3)
    index = tile_model(tmp_path / "m.city.jsonl", tmp_path / "t", ahn=lazs, jobs=1)
    (pointcloud,) = [t for t in index["tilesets"] if t["name"] == "pointcloud"]
    assert pointcloud["features"] == sum(laspy.open(p).header.point_count for p in lazs)
    assert validate_tileset(tmp_path / "t" / pointcloud["url"]).problems == []
