"""JSON answers that keep their text: "<" and ">" as JSON escapes, not as HTML entities.

pygeoapi's ``util.to_json`` replaces every "<" and ">" of a JSON body with "&lt;" and "&gt;" (so that no JSON
embedded in its HTML pages can close a script element). That changes the data: an article that says "<b>" reaches
every client as "&lt;b&gt;", and, since "&" itself is not escaped, a client cannot undo it. :func:`to_json` keeps
the protection the JSON way — "\\u003c" and "\\u003e", which every JSON parser reads back as "<" and ">" and which
close no element — and :func:`install` puts it in the pygeoapi modules that write JSON (each imported the name).
"""

from __future__ import annotations

import importlib
import json

from pygeoapi.util import json_serial

# The pygeoapi modules this service calls that bound util.to_json at import (util itself: its Jinja filter).
PYGEOAPI_MODULES = ("pygeoapi.util", "pygeoapi.api", "pygeoapi.api.itemtypes", "pygeoapi.api.processes",
                    "pygeoapi.api.coverages", "pygeoapi.openapi")


def to_json(dict_, pretty: bool = False) -> str:
    """pygeoapi's to_json, with "<" and ">" written as JSON escapes (outside strings JSON has neither)."""
    text = json.dumps(dict_, default=json_serial, indent=4 if pretty else None, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def install() -> None:
    for name in PYGEOAPI_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "to_json"):
            module.to_json = to_json
