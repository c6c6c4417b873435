"""services.config.effective_config: the pygeoapi configuration ``stadsmodel serve --print-config`` prints,
made from the data directory without starting a server."""

from __future__ import annotations

import yaml

from services.config import effective_config


def test_effective_config_is_plain_yaml_for_the_data(service_store, monkeypatch):
    monkeypatch.delenv("STADSMODEL_PUBLIC_URL", raising=False)
    cfg = effective_config(service_store, host="0.0.0.0", port=8080)
    assert yaml.safe_load(yaml.safe_dump(cfg)) == cfg
    assert cfg["server"]["url"] == "http://0.0.0.0:8080/api"
    assert cfg["server"]["bind"] == {"host": "0.0.0.0", "port": 8080}
    resources = cfg["resources"]
    assert {"buildings", "addresses", "proef_vlakken", "dtm", "dsm", "location-check"} <= set(resources)
    assert resources["buildings"]["providers"][0]["data"] == str(service_store / "stadsmodel.gpkg")
    assert resources["location-check"]["processor"]["data"] == str(service_store)


def test_behind_a_proxy_the_public_url_is_used(service_store, monkeypatch):
    monkeypatch.setenv("STADSMODEL_PUBLIC_URL", "https://stadsmodel.example.nl/")
    assert effective_config(service_store)["server"]["url"] == "https://stadsmodel.example.nl/api"
