"""pygeoapi's PostgreSQL provider, with ``?property=value`` compared as the column's type.

pygeoapi 0.24 binds query-parameter values as text, which PostgreSQL refuses against integer, float and
boolean columns (``operator does not exist: bigint = character varying``): every such request was a 500.
Values are converted as the GeoPackage provider converts them; one that does not convert is a 400.
A ``bbox`` arrives as an exact area (services.bbox.AreaBox) and is intersected as that polygon, not as
its envelope.
"""

from __future__ import annotations

from geoalchemy2.functions import ST_GeomFromText, ST_Intersects
from pygeoapi.crs import get_srid
from pygeoapi.provider.sql import PostgreSQLProvider as StockPostgreSQLProvider
from sqlalchemy import false

from services.providers.geopackage import typed_query_value


class PostgreSQLProvider(StockPostgreSQLProvider):
    def _get_property_filters(self, properties):
        typed = [(name, typed_query_value(name, value, self.fields.get(name, {}).get("type", "string")))
                 for name, value in properties or []]
        return super()._get_property_filters(typed)

    def _get_bbox_filter(self, bbox):
        area = getattr(bbox, "area", None)
        if area is None:
            return super()._get_bbox_filter(bbox)
        if area.is_empty:
            return false()
        polygon = ST_GeomFromText(area.wkt, get_srid(self.storage_crs))
        return ST_Intersects(polygon, getattr(self.table_model, self.geom))
