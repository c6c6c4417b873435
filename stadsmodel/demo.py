"""`stadsmodel demo`: the whole chain on a synthetic district, with nothing to install but the project.

synth (BGT, BAG, AHN, a bestemmingsplan and monuments, an STTR permit check) → build → zoning import → rules import →
tiles → serve (viewer at /).
Each step is the same function the separate verbs call; re-running reuses the inputs already generated.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_demo(out: Path, buildings: int = 300, seed: int = 1, host: str = "127.0.0.1", port: int = 8000,
             serve: bool = True) -> Path:
    """Build the demo into `out` and (unless serve=False) serve it. Returns the model directory."""
    from etl.build import build_model
    from etl.rules.importer import import_rules
    from etl.zoning import import_zoning
    from synth.district import write_district
    from synth.plan import write_synthetic_plan
    from synth.sttr import write_synthetic_sttr
    from tiles import tile_model

    inputs, model = out / "input", out / "model"
    if not (inputs / "truth.json").exists():
        log.info("demo: writing a synthetic district of %d buildings to %s", buildings, inputs)
        write_district(inputs, buildings=buildings, seed=seed)
    plans = write_synthetic_plan(inputs)
    lazs = sorted((inputs / "ahn").glob("*.laz"))
    build_model([inputs / "bgt"], [inputs / "bag.gpkg"], lazs, model)
    import_zoning(list(plans), model)
    import_rules([write_synthetic_sttr(inputs / "regels")], model)
    tile_model(model, model / "tiles", ahn=lazs)
    if serve:
        from services.server import serve as serve_app

        log.info("demo: viewer on http://%s:%d/  (OGC API on /api)", host, port)
        serve_app(model, host=host, port=port)
    return model
