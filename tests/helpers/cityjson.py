"""CityJSON checks shared by the tests: validation against the official 2.0.2 schemas (in ../shared/schemas)
and the geometric checks the schema cannot make (closed, outward-oriented solids)."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import jsonschema
import numpy as np
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7


@lru_cache(maxsize=2)
def _validators(schema_dir: str) -> dict[str, jsonschema.Draft7Validator]:
    d = Path(schema_dir)
    schemas = {p.name: json.loads(p.read_text()) for p in d.glob("*.schema.json")}
    registry = Registry()
    for name, schema in schemas.items():
        resource = Resource.from_contents(schema, default_specification=DRAFT7)
        registry = registry.with_resources([(schema["$id"], resource), (name, resource)])
    return {name: jsonschema.Draft7Validator(schema, registry=registry) for name, schema in schemas.items()}


def schema_errors(doc: dict, schema_dir: Path, kind: str = "cityjson") -> list[str]:
    """Messages of every schema violation (empty when valid). kind: cityjson | cityjsonfeature."""
    validator = _validators(str(schema_dir))[f"{kind}.schema.json"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def solid_problems(boundaries: list, vertices: np.ndarray) -> list[str]:
    """A solid's shell must be closed (every edge used exactly twice, in opposite directions) and oriented
    outwards (positive signed volume)."""
    problems = []
    vertices = vertices - vertices.mean(axis=0)  # keep the volume sums well-conditioned
    for s, shell in enumerate(boundaries):
        edges = Counter()
        volume = 0.0
        for surface in shell:
            for ring in surface:
                for a, b in zip(ring, ring[1:] + ring[:1]):
                    edges[(a, b)] += 1
            # signed volume via the divergence theorem over a fan of the exterior ring (holes subtract)
            for ring in surface:
                p = vertices[ring]
                for i in range(1, len(p) - 1):
                    volume += np.dot(p[0], np.cross(p[i], p[i + 1])) / 6.0
        for (a, b), n in edges.items():
            if n != 1 or edges.get((b, a), 0) != 1:
                problems.append(f"shell {s}: edge {a}->{b} used {n}x, reverse {edges.get((b, a), 0)}x")
                break
        if volume <= 0:
            problems.append(f"shell {s}: signed volume {volume:.3f} ≤ 0 (inward orientation)")
    return problems
