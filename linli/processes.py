"""Supervised child processes: each the leader of its own process group, with its output in
a log file, stopped together (SIGTERM, then SIGKILL after a grace period); and a stop request
that SIGINT or SIGTERM sets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

STOP_TIMEOUT_S = 10.0
POLL_S = 0.05


def linli_command(*args: str) -> list[str]:
    """The argv that runs ``linli ARGS...`` with this Python."""
    return [sys.executable, "-m", "linli", *args]


def describe_status(status: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` for a Popen-style exit status."""
    if status >= 0:
        return f"exit code {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (or a note that it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    tail = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty log)"


@dataclass
class Child:
    """One supervised process, the leader of its own process group."""

    name: str
    argv: tuple[str, ...]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_status(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs.

        Does not reap the process: while it is an unreaped zombie its pid, and so its
        process-group id, cannot be reused, which keeps signalling the group safe.
        """
        if self.process.returncode is not None:
            return self.process.returncode
        try:
            result = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.process.poll()
        if result is None:
            return None
        if result.si_code == os.CLD_EXITED:
            return result.si_status
        return -result.si_status

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to every process in the child's group (no error if it is empty)."""
        if self.process.returncode is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return


class ProcessGroup:
    """Supervised child processes: start, watch, and stop them all, leaving nothing behind.

    Each child runs in a new session (so Ctrl-C at the terminal reaches only the parent)
    with stdout and stderr in ``<log_dir>/<name>.log``.
    """

    def __init__(self, log_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("PYTHONUNBUFFERED", "1")
        self._children: list[Child] = []

    @property
    def children(self) -> tuple[Child, ...]:
        return tuple(self._children)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        """Start ``argv`` as child ``name``, with ``env`` added to the group's environment;
        its output goes to ``<log_dir>/<name>.log``."""
        if any(child.name == name for child in self._children):
            raise ValueError(f"a child named {name!r} is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**self._env, **(env or {})},
                start_new_session=True,
            )
        child = Child(name, tuple(argv), log_path, process)
        self._children.append(child)
        return child

    def first_exited(self) -> tuple[Child, int] | None:
        """A child that has exited, with its exit status; None while all run."""
        for child in self._children:
            status = child.exit_status()
            if status is not None:
                return child, status
        return None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop every child, the last started first.

        Each group gets SIGTERM and the leader is waited for, all within ``timeout``
        seconds in total; then every group gets SIGKILL, which also ends any process a
        child left behind, and the leaders are reaped.
        """
        deadline = time.monotonic() + timeout
        for child in reversed(self._children):
            if child.exit_status() is None:
                child.signal_group(signal.SIGTERM)
                while child.exit_status() is None and time.monotonic() < deadline:
                    time.sleep(POLL_S)
        for child in self._children:
            child.signal_group(signal.SIGKILL)
            child.process.wait()
        self._children.clear()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class StopRequest:
    """Set by SIGINT or SIGTERM while :meth:`installed`; the demo checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self._event.set()

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        previous = {
            signum: signal.signal(signum, self._handle)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
