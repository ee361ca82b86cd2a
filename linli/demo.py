"""``linli demo``: the whole system on one machine, in the production topology.

Two Mosquitto brokers (gateway and cloud), then the cloud, the edge agent and the device
simulator, each a separate ``python -m linli ...`` process in its own process group with
its output in ``<data-dir>/logs/``. Ctrl-C or SIGTERM stops everything; a child that dies
on its own stops everything too, with its log tail shown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated

import typer

from linli.mosquitto import BrokerError, Mosquitto, free_port

DEFAULT_HTTP_PORT = 8080
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05
WATCH_S = 0.5
GATEWAY_ID = "demo-gw"
DEMO_FAULT_DURATION = "1h:4h"
"""Random faults last 1 to 4 simulated hours: 1 to 4 minutes at the default speed, long enough for
rules that need a fault to hold (a lamp out for two minutes)."""
FIRST_FAULT_AFTER_S = 20.0  # a newcomer sees the repair loop start within the first minute


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

    def start(self, name: str, argv: Sequence[str]) -> Child:
        """Start ``argv`` as child ``name``; its output goes to ``<log_dir>/<name>.log``."""
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
                env=self._env,
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


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now (as uvicorn does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_http_port(wanted: int) -> tuple[int, bool]:
    """``wanted`` if it is free, else a free port; and whether it had to change."""
    if port_is_free(wanted):
        return wanted, False
    return free_port(), True


def default_data_dir() -> Path:
    return Path(os.environ.get("LINLI_DATA") or "./var")


def linli_command(*args: str) -> list[str]:
    """The argv that runs ``linli ARGS...`` with this Python."""
    return [sys.executable, "-m", "linli", *args]


class DemoFailed(Exception):
    """A part of the demo failed to start or died; the message says which and why."""


def describe_status(status: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` for a Popen-style exit status."""
    if status >= 0:
        return f"exit code {status}"
    try:
        return f"killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"


def _failure(child: Child, status: int) -> DemoFailed:
    return DemoFailed(
        f"{child.name} exited unexpectedly ({describe_status(status)}); "
        f"last lines of {child.log_path}:\n{log_tail(child.log_path)}"
    )


def _wait_healthy(url: str, child: Child, stop: StopRequest, timeout: float) -> bool:
    """True once ``url`` answers 200; False if stopped first; DemoFailed if the child dies."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = child.exit_status()
        if status is not None:
            raise _failure(child, status)
        if stop.is_set():
            return False
        try:
            answered = httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.TransportError:  # not listening yet
            answered = False
        if answered:
            return True
        stop.wait(0.25)
    raise DemoFailed(
        f"{child.name} did not answer {url} within {timeout:.0f}s; last lines of "
        f"{child.log_path}:\n{log_tail(child.log_path)}"
    )


def _watch(group: ProcessGroup, brokers: Sequence[Mosquitto], stop: StopRequest) -> None:
    """Return when stop is requested; DemoFailed as soon as a child or broker dies."""
    while not stop.wait(WATCH_S):
        exited = group.first_exited()
        if exited is not None:
            raise _failure(*exited)
        for broker in brokers:
            if broker.process is None or broker.process.poll() is not None:
                log_path = group.log_dir / f"mosquitto-{broker.name}.log"
                raise DemoFailed(
                    f"{broker.name} broker (port {broker.port}) exited unexpectedly; "
                    f"last lines of {log_path}:\n{log_tail(log_path)}"
                )


def _banner(http_port: int, gateway: Mosquitto, cloud: Mosquitto, log_dir: Path) -> str:
    base = f"http://127.0.0.1:{http_port}"
    return "\n".join(
        [
            "",
            "Linli demo is running.",
            f"  dashboard       {base}/",
            f"  API docs        {base}/docs",
            f"  gateway broker  mqtt://127.0.0.1:{gateway.port}  (devices, edge agent)",
            f"  cloud broker    mqtt://127.0.0.1:{cloud.port}  (edge agent, cloud)",
            f"  logs            {log_dir}",
            f"  inject a fault  linli sim fault gate-01 motor_jammed --broker-port {gateway.port}",
            "Ctrl-C to stop.",
            "",
        ]
    )


def demo(
    gateway_port: Annotated[
        int | None,
        typer.Option(
            "--gateway-port",
            min=1,
            max=65535,
            help="MQTT port of the gateway broker (default: a free port).",
            show_default=False,
        ),
    ] = None,
    cloud_port: Annotated[
        int | None,
        typer.Option(
            "--cloud-port",
            min=1,
            max=65535,
            help="MQTT port of the cloud broker (default: a free port).",
            show_default=False,
        ),
    ] = None,
    http_port: Annotated[
        int,
        typer.Option(
            "--http-port", min=1, max=65535, help="Web UI and API port (a free one if busy)."
        ),
    ] = DEFAULT_HTTP_PORT,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            file_okay=False,
            help="Where data and logs go (default: $LINLI_DATA or ./var).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 1,
    fault_every: Annotated[
        float,
        typer.Option(
            "--fault-every",
            min=0.0,
            metavar="SECONDS",
            help="A random device fault this often (real seconds); 0: none.",
        ),
    ] = 120.0,
    speed: Annotated[
        float,
        typer.Option(
            "--speed", min=0.001, help="Simulated seconds per real second (60: a day in 24 min)."
        ),
    ] = 60.0,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            exists=True,
            dir_okay=False,
            help="Also run this fault scenario (YAML, see docs/simulator.md).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run brokers, cloud, edge agent and simulator on this machine until Ctrl-C."""
    data = (data_dir or default_data_dir()).resolve()
    log_dir = data / "logs"
    try:
        for directory in (log_dir, data / "cloud", data / "edge"):
            directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"demo failed: cannot create {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    port, changed = choose_http_port(http_port)
    if changed:
        typer.echo(f"port {http_port} is busy; the web UI uses port {port} instead")
    stop = StopRequest()
    gateway = Mosquitto(gateway_port, name="gateway", log_dir=log_dir)
    cloud = Mosquitto(cloud_port, name="cloud", log_dir=log_dir)
    group = ProcessGroup(log_dir)
    code = 0
    with stop.installed():
        try:
            _run(data, port, gateway, cloud, group, stop, seed, fault_every, speed, scenario)
        except (DemoFailed, BrokerError) as exc:
            typer.echo(f"demo failed: {exc}", err=True)
            code = 1
        except OSError as exc:  # a child could not be started
            typer.echo(f"demo failed: {exc}", err=True)
            code = 1
        finally:
            typer.echo("stopping ...")
            group.stop()
            cloud.stop()
            gateway.stop()
    if code == 0:
        typer.echo(f"stopped ({stop.signal_name or 'done'}); logs are in {log_dir}")
    raise typer.Exit(code)


def _run(
    data: Path,
    http_port: int,
    gateway: Mosquitto,
    cloud: Mosquitto,
    group: ProcessGroup,
    stop: StopRequest,
    seed: int,
    fault_every: float,
    speed: float,
    scenario: Path | None,
) -> None:
    gateway.start()
    cloud.start()
    typer.echo(f"brokers up: gateway :{gateway.port}, cloud :{cloud.port}")
    if stop.is_set():
        return
    cloud_app = group.start(
        "cloud",
        linli_command(
            "cloud", "run",
            "--host", "127.0.0.1",
            "--port", str(http_port),
            "--mqtt-host", "127.0.0.1",
            "--mqtt-port", str(cloud.port),
            "--data-dir", str(data / "cloud"),
        ),
    )  # fmt: skip
    typer.echo(f"cloud starting on http://127.0.0.1:{http_port} ...")
    url = f"http://127.0.0.1:{http_port}/healthz"
    if not _wait_healthy(url, cloud_app, stop, HEALTH_TIMEOUT_S):
        return
    # The edge agent reaches the cloud through the simulator's uplink, so that the simulator
    # can cut it (uplink_loss, gateway_power_loss).
    uplink_port = free_port()
    script = ["--scenario", str(scenario)] if scenario else []
    group.start(
        "sim",
        linli_command(
            "sim", "run",
            "--broker-port", str(gateway.port),
            "--uplink-port", str(uplink_port),
            "--cloud-port", str(cloud.port),
            "--seed", str(seed),
            "--speed", str(speed),
            # times below are simulated ones
            "--fault-every", str(fault_every * speed),
            "--first-fault-after", str(min(FIRST_FAULT_AFTER_S, fault_every) * speed),
            "--fault-duration", DEMO_FAULT_DURATION,
            *script,
        ),
    )  # fmt: skip
    group.start(
        "edge",
        linli_command(
            "edge", "run",
            "--gateway-id", GATEWAY_ID,
            "--local-port", str(gateway.port),
            "--cloud-port", str(uplink_port),
            "--data-dir", str(data / "edge"),
        ),
    )  # fmt: skip
    typer.echo(_banner(http_port, gateway, cloud, group.log_dir))
    _watch(group, (gateway, cloud), stop)
