"""Start and stop a private Mosquitto broker on a free loopback port.

Used by ``linli demo`` (the gateway and cloud brokers) and by the test fixtures. Each keeps
sessions and queued messages on disk (QoS 0 ones too), so a restart loses neither.
Never binds the standard port 1883, which another broker may hold.

A broker lets anyone in unless it is given ``access``: the directory where Linli writes
its password file and ACL (:mod:`cloud.access.broker`); :meth:`Mosquitto.reload` makes it
read them again. ``tls`` adds a TLS listener on a port of its own.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from linli.ports import free_port, port_open
from linli.servers import LocalServer, terminate

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


class BrokerError(RuntimeError):
    """The broker could not be started."""


@dataclass(frozen=True)
class TlsListener:
    """A TLS listener: the broker's certificate and key, the CA it trusts for clients'
    certificates, and whether a client must show one."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


def find_mosquitto() -> str:
    """Path of the mosquitto binary; BrokerError if it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")


class Mosquitto(LocalServer):
    """A Mosquitto process listening on ``127.0.0.1:port``; use as a context manager.

    ``port=None`` picks a free port (and retries if another process takes it first).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        name: str = "broker",
        log_dir: Path | None = None,
        max_inflight: int = 0,
        access: Path | None = None,
        tls: TlsListener | None = None,
    ):
        """``max_inflight``: QoS 1 and 2 messages in flight to and from each client at once
        (the Receive Maximum the broker announces to MQTT 5 clients); 0, no limit.
        ``access``: the directory of Linli's ``passwd`` and ``acl``; none: anyone gets in."""
        self.host = "127.0.0.1"
        self._access = access
        self._tls = tls
        self.tls_port = 0
        self._max_inflight = max_inflight
        self.name = name
        self._fixed_port = port
        self.port = port or 0
        self._log_dir = log_dir
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        binary = find_mosquitto()
        self._workdir = tempfile.TemporaryDirectory(prefix=f"linli-{self.name}-")
        attempts = 1 if self._fixed_port else 5
        for _ in range(attempts):
            self.port = self._fixed_port or free_port()
            if self._tls is not None:
                self.tls_port = free_port()
            if self._try_start(binary, timeout):
                return self
        raise BrokerError(
            f"mosquitto ({self.name}) did not start on port {self.port}: {self._log_tail()}"
        )

    def _try_start(self, binary: str, timeout: float) -> bool:
        assert self._workdir is not None
        work = Path(self._workdir.name)
        log_file = (self._log_dir or work) / f"mosquitto-{self.name}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        config = work / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} {self.host}\n"
            # run as whoever started us (as root, mosquitto would otherwise switch to the
            # 'mosquitto' user and could not write its log into our directories)
            f"user {getpass.getuser()}\n"
            f"{self._access_lines()}"
            f"pid_file {work}/mosquitto.pid\n"
            # sessions and queued messages survive a restart of the broker
            "persistence true\n"
            f"persistence_location {work}/\n"
            "autosave_interval 5\n"
            # a kept session also queues QoS 0 messages while its client is away
            "queue_qos0_messages true\n"
            f"log_dest file {log_file}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 100000\n"
            f"max_inflight_messages {self._max_inflight}\n"
            # send each packet at once: with Nagle's algorithm a request-and-answer (a batch
            # and its acknowledgement) waits up to 40 ms for the previous answer's ACK
            "set_tcp_nodelay true\n"
        )
        self._log_path = log_file
        self.process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if port_open(self.host, self.port):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _access_lines(self) -> str:
        lines = []
        if self._access is None:
            lines.append("allow_anonymous true")
        else:
            lines += [
                "allow_anonymous false",
                f"password_file {self._access / 'passwd'}",
                f"acl_file {self._access / 'acl'}",
            ]
        if self._tls is not None:
            tls = self._tls
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {tls.ca_file}",
                f"certfile {tls.cert_file}",
                f"keyfile {tls.key_file}",
                f"require_certificate {'true' if tls.require_certificate else 'false'}",
            ]
        return "".join(f"{line}\n" for line in lines)

    @property
    def access_dir(self) -> Path | None:
        """The directory of the password file and ACL it reads; None: anyone gets in."""
        return self._access

    @property
    def pid_file(self) -> Path:
        """Where the broker writes its process id (for ``linli gateway``'s reload)."""
        assert self._workdir is not None, "not started"
        return Path(self._workdir.name) / "mosquitto.pid"

    def reload(self) -> None:
        """Make the broker read its password file and ACL again (SIGHUP)."""
        if self.process is None or self.process.poll() is not None:
            raise BrokerError(f"mosquitto ({self.name}) is not running")
        self.process.send_signal(signal.SIGHUP)

    def halt(self) -> None:
        """Stop the broker, which saves its sessions and queued messages; :meth:`resume`
        starts it again with them."""
        self._terminate()

    def resume(self, timeout: float = 10.0) -> None:
        """Start a halted broker again on the same port, with what it saved."""
        if not self._try_start(find_mosquitto(), timeout):
            raise BrokerError(f"mosquitto ({self.name}) did not restart: {self._log_tail()}")

    def restart(self, timeout: float = 10.0) -> None:
        """:meth:`halt`, then :meth:`resume`."""
        self.halt()
        self.resume(timeout)

    def _log_tail(self) -> str:
        try:
            return self._log_path.read_text()[-500:].strip() or "(empty log)"
        except (OSError, AttributeError):
            return "(no log)"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _terminate(self) -> None:
        terminate(self.process, timeout_s=5)
        self.process = None

    def stop(self) -> None:
        """Stop the broker and remove what it kept."""
        self._terminate()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
