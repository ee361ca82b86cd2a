"""How fast the edge agent forwards readings, beside a bare forwarder, and how much memory.

Starts two private Mosquitto brokers (the gateway's and the cloud's) and a small "cloud" in
this process that acknowledges every batch as the cloud does after its commit. Then, in
rounds, for each of two contenders on the same brokers:

- ``agent``: ``python -m edge_agent run`` with its defaults — durable outbox (SQLite WAL,
  ``synchronous=FULL``), rules, report by exception, device messages acknowledged only once
  committed, batches deleted only on the cloud's acknowledgement;
- ``bare``: the least a forwarder must do (``bench/edge_bare.py``): subscribe, decode with
  the same profile, make the same items, batch them, publish — no outbox, no rules, the
  broker's messages acknowledged as they arrive.

Each contender is started once to make its session on the gateway broker and stopped; then
``--readings`` device messages (QoS 1, from ``--devices`` devices over the built-in profiles)
are published and wait in the broker for it — a building's devices all reporting after a
power cut — and the contender is started again and drains them. Readings per second are
counted at the cloud, from its first batch to the moment it holds them all (start-up is not
counted). Resident memory is the contender's after the drain, with every device in memory.

It prints one table row per contender and round, then the figures against the goals, and
asserts nothing. See bench/README.md.

    .venv/bin/python bench/edge_forward.py
    .venv/bin/python bench/edge_forward.py --rounds 3 --py-spy /tmp/edge-profile
    .venv/bin/python bench/edge_forward.py --top /tmp/edge-profile.agent.1.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sampling import CLOCK_TICKS, cpu_ticks, spying, top

from device_profiles import Catalogue
from device_profiles.encode import encode
from device_profiles.protocol import (
    BATCH_FILTER,
    BatchAck,
    ack_topic,
)
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client

GATEWAY = "gw-bench"
BARE_CLIENT = "bench-bare-local"  # edge_bare.CLIENT_ID
AGENT_CLIENT = f"linli-edge-{GATEWAY}-local"
GOALS = {"ratio": 0.8, "rate": 20_000.0, "rss_mb": 60.0}


# ------------------------------------------------------------------ readings


def readings(catalogue: Catalogue, devices: int, count: int) -> list[tuple[str, bytes]]:
    """``count`` vendor messages, round-robin over ``devices`` devices spread over every
    built-in profile without deadbands (report by exception would hold back readings that
    are no news, and the two contenders would not forward the same)."""
    profiles = [
        p for p in catalogue if not any(m.deadband is not None for m in p.decode.metrics.values())
    ]
    start = datetime.now(UTC) - timedelta(days=1)
    messages = []
    for n in range(count):
        device = n % devices
        profile = profiles[device % len(profiles)]
        when = start + timedelta(seconds=n // devices, milliseconds=device)
        messages.append(encode(profile, f"d{device:05d}", {}, (), when))
    return messages


async def publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish QoS 1, many in flight, as a building's devices would."""
    async with Client("127.0.0.1", port, client_id="bench-devices", max_in_flight=1000) as client:
        for start in range(0, len(messages), 1000):
            await asyncio.gather(
                *(client.publish(t, p, qos=1) for t, p in messages[start : start + 1000])
            )


async def forget_session(port: int, client_id: str) -> None:
    """End a contender's session on the gateway broker, so that it queues nothing more."""
    async with Client("127.0.0.1", port, client_id=client_id, clean_start=True):
        pass


# ------------------------------------------------------------------ the cloud


class Cloud:
    """Takes batches, counts their items, and acknowledges each as the cloud's ingest does."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.items = 0
        self.first_at: float | None = None
        self.first_items = 0
        self.last_at = 0.0
        self.ready = asyncio.Event()
        self.started = asyncio.Event()
        self.done = asyncio.Event()
        self.expected = 0
        self.watched: list[int] = []
        """Processes whose CPU time is taken at the first batch and at the last."""
        self.cpu_first: list[int] = []
        self.cpu_last: list[int] = []
        self._acks: set[asyncio.Task[None]] = set()

    def expect(self, count: int, watched: list[int]) -> None:
        self.items, self.first_at, self.first_items, self.expected = 0, None, 0, count
        self.watched = watched
        self.started.clear()
        self.done.clear()

    def _cpu(self) -> list[int]:
        return [cpu_ticks(pid) for pid in self.watched] + list(machine_ticks())

    async def run(self) -> None:
        async for message in self.client.messages():
            if message.topic.endswith("/up/status"):
                if json.loads(message.payload).get("online"):
                    self.ready.set()
                continue
            document = json.loads(message.payload)
            count = len(document["items"])
            now = time.monotonic()
            if self.first_at is None:
                self.first_at, self.first_items = now, count
                self.cpu_first = self._cpu()
                self.started.set()
            self.items += count
            self.last_at = now
            ack = BatchAck(
                gateway_id=document["gateway_id"],
                epoch=document["epoch"],
                seq=document["seq"],
                result="stored",
            )
            task = asyncio.get_running_loop().create_task(
                self.client.publish(ack_topic(GATEWAY), ack.model_dump_json().encode())
            )
            self._acks.add(task)
            task.add_done_callback(self._acked)
            if self.expected and self.items >= self.expected and not self.done.is_set():
                self.cpu_last = self._cpu()
                self.done.set()

    def _acked(self, task: asyncio.Task[None]) -> None:
        self._acks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            print(f"an acknowledgement was not sent: {task.exception()}", file=sys.stderr)

    def rate(self) -> tuple[float, float]:
        """(readings per second, seconds) from the first batch to the last."""
        assert self.first_at is not None
        seconds = self.last_at - self.first_at
        return (self.items - self.first_items) / seconds if seconds else 0.0, seconds


# ------------------------------------------------------------------ processes and CPU


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of a process."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


@dataclass
class Row:
    contender: str
    round: int
    readings: int
    seconds: float
    rate: float
    cpu: float
    brokers_cpu: float
    bench_cpu: float
    machine: float
    rss: float
    peak: float


def start(
    contender: str, gateway: Mosquitto, cloud: Mosquitto, data: Path
) -> subprocess.Popen[bytes]:
    if contender == "bare":
        command = [sys.executable, str(Path(__file__).with_name("edge_bare.py")),
                   str(gateway.port), str(cloud.port)]  # fmt: skip
        return subprocess.Popen(command, stdout=subprocess.PIPE)
    env = {
        **os.environ,
        "LINLI_EDGE_GATEWAY_ID": GATEWAY,
        "LINLI_EDGE_LOCAL_PORT": str(gateway.port),
        "LINLI_EDGE_CLOUD_PORT": str(cloud.port),
        "LINLI_EDGE_DATA_DIR": str(data),
        "LINLI_EDGE_LOG_LEVEL": "warning",
    }
    return subprocess.Popen([sys.executable, "-m", "edge_agent", "run"], env=env)


async def ready(contender: str, process: subprocess.Popen[bytes], cloud: Cloud) -> None:
    async with asyncio.timeout(60):
        if contender == "bare":
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            assert line.strip() == b"ready", line
        else:
            await cloud.ready.wait()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def measure(
    contender: str,
    round_: int,
    messages: list[tuple[str, bytes]],
    brokers: tuple[Mosquitto, Mosquitto],
    cloud: Cloud,
    work: Path,
    py_spy: Path | None,
) -> Row:
    gateway, cloud_broker = brokers
    data = work / f"{contender}-{round_}"
    cloud.ready.clear()
    process = start(contender, gateway, cloud_broker, data)
    await ready(contender, process, cloud)
    stop(process)
    await publish_all(gateway.port, messages)
    cloud.ready.clear()
    process = start(contender, gateway, cloud_broker, data)
    # CPU from the first batch to the last: the contender, both brokers, this process
    pids = [process.pid, gateway.process.pid, cloud_broker.process.pid, os.getpid()]  # type: ignore[union-attr]
    cloud.expect(len(messages), pids)
    async with asyncio.timeout(600):
        await cloud.started.wait()
        with spying(process.pid, py_spy, f"{contender}.{round_}"):
            await cloud.done.wait()
    rate, seconds = cloud.rate()
    rss, peak = memory_mb(process.pid)
    stop(process)
    await forget_session(gateway.port, BARE_CLIENT if contender == "bare" else AGENT_CLIENT)
    shutil.rmtree(data, ignore_errors=True)
    used = [b - a for a, b in zip(cloud.cpu_first, cloud.cpu_last, strict=True)]
    busy, total = used[-2], used[-1]

    def percent(ticks: int) -> float:  # of one core, from the first batch to the last
        return 100.0 * ticks / CLOCK_TICKS / seconds if seconds else 0.0

    return Row(
        contender=contender,
        round=round_,
        readings=cloud.items,
        seconds=seconds,
        rate=rate,
        cpu=percent(used[0]),
        brokers_cpu=percent(used[1] + used[2]),
        bench_cpu=percent(used[3]),
        machine=100.0 * busy / total if total else 0.0,
        rss=rss,
        peak=peak,
    )


# ------------------------------------------------------------------ the table


def table(rows: list[Row]) -> str:
    head = ("contender", "round", "readings", "seconds", "readings/s", "CPU %", "brokers CPU %",
            "cloud CPU %", "machine busy %", "RSS MB", "peak RSS MB")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = (r.contender, r.round, r.readings, f"{r.seconds:.2f}", f"{r.rate:,.0f}",
                 f"{r.cpu:.0f}", f"{r.brokers_cpu:.0f}", f"{r.bench_cpu:.0f}",
                 f"{r.machine:.0f}", f"{r.rss:.1f}", f"{r.peak:.1f}")  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def verdict(rows: list[Row]) -> str:
    agent = [r for r in rows if r.contender == "agent"]
    bare = [r for r in rows if r.contender == "bare"]
    ratios = [a.rate / b.rate for a, b in zip(agent, bare, strict=True) if b.rate]
    rate = statistics.median(r.rate for r in agent)
    rss = max(r.rss for r in agent)
    spread = f"{min(ratios):.2f} to {max(ratios):.2f}" if ratios else "-"

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    ratio = statistics.median(ratios) if ratios else 0.0
    return "\n".join(
        [
            f"agent/bare (median of rounds): {ratio:.2f} (rounds {spread}); goal ≥ "
            f"{GOALS['ratio']}: {mark(ratio >= GOALS['ratio'])}",
            f"agent readings/s (median): {rate:,.0f}; goal ≥ {GOALS['rate']:,.0f}: "
            f"{mark(rate >= GOALS['rate'])}",
            f"bare readings/s (median): {statistics.median(r.rate for r in bare):,.0f}",
            f"agent resident memory after the drain (max): {rss:.1f} MB; goal ≤ "
            f"{GOALS['rss_mb']:.0f} MB: {mark(rss <= GOALS['rss_mb'])}",
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
            f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
        ]
    )


async def main(args: argparse.Namespace) -> None:
    catalogue = Catalogue.load()
    print(f"making {args.readings} readings of {args.devices} devices...", file=sys.stderr)
    messages = readings(catalogue, args.devices, args.readings)
    mix = Counter(topic.split("/")[0] for topic, _ in messages)
    print(f"vendors: {dict(mix)}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="linli-bench-edge-"))
    rows: list[Row] = []
    with (
        Mosquitto(name="gateway", log_dir=work) as gateway,
        Mosquitto(name="cloud", log_dir=work) as cloud_broker,
    ):
        async with Client("127.0.0.1", cloud_broker.port, client_id="bench-cloud") as client:
            await client.subscribe([BATCH_FILTER, f"linli/v1/gw/{GATEWAY}/up/status"])
            cloud = Cloud(client)
            taker = asyncio.create_task(cloud.run())
            try:
                for round_ in range(1, args.rounds + 1):
                    for contender in ("bare", "agent") if round_ % 2 else ("agent", "bare"):
                        print(f"round {round_}: {contender}...", file=sys.stderr)
                        row = await measure(
                            contender, round_, messages, (gateway, cloud_broker), cloud, work,
                            args.py_spy,
                        )  # fmt: skip
                        print(table([row]).splitlines()[-1], file=sys.stderr)
                        rows.append(row)
            finally:
                taker.cancel()
    shutil.rmtree(work, ignore_errors=True)
    rows.sort(key=lambda r: (r.round, r.contender))
    print(table(rows))
    print()
    print(verdict(rows))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Readings per second through the edge agent (durable outbox) beside a bare "
        "forwarder on the same brokers, and the agent's resident memory. Prints a table.",
    )
    parser.add_argument("--devices", type=int, default=2000, help="devices (2000)")
    parser.add_argument(
        "--readings",
        type=int,
        default=90_000,
        help="device messages each contender drains (90000; at most 100000, the brokers' "
        "queue for a session)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both contenders (2)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="PREFIX",
        help="record each drain with py-spy (raw collapsed stacks, all threads) to "
        "PREFIX.<contender>.<round>.txt",
    )
    parser.add_argument(
        "--top", type=Path, metavar="FILE", help="print where a --py-spy recording spent its time"
    )
    return parser.parse_args()


if __name__ == "__main__":
    options = arguments()
    if options.top is not None:
        print(top(options.top))
    else:
        asyncio.run(main(options))
