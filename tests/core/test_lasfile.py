"""core.lasfile, the one LAS/LAZ reader: real AHN tiles read in full, and bad files refused by name and reason."""

from pathlib import Path

import laspy
import numpy as np
import pyproj
import pytest

from core.crs import RD_NAP
from core.errors import InputError
from core.lasfile import inspect_las, iter_las_chunks
from tests.conftest import shared_path


def _ahn_tiles() -> list[Path]:
    return sorted(shared_path("amsterdam-ai-urban-pointcloud", "ahn").glob("*.laz"))


def _write_las(path: Path, x, y, crs: pyproj.CRS | None = None, version: str = "1.4", point_format: int = 6) -> Path:
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([np.floor(np.min(x, initial=0)), np.floor(np.min(y, initial=0)), 0.0])
    if crs is not None:
        header.add_crs(crs)
    las = laspy.LasData(header)
    las.x, las.y, las.z = np.asarray(x, float), np.asarray(y, float), np.full(len(x), 1.5)
    las.classification = np.full(len(x), 2, dtype=np.uint8)
    las.write(path)
    return path


def _rd_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return 84_000 + rng.uniform(0, 50, n), 446_000 + rng.uniform(0, 50, n)


def test_real_ahn_header_and_every_point_in_bounded_chunks():
    for laz in _ahn_tiles():
        header = laspy.open(laz).header
        info = inspect_las(laz)
        assert info.point_count == header.point_count > 0
        assert info.bounds == (*map(float, header.mins), *map(float, header.maxs))
        assert info.crs == RD_NAP and info.version == f"{header.version.major}.{header.version.minor}"
        sizes = [len(chunk) for chunk in iter_las_chunks(info, 5_000)]
        assert sum(sizes) == info.point_count and max(sizes) <= 5_000 and len(sizes) > 1
        first = next(iter_las_chunks(info, 5_000))
        assert np.array_equal(first.x, laspy.read(laz).x[:5_000])  # scaled RD metres, as laspy reads them


def test_rd_new_in_the_header_accepted(tmp_path):
    info = inspect_las(_write_las(tmp_path / "rd.las", *_rd_points(100), crs=pyproj.CRS.from_epsg(28992)))
    assert (info.point_count, info.crs, info.crs_from_header) == (100, RD_NAP, True)


def test_no_crs_in_the_header_means_rd_new_nap(tmp_path):
    info = inspect_las(_write_las(tmp_path / "plain.las", *_rd_points(10)))
    assert (info.crs, info.crs_from_header) == (RD_NAP, False)


def test_empty_file_is_readable_with_no_points(tmp_path):
    info = inspect_las(_write_las(tmp_path / "empty.las", np.zeros(0), np.zeros(0)))
    assert info.point_count == 0
    assert list(iter_las_chunks(info, 1000)) == []


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found") as e:
        inspect_las(tmp_path / "nowhere.laz")
    assert e.value.path == str(tmp_path / "nowhere.laz")


def test_not_a_las_file(tmp_path):
    bad = tmp_path / "bad.laz"
    bad.write_bytes(b"not a laz file at all")
    with pytest.raises(InputError, match="not a readable LAS/LAZ file") as e:
        inspect_las(bad)
    assert e.value.path == str(bad)


def test_other_crs_in_the_header_refused(tmp_path):
    utm = _write_las(tmp_path / "utm.las", *_rd_points(10), crs=pyproj.CRS.from_epsg(32631))
    with pytest.raises(InputError, match=r"point cloud is in WGS 84 / UTM zone 31N, expected RD New \+ NAP"):
        inspect_las(utm)


def test_coordinates_outside_rd_new_refused(tmp_path):
    lonlat = _write_las(tmp_path / "lonlat.las", 4.9 + np.zeros(5), 52.3 + np.zeros(5))
    with pytest.raises(InputError, match="lie outside RD New .* another CRS") as e:
        inspect_las(lonlat)
    assert e.value.path == str(lonlat)


def test_file_cut_off_mid_points_raises_after_the_good_chunks(tmp_path):
    whole = _write_las(tmp_path / "whole.las", *_rd_points(10_000))
    cut = tmp_path / "cut.las"
    cut.write_bytes(whole.read_bytes()[: -30 * 4_000])  # 30 bytes per point of format 6: 4,000 points lost
    info = inspect_las(cut)
    assert info.point_count == 10_000
    read = 0
    with pytest.raises(InputError, match="truncated") as e:
        for chunk in iter_las_chunks(info, 1_000):
            read += len(chunk)
    assert e.value.path == str(cut) and 0 < read < 10_000
