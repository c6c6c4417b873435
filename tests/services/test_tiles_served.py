"""``/tiles/`` serves the products of ``stadsmodel tiles`` and nothing else that lies in the folder."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from tests.services.servers import ConfiguredServer
from tiles import tile_model

# What a build, a copy or an editor may leave next to the products (issue 10 found the first three served).
STRAYS = ["sources/84500_447000/84500_447000.pkl", "features.city.jsonl", "summary.json", "buildings/notes.txt",
          "buildings/content/0.glb.bak", "buildings.partial/tileset.json", ".git/config", "pointcloud/work/points.npy"]


@pytest.fixture(scope="module")
def tiled_model(built_district, synth_input, tmp_path_factory):
    model = tmp_path_factory.mktemp("served") / "model"
    shutil.copytree(built_district, model)
    tile_model(model, model / "tiles", ahn=sorted((synth_input / "ahn").glob("*.laz"))[:1])
    products = sorted(p.relative_to(model / "tiles").as_posix() for p in (model / "tiles").rglob("*") if p.is_file())
    for stray in STRAYS:
        path = model / "tiles" / stray
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("work file")
    return model, products


def test_every_product_is_served_and_nothing_else(tiled_model):
    model, products = tiled_model
    assert "index.json" in products and any(p.endswith(".glb") for p in products)
    assert any(p.startswith("pointcloud/") for p in products)
    with ConfiguredServer(model) as server, httpx.Client(base_url=f"{server.url}/tiles/", timeout=30) as client:
        served = {p: client.get(p).status_code for p in products}
        assert all(code == 200 for code in served.values()), {p: c for p, c in served.items() if c != 200}
        refused = {p: client.get(p).status_code for p in STRAYS + ["../stadsmodel.gpkg", "%2e%2e/stadsmodel.gpkg"]}
        assert all(code == 404 for code in refused.values()), refused


def test_index_shows_no_path_of_the_machine(tiled_model):
    model, _ = tiled_model
    index = json.loads((model / "tiles" / "index.json").read_text())
    text = json.dumps(index)
    assert str(model) not in text and str(model.parent) not in text
    assert index["model"] == "model.city.jsonl" or "/" not in index["model"]
    assert all(not t["url"].startswith("/") for t in index["tilesets"])
