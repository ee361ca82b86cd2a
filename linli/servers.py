"""What the servers Linli starts on loopback for its tests and the demo share (Mosquitto,
PostgreSQL, InfluxDB): ``with`` starts one and stops it, and a server's process is asked to
end (SIGTERM) before it is made to (SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class LocalServer(ABC):
    """A server of our own on free loopback ports: :meth:`start` it, :meth:`stop` it (also
    after a failed start: stopping what never started does nothing), or ``with`` it."""

    @abstractmethod
    def start(self) -> Self:
        """Start it; it answers when this returns."""

    @abstractmethod
    def stop(self) -> None:
        """Stop it and remove what it kept; nothing to do if it never started."""

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def terminate(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """End ``process`` if it still runs: SIGTERM, and SIGKILL after ``timeout_s``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
