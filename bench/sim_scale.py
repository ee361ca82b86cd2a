"""How far one simulator process scales: messages per second, memory and CPU per device.

Starts a private Mosquitto on a free port, runs ``linli sim run`` as a separate process with
``--devices`` devices spread over every simulable profile of the catalogue, each reporting
every ``--interval`` real seconds (``--speed 1 --report-every INTERVAL``: simulated time runs
at real speed, the behaviour models stay on today's clock), counts the messages a subscriber
receives, and prints one table row per run. It prints figures; it asserts nothing.

    .venv/bin/python bench/sim_scale.py --both
    .venv/bin/python bench/sim_scale.py --devices 20000 --mode shared --connections 4
    .venv/bin/python bench/sim_scale.py --devices 2000 --mode per-device

Measurement starts once every device has reported at least once (so per-device connection
set-up is not in the window) and lasts ``--seconds``. See bench/README.md for the columns.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto
from simulators.device import normal_examples

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KEEPS_UP = 0.98
"""Received / expected at or above which the simulator is said to keep up."""
BROKER_SPARE_FILES = 64
"""Descriptors the broker needs besides one per client (listener, log, ...)."""

BOTH = (
    # (mode, devices, connections): the two targets
    ("shared", 20000, 4),
    ("per-device", 2000, 1),
)


def _raise_open_files() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; the broker and the
    simulator, started from here, inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def _counts(catalogue: Catalogue, devices: int) -> dict[str, int]:
    """``devices`` split as evenly as possible over every profile that can be simulated."""
    profiles = sorted(p.id for p in catalogue if normal_examples(p))
    base, extra = divmod(devices, len(profiles))
    counts = {pid: base + (1 if i < extra else 0) for i, pid in enumerate(profiles)}
    return {pid: n for pid, n in counts.items() if n}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def _open_files_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of a running process (None: unlimited or unreadable)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    return None


class Counter:
    """A subscriber that counts the messages it receives and the topics they came on."""

    def __init__(self, host: str, port: int, filters: list[str]) -> None:
        self.messages = 0
        self.topics: set[str] = set()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-counter")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect(host, port, keepalive=60)
        # QoS 0 towards the counter keeps the broker's work on the simulator's side
        self._client.subscribe([(f, 0) for f in filters])
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the counting subscriber could not subscribe")

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages += 1
            self.topics.add(message.topic)

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.messages, len(self.topics)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used so far (every core together)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Sample:
    at: float
    messages: int
    sim_cpu_s: float
    broker_cpu_s: float
    counter_cpu_s: float
    machine_cpu_s: float

    @classmethod
    def take(cls, counter: Counter, sim_pid: int, broker_pid: int) -> Sample:
        return cls(
            time.monotonic(),
            counter.snapshot()[0],
            _cpu_seconds(sim_pid),
            _cpu_seconds(broker_pid),
            _own_cpu_seconds(),
            _machine_busy_seconds(),
        )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Row:
    mode: str
    devices: int
    connections: int
    interval_s: float
    seconds: float
    messages: int
    startup_s: float
    connect_s: float | None
    rss_mb: float
    sim_cpu_s: float
    broker_cpu_s: float
    counter_cpu_s: float
    other_cpu_s: float
    lost: int | None

    @property
    def expected(self) -> float:
        return self.devices / self.interval_s

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def sim_cpu_pct(self) -> float:
        return 100 * self.sim_cpu_s / self.seconds

    def cells(self) -> list[str]:
        keeps_up = self.rate >= KEEPS_UP * self.expected
        return [
            self.mode,
            f"{self.devices}",
            f"{self.connections}",
            f"{self.interval_s:g}",
            f"{self.expected:.0f}",
            f"{self.rate:.0f}",
            f"{100 * self.rate / self.expected:.0f}%" + ("" if keeps_up else " !"),
            f"{self.rss_mb:.0f}",
            f"{self.rss_mb * 1024 / self.devices:.1f}",
            f"{self.sim_cpu_pct:.0f}",
            f"{1e6 * self.sim_cpu_s / self.seconds / self.devices:.0f}",
            f"{self.sim_cpu_pct / (self.rate / 1000):.0f}" if self.rate else "-",
            f"{100 * self.broker_cpu_s / self.seconds:.0f}",
            f"{100 * self.counter_cpu_s / self.seconds:.0f}",
            f"{100 * self.other_cpu_s / self.seconds:.0f}",
            "-" if self.connect_s is None else f"{self.connect_s:.1f}",
            f"{self.startup_s:.0f}",
            "?" if self.lost is None else f"{self.lost}",
        ]


HEADER = [
    "mode",
    "devices",
    "conns",
    "every s",
    "expected msg/s",
    "received msg/s",
    "recv/exp",
    "sim RSS MB",
    "KB/device",
    "sim CPU %",
    "CPU µs/s per device",
    "CPU % per 1k msg/s",
    "broker CPU %",
    "counter CPU %",
    "other CPU %",
    "connect s",
    "startup s",
    "lost",
]


def print_table(rows: list[Row]) -> None:
    lines = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", flush=True)
    for cells in lines[1:]:
        # the mode left, the figures right
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        print("| " + " | ".join(padded) + " |")
    sys.stdout.flush()


def _simulator_argv(
    args: argparse.Namespace, mode: str, connections: int, counts: dict[str, int], port: int
) -> list[str]:
    python = [sys.executable]
    if args.cprofile:
        python += ["-m", "cProfile", "-o", str(Path(args.cprofile).resolve())]
    argv = [
        *python, "-m", "simulators", "run",
        "--broker-port", str(port),
        "--connection-mode", mode,
        # real-time simulated clock; a fixed real report interval for every device
        "--speed", "1", "--report-every", str(args.interval),
        "--log-level", "info",
        *([f"--max-in-flight={args.max_in_flight}"] if args.max_in_flight else []),
        *(f"--count={pid}={n}" for pid, n in counts.items()),
    ]  # fmt: skip
    if mode == "shared":
        argv += ["--connections", str(connections)]
    return argv


def run(args: argparse.Namespace, mode: str, devices: int, connections: int) -> Row:
    catalogue = Catalogue.load()
    counts = _counts(catalogue, devices)
    devices = sum(counts.values())
    limit = _raise_open_files()
    clients = (devices + 1 if mode == "per-device" else connections) + 1  # + counter
    _say(
        f"{mode}: {devices} devices over {len(counts)} profiles, "
        f"{clients - 1} simulator connection(s), every {args.interval:g}s; "
        f"open-file limit {limit}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    with Mosquitto(name="bench", log_dir=workdir) as broker:
        assert broker.process is not None
        broker_pid = broker.process.pid
        broker_files = _open_files_limit(broker_pid)
        if broker_files is not None and broker_files < clients + BROKER_SPARE_FILES:
            raise RuntimeError(
                f"mosquitto may open {broker_files} files, {clients} clients need more; "
                "raise the hard RLIMIT_NOFILE (ulimit -Hn)"
            )
        _say(f"mosquitto pid {broker_pid}, open-file limit {broker_files or 'unlimited'}")
        counter = Counter(broker.host, broker.port, catalogue.subscriptions())
        argv = _simulator_argv(args, mode, connections, counts, broker.port)
        log_path = workdir / "sim.log"
        with log_path.open("wb") as log:
            started = time.monotonic()
            sim = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = started + args.interval * 3 + args.startup_timeout
                seen = 0
                while seen < devices:
                    if sim.poll() is not None:
                        raise RuntimeError(f"simulator exited: {log_path.read_text()[-2000:]}")
                    if time.monotonic() > deadline:
                        _say(f"only {seen} of {devices} devices reported in time")
                        break
                    time.sleep(0.2)
                    seen = counter.snapshot()[1]
                startup = time.monotonic() - started
                _say(f"{seen} devices reporting after {startup:.1f}s; measuring {args.seconds:g}s")
                before = Sample.take(counter, sim.pid, broker_pid)
                time.sleep(args.seconds)
                after = Sample.take(counter, sim.pid, broker_pid)
                rss = _status_kb(sim.pid, "VmRSS") / 1024
            finally:
                sim.send_signal(signal.SIGTERM)
                try:
                    sim.wait(120 if args.cprofile else 60)
                except subprocess.TimeoutExpired:
                    sim.kill()
                    sim.wait()
                counter.close()
        text = log_path.read_text(errors="replace")
        stopped = re.search(r"stopped after \d+ messages \((\d+) not published\)", text)
        up = re.search(r"all \d+ device connections up in ([\d.]+)s", text)
        warnings = [line for line in text.splitlines() if " WARNING " in line]
        for line in warnings[:5]:
            _say(f"simulator: {line}")
        _say(f"simulator log: {log_path}")
    return Row(
        mode=mode,
        devices=devices,
        connections=devices if mode == "per-device" else connections,
        interval_s=args.interval,
        seconds=after.at - before.at,
        messages=after.messages - before.messages,
        startup_s=startup,
        connect_s=float(up.group(1)) if up else None,
        rss_mb=rss,
        sim_cpu_s=after.sim_cpu_s - before.sim_cpu_s,
        broker_cpu_s=after.broker_cpu_s - before.broker_cpu_s,
        counter_cpu_s=after.counter_cpu_s - before.counter_cpu_s,
        # everything else on the machine: a busy neighbour makes the run unreliable
        other_cpu_s=max(
            0.0,
            (after.machine_cpu_s - before.machine_cpu_s)
            - (after.sim_cpu_s - before.sim_cpu_s)
            - (after.broker_cpu_s - before.broker_cpu_s)
            - (after.counter_cpu_s - before.counter_cpu_s),
        ),
        lost=int(stopped.group(1)) if stopped else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000, help="devices (default 2000)")
    parser.add_argument("--mode", choices=["shared", "per-device"], default="shared")
    parser.add_argument(
        "--connections", type=int, default=4, help="shared mode: connections (default 4)"
    )
    parser.add_argument(
        "--both",
        action="store_true",
        help="run both canonical cases, 20000 devices shared over 4 connections and 2000 "
        "per-device (--devices, --mode and --connections are ignored)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        help="real seconds between a device's reports, --report-every (default 10)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window (60)")
    parser.add_argument(
        "--max-in-flight", type=int, default=None, help="passed on to linli sim run"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="extra time for start-up (120)"
    )
    parser.add_argument(
        "--cprofile",
        metavar="FILE",
        default=None,
        help="run the simulator under cProfile and write its stats to FILE (slows it down)",
    )
    args = parser.parse_args()
    if args.devices < 1 or args.connections < 1 or args.interval <= 0 or args.seconds <= 0:
        parser.error("--devices, --connections, --interval and --seconds must be positive")
    if args.both and args.cprofile:
        parser.error("--cprofile profiles one run; leave out --both")
    cases = BOTH if args.both else ((args.mode, args.devices, args.connections),)
    rows = [run(args, mode, devices, connections) for mode, devices, connections in cases]
    print_table(rows)


if __name__ == "__main__":
    main()
