"""A LiveServer with options: serve arguments (limits, workers), environment, a file-descriptor limit."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.services.conftest import LiveServer


class ConfiguredServer(LiveServer):
    def __init__(self, data: Path, *args: str, postgres: str | None = None, env: dict | None = None,
                 nofile: int | None = None, port: int | None = None):
        super().__init__(data, postgres=postgres)
        if port is not None:
            self.port, self.url = port, f"http://127.0.0.1:{port}"
            self.cmd[self.cmd.index("--port") + 1] = str(port)
        self.data = data
        self.cmd += list(args)
        self.env = {**os.environ, **(env or {})}
        self.nofile = nofile

    def __enter__(self) -> ConfiguredServer:
        def limit_fds():
            if self.nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

        self.process = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                        env=self.env, preexec_fn=limit_fds)
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/api?f=json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"server did not start: {self.log_text()[-2000:]}")
            time.sleep(0.1)

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of the service store (tests that break it must not break the shared one)."""
    shutil.copytree(source, target, symlinks=True)
    return target
