"""Cross-cutting response rules of the site: errors without internals, relative redirects, worker pid."""

from __future__ import annotations

import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse

LOGGER = logging.getLogger("services.app")

WORKER_PID_HEADER = b"x-stadsmodel-worker"


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    """Any exception a handler lets through: a generic 500; the traceback goes to the log only.

    Client mistakes never get here: they are recognised and answered with a 400 before (services.params,
    services.filters) or by pygeoapi and the providers (ProviderInvalidQueryError)."""
    LOGGER.error("%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return JSONResponse({"code": "NoApplicableCode", "description": "internal server error (see the server log)"},
                        status_code=500)


class ResponseRules:
    """ASGI middleware: ``Location`` headers relative to the site (Starlette builds the trailing-slash
    redirect from the Host header, an open redirect to any host), and the worker's pid in multi-worker mode."""

    def __init__(self, app):
        self.app = app
        self.pid = str(os.getpid()).encode() if os.environ.get("STADSMODEL_WORKER_PID_HEADER") else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def rule_send(message):
            if message["type"] == "http.response.start":
                headers = [(k, _relative(v) if k.lower() == b"location" else v) for k, v in message["headers"]]
                if self.pid is not None:
                    headers.append((WORKER_PID_HEADER, self.pid))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, rule_send)


def _relative(location: bytes) -> bytes:
    """``http://any-host/path?q`` → ``/path?q``; already relative locations stay as they are."""
    text = location.decode("latin-1")
    scheme, sep, rest = text.partition("://")
    if not sep or "/" in scheme:
        return location if not text.startswith("//") else b"/" + text[2:].partition("/")[2].encode("latin-1")
    path = rest.partition("/")[2]
    return ("/" + path).encode("latin-1")
