"""Feature attributes → an EXT_structural_metadata schema and binary property tables.

The schema is decided once per tileset from all features (so every tile's glb declares the same
class), and columns are kept as arrays so that a tile's table is a fancy-index away.
Missing values use the property's ``noData``; booleans cannot have one, so a boolean column with
gaps becomes INT8 (0/1, noData -1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from tiles.mesh import concat_ranges

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
    # roofs (etl.roofs, issue 12): what the viewer's panel shows and a style may colour by
    "b3_dak_type": "STRING",
    "b3_h_goot": "FLOAT32",
    "b3_h_nok": "FLOAT32",
    "b3_hellingshoek_min": "FLOAT32",
    "b3_hellingshoek_max": "FLOAT32",
    "b3_lod_gereconstrueerd": "STRING",
    "b3_lod_terugval_reden": "STRING",
    **{f"b3_rmse_lod{lod}": "FLOAT32" for lod in ("12", "13", "22")},
    **{f"b3_volume_lod{lod}": "FLOAT64" for lod in ("12", "13", "22")},
    **{f"b3_val3dity_lod{lod}": "STRING" for lod in ("12", "13", "22")},
    # the bouwenvelop tilesets (tiles.envelopes): typed even where no envelope has a value (no dakhelling anywhere)
    "object_id": "STRING",
    "soort": "STRING",
    "max_goothoogte": "FLOAT64",
    "max_bouwhoogte": "FLOAT64",
    "max_dakhelling": "FLOAT64",
    "peil_nap": "FLOAT64",
    "relatief": "INT32",
    "ontwerp": "INT32",
    "plan_ids": "STRING",
    "excess_volume_m3": "FLOAT64",
    "max_excess_height_m": "FLOAT64",
    "object_type": "STRING",
    "functie": "STRING",
    "relatieve_hoogteligging": "INT32",
}

# Lists kept as their JSON text, as the store holds them: "[]" (checked, no errors) is not "" (not checked).
JSON_TEXT = {f"b3_val3dity_lod{lod}" for lod in ("12", "13", "22")}

_NAME_OK = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def property_name(key: str) -> str:
    """A schema-safe property id (3D Tiles metadata ids must match ^[a-zA-Z_][a-zA-Z0-9_]*$)."""
    if _NAME_OK.match(key):
        return key
    name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return name if _NAME_OK.match(name) else "_" + name


def _infer(values: list[Any]) -> str:
    kinds = set(map(type, values)) - {type(None)}
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
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v):
        return ", ".join(str(x) for x in v)
    return orjson.dumps(v).decode()


def _strings(vals: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """A string column as one UTF-8 blob (uint8) and the (n + 1) offsets of its values; None → ""."""
    texts = vals if set(map(type, vals)) == {str} else list(map(_as_text, vals))
    joined = "".join(texts)
    if joined.isascii():  # one encode for the whole column; byte lengths are the string lengths
        blob, lengths = joined.encode(), np.fromiter(map(len, texts), np.int64, len(texts))
    else:
        encoded = [t.encode() for t in texts]
        blob, lengths = b"".join(encoded), np.fromiter(map(len, encoded), np.int64, len(encoded))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.frombuffer(blob, np.uint8), offsets


@dataclass
class Column:
    name: str  # property id in the schema
    key: str  # attribute name in the model
    type: str  # STRING, BOOLEAN, INT8/32/64, FLOAT32/64
    values: np.ndarray  # one per feature; for STRING the UTF-8 blob of all values, see offsets
    has_nodata: bool
    offsets: np.ndarray | None = None  # STRING: value i is values[offsets[i]:offsets[i + 1]]

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


class Attributes:
    """Feature attributes gathered column by column, a batch of features (dicts) at a time, so that
    the dicts need not be kept."""

    def __init__(self) -> None:
        self.count = 0
        self.values: dict[str, list[Any]] = {}  # per attribute name, one value per feature (None: absent)

    def __len__(self) -> int:
        return self.count

    def add(self, features: list[dict[str, Any]]) -> None:
        for k in dict.fromkeys(chain.from_iterable(features)):
            if k not in self.values:
                self.values[k] = [None] * self.count
        keys = list(self.values)
        for k, column in zip(keys, _transpose(features, keys)):
            self.values[k] += column
        self.count += len(features)


@dataclass
class TileProperties:
    """One tile's property table, encoded: all a .glb needs of the tileset's FeatureTable."""

    class_name: str
    schema: dict[str, Any]
    count: int
    columns: list[tuple[str, dict[str, bytes]]]  # (property id, {"values": b, "stringOffsets": b?})


class FeatureTable:
    """The attributes of all features of a tileset as typed columns, and the schema they make."""

    def __init__(self, attributes: Attributes, class_name: str, key: str = "identificatie"):
        self.class_name = class_name
        self.key = key
        values = attributes.values
        keys = list(dict.fromkeys(chain([key], values)))
        self.columns: list[Column] = []
        used: set[str] = set()
        for k in keys:
            name = property_name(k)
            while name in used:
                name += "_"
            used.add(name)
            self.columns.append(self._column(name, k, values.get(k) or [None] * attributes.count))
        self.count = attributes.count
        self._schema: dict[str, Any] | None = None

    @staticmethod
    def _column(name: str, key: str, vals: list[Any]) -> Column:
        t = KNOWN_TYPES.get(key) or _infer(vals)
        has_null = None in vals
        if t == "BOOLEAN" and has_null:
            t = "INT8"
        if key in JSON_TEXT:
            vals = [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in vals]
        try:
            if t == "STRING":
                return _string_column(name, key, vals, has_null)
            if t == "BOOLEAN":
                return Column(name, key, t, np.array([bool(v) for v in vals], dtype=bool), False)
            if has_null:
                nd = FLOAT_NODATA if t.startswith("FLOAT") else INT_NODATA[t]
                vals = [nd if v is None else v for v in vals]
            return Column(name, key, t, np.array(vals, dtype=NUMPY_TYPE[t]), has_null)
        except (TypeError, ValueError, OverflowError):
            # a known attribute holding something else than its contract type: keep it as text
            return _string_column(name, key, vals, has_null)

    def schema(self, schema_id: str = "stadsmodel") -> dict[str, Any]:
        return {"id": schema_id, "classes": {self.class_name: {
            "properties": {c.name: c.schema() for c in self.columns}}}}

    def for_tile(self, rows: np.ndarray) -> TileProperties:
        """The property table of one tile: ``rows`` in the order of the tile's feature ids."""
        if self._schema is None:
            self._schema = self.schema()
        return TileProperties(self.class_name, self._schema, len(rows), self.encode(rows))

    def encode(self, rows: np.ndarray) -> list[tuple[str, dict[str, bytes]]]:
        """Binary values of ``rows`` per property: (name, {"values": b, "stringOffsets": b?})."""
        out = []
        for c in self.columns:
            if c.type == "STRING":
                starts, ends = c.offsets[rows], c.offsets[rows + 1]
                offsets = np.zeros(len(rows) + 1, dtype=np.uint32)
                np.cumsum(ends - starts, out=offsets[1:])
                values = c.values[concat_ranges(starts, ends)].tobytes()
                out.append((c.name, {"values": values, "stringOffsets": offsets.tobytes()}))
            elif c.type == "BOOLEAN":
                out.append((c.name, {"values": np.packbits(c.values[rows], bitorder="little").tobytes()}))
            else:
                out.append((c.name, {"values": c.values[rows].tobytes()}))
        return out


def _string_column(name: str, key: str, vals: list[Any], has_null: bool) -> Column:
    blob, offsets = _strings(vals)
    return Column(name, key, "STRING", blob, has_null, offsets)


def _transpose(features: list[dict[str, Any]], keys: list[str]) -> list[tuple[Any, ...]]:
    """Attribute values per key (None where a feature lacks one), from the per-feature dicts."""
    if not features:
        return [[] for _ in keys]
    if len(keys) == 1:
        return [tuple(f.get(keys[0]) for f in features)]
    whole = itemgetter(*keys)  # most features have every key: read them in one go
    n = len(keys)
    rows = [whole(f) if len(f) == n else tuple(map(f.get, keys)) for f in features]
    return list(zip(*rows))
