"""BAG reader: panden and verblijfsobjecten (with their addresses) in RD New.

Inputs, in any mix:

- the Kadaster BAG 2.0 extract as delivered: a zip holding per-type zips (``0221PND15092020.zip``)
  holding XML files, any level of that nesting, a folder of those, or single XML files. Object
  types PND, VBO, NUM, OPR and WPL are read (the type comes from the file name, e.g.
  ``9999VBO08012024-000001.xml``); LIG, STA and other files are passed over. XML is streamed.
- GeoPackage / GeoJSON / other vector files with panden, and optionally a verblijfsobject layer:
  PDOK bag-light style (layers ``pand`` and ``verblijfsobject``), 3D BAG / geoflow style with
  aggregated VBO attributes per pand, city4cfd GeoJSON. Column names are mapped by the tables
  `PAND_COLUMNS` and `VBO_COLUMNS`.

Semantics: per identificatie only the current voorkomen (no eindGeldigheid, not inactive); panden
and verblijfsobjecten whose current status says demolished, withdrawn or never built are left out
(counted in the notes, not errors). ``oorspronkelijkbouwjaar`` 9999 is BAG's "unknown" and becomes
<NA>. A verblijfsobject is joined to its panden (``maaktDeelUitVan``) and its hoofdadres
(nummeraanduiding -> openbare ruimte -> woonplaats; the nummeraanduiding's own woonplaats wins over
that of its openbare ruimte).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lxml import etree

from core.crs import RD_NEW
from core.errors import InputError, SkipLog
from etl.readers import (
    VECTOR_SUFFIXES,
    geometry_problems,
    list_layers,
    map_columns,
    outside_rd,
    read_vector_layer,
    record_skips,
    require_exists,
)
from etl.readers.gml import GeometryError, children, invalid_reason, iter_elements, local_name, parse_geometry

log = logging.getLogger(__name__)

PAND_COLUMNS_OUT = (
    "identificatie",
    "oorspronkelijkbouwjaar",
    "status",
    "geconstateerd",
    "documentdatum",
    "documentnummer",
    "voorkomenidentificatie",
    "begingeldigheid",
    "gebruiksdoel",
    "aantal_verblijfsobjecten",
    "oppervlakte_min",
    "oppervlakte_max",
    "bron",
)
VBO_COLUMNS_OUT = (
    "identificatie",
    "pand_identificatie",
    "pand_identificaties",
    "nummeraanduiding_identificatie",
    "openbareruimte",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "postcode",
    "woonplaats",
    "gebruiksdoel",
    "oppervlakte",
    "status",
    "bron",
)

# Current statuses that mean the object is not (or no longer) there.
GONE_STATUSES = {
    "pand": frozenset({"Pand gesloopt", "Niet gerealiseerd pand", "Pand ten onrechte opgevoerd"}),
    "verblijfsobject": frozenset(
        {"Verblijfsobject ingetrokken", "Niet gerealiseerd verblijfsobject", "Verblijfsobject ten onrechte opgevoerd"}
    ),
}
UNKNOWN_BOUWJAAR = 9999

# Vector source columns -> ours, in order of preference (compared case- and punctuation-blind).
PAND_COLUMNS: dict[str, tuple[str, ...]] = {
    "identificatie": ("identificatie", "pand_identificatie", "identificatie_pand", "pand_id", "bag_id"),
    "oorspronkelijkbouwjaar": ("oorspronkelijkbouwjaar", "oorspronkelijk_bouwjaar", "bouwjaar"),
    "status": ("status", "pandstatus"),
    "geconstateerd": ("geconstateerd",),
    "documentdatum": ("documentdatum",),
    "documentnummer": ("documentnummer",),
    "voorkomenidentificatie": ("voorkomenidentificatie", "voorkomen_identificatie"),
    "begingeldigheid": ("begingeldigheid", "begin_geldigheid"),
    "eindgeldigheid": ("eindgeldigheid", "eind_geldigheid"),
    "tijdstipinactief": ("tijdstipinactief", "tijdstip_inactief"),
    "gebruiksdoel": ("gebruiksdoel", "gebruiksdoelen"),
    "aantal_verblijfsobjecten": ("aantal_verblijfsobjecten", "aantal_vbo", "verblijfsobjecten"),
    "oppervlakte_min": ("oppervlakte_min",),
    "oppervlakte_max": ("oppervlakte_max",),
}
VBO_COLUMNS: dict[str, tuple[str, ...]] = {
    "identificatie": ("identificatie", "verblijfsobject_identificatie", "vbo_identificatie", "vbo_id"),
    "pand_identificaties": ("pand_identificaties", "pand_identificatie", "pandidentificatie", "pandref", "pand_id"),
    "nummeraanduiding_identificatie": (
        "nummeraanduiding_identificatie",
        "hoofdadres_identificatie",
        "nummeraanduiding_id",
        "hoofdadres",
    ),
    "openbareruimte": ("openbare_ruimte_naam", "openbareruimte", "openbareruimtenaam", "straatnaam", "straat"),
    "huisnummer": ("huisnummer",),
    "huisletter": ("huisletter",),
    "huisnummertoevoeging": ("huisnummertoevoeging", "toevoeging"),
    "postcode": ("postcode",),
    "woonplaats": ("woonplaats_naam", "woonplaats", "woonplaatsnaam"),
    "gebruiksdoel": ("gebruiksdoel", "gebruiksdoelen"),
    "oppervlakte": ("oppervlakte",),
    "status": ("status",),
    "eindgeldigheid": ("eindgeldigheid", "eind_geldigheid"),
    "tijdstipinactief": ("tijdstipinactief", "tijdstip_inactief"),
}

# Extract file name -> object type: 0221PND15092020.zip, 9999VBO08012024-000001.xml, ...
_EXTRACT_NAME = re.compile(r"(PND|VBO|NUM|OPR|WPL|LIG|STA)\d{8}", re.IGNORECASE)
_XML_ELEMENTS = {
    "PND": "Pand",
    "VBO": "Verblijfsobject",
    "NUM": "Nummeraanduiding",
    "OPR": "OpenbareRuimte",
    "WPL": "Woonplaats",
}
_INACTIVE = ("tijdstipInactief", "tijdstipInactiefLV", "tijdstipNietBagLV")
_ID_PREFIX = {
    "PND": "NL.IMBAG.Pand.",
    "VBO": "NL.IMBAG.Verblijfsobject.",
    "NUM": "NL.IMBAG.Nummeraanduiding.",
}


@dataclass
class BagResult:
    """Current BAG panden and verblijfsobjecten in RD New (EPSG:28992), with what was left out."""

    panden: gpd.GeoDataFrame  # one row per current pand, columns PAND_COLUMNS_OUT + geometry
    verblijfsobjecten: gpd.GeoDataFrame  # Points, columns VBO_COLUMNS_OUT + geometry (may be empty)
    skipped: SkipLog
    counts_in: dict[str, int]  # voorkomens (XML) or rows (vector files) seen per object type
    notes: list[str] = field(default_factory=list)  # filtered counts, unresolved joins, assumptions


def read_bag(paths: Sequence[Path]) -> BagResult:
    """Read BAG panden and verblijfsobjecten from all inputs; see the module docstring.

    When verblijfsobjecten are given, gebruiksdoel, aantal_verblijfsobjecten and oppervlakte_min/max
    of every pand are computed from them (`aggregate_verblijfsobjecten`); otherwise the source's own
    aggregated columns are kept where it has them.

    :raises InputError: a path that does not exist, a file that is not well-formed XML (naming the
        line), or a file that cannot be opened at all.
    """
    started = time.perf_counter()
    reader = _Reader()
    with ExitStack() as stack:
        xml_files: dict[str, list[tuple[str, Callable[[], IO[bytes]]]]] = {code: [] for code in _XML_ELEMENTS}
        for path in map(Path, paths):
            require_exists(path)
            for name, code, opener in _expand(path, stack):
                if code == "vector":
                    reader.read_vector(Path(name))
                elif code in xml_files:
                    xml_files[code].append((name, opener))
        reader.read_xml(xml_files)
    result = reader.result()
    log.info(
        "BAG: %d panden, %d verblijfsobjecten, %d skipped in %.1f s",
        len(result.panden),
        len(result.verblijfsobjecten),
        len(result.skipped),
        time.perf_counter() - started,
    )
    return result


def aggregate_verblijfsobjecten(panden: gpd.GeoDataFrame, vbos: pd.DataFrame) -> gpd.GeoDataFrame:
    """Panden with gebruiksdoel, aantal_verblijfsobjecten and oppervlakte_min/max from their VBOs.

    A VBO in several panden counts for each of them (``pand_identificaties``). gebruiksdoel is the
    sorted, unique, comma-joined set of its VBOs' gebruiksdoelen. A pand without VBOs gets 0 and <NA>.
    """
    out = panden.copy()
    links = vbos[["pand_identificaties", "gebruiksdoel", "oppervlakte"]].copy()
    links["pand"] = links["pand_identificaties"].fillna("").str.split(",")
    links = links.explode("pand")
    links = links[links["pand"].fillna("") != ""]
    grouped = links.groupby("pand")
    doelen = grouped["gebruiksdoel"].agg(_join_unique)
    oppervlakte = pd.to_numeric(links["oppervlakte"], errors="coerce").groupby(links["pand"])
    ids = out["identificatie"]
    out["gebruiksdoel"] = ids.map(doelen).astype(object).where(ids.isin(doelen.index), None)
    out["aantal_verblijfsobjecten"] = ids.map(grouped.size()).fillna(0).astype("Int64")
    out["oppervlakte_min"] = ids.map(oppervlakte.min()).round().astype("Int64")
    out["oppervlakte_max"] = ids.map(oppervlakte.max()).round().astype("Int64")
    return out


def _join_unique(values) -> str | None:
    parts = {p.strip() for v in values if isinstance(v, str) for p in v.split(",") if p.strip()}
    return ",".join(sorted(parts)) or None


# A BAG identificatie as sources give it: 16 digits, often without the leading zeros (an INTEGER column, a
# number in JSON), with or without a "NL.IMBAG.Pand." prefix, sometimes with a ".0" left by a float.
_BAG_ID = re.compile(r"^(?:[A-Za-z]\w*\.)*(\d{1,16})(?:\.0+)?$")


def bag_digits(value) -> str | None:
    """The 16 digits of a BAG identificatie (leading zeros restored) from 503100000030264, "0503100000030264",
    5.031e14, "NL.IMBAG.Pand.0503100000030264", ...; None if the value is not one."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    match = _BAG_ID.match(str(value).strip())
    return match.group(1).zfill(16) if match else None


def normalise_id(value, code: str) -> str | None:
    """``NL.IMBAG.Pand.0503100000030264`` from any form `bag_digits` reads; None if not an id, or if it is the
    id of another kind of object (``NL.IMBAG.Verblijfsobject.…`` where a pand is asked for)."""
    text = str(value).strip() if isinstance(value, str) else ""
    if text.startswith("NL.IMBAG.") and not text.startswith(_ID_PREFIX[code]):
        return None
    digits = bag_digits(value)
    return None if digits is None else _ID_PREFIX[code] + digits


def _ids_as_given_if_odd(values: pd.Series, code: str, name: str, notes: list[str]) -> list[str | None]:
    """Normalised ids; one that is not a BAG id (test fixtures, other registers) is kept as given and noted."""
    ids, odd = [], []
    for value in values:
        normalised = normalise_id(value, code)
        if normalised is None and value is not None and not pd.isna(value) and str(value).strip():
            normalised = str(value).strip()
            odd.append(normalised)
        ids.append(normalised)
    if odd:
        notes.append(f"{name}: {len(odd)} identificatie(s) not in BAG form, kept as given: {', '.join(odd[:5])}")
    return ids


# --------------------------------------------------------------------------------------------
# Inputs


# (display name, object type code | "vector", opener of the file or None for a vector file)
_Entry = tuple[str, str, Callable[[], IO[bytes]] | None]


def _expand(path: Path, stack: ExitStack, given: bool = True) -> Iterator[_Entry]:
    """(display name, object type code | "vector", opener) for every BAG file below a path.

    Nested zips are unpacked into a temporary folder (removed by `stack`): zip members cannot be
    seeked cheaply, and a national PND zip is GBs. Other files in a folder or zip (LIG, STA,
    Leveringsdocument, ...) are passed over; given by name, a file we cannot read is an error.
    """
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield from _expand(file, stack, given=False)
        return
    suffix = path.suffix.lower()
    if suffix == ".zip":
        yield from _zip_members(path, str(path), stack)
    elif suffix == ".xml":
        code = _extract_code(path.name)
        if code == "other":
            with open(path, "rb") as stream:
                code = _sniff_code(stream.read(1 << 16))
        if code in _XML_ELEMENTS:
            yield str(path), code, lambda: open(path, "rb")
        elif given and code == "other":
            raise InputError(path, "not a BAG 2.0 extract file of type PND, VBO, NUM, OPR or WPL")
    elif suffix in VECTOR_SUFFIXES:
        yield str(path), "vector", None
    elif given:
        raise InputError(path, f"not a BAG input (expected .zip, .xml, a folder or {', '.join(VECTOR_SUFFIXES)})")


def _extract_code(name: str) -> str:
    match = _EXTRACT_NAME.search(Path(name).name)
    return match.group(1).upper() if match else "other"


def _sniff_code(head: bytes) -> str:
    """The object type an extract file states in its header (sl:objectType), for renamed files."""
    match = re.search(rb"objectType>\s*(PND|VBO|NUM|OPR|WPL|LIG|STA)\s*<", head)
    return match.group(1).decode() if match else "other"


def _zip_members(path: Path, display: str, stack: ExitStack) -> Iterator[_Entry]:
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(display, f"not a readable zip file: {exc}") from None
    for member in members:
        name = f"{display}!{member.filename}"
        suffix = Path(member.filename).suffix.lower()
        if suffix == ".zip":
            if _extract_code(member.filename) not in _XML_ELEMENTS:
                continue  # GEM-WPL-RELATIE, LIG, STA, ... are not read
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stadsmodel-bag-")))
            inner = folder / Path(member.filename).name
            try:
                with archive.open(member) as source, open(inner, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(name, f"cannot unpack: {exc}") from None
            yield from _zip_members(inner, name, stack)
        elif suffix == ".xml":
            code = _extract_code(member.filename)
            if code in _XML_ELEMENTS:
                yield name, code, lambda member=member: archive.open(member)


# --------------------------------------------------------------------------------------------
# Reading


class _Reader:
    def __init__(self) -> None:
        self.skipped = SkipLog()
        self.notes: list[str] = []
        self.counts_in: dict[str, int] = {}
        self.pand_frames: list[gpd.GeoDataFrame] = []
        self.vbo_frames: list[gpd.GeoDataFrame] = []
        self.source_has_aggregates = False

    # ---- BAG 2.0 extract XML

    def read_xml(self, files: dict[str, list[tuple[str, Callable[[], IO[bytes]]]]]) -> None:
        if files["PND"]:
            current = self._current_voorkomens("PND", files["PND"], with_geometry=True)
            self.pand_frames.append(self._xml_panden(current))
        if files["VBO"]:
            current = self._current_voorkomens("VBO", files["VBO"], with_geometry=True)
            vbos = self._xml_verblijfsobjecten(current)
            self._join_addresses(vbos, files)
            self.vbo_frames.append(vbos)

    def _current_voorkomens(
        self,
        code: str,
        files: list[tuple[str, Callable[[], IO[bytes]]]],
        with_geometry: bool = False,
        wanted: set[str] | None = None,
    ) -> dict[str, dict]:
        """Per identificatie the current voorkomen's fields (latest beginGeldigheid if several).

        :param wanted: only these identificaties (the NUM/OPR a set of VBOs refers to), else all.
        """
        element = _XML_ELEMENTS[code]
        key = _OBJECT_TYPE[code]
        current: dict[str, dict] = {}
        for name, opener in files:
            with opener() as stream:
                for obj in iter_elements(stream, name, (element,)):
                    self.counts_in[key] = self.counts_in.get(key, 0) + 1
                    record = _fields(obj)
                    identificatie = record.get("identificatie")
                    if not identificatie or "eindGeldigheid" in record or any(k in record for k in _INACTIVE):
                        continue
                    if wanted is not None and identificatie not in wanted:
                        continue
                    previous = current.get(identificatie)
                    if previous is not None and _order(previous) > _order(record):
                        continue
                    record["bron"] = Path(name.split("!")[-1]).name
                    record["file"] = name
                    geometrie = record.pop("geometrie", None)
                    if with_geometry:
                        record["geometry"], record["problem"] = _xml_geometry(geometrie, code)
                    current[identificatie] = record
        return current

    def _xml_panden(self, current: dict[str, dict]) -> gpd.GeoDataFrame:
        rows, gone = [], 0
        for identificatie, r in current.items():
            if r.get("status") in GONE_STATUSES["pand"]:
                gone += 1
                continue
            if r["problem"]:
                self.skipped.add(r["file"], identificatie, r["problem"])
                continue
            rows.append(
                {
                    "identificatie": normalise_id(identificatie, "PND"),
                    "oorspronkelijkbouwjaar": r.get("oorspronkelijkBouwjaar"),
                    "status": r.get("status"),
                    "geconstateerd": r.get("geconstateerd"),
                    "documentdatum": r.get("documentdatum"),
                    "documentnummer": r.get("documentnummer"),
                    "voorkomenidentificatie": r.get("voorkomenidentificatie"),
                    "begingeldigheid": r.get("beginGeldigheid"),
                    "bron": r["bron"],
                    "geometry": r["geometry"],
                }
            )
        self.notes.append(
            f"pand: {len(current)} current panden in the extract, {gone} left out as demolished/not built"
        )
        return _pand_frame(pd.DataFrame(rows, columns=[*PAND_COLUMNS_OUT, "geometry"]))

    def _xml_verblijfsobjecten(self, current: dict[str, dict]) -> gpd.GeoDataFrame:
        rows, gone = [], 0
        for identificatie, r in current.items():
            if r.get("status") in GONE_STATUSES["verblijfsobject"]:
                gone += 1
                continue
            if r["problem"]:
                self.skipped.add(r["file"], identificatie, r["problem"])
                continue
            panden = [p for p in (normalise_id(x, "PND") for x in r.get("pand_refs", ())) if p]
            rows.append(
                {
                    "identificatie": normalise_id(identificatie, "VBO"),
                    "pand_identificatie": panden[0] if panden else None,
                    "pand_identificaties": ",".join(panden) or None,
                    "nummeraanduiding_identificatie": r.get("hoofdadres"),
                    "gebruiksdoel": _join_unique(r.get("gebruiksdoel", ())),
                    "oppervlakte": r.get("oppervlakte"),
                    "status": r.get("status"),
                    "bron": r["bron"],
                    "geometry": r["geometry"],
                }
            )
        self.notes.append(
            f"verblijfsobject: {len(current)} current verblijfsobjecten in the extract, "
            f"{gone} left out as withdrawn/not built"
        )
        return gpd.GeoDataFrame(pd.DataFrame(rows, columns=[*VBO_COLUMNS_OUT, "geometry"]), crs=RD_NEW)

    def _join_addresses(self, vbos: gpd.GeoDataFrame, files) -> None:
        """Fill the address columns of VBOs from NUM -> OPR -> WPL (only what the VBOs refer to)."""
        wanted_num = set(vbos["nummeraanduiding_identificatie"].dropna())
        num = self._current_voorkomens("NUM", files["NUM"], wanted=wanted_num) if files["NUM"] else {}
        wanted_opr = {r.get("ligtAan") for r in num.values()} - {None}
        opr = self._current_voorkomens("OPR", files["OPR"], wanted=wanted_opr) if files["OPR"] else {}
        wpl = self._current_voorkomens("WPL", files["WPL"]) if files["WPL"] else {}

        def address(num_id):
            n = num.get(num_id)
            if n is None:
                return (None,) * 6
            o = opr.get(n.get("ligtAan"), {})
            woonplaats = wpl.get(n.get("ligtIn") or o.get("ligtIn"), {}).get("naam")
            return (o.get("naam"), n.get("huisnummer"), n.get("huisletter"), n.get("huisnummertoevoeging"),
                    n.get("postcode"), woonplaats)

        values = [address(i) for i in vbos["nummeraanduiding_identificatie"]]
        for k, column in enumerate(("openbareruimte", "huisnummer", "huisletter", "huisnummertoevoeging", "postcode",
                                    "woonplaats")):
            vbos[column] = [v[k] for v in values]
        vbos["nummeraanduiding_identificatie"] = [normalise_id(i, "NUM")
                                                  for i in vbos["nummeraanduiding_identificatie"]]
        for column, what in (("huisnummer", "a current nummeraanduiding"), ("openbareruimte", "an openbare ruimte"),
                             ("woonplaats", "a woonplaats")):
            missing = int(vbos[column].isna().sum())
            if missing:
                self.notes.append(f"verblijfsobject: {missing} without {what} in the inputs ({column} left empty)")

    # ---- GeoPackage / GeoJSON

    def read_vector(self, path: Path) -> None:
        layers = list_layers(path)
        roles = {layer: _layer_role(layer, geometry_type) for layer, geometry_type in layers}
        if not any(roles.values()):
            self.notes.append(f"{path}: no pand or verblijfsobject layer (layers: {', '.join(roles) or 'none'})")
        for layer, role in roles.items():
            if role == "pand":
                self.pand_frames.append(self._vector_panden(path, layer))
            elif role == "verblijfsobject":
                self.vbo_frames.append(self._vector_verblijfsobjecten(path, layer))

    def _vector_rows(self, path: Path, layer: str, key: str, aliases) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        frame, unparsable = read_vector_layer(path, layer, self.notes)
        self.counts_in[key] = self.counts_in.get(key, 0) + len(frame)
        if frame.empty:
            self.notes.append(f"{path} [{layer}]: empty layer")
        mapped = map_columns(frame, aliases)
        if len(frame) and mapped["identificatie"].isna().all():
            raise InputError(path, f"layer {layer!r} has no identificatie column", layer)
        current = (
            mapped["eindgeldigheid"].isna()
            & mapped["tijdstipinactief"].isna()
            & ~mapped["status"].isin(GONE_STATUSES[key])
        ).to_numpy()
        if (~current).any():
            self.notes.append(f"{path} [{layer}]: {int((~current).sum())} {key} rows not current or gone, left out")
        return mapped[current], frame.geometry.to_numpy()[current], unparsable[current]

    def _vector_panden(self, path: Path, layer: str) -> gpd.GeoDataFrame:
        mapped, geometry, unparsable = self._vector_rows(path, layer, "pand", PAND_COLUMNS)
        ids = _ids_as_given_if_odd(mapped["identificatie"], "PND", f"{path} [{layer}]", self.notes)
        reasons = [r or (None if i else "missing identificatie")
                   for r, i in zip(geometry_problems(geometry, unparsable), ids)]
        keep = record_skips(self.skipped, f"{path} [{layer}]", mapped["identificatie"], reasons)
        out = mapped[keep].drop(columns=["eindgeldigheid", "tijdstipinactief"]).copy()
        out["identificatie"] = np.asarray(ids, dtype=object)[keep]
        out["bron"] = path.name
        out["geometry"] = geometry[keep]
        if any(mapped[c].notna().any() for c in ("gebruiksdoel", "aantal_verblijfsobjecten")):
            self.source_has_aggregates = True
        out = self._merge_pieces(out, f"{path} [{layer}]")
        return _pand_frame(out)

    def _merge_pieces(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """One row per pand: pieces of one voorkomen (a clipped source) are merged into one geometry."""
        duplicated = frame["identificatie"].duplicated(keep=False)
        if not duplicated.any():
            return frame
        frame = frame.assign(_vk=pd.to_numeric(frame["voorkomenidentificatie"], errors="coerce").fillna(-1))
        latest = frame.groupby("identificatie")["_vk"].transform("max")
        for identificatie in frame.loc[frame["_vk"] < latest, "identificatie"]:
            self.skipped.add(name, identificatie, "older voorkomen of a pand that is given twice; the latest is kept")
        frame = frame[frame["_vk"] == latest]
        pieces = frame["identificatie"].duplicated(keep=False)
        merged = (frame[pieces].groupby("identificatie", sort=False)["geometry"]
                  .agg(lambda g: shapely.union_all(list(g))))
        first = frame.drop_duplicates("identificatie").set_index("identificatie", drop=False)
        first.loc[merged.index, "geometry"] = merged
        self.notes.append(f"{name}: {len(merged)} panden given in several pieces, merged into one geometry each")
        return first.reset_index(drop=True).drop(columns="_vk")

    def _vector_verblijfsobjecten(self, path: Path, layer: str) -> gpd.GeoDataFrame:
        mapped, geometry, unparsable = self._vector_rows(path, layer, "verblijfsobject", VBO_COLUMNS)
        ids = _ids_as_given_if_odd(mapped["identificatie"], "VBO", f"{path} [{layer}]", self.notes)
        reasons = [r or (None if i else "missing identificatie")
                   for r, i in zip(geometry_problems(geometry, unparsable), ids)]
        keep = record_skips(self.skipped, f"{path} [{layer}]", mapped["identificatie"], reasons)
        out = mapped[keep].drop(columns=["eindgeldigheid", "tijdstipinactief"]).copy()
        out["identificatie"] = np.asarray(ids, dtype=object)[keep]
        panden = [
            [p for p in (normalise_id(x, "PND") for x in str(v).split(",")) if p]
            if isinstance(v, str) or pd.notna(v) else []
            for v in out["pand_identificaties"]
        ]
        out["pand_identificatie"] = [p[0] if p else None for p in panden]
        out["pand_identificaties"] = [",".join(p) or None for p in panden]
        out["nummeraanduiding_identificatie"] = [normalise_id(v, "NUM") for v in out["nummeraanduiding_identificatie"]]
        out["gebruiksdoel"] = [_join_unique([v]) for v in out["gebruiksdoel"]]
        out["bron"] = path.name
        out["geometry"] = [_as_point(g) for g in geometry[keep]]
        return gpd.GeoDataFrame(out[[*VBO_COLUMNS_OUT, "geometry"]], geometry="geometry", crs=RD_NEW)

    # ---- result

    def result(self) -> BagResult:
        panden = _concat(self.pand_frames, PAND_COLUMNS_OUT)
        duplicate = panden["identificatie"].duplicated()
        for identificatie, bron in zip(panden.loc[duplicate, "identificatie"], panden.loc[duplicate, "bron"]):
            self.skipped.add(bron, identificatie, "duplicate pand (already read from another input)")
        panden = panden[~duplicate].reset_index(drop=True)
        vbos = _concat(self.vbo_frames, VBO_COLUMNS_OUT)
        vbos = _vbo_types(vbos[~vbos["identificatie"].duplicated()].reset_index(drop=True))
        if len(vbos):
            panden = aggregate_verblijfsobjecten(panden, vbos)
        elif not self.source_has_aggregates and len(panden):
            self.notes.append("pand: no verblijfsobjecten given, gebruiksdoel and aantal_verblijfsobjecten unknown")
        if panden.empty:
            self.notes.append("pand: no current panden in the inputs")
        for note in self.notes:
            log.info("BAG: %s", note)
        return BagResult(
            panden=_pand_types(panden), verblijfsobjecten=vbos, skipped=self.skipped, counts_in=self.counts_in,
            notes=self.notes
        )


_OBJECT_TYPE = {"PND": "pand", "VBO": "verblijfsobject", "NUM": "nummeraanduiding", "OPR": "openbareruimte",
                "WPL": "woonplaats"}

# Layer name fragment -> role; checked in this order, so "pand_verblijfsobject" is a VBO layer.
_LAYER_ROLES = (("verblijfsobject", "verblijfsobject"), ("vbo", "verblijfsobject"), ("pand", "pand"))


def _layer_role(layer: str, geometry_type: str | None) -> str | None:
    name = layer.lower()
    for fragment, role in _LAYER_ROLES:
        if fragment in name:
            return role
    if geometry_type and "polygon" in geometry_type.lower():
        return "pand"  # a single footprint layer with another name (tudcampus, kerk)
    return None


def _fields(obj: etree._Element) -> dict:
    """The fields of one BAG object element, flattened: simple values, refs, voorkomen, geometrie."""
    record: dict = {}
    for child in children(obj):
        name = local_name(child)
        if name == "voorkomen":
            for e in child.iter():
                if isinstance(e.tag, str) and e.text and e.text.strip():
                    record[local_name(e)] = e.text.strip()
        elif name == "geometrie":
            record["geometrie"] = child
        elif name == "maaktDeelUitVan":
            record["pand_refs"] = [e.text.strip() for e in child.iter("{*}PandRef") if e.text]
        elif name == "heeftAlsHoofdadres":
            record["hoofdadres"] = (child.findtext("{*}NummeraanduidingRef") or "").strip() or None
        elif name in ("ligtAan", "ligtIn"):
            ref = next(children(child), None)
            record[name] = ref.text.strip() if ref is not None and ref.text else None
        elif name == "gebruiksdoel":
            record.setdefault("gebruiksdoel", []).append((child.text or "").strip())
        elif child.text and child.text.strip():
            record[name] = child.text.strip()
    return record


def _order(record: dict) -> tuple[str, int]:
    vk = record.get("voorkomenidentificatie", "")
    return record.get("beginGeldigheid", ""), int(vk) if vk.isdigit() else -1


def _xml_geometry(geometrie: etree._Element | None, code: str):
    """(geometry, problem) of a pand (Polygon) or verblijfsobject (its punt, else its vlak's point)."""
    if geometrie is None:
        return None, "missing geometry"
    element = next(children(geometrie), None)
    if element is not None and local_name(element) in ("punt", "vlak"):
        wrappers = {local_name(c): c for c in children(geometrie)}
        element = next(children(wrappers.get("punt", wrappers.get("vlak"))), None)
    if element is None:
        return None, "missing geometry"
    try:
        geometry = parse_geometry(element)
    except GeometryError as exc:
        return None, str(exc)
    problem = invalid_reason(geometry)
    if problem is None and outside_rd(geometry):
        problem = "coordinates outside the RD New extent (wrong CRS?)"
    if problem is None and code == "VBO":
        geometry = _as_point(geometry)
    return geometry, problem


def _as_point(geometry):
    if geometry is None or geometry.geom_type == "Point":
        return geometry
    return geometry.representative_point()


def _single(geometry):
    """A one-part MultiPolygon as a Polygon; true multi-part panden stay MultiPolygon."""
    if geometry is not None and geometry.geom_type == "MultiPolygon" and len(geometry.geoms) == 1:
        return geometry.geoms[0]
    return geometry


def _pand_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    frame = frame.reindex(columns=[*PAND_COLUMNS_OUT, "geometry"])
    frame["geometry"] = [_single(g) for g in frame["geometry"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=RD_NEW)


def _concat(frames: list[gpd.GeoDataFrame], columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([], crs=RD_NEW),
                                crs=RD_NEW)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=RD_NEW)


def _integers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").round().astype("Int64")


def _iso_date(values: pd.Series) -> pd.Series:
    """Dates as ISO text (YYYY-MM-DD) whatever the source gave (text, datetime)."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return None
        return v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v)[:10]

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _boolean(values: pd.Series) -> pd.Series:
    table = {"j": True, "n": False, "true": True, "false": False, "1": True, "0": False, "ja": True, "nee": False}
    return values.map(lambda v: table.get(str(v).strip().lower()) if v is not None and not pd.isna(v)
                      else pd.NA).astype("boolean")


def _text(values: pd.Series) -> pd.Series:
    """Text or None (object dtype: pandas 3 would otherwise infer its str dtype with NaN)."""
    def one(v):
        return None if v is None or pd.isna(v) or str(v).strip() == "" else str(v).strip()

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _pand_types(panden: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    panden = panden.copy()
    bouwjaar = _integers(panden["oorspronkelijkbouwjaar"])
    panden["oorspronkelijkbouwjaar"] = bouwjaar.mask(bouwjaar == UNKNOWN_BOUWJAAR)
    panden["geconstateerd"] = _boolean(panden["geconstateerd"])
    for column in ("documentdatum", "begingeldigheid"):
        panden[column] = _iso_date(panden[column])
    for column in ("voorkomenidentificatie", "aantal_verblijfsobjecten", "oppervlakte_min", "oppervlakte_max"):
        panden[column] = _integers(panden[column])
    for column in ("identificatie", "status", "documentnummer", "bron"):
        panden[column] = _text(panden[column])
    panden["gebruiksdoel"] = pd.Series([_join_unique([v]) for v in panden["gebruiksdoel"]], index=panden.index,
                                       dtype=object)
    return panden[[*PAND_COLUMNS_OUT, "geometry"]]


def _vbo_types(vbos: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    vbos = vbos.copy()
    for column in ("huisnummer", "oppervlakte"):
        vbos[column] = _integers(vbos[column])
    for column in VBO_COLUMNS_OUT:
        if column not in ("huisnummer", "oppervlakte"):
            vbos[column] = _text(vbos[column])
    return vbos[[*VBO_COLUMNS_OUT, "geometry"]]
