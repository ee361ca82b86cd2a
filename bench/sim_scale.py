"""How far one simulator process scales: messages per second, memory and CPU per device.

Starts a private Mosquitto on a free port, runs ``linli sim run`` as a separate process with
``--devices`` devices spread over every simulable profile of the catalogue, each reporting
every ``--interval`` seconds, counts the messages a subscriber receives, and prints one
table row. It prints figures; it asserts nothing.

    .venv/bin/python bench/sim_scale.py --devices 20000 --mode shared --connections 4
    .venv/bin/python bench/sim_scale.py --devices 2000 --mode per-device

Measurement starts once every device has reported at least once (so per-device connection
set-up is not in the window) and lasts ``--seconds``.
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


def _raise_open_files() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit (children inherit it)."""
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
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


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


@dataclass(frozen=True)
class Sample:
    at: float
    messages: int
    sim_cpu_s: float
    broker_cpu_s: float

    @classmethod
    def take(cls, counter: Counter, sim_pid: int, broker_pid: int) -> Sample:
        return cls(
            time.monotonic(),
            counter.snapshot()[0],
            _cpu_seconds(sim_pid),
            _cpu_seconds(broker_pid),
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
    rss_mb: float
    peak_rss_mb: float
    sim_cpu_s: float
    broker_cpu_s: float
    lost: int | None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def cells(self) -> list[str]:
        device_hours = self.devices * self.seconds / 3600
        return [
            self.mode,
            f"{self.devices}",
            f"{self.connections}",
            f"{self.interval_s:g}",
            f"{self.seconds:.0f}",
            f"{self.messages}",
            f"{self.rate:.0f}",
            f"{self.devices / self.interval_s:.0f}",
            f"{self.startup_s:.1f}",
            f"{self.rss_mb:.0f}",
            f"{self.peak_rss_mb:.0f}",
            f"{self.rss_mb * 1024 / self.devices:.1f}",
            f"{100 * self.sim_cpu_s / self.seconds:.0f}",
            f"{self.sim_cpu_s / device_hours:.2f}",
            f"{100 * self.broker_cpu_s / self.seconds:.0f}",
            "?" if self.lost is None else f"{self.lost}",
        ]


HEADER = [
    "mode",
    "devices",
    "conns",
    "every s",
    "seconds",
    "messages",
    "msg/s",
    "target/s",
    "startup s",
    "RSS MB",
    "peak MB",
    "KB/device",
    "sim CPU %",
    "CPU s/dev-h",
    "broker CPU %",
    "lost",
]


def print_table(rows: list[Row]) -> None:
    lines = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = row.cells()
        print("| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |")


def run(args: argparse.Namespace) -> Row:
    catalogue = Catalogue.load()
    counts = _counts(catalogue, args.devices)
    devices = sum(counts.values())
    limit = _raise_open_files()
    _say(f"open-file limit {limit}; {devices} devices over {len(counts)} profiles")
    workdir = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    connections = 1 if args.mode == "per-device" else args.connections
    argv = [
        sys.executable, "-m", "simulators", "run",
        "--broker-port", "0",
        "--connection-mode", args.mode,
        "--speed", "1000000", "--min-interval", str(args.interval),
        "--log-level", "info",
        *([f"--max-in-flight={args.max_in_flight}"] if args.max_in_flight else []),
        *(f"--count={pid}={n}" for pid, n in counts.items()),
    ]  # fmt: skip
    if args.mode == "shared":
        argv += ["--connections", str(connections)]
    with Mosquitto(name="bench", log_dir=workdir) as broker:
        argv[argv.index("--broker-port") + 1] = str(broker.port)
        assert broker.process is not None
        broker_pid = broker.process.pid
        counter = Counter(broker.host, broker.port, catalogue.subscriptions())
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
                _say(f"{seen} devices reporting after {startup:.1f}s; measuring")
                before = Sample.take(counter, sim.pid, broker_pid)
                time.sleep(args.seconds)
                after = Sample.take(counter, sim.pid, broker_pid)
                rss = _status_kb(sim.pid, "VmRSS") / 1024
                peak = _status_kb(sim.pid, "VmHWM") / 1024
            finally:
                sim.send_signal(signal.SIGTERM)
                try:
                    sim.wait(60)
                except subprocess.TimeoutExpired:
                    sim.kill()
                    sim.wait()
                counter.close()
        text = log_path.read_text(errors="replace")
        stopped = re.search(r"stopped after \d+ messages \((\d+) not published\)", text)
        up = re.search(r"all \d+ device connections up in ([\d.]+)s", text)
        if up:
            _say(f"per-device connections all up in {up.group(1)}s")
    return Row(
        mode=args.mode,
        devices=devices,
        connections=devices if args.mode == "per-device" else connections,
        interval_s=args.interval,
        seconds=after.at - before.at,
        messages=after.messages - before.messages,
        startup_s=startup,
        rss_mb=rss,
        peak_rss_mb=peak,
        sim_cpu_s=after.sim_cpu_s - before.sim_cpu_s,
        broker_cpu_s=after.broker_cpu_s - before.broker_cpu_s,
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
        "--interval", type=float, default=10.0, help="seconds between a device's reports (10)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window (30)")
    parser.add_argument(
        "--max-in-flight", type=int, default=None, help="passed on to linli sim run"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="extra time for start-up (120)"
    )
    args = parser.parse_args()
    if args.devices < 1 or args.connections < 1 or args.interval <= 0 or args.seconds <= 0:
        parser.error("--devices, --connections, --interval and --seconds must be positive")
    row = run(args)
    print_table([row])


if __name__ == "__main__":
    main()
