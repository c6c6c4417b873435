"""BGT reader: the PDOK download as delivered (IMGeo GML) and GeoPackage/SQLite layers.

Inputs, in any mix: a .zip holding ``bgt_<type>.gml`` files (PDOK), a folder of such files, single
GML files, and GeoPackage/SQLite files whose layers are named after the object type, with or without
a ``bgt_`` prefix, or after the IMGeo class as GDAL's GML driver names it (``ogr2ogr`` output:
``buildingpart`` = pand, ``trafficarea`` = wegdeel, ``plantcover`` = begroeidterreindeel, ...), with GDAL's
laundered column names (``lokaalid``, ``bgt_status``, ``identificatiebagpnd``, ``eindregistratie``). A file
with one layer of another name takes its object type from the file name (``bgt_wegdeel.sqlite``).
GML is streamed (lxml iterparse), so national files of several GB fit in memory; attributes are taken
per feature, geometries are built and checked per batch of features (`GeometryBatch`), which keeps the
memory bounded and the shapely work vectorised.

Only current objects are kept: an object with ``eindRegistratie`` or ``objectEindTijd``
(``terminationDate`` in the CityGML encoding) is a historic version and is filtered (not an error).

Geometry: the object's ``geometrie2d…`` property — its 2D area in the registration (for pand
``geometrie2dGrondvlak``, the footprint at ground level). Other geometry in an object (the crest
line ``kruinlijn…``, label points of ``nummeraanduidingreeks``) is not the object's shape and is
ignored. Arcs are stroked. Most types are polygons; some objects are lines in real data (a
scheiding "hek" is a LineString), and those are kept as LineString/MultiLineString.
"""

from __future__ import annotations

import logging
import re
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
from etl.readers.bag import bag_digits
from etl.readers.gml import LOCAL_NAMES, GeometryBatch, children, iter_elements, srs_problem

log = logging.getLogger(__name__)

DEFAULT_OBJECT_TYPES = (
    "pand",
    "wegdeel",
    "ondersteunendwegdeel",
    "waterdeel",
    "ondersteunendwaterdeel",
    "begroeidterreindeel",
    "onbegroeidterreindeel",
    "overbruggingsdeel",
    "scheiding",
)

COLUMNS = (
    "identificatie",
    "object_type",
    "bgt_status",
    "plus_status",
    "functie",
    "fysiek_voorkomen",
    "relatieve_hoogteligging",
    "identificatie_bag_pnd",
    "tijdstip_registratie",
    "bron",
)

# IMGeo 2.1 encodes some BGT objects as CityGML classes; the rest are imgeo:<Type> elements whose
# lower-cased name is the object type (imgeo:Waterdeel -> waterdeel).
CITYGML_OBJECT_TYPES = {
    "BuildingPart": "pand",
    "TrafficArea": "wegdeel",
    "AuxiliaryTrafficArea": "ondersteunendwegdeel",
    "PlantCover": "begroeidterreindeel",
    "BridgeConstructionElement": "overbruggingsdeel",
    "SolitaryVegetationObject": "vegetatieobject",
    "CityFurniture": "straatmeubilair",
    "GenericCityObject": "ongeclassificeerdobject",
    "BuildingInstallation": "gebouwinstallatie",
    "TunnelPart": "tunneldeel",
    "WaterBody": "waterdeel",
}

# Where functie and fysiek_voorkomen come from, per object type: element local names in order of
# preference — the CityGML name IMGeo 2.1 uses (function, class, surfaceMaterial) first, then the
# IMGeo/BGT names of other encodings. "functie" is bgt-functie, or bgt-type where a type has no functie.
TYPE_ELEMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "pand": {},
    "wegdeel": {
        "functie": ("function", "bgt-functie", "functie"),
        "fysiek_voorkomen": ("surfaceMaterial", "bgt-fysiekVoorkomen", "fysiekVoorkomen"),
    },
    "ondersteunendwegdeel": {
        "functie": ("function", "bgt-functie", "functie"),
        "fysiek_voorkomen": ("surfaceMaterial", "bgt-fysiekVoorkomen", "fysiekVoorkomen"),
    },
    "waterdeel": {"functie": ("class", "bgt-type", "type")},
    "ondersteunendwaterdeel": {"functie": ("class", "bgt-type", "type")},
    "begroeidterreindeel": {"fysiek_voorkomen": ("class", "bgt-fysiekVoorkomen", "fysiekVoorkomen")},
    "onbegroeidterreindeel": {"fysiek_voorkomen": ("bgt-fysiekVoorkomen", "fysiekVoorkomen")},
    "overbruggingsdeel": {"functie": ("class", "typeOverbruggingsdeel", "bgt-typeOverbruggingsdeel")},
    "scheiding": {"functie": ("bgt-type", "type")},
}
# Types not listed above (vegetatieobject, kunstwerkdeel, ...) use these.
GENERIC_ELEMENTS: dict[str, tuple[str, ...]] = {
    "functie": ("function", "bgt-functie", "functie", "bgt-type", "class"),
    "fysiek_voorkomen": ("surfaceMaterial", "bgt-fysiekVoorkomen", "fysiekVoorkomen"),
}
COMMON_ELEMENTS: dict[str, tuple[str, ...]] = {
    "bgt_status": ("bgt-status", "status"),
    "plus_status": ("plus-status",),
    "relatieve_hoogteligging": ("relatieveHoogteligging",),
    "tijdstip_registratie": ("tijdstipRegistratie",),
    "identificatie_bag_pnd": ("identificatieBAGPND",),
}
# Any of these set means the object is a historic version.
END_ELEMENTS = frozenset({"eindRegistratie", "objectEindTijd", "terminationDate"})

# GeoPackage/SQLite columns -> ours (names compared case- and punctuation-blind).
GPKG_COLUMNS: dict[str, tuple[str, ...]] = {
    "identificatie": ("identificatie", "lokaalid", "identificatie_lokaalid", "identificatie.lokaalid", "gml_id"),
    "bgt_status": ("bgt_status", "status"),
    "plus_status": ("plus_status",),
    "functie": ("functie", "bgt_functie", "function", "bgt_type", "type", "class"),
    "fysiek_voorkomen": ("fysiek_voorkomen", "bgt_fysiekvoorkomen", "fysiekvoorkomen", "surfacematerial"),
    "relatieve_hoogteligging": ("relatieve_hoogteligging", "relatievehoogteligging"),
    "identificatie_bag_pnd": ("identificatie_bag_pnd", "identificatiebagpnd", "identificatie_bagpnd"),
    "tijdstip_registratie": ("tijdstip_registratie", "tijdstipregistratie"),
    "eind_registratie": ("eind_registratie", "eindregistratie", "objecteindtijd", "object_eind_tijd",
                         "terminationdate"),
}
# begroeidterreindeel's CityGML "class" is its fysiek voorkomen, not a functie.
GPKG_TYPE_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "begroeidterreindeel": {
        "functie": ("functie", "bgt_functie"),
        "fysiek_voorkomen": ("fysiek_voorkomen", "bgt_fysiekvoorkomen", "fysiekvoorkomen", "class"),
    },
}

# Layer names of GDAL conversions (ogr2ogr of IMGeo GML): the element name of the class, lower-cased by the
# SQLite/GeoPackage drivers; the CityGML ones are mapped above, the rest are the object type itself.
GDAL_LAYER_TYPES = {name.lower(): object_type for name, object_type in CITYGML_OBJECT_TYPES.items()}

_GML_NAME = re.compile(r"^(?:bgt_)?([a-z]+)\.gml$", re.IGNORECASE)
_VECTOR_NAME = re.compile(r"^(?:bgt_)?([a-z]+)\.[a-z]+$", re.IGNORECASE)
_MEMBER_ELEMENTS = ("cityObjectMember", "featureMember", "member")
# Features whose geometries are built and checked together: large enough for bulk shapely calls to
# pay off, small enough that the queue stays a few MB on national files.
_BATCH_SIZE = 10_000
# A feature read but not yet kept: object type, identificatie, _ATTRIBUTE_COLUMNS, early skip reason.
_PendingFeature = tuple[str, str, list[str | None], str | None]
# COLUMNS are identificatie, object_type, these (read from the feature's own elements), bron.
_ATTRIBUTE_COLUMNS = COLUMNS[2:-1]
_HOOGTELIGGING = _ATTRIBUTE_COLUMNS.index("relatieve_hoogteligging")


@dataclass
class BgtResult:
    """BGT layers in RD New (EPSG:28992), one frame per object type, with what was left out."""

    layers: dict[str, gpd.GeoDataFrame]
    skipped: SkipLog
    counts_in: dict[str, int]  # objects seen per type, historic versions included
    notes: list[str] = field(default_factory=list)  # empty layers, assumed CRS, ...


def read_bgt(paths: Sequence[Path], object_types: Iterable[str] | None = None,
             skip_broken_files: bool = False) -> BgtResult:
    """Read BGT objects of the given types (default `DEFAULT_OBJECT_TYPES`) from all inputs.

    Every requested type gets a frame (possibly empty) with `COLUMNS` + geometry. An object id seen
    twice (overlapping deliveries) is kept once; the repeat is recorded in the SkipLog.

    :param skip_broken_files: a GML file that breaks off (truncated, not well-formed) or cannot be read is
        recorded in the SkipLog, naming where it broke, and the others are read on; the objects before the
        break are kept. Without it, such a file raises.
    :raises InputError: a path that does not exist, a file that is not well-formed XML (naming the
        line), or a file that cannot be opened at all.
    """
    wanted = tuple(dict.fromkeys(t.lower() for t in (object_types or DEFAULT_OBJECT_TYPES)))
    collector = _Collector(wanted)
    started = time.perf_counter()
    for path in map(Path, paths):
        require_exists(path)
        try:
            for name, kind, opener in _expand(path):
                try:
                    _read_file(collector, name, kind, opener, wanted)
                except InputError as e:  # one file of a zip or folder
                    if not skip_broken_files:
                        raise
                    _skip_broken(collector, e)
        except InputError as e:  # the input itself: an unreadable zip or vector file
            if not skip_broken_files:
                raise
            _skip_broken(collector, e)
    result = collector.result()
    seen = sum(result.counts_in.values())
    log.info(
        "BGT: %d objects read, %d kept, %d skipped in %.1f s",
        seen,
        sum(len(f) for f in result.layers.values()),
        len(result.skipped),
        time.perf_counter() - started,
    )
    return result


def _read_file(collector: _Collector, name: str, kind: str, opener, wanted: tuple[str, ...]) -> None:
    if kind != "gml":
        collector.read_vector(Path(name))
        return
    file_type = _gml_object_type(name)
    if file_type is not None and file_type not in wanted:
        return
    with opener() as stream:
        members = collector.read_gml(stream, name, file_type)
    if members == 0:
        collector.notes.append(f"{name}: empty layer, no BGT objects")


def _skip_broken(collector: _Collector, error: InputError) -> None:
    log.warning("BGT: %s: skipped, %s", error.path, error.reason)
    collector.skipped.add(error.path, None, f"file skipped: {error.reason}")


def _gml_object_type(name: str) -> str | None:
    match = _GML_NAME.match(Path(name.split("!")[-1]).name)
    return match.group(1).lower() if match else None


def _expand(path: Path) -> Iterator[tuple[str, str, object]]:
    """(display name, "gml" | "vector", opener) for every readable file below an input path."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        found = False
        for file in files:
            if file.suffix.lower() in (".gml", ".xml", ".zip") or file.suffix.lower() in VECTOR_SUFFIXES:
                found = True
                yield from _expand(file)
        if not found:
            raise InputError(path, "folder holds no BGT files (.gml, .zip, .gpkg)")
        return
    suffix = path.suffix.lower()
    if suffix == ".zip":
        yield from _zip_members(path)
    elif suffix in (".gml", ".xml"):
        yield str(path), "gml", lambda: _open_file(path)
    elif suffix in VECTOR_SUFFIXES:
        yield str(path), "vector", None
    else:
        raise InputError(path, f"not a BGT input (expected .zip, .gml, a folder or {', '.join(VECTOR_SUFFIXES)})")


@contextmanager
def _open_file(path: Path) -> Iterator[IO[bytes]]:
    with open(path, "rb") as stream:
        yield stream


def _zip_members(path: Path) -> Iterator[tuple[str, str, object]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"not a readable zip file: {exc}") from None
    with archive:
        members = sorted(n for n in archive.namelist() if n.lower().endswith((".gml", ".xml")))
        if not members:
            raise InputError(path, "zip holds no .gml files")
        for member in members:

            @contextmanager
            def opener(member: str = member) -> Iterator[IO[bytes]]:
                try:
                    with archive.open(member) as stream:
                        yield stream
                except (zipfile.BadZipFile, OSError) as exc:
                    raise InputError(f"{path}!{member}", f"cannot read zip member: {exc}") from None

            yield f"{path}!{member}", "gml", opener


class _Collector:
    """Accumulates rows column-wise per object type (lists, not dicts per row: national volumes)."""

    def __init__(self, wanted: tuple[str, ...]):
        self.wanted = wanted
        self.columns = {t: {c: [] for c in (*COLUMNS, "geometry")} for t in wanted}
        self.sources = {t: _attribute_sources(t) for t in wanted}
        self.ids: dict[str, set[str]] = {t: set() for t in wanted}
        self.counts_in: dict[str, int] = {t: 0 for t in wanted}
        self.skipped = SkipLog()
        self.notes: list[str] = []

    # ---- GML

    def read_gml(self, stream: IO[bytes], name: str, file_type: str | None) -> int:
        """Read one GML file; returns how many feature members it holds (of any type)."""
        bron = Path(name.split("!")[-1]).name
        members = 0
        pending: list[_PendingFeature] = []
        batch = GeometryBatch()
        try:
            for member in iter_elements(stream, name, _MEMBER_ELEMENTS):
                members += 1
                for feature in member:
                    element_name = LOCAL_NAMES[feature.tag]
                    if element_name:  # not a processing instruction
                        break
                else:
                    continue
                object_type = CITYGML_OBJECT_TYPES.get(element_name) or file_type or element_name.lower()
                if object_type not in self.columns:
                    continue
                self.counts_in[object_type] += 1
                self._read_feature(feature, object_type, pending, batch)
                if len(pending) >= _BATCH_SIZE:
                    self._keep(pending, batch, name, bron)
        except InputError as e:
            self._keep(pending, batch, name, bron)  # the objects before the break are whole and kept
            if members == 0:
                raise
            raise InputError(e.path, f"{e.reason} (the {members} objects before it were read)") from None
        self._keep(pending, batch, name, bron)
        return members

    def _read_feature(
        self, feature: etree._Element, object_type: str, pending: list[_PendingFeature], batch: GeometryBatch
    ) -> None:
        """Take a feature's attributes and queue its geometry; `_keep` decides on it later."""
        by_name: dict[str, etree._Element] = {}
        local_names = LOCAL_NAMES
        for child in feature:
            by_name.setdefault(local_names[child.tag], child)
        if not END_ELEMENTS.isdisjoint(by_name):
            return  # a historic version: filtered, not an error
        attributes = []
        for element_names in self.sources[object_type]:
            value = None
            for element_name in element_names:  # the first one present with text
                element = by_name.get(element_name)
                if element is not None:
                    text = element.text
                    if text and (text := text.strip()):
                        value = text
                        break
            attributes.append(value)
        geometry_property = _geometry_property(by_name)
        element = None if geometry_property is None else next(children(geometry_property), None)
        reason = "missing geometry" if element is None else srs_problem(element)
        if reason is None:
            batch.add(element)
        pending.append((object_type, _lokaal_id(feature), attributes, reason))

    def _keep(self, pending: list[_PendingFeature], batch: GeometryBatch, name: str, bron: str) -> None:
        """Build the queued geometries and keep or skip each queued feature, in file order."""
        geometries, reasons = batch.build()
        outside = outside_rd(np.array(geometries, dtype=object)) if geometries else []
        queued = iter(zip(geometries, reasons, outside))
        kept: dict[str, list[tuple]] = {}
        for object_type, identificatie, attributes, reason in pending:
            geometry = None
            if reason is None:
                geometry, reason, outside_extent = next(queued)
                if reason is None and outside_extent:
                    reason = "coordinates outside the RD New extent (wrong CRS?)"
            if reason is None:
                reason = self._duplicate(object_type, identificatie)
            if reason is None:
                attributes[_HOOGTELIGGING], reason = _hoogteligging(attributes[_HOOGTELIGGING])
            if reason is not None:
                self.skipped.add(name, identificatie, reason)
                continue
            self.ids[object_type].add(identificatie)
            kept.setdefault(object_type, []).append((identificatie, object_type, *attributes, bron, geometry))
        for object_type, rows in kept.items():
            columns = self.columns[object_type]
            for column, values in zip((*COLUMNS, "geometry"), zip(*rows)):
                columns[column].extend(values)
        pending.clear()

    def _duplicate(self, object_type: str, identificatie: str) -> str | None:
        if identificatie in self.ids[object_type]:
            return "duplicate identificatie (object already read from another file)"
        return None

    # ---- GeoPackage / SQLite

    def read_vector(self, path: Path) -> None:
        """The layers of a GeoPackage/SQLite file named after an object type (``wegdeel``, ``bgt_wegdeel``) or
        after its IMGeo class as GDAL names it (``trafficarea``); a file with one layer of another name takes
        the object type from its file name (``bgt_wegdeel.sqlite``)."""
        layers = list_layers(path)
        by_type = {layer: _layer_object_type(layer) for layer, _geometry_type in layers}
        match = _VECTOR_NAME.match(path.name)
        if len(layers) == 1 and match and by_type[layers[0][0]] not in self.columns:
            by_type[layers[0][0]] = match.group(1).lower()
        by_type = {layer: t for layer, t in by_type.items() if t in self.columns}
        if not by_type:
            self.notes.append(
                f"{path}: no layer of the requested object types "
                f"(layers: {', '.join(name for name, _ in layers) or 'none'})"
            )
            return
        for layer, object_type in by_type.items():
            self._read_layer(path, layer, object_type)

    def _read_layer(self, path: Path, layer: str, object_type: str) -> None:
        frame, unparsable = read_vector_layer(path, layer, self.notes)
        self.counts_in[object_type] += len(frame)
        if frame.empty:
            self.notes.append(f"{path} [{layer}]: empty layer, no BGT objects")
            return
        aliases = {**GPKG_COLUMNS, **GPKG_TYPE_COLUMNS.get(object_type, {})}
        mapped = map_columns(frame, aliases)
        if mapped["identificatie"].isna().all():
            raise InputError(path, f"layer {layer!r} has no identificatie/lokaalid column", layer)
        current = mapped["eind_registratie"].isna().to_numpy()
        mapped, geometry, unparsable = mapped[current], frame.geometry.to_numpy()[current], unparsable[current]
        geometry = np.array([_object_area(g) for g in geometry], dtype=object)
        reasons = [problem or _point_problem(g)
                   for problem, g in zip(geometry_problems(geometry, unparsable), geometry)]
        ids = mapped["identificatie"].astype(object)
        hoogteligging = []
        for i, (identificatie, value) in enumerate(zip(ids, mapped["relatieve_hoogteligging"])):
            level, problem = _hoogteligging(value)
            hoogteligging.append(level)
            reasons[i] = reasons[i] or problem or self._duplicate(object_type, identificatie)
            if reasons[i] is None:
                self.ids[object_type].add(identificatie)
        keep = record_skips(self.skipped, f"{path} [{layer}]", ids, reasons)
        mapped, geometry = mapped[keep], geometry[keep]
        hoogteligging = np.asarray(hoogteligging, dtype=object)[keep]
        columns = self.columns[object_type]
        columns["identificatie"].extend(str(v) for v in mapped["identificatie"])
        columns["object_type"].extend([object_type] * len(mapped))
        for column in ("bgt_status", "plus_status", "functie", "fysiek_voorkomen", "tijdstip_registratie"):
            columns[column].extend(_text_or_none(v) for v in mapped[column])
        columns["relatieve_hoogteligging"].extend(hoogteligging)
        columns["identificatie_bag_pnd"].extend(
            (bag_digits(v) or _text_or_none(v)) if object_type == "pand" else None
            for v in mapped["identificatie_bag_pnd"]
        )
        columns["bron"].extend([path.name] * len(mapped))
        columns["geometry"].extend(geometry)

    # ---- result

    def result(self) -> BgtResult:
        layers = {}
        for object_type, columns in self.columns.items():
            frame = gpd.GeoDataFrame(
                {c: pd.Series(columns[c], dtype=object) for c in COLUMNS},
                geometry=gpd.GeoSeries(columns["geometry"], crs=RD_NEW),
                crs=RD_NEW,
            )
            frame["relatieve_hoogteligging"] = frame["relatieve_hoogteligging"].astype(np.int64)
            layers[object_type] = frame
            if frame.empty and not any(n.startswith(f"{object_type}:") for n in self.notes):
                # not a problem in itself (a tile or a selection may hold no scheiding), so only informed
                self.notes.append(f"{object_type}: no current objects in the inputs")
                log.info("BGT: %s", self.notes[-1])
        for note in self.notes:
            if "no current objects" not in note:
                log.warning("BGT: %s", note)
        return BgtResult(layers=layers, skipped=self.skipped, counts_in=dict(self.counts_in), notes=self.notes)


def _object_area(geometry):
    """The object's own shape from a GeometryCollection, as GDAL's GML driver makes one of all the geometries of
    a feature (GML_FETCH_ALL_GEOMETRIES): its surfaces, else its lines; label points are not the object."""
    if geometry is None or geometry.geom_type != "GeometryCollection":
        return geometry
    parts = shapely.get_parts(geometry)
    for kinds in (("Polygon", "MultiPolygon"), ("LineString", "MultiLineString")):
        chosen = [p for p in parts if p.geom_type in kinds]
        if chosen:
            return shapely.union_all(chosen) if len(chosen) > 1 else chosen[0]
    return geometry


def _point_problem(geometry) -> str | None:
    if geometry is not None and geometry.geom_type in ("Point", "MultiPoint"):
        return ("a point, not the object's area: a GDAL conversion of IMGeo GML without a .gfs takes a label "
                "position (nummeraanduidingreeks) for the geometry; read the GML itself, or convert with "
                "GML_FETCH_ALL_GEOMETRIES=YES")
    return None


def _layer_object_type(layer: str) -> str:
    name = layer.lower().removeprefix("bgt_")
    return GDAL_LAYER_TYPES.get(name, name)


def _hoogteligging(value) -> tuple[int, str | None]:
    """(relatieveHoogteligging, problem). BGT requires it; 0 (ground level) is its default when absent."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0, None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer():
        return 0, f"relatieveHoogteligging {value!r} is not an integer"
    return int(number), None


def _attribute_sources(object_type: str) -> tuple[tuple[str, ...], ...]:
    """Element local names to read, per column of `_ATTRIBUTE_COLUMNS`, for one object type."""
    elements = TYPE_ELEMENTS.get(object_type, GENERIC_ELEMENTS)
    sources = {
        **COMMON_ELEMENTS,
        "functie": elements.get("functie", ()),
        "fysiek_voorkomen": elements.get("fysiek_voorkomen", ()),
    }
    if object_type != "pand":
        sources["identificatie_bag_pnd"] = ()  # only a pand refers to a BAG pand
    return tuple(sources[column] for column in _ATTRIBUTE_COLUMNS)


def _lokaal_id(feature: etree._Element) -> str:
    """identificatie/NEN3610ID/lokaalID, else the gml:id (GML 3.1 or 3.2)."""
    lokaal_id = ""
    for element in feature.iterdescendants("{*}lokaalID"):
        lokaal_id = (element.text or "").strip()
        break
    return (
        lokaal_id
        or feature.get("{http://www.opengis.net/gml}id")
        or feature.get("{http://www.opengis.net/gml/3.2}id")
        or "(no id)"
    )


def _geometry_property(by_name: dict[str, etree._Element]) -> etree._Element | None:
    """The object's 2D area: its geometrie2d… property (see the module docstring), else geometrie."""
    for element_name, element in by_name.items():
        if element_name.startswith("geometrie2d"):
            return element
    return by_name.get("geometrie")


def _text_or_none(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None
