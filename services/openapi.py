"""Make pygeoapi's OpenAPI document self-contained.

pygeoapi points ``$ref`` at schemas.opengis.net and raw.githubusercontent.com; offline (as here, and on many
municipal networks) clients and validators cannot resolve them. External references are replaced by local
equivalents: parameters in full, responses and schemas as plain JSON objects with the reference kept in
the description, so the document validates and tools such as schemathesis can run against it.
"""

from __future__ import annotations

# Parameters pygeoapi takes from the OGC documents, written out (same names and locations as there).
_PARAMETERS = {
    "featureId": {"name": "featureId", "in": "path", "required": True, "description": "local identifier of a feature",
                  "schema": {"type": "string"}},
    "sortby": {"name": "sortby", "in": "query", "required": False, "style": "form", "explode": False,
               "description": "comma-separated properties to sort by, '-' prefix for descending",
               "schema": {"type": "array", "items": {"type": "string"}}},
    "subset": {"name": "subset", "in": "query", "required": False, "style": "form", "explode": False,
               "description": "subset along an axis, e.g. x(85000:86000)",
               "schema": {"type": "array", "items": {"type": "string"}}},
}
_EXCEPTION = {"type": "object", "required": ["code"],
              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}


def _name(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".json")


def _local(ref: str, key: str) -> dict:
    name = _name(ref)
    if name in _PARAMETERS:
        return dict(_PARAMETERS[name])
    if key.isdigit():  # a response
        error = key.startswith(("4", "5"))
        schema = _EXCEPTION if error else {"type": "object"}
        return {"description": f"{name} ({ref})", "content": {"application/json": {"schema": schema}}}
    return {"type": "object", "description": f"see {ref}"}


def self_contained(doc, key: str = ""):
    """A copy of ``doc`` with every external ``$ref`` replaced by a local definition."""
    if isinstance(doc, dict):
        ref = doc.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return _local(ref, key)
        return {k: self_contained(v, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [self_contained(v, key) for v in doc]
    return doc
