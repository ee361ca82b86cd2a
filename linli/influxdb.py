"""A throwaway InfluxDB (``influxd`` 1.x, Debian's ``influxdb``) on free loopback ports.

For tests and benchmarks of the telemetry store: :class:`InfluxServer` writes a config that
keeps everything in a temporary directory, listens on 127.0.0.1 only (HTTP API, and the RPC
port it needs for backups), reports nothing home, and stops the server on exit. Linli talks
to it only through the v1 HTTP API (line-protocol writes, InfluxQL queries), which InfluxDB
1.x, 2.x and 3.x all serve.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from linli.ports import free_port
from linli.servers import LocalServer, terminate

START_TIMEOUT_S = 30.0


class InfluxError(RuntimeError):
    """influxd is not installed, or did not start."""


def find_influxd() -> str:
    """Path of ``influxd``; InfluxError if it is not installed."""
    found = shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )
    if found is None:
        raise InfluxError("influxd is not installed; install Debian's influxdb package")
    return found


class InfluxServer(LocalServer):
    """A private ``influxd`` on ``127.0.0.1:port``; use as a context manager."""

    def __init__(self, *, name: str = "linli") -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.name = name
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return Path(self._workdir.name) / "influxd.log"

    def start(self) -> InfluxServer:
        binary = find_influxd()
        self._workdir = tempfile.TemporaryDirectory(prefix=f"linli-influx-{self.name}-")
        work = Path(self._workdir.name)
        self.port = free_port()
        rpc_port = free_port()
        config = work / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "{self.host}:{rpc_port}"\n'
            f'[meta]\n  dir = "{work}/meta"\n'
            f'[data]\n  dir = "{work}/data"\n  wal-dir = "{work}/wal"\n'
            '  query-log-enabled = false\n  index-version = "inmem"\n'
            f'[http]\n  enabled = true\n  bind-address = "{self.host}:{self.port}"\n'
            "  log-enabled = false\n  auth-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "-config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-1500:]
        self.stop()
        raise InfluxError(f"influxd did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        terminate(self.process, timeout_s=10)
        self.process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
