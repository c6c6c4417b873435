"""Server limits: what one client may cost a worker, all configurable (``stadsmodel serve`` options or env).

=================================  ==========================  =======  =============================================
limit                              option / environment        default  enforced by
=================================  ==========================  =======  =============================================
request body                       ``--max-body`` /            1 MiB    :class:`RequestGuard`: 413 as soon as the
                                   ``STADSMODEL_MAX_BODY``              declared or received body is larger
URL (path + query)                 ``--max-url`` /             64 KiB   :class:`RequestGuard`: 414
                                   ``STADSMODEL_MAX_URL``
request head (request line and     ``--max-head`` /            256 KiB  :class:`RequestGuard`: 431 for a complete
headers together)                  ``STADSMODEL_MAX_HEAD``              head; :class:`GuardedH11Protocol`: 431 and
                                                                        close for one still arriving past it; larger
                                                                        than the URL cap, so a long URL gets its 414
time to send a request head        ``--header-timeout`` /      10 s     :class:`GuardedH11Protocol`: the connection
(and each chunk of a body)         ``STADSMODEL_HEADER_TIMEOUT``        is closed (slow or silent clients)
idle keep-alive connection         ``--keep-alive`` /          5 s      uvicorn ``timeout_keep_alive``
                                   ``STADSMODEL_KEEP_ALIVE``
open connections per worker        ``--max-connections`` /     1000     :class:`GuardedH11Protocol`: 503 and close
                                   ``STADSMODEL_MAX_CONNECTIONS``       (also capped below the file-descriptor limit)
time until an answer starts        ``--request-timeout`` /     60 s     :class:`RequestGuard`: 503 (the query may
                                   ``STADSMODEL_REQUEST_TIMEOUT``       still finish in its thread; its answer is
                                                                        dropped)
=================================  ==========================  =======  =============================================

uvicorn's own ``limit_concurrency`` answers 503 only once a request has been read, so idle or half-sent
connections would still pile up (and use file descriptors); hence the connection cap at accept time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
from dataclasses import dataclass, fields
from http import HTTPStatus

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.errors import ConfigError

LOGGER = logging.getLogger(__name__)

KIB = 1024
# File descriptors a worker keeps for itself (store, rasters, tiles, logs, the listening socket).
RESERVED_FDS = 64


@dataclass(frozen=True)
class ServerLimits:
    max_body: int = 1024 * KIB
    max_url: int = 64 * KIB
    max_head: int = 256 * KIB
    header_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections: int = 1000
    request_timeout: float = 60.0

    @classmethod
    def from_env(cls, environ=os.environ, **overrides) -> ServerLimits:
        """Defaults, then ``STADSMODEL_<NAME>`` variables, then ``overrides`` that are not None."""
        values = {}
        for f in fields(cls):
            raw = overrides.get(f.name)
            if raw is None:
                raw = environ.get(f"STADSMODEL_{f.name.upper()}")
            if raw is None:
                continue
            kind = int if f.type in ("int", int) else float
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"server limit {f.name} (STADSMODEL_{f.name.upper()}): {raw!r} is not a number") \
                    from None
            if value <= 0:
                raise ConfigError(f"server limit {f.name} (STADSMODEL_{f.name.upper()}) must be positive, not {raw!r}")
            values[f.name] = value
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes :meth:`from_env` return these limits (for uvicorn's worker processes)."""
        return {f"STADSMODEL_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}

    def connection_cap(self) -> int:
        """``max_connections``, lowered to what the file-descriptor limit allows."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - RESERVED_FDS))


def _error_body(status: int, message: str) -> bytes:
    body = json.dumps({"code": "ServerLimit" if status >= 500 else "RequestRejected", "description": message})
    return body.encode()


def _write_and_close(transport: asyncio.Transport, status: int, message: str, extra_headers: bytes = b"") -> None:
    """An answer written straight to the socket, for refusals made before any ASGI cycle exists."""
    body = _error_body(status, message)
    reason = HTTPStatus(status).phrase.encode()
    transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n%s"
                    b"content-length: %d\r\n\r\n%s" % (status, reason, extra_headers, len(body), body))
    transport.close()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head and a cap on open connections.

    ``limits`` is set as a class attribute by :func:`protocol_class`.
    """

    limits: ServerLimits = ServerLimits()
    cap: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = None
        if len(self.connections) > self.cap:
            # Refuse at once: an accepted socket costs a file descriptor until it is closed.
            _limited_warning("connection refused: %d open connections (limit %d per worker)",
                             len(self.connections), self.cap)
            _write_and_close(transport, 503, f"too many open connections (limit {self.cap}); try again later",
                             b"retry-after: 1\r\n")
            return
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _head_timeout(self) -> None:
        self._head_timer = None
        waiting_for_head = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
        if waiting_for_head and not self.transport.is_closing():
            if self.conn.trailing_data[0]:  # a half-sent head, not just an idle keep-alive connection
                _limited_warning("closed a connection that sent no complete request head in %.0f s",
                                 self.limits.header_timeout)
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # h11 gives up on a head that is still arriving past its cap (h11_max_incomplete_event_size = max_head)
        # with a bare "400 Invalid HTTP request". Whether a given oversized head is seen complete (then
        # RequestGuard answers 431) or still arriving depends on how TCP delivers it, so both paths say 431.
        buffered = len(self.conn.trailing_data[0])
        if buffered > self.limits.max_head:
            _write_and_close(self.transport, 431, f"the request head is over {self.limits.max_head} bytes; "
                                                  f"this server accepts at most {self.limits.max_head}")
            return
        super().send_400_response(msg)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


def protocol_class(limits: ServerLimits) -> type[GuardedH11Protocol]:
    return type("StadsmodelH11Protocol", (GuardedH11Protocol,), {"limits": limits, "cap": limits.connection_cap()})


_last_warning = [0.0]


def _limited_warning(message: str, *args) -> None:
    """At most one such warning a second: a flood of refused connections must not flood the log."""
    now = time.monotonic()
    if now - _last_warning[0] >= 1.0:
        _last_warning[0] = now
        LOGGER.warning(message, *args)


class OncePerSecond(logging.Filter):
    """Drops repeats of a log message within a second (asyncio logs every failed accept at EMFILE)."""

    def __init__(self):
        super().__init__()
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        if now - self.last.get(key, -1.0) < 1.0:
            return False
        self.last[key] = now
        if record.exc_info and isinstance(record.exc_info[1], OSError):
            record.exc_info = None  # "Too many open files" says it all; no traceback per accept
        return True


class RequestGuard:
    """ASGI middleware: 414 for a long URL, 431 for a large head, 413 for a large body, 408 for a stalled body,
    503 when an answer takes too long."""

    def __init__(self, app, limits: ServerLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        url_length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_length > self.limits.max_url:
            return await _answer(send, 414, f"the URL is {url_length} bytes long; this server accepts at most "
                                            f"{self.limits.max_url} (send a long filter as a POST body)")
        head = url_length + sum(len(k) + len(v) + 4 for k, v in scope["headers"])  # 4: ": " and CRLF
        if head > self.limits.max_head:
            return await _answer(send, 431, f"the request head is about {head} bytes; this server accepts at most "
                                            f"{self.limits.max_head}")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_body:
            return await _answer(send, 413, f"the request body is {int(declared)} bytes; at most "
                                            f"{self.limits.max_body} are accepted")
        received, body_complete = 0, False

        async def limited_receive():
            nonlocal received, body_complete
            if body_complete:
                # Past the body, receive() only waits for the client to go away, for as long as a response
                # streams (a large tile to a slow client): no deadline there.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.limits.header_timeout)
            except TimeoutError:
                raise BodyTooSlow() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limits.max_body:
                    raise BodyTooLarge()
                body_complete = not message.get("more_body", False)
            return message

        response_started = asyncio.Event()

        async def tracked_send(message):
            if message["type"] == "http.response.start":
                response_started.set()
            await send(message)

        # The timeout runs until the answer starts; sending a large tile to a slow client may take longer.
        task = asyncio.ensure_future(self.app(scope, limited_receive, tracked_send))
        started = asyncio.ensure_future(response_started.wait())
        await asyncio.wait({task, started}, timeout=self.limits.request_timeout, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if not task.done() and not response_started.is_set():
            task.cancel()
            LOGGER.warning("%s %s: no answer within %s s", scope["method"], scope["path"], self.limits.request_timeout)
            return await _answer(send, 503, f"the request took longer than {self.limits.request_timeout} s")
        try:
            await task
        except BodyTooLarge:
            if not response_started.is_set():
                await _answer(send, 413, f"the request body is larger than {self.limits.max_body} bytes")
        except BodyTooSlow:
            if not response_started.is_set():
                await _answer(send, 408, f"no body data for {self.limits.header_timeout} s")


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


async def _answer(send, status: int, message: str) -> None:
    body = _error_body(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
