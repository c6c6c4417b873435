"""pygeoapi's PostgreSQL provider, with ``?property=value`` compared as the column's type.

pygeoapi 0.24 binds query-parameter values as text, which PostgreSQL refuses against integer, float and
boolean columns (``operator does not exist: bigint = character varying``): every such request was a 500.
Values are converted as the GeoPackage provider converts them; one that does not convert is a 400.
"""

from __future__ import annotations

from pygeoapi.provider.sql import PostgreSQLProvider as StockPostgreSQLProvider

from services.providers.geopackage import typed_query_value


class PostgreSQLProvider(StockPostgreSQLProvider):
    def _get_property_filters(self, properties):
        typed = [(name, typed_query_value(name, value, self.fields.get(name, {}).get("type", "string")))
                 for name, value in properties or []]
        return super()._get_property_filters(typed)
