"""Feature attributes → an EXT_structural_metadata schema and binary property tables.

The schema is decided once per tileset from all features (so every tile's glb declares the same
class), and columns are kept as arrays so that a tile's table is a fancy-index away.
Missing values use the property's ``noData``; booleans cannot have one, so a boolean column with
gaps becomes INT8 (0/1, noData -1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

FLOAT_NODATA = -9999.0
INT_NODATA = {"INT8": -1, "INT32": -2147483648, "INT64": -9223372036854775808}
NUMPY_TYPE = {"INT8": np.int8, "INT32": np.int32, "INT64": np.int64, "FLOAT32": np.float32, "FLOAT64": np.float64}

# Attributes of the model contract whose type is known whatever the data holds (an all-null column
# still gets its proper type). Heights in metres to the millimetre fit FLOAT32.
KNOWN_TYPES = {
    "identificatie": "STRING",
    "oorspronkelijkbouwjaar": "INT32",
    "status": "STRING",
    "gebruiksdoel": "STRING",
    "aantal_verblijfsobjecten": "INT32",
    "b3_h_maaiveld": "FLOAT32",
    "b3_h_dak_min": "FLOAT32",
    "b3_h_dak_50p": "FLOAT32",
    "b3_h_dak_70p": "FLOAT32",
    "b3_h_dak_max": "FLOAT32",
    "b3_n_punten": "INT32",
    "b3_puntdichtheid": "FLOAT32",
    "b3_reconstructie_onvolledig": "BOOLEAN",
    "b3_onvolledig_reden": "STRING",
    "object_type": "STRING",
    "functie": "STRING",
    "relatieve_hoogteligging": "INT32",
}

_NAME_OK = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def property_name(key: str) -> str:
    """A schema-safe property id (3D Tiles metadata ids must match ^[a-zA-Z_][a-zA-Z0-9_]*$)."""
    if _NAME_OK.match(key):
        return key
    name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return name if _NAME_OK.match(name) else "_" + name


def _infer(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "STRING"
    if kinds == {bool}:
        return "BOOLEAN"
    if kinds <= {int}:
        vals = [v for v in values if v is not None]
        return "INT32" if -2**31 < min(vals) and max(vals) < 2**31 else "INT64"
    if kinds <= {int, float}:
        return "FLOAT64"
    return "STRING"


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v):
        return ", ".join(str(x) for x in v)
    return orjson.dumps(v).decode()


@dataclass
class Column:
    name: str  # property id in the schema
    key: str  # attribute name in the model
    type: str  # STRING, BOOLEAN, INT8/32/64, FLOAT32/64
    values: np.ndarray | list  # numpy array, or list of utf-8 bytes for STRING
    has_nodata: bool

    def schema(self) -> dict[str, Any]:
        if self.type == "STRING":
            d: dict[str, Any] = {"type": "STRING"}
            if self.has_nodata:
                d["noData"] = ""
        elif self.type == "BOOLEAN":
            d = {"type": "BOOLEAN"}
        else:
            d = {"type": "SCALAR", "componentType": self.type}
            if self.has_nodata:
                d["noData"] = FLOAT_NODATA if self.type.startswith("FLOAT") else INT_NODATA[self.type]
        d["name"] = self.key
        return d


class FeatureTable:
    """The attributes of all features of a tileset as typed columns, and the schema they make."""

    def __init__(self, features: list[dict[str, Any]], class_name: str, key: str = "identificatie"):
        self.class_name = class_name
        self.key = key
        keys: dict[str, None] = {key: None}
        for f in features:
            for k in f:
                keys.setdefault(k)
        self.columns: list[Column] = []
        used: set[str] = set()
        for k in keys:
            vals = [f.get(k) for f in features]
            name = property_name(k)
            while name in used:
                name += "_"
            used.add(name)
            self.columns.append(self._column(name, k, vals))
        self.count = len(features)

    @staticmethod
    def _column(name: str, key: str, vals: list[Any]) -> Column:
        t = KNOWN_TYPES.get(key) or _infer(vals)
        has_null = any(v is None for v in vals)
        if t == "BOOLEAN" and has_null:
            t = "INT8"
        try:
            if t == "STRING":
                return Column(name, key, t, [b"" if v is None else _as_text(v).encode() for v in vals], has_null)
            if t == "BOOLEAN":
                return Column(name, key, t, np.array([bool(v) for v in vals], dtype=bool), False)
            nd = FLOAT_NODATA if t.startswith("FLOAT") else INT_NODATA[t]
            arr = np.array([nd if v is None else v for v in vals], dtype=NUMPY_TYPE[t])
            return Column(name, key, t, arr, has_null)
        except (TypeError, ValueError, OverflowError):
            # a known attribute holding something else than its contract type: keep it as text
            return Column(name, key, "STRING", [b"" if v is None else _as_text(v).encode() for v in vals], has_null)

    def schema(self, schema_id: str = "stadsmodel") -> dict[str, Any]:
        return {"id": schema_id, "classes": {self.class_name: {
            "properties": {c.name: c.schema() for c in self.columns}}}}

    def encode(self, rows: np.ndarray) -> list[tuple[str, dict[str, bytes]]]:
        """Binary values of ``rows`` per property: (name, {"values": b, "stringOffsets": b?})."""
        out = []
        for c in self.columns:
            if c.type == "STRING":
                parts = [c.values[i] for i in rows.tolist()]
                offsets = np.zeros(len(parts) + 1, dtype=np.uint32)
                np.cumsum([len(p) for p in parts], out=offsets[1:])
                out.append((c.name, {"values": b"".join(parts), "stringOffsets": offsets.tobytes()}))
            elif c.type == "BOOLEAN":
                out.append((c.name, {"values": np.packbits(c.values[rows], bitorder="little").tobytes()}))
            else:
                out.append((c.name, {"values": c.values[rows].tobytes()}))
        return out
