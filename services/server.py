"""``stadsmodel serve``: check the data, then run the site with uvicorn, in one process or in N workers.

With ``--workers N`` this module is its own supervisor (not uvicorn's): each worker binds the port with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers (with one shared socket, the
worker that happens to be awake takes every keep-alive client), and each worker dies with its supervisor
(``PR_SET_PDEATHSIG`` on Linux, else a watchdog thread), so ``kill -9`` of the supervisor frees the port.
A worker that dies is restarted. Behind a reverse proxy (nginx, HAProxy) the same holds per backend.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.errors import ConfigError, InputError
from core.products import STORE_NAME
from services.config import api_url, effective_config, lod12_roof_percentile
from services.limits import OncePerSecond, ServerLimits, protocol_class
from services.sttr import prefill_config, stored_activities

LOGGER = logging.getLogger(__name__)


def check_data(data: Path, base_url: str, postgres: str | None) -> None:
    """Refuse to serve a store or raster that cannot be read (InputError, exit status 2)."""
    from services import health

    config = effective_config(data, base_url=base_url, postgres=postgres)
    lod12_roof_percentile(data)  # a broken report.json: named here, not by every worker dying on it
    prefill_config()  # and a broken config/sttr_prefill.yml here, not in every permit check,
    stored_activities(data / STORE_NAME)  # and a broken toepasbare_regels table
    broken = health.problems(config, thorough=True)
    if broken:
        raise InputError(data, "cannot serve unreadable data: " +
                         "; ".join(f"{name}: {reason}" for name, reason in sorted(broken.items())))


def serve(data: Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          postgres: str | None = None, limits: ServerLimits | None = None) -> None:
    """Run the site until interrupted. ``limits``: default :meth:`ServerLimits.from_env`."""
    limits = limits or ServerLimits.from_env()
    base_url = api_url(host, port)
    os.environ.update(STADSMODEL_DATA=str(Path(data).resolve()), STADSMODEL_BASE_URL=base_url,
                      STADSMODEL_POSTGRES=postgres or "", **limits.to_env())
    check_data(Path(data), base_url, postgres)
    if _port_in_use(host, port):
        raise ConfigError(f"{host}:{port} is already in use (another server, or workers of one still running)")
    _quiet_repeats()
    if workers > 1:
        _supervise(host, port, workers)
    else:
        _run(host, port, limits, socket_=None)


def _uvicorn_config(host: str, port: int, limits: ServerLimits):
    import uvicorn

    return uvicorn.Config("services.app:app_from_env", factory=True, host=host, port=port, log_level="warning",
                          http=protocol_class(limits), timeout_keep_alive=limits.keep_alive,
                          h11_max_incomplete_event_size=limits.max_head, timeout_graceful_shutdown=5,
                          server_header=False)


def _run(host: str, port: int, limits: ServerLimits, socket_: socket.socket | None) -> None:
    import uvicorn

    server = uvicorn.Server(_uvicorn_config(host, port, limits))
    server.run(sockets=[socket_] if socket_ is not None else None)


def _quiet_repeats() -> None:
    for name in ("asyncio", "uvicorn.error", "services.limits"):
        logging.getLogger(name).addFilter(OncePerSecond())


def _address(host: str, port: int):
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, kind, proto, address


def _port_in_use(host: str, port: int) -> bool:
    """A bind without SO_REUSEPORT fails while anyone listens there (also workers of another supervisor)."""
    family, kind, proto, address = _address(host, port)
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return True
    return False


def _supervise(host: str, port: int, workers: int) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("--workers needs SO_REUSEPORT (Linux, BSD, macOS); run one worker per port behind a "
                          "reverse proxy instead")
    stopping = threading.Event()
    command = [sys.executable, "-m", "services.server", "--worker", host, str(port), str(os.getpid())]

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(command, env=os.environ)

    procs = [spawn() for _ in range(workers)]

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOGGER.warning("serving on http://%s:%d with %d workers (pids %s)", host, port, workers,
                   ", ".join(str(p.pid) for p in procs))
    restarts: list[float] = []
    try:
        while not stopping.wait(0.5):
            for i, proc in enumerate(procs):
                if proc.poll() is None:
                    continue
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > 5 * workers:
                    raise ConfigError(f"workers keep dying (last exit status {proc.returncode}); see the log above")
                LOGGER.error("worker %d exited with status %s; restarting it", proc.pid, proc.returncode)
                procs[i] = spawn()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def _die_with(parent: int) -> None:
    """End this process when ``parent`` ends, however it ends (also by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        def watchdog():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watchdog, daemon=True, name="parent-watchdog").start()
    if os.getppid() != parent:  # the parent was gone before prctl took effect
        os._exit(1)


def _worker(host: str, port: int, parent: int) -> None:
    _die_with(parent)
    _quiet_repeats()
    os.environ["STADSMODEL_WORKER_PID_HEADER"] = "1"
    _run(host, port, ServerLimits.from_env(), socket_=shared_listening_socket(host, port))


def shared_listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes can bind as well (SO_REUSEPORT: the kernel spreads the
    connections over them). Its protocol is TCP by name, as getaddrinfo gives it: asyncio switches Nagle's
    algorithm off only on sockets whose proto is IPPROTO_TCP, and with it on every small answer on a kept-alive
    connection waits some 40 ms for the client's delayed ACK."""
    family, kind, proto, address = _address(host, port)
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    return sock


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        _worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: python -m services.server --worker HOST PORT SUPERVISOR_PID (started by stadsmodel serve)")
