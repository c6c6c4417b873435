"""Reading GeoPackage geometries without SpatiaLite (this Python's sqlite3 cannot load extensions): a geometry
blob is a GeoPackage header (spec 2.1.3) followed by standard WKB, which shapely reads."""

from __future__ import annotations

import shapely

# Envelope size in bytes per header envelope indicator (flags bits 1-3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def gpkg_to_wkb(blob: bytes) -> bytes:
    """The WKB part of a GeoPackage geometry blob (header: magic, version, flags, srs_id, envelope)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    envelope = (blob[3] >> 1) & 0b111
    return blob[8 + _ENVELOPE_BYTES[envelope]:]


def gpkg_geometries(blobs: list[bytes | None]):
    """Decode GeoPackage blobs to shapely geometries in one vectorised call (None stays None)."""
    return shapely.from_wkb([gpkg_to_wkb(b) if b else None for b in blobs])
