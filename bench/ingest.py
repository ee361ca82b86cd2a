"""How fast one cloud process ingests: readings per second validated, stored and judged,
beside a bare subscriber taking the same stream in the same run; ingest lag and the time
from a fault to its ticket while a steady stream flows.

    .venv/bin/python bench/ingest.py            # every figure (about 6 minutes)
    .venv/bin/python bench/ingest.py --quick    # the same, smaller (about 2 minutes)
    .venv/bin/python bench/ingest.py --postgres # state in a throwaway PostgreSQL
    .venv/bin/python bench/ingest.py --influxdb # telemetry in a throwaway InfluxDB

It starts a private Mosquitto and runs the cloud as ``linli cloud run`` (the real path: MQTT
→ validate → store → judge → acknowledge, SQLite in a temporary directory). The stream is
made up front from the catalogue: ``--gateways`` gateways with ``--devices`` devices each,
every device of a profile that has a healthy example, ``--fault-share`` of the readings the
profile's fault examples. Then:

1. **Throughput** for each batch size: the stream is published while both consumers are
   away, so the broker queues it for each — the cloud's ingest session and a bare subscriber
   (``plumbing.mqtt.Client``, the same receive maximum, counting messages and nothing
   else). Each then takes its queue: the bare subscriber first, then the cloud (started
   afresh, its device state cold). A rate is readings over the time from the first to the
   last one taken (the cloud's from ``/metrics``, read every 50 ms); the publisher is not
   running meanwhile.
2. **Latency**: the cloud runs while ``--rate`` readings a second are published for
   ``--seconds`` (batches of 50, round robin over the gateways) and ``--faults`` probe
   devices a second report a fault that opens a ticket (a batch of one, as the edge sends an
   alarm). Ingest lag is the time from publishing a batch to its acknowledgement arriving
   back at the gateway's topic (so after the commit); fault → ticket is the time from
   publishing the fault to the ticket appearing in ``GET /api/v1/tickets`` (polled every
   20 ms).

Figures go to stdout as tables; progress to stderr. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import TypeAdapter
from sampling import cpu_s, spying, top

from device_profiles import Catalogue, decode
from device_profiles.examples import payload_bytes
from device_profiles.protocol import BATCH_FILTER, Item, ack_topic, batch_payload, batch_topic
from linli.influxdb import InfluxServer
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from linli.postgres import PostgresCluster
from linli.processes import ProcessGroup, linli_command
from plumbing.mqtt import Client

INGEST_CLIENT = "bench-ingest"
INGEST_GROUP = "bench"
BENCH_PASSWORD = "bench-admin-password"
"""the operator admin's password the benchmark's cloud starts with (the ticket poll logs in)"""
PROBE_FAULT = ("acme_access_gate", "motor_jammed")
"""The fault probes report: device-reported, ticketed, priority high."""


_TEMPLATE_ID = "f" * 32
_TEMPLATE_TS = datetime(2000, 1, 1, tzinfo=UTC)
_TEMPLATE_TS_TEXT = "2000-01-01T00:00:00Z"
_TIME = TypeAdapter(datetime)


_REPORTED = (
    "linli_ingest_batches_total", "linli_ingest_acks_total", "linli_ingest_restarts_total",
    "linli_ingest_retries_total", "linli_ingest_commit_seconds_sum",
    "linli_ingest_commit_seconds_count", "linli_ingest_group_messages_sum",
    "linli_ingest_group_messages_count", "linli_telemetry_rollups_total",
    "linli_telemetry_rollup_lag_seconds",
)  # fmt: skip
"""/metrics lines printed (to stderr) after the latency run"""


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll ``condition`` until it holds; RuntimeError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the stream


@dataclass
class Device:
    gateway: str
    device_id: str
    normal: dict[str, object]
    """a healthy reading of its profile (Item fields but id and times)"""
    faulty: list[dict[str, object]] = field(default_factory=list)


class Fleet:
    """Gateways, their devices, and the readings they send."""

    def __init__(self, catalogue: Catalogue, gateways: int, devices: int, probes: int) -> None:
        now = datetime(2025, 11, 27, tzinfo=UTC)
        readings: dict[str, tuple[dict[str, object], list[dict[str, object]]]] = {}
        for profile in catalogue:
            healthy, faulty = None, []
            for example in profile.examples:
                if example.history or example.silent_for_s:
                    continue
                decoded = decode(profile, example.topic, payload_bytes(example.payload), now)
                fields = decoded.model_dump(exclude={"ts", "device_id"})
                if example.expect.health.value == "ok":
                    healthy = healthy or fields
                elif not _high_priority(profile, example.expect.faults):
                    faulty.append(fields)
            if healthy is not None:
                readings[profile.id] = (healthy, faulty)
        kinds = sorted(readings)
        self.gateways = [f"gw-{g:03d}" for g in range(gateways)]
        self.devices = [
            Device(gw, f"dev-{n:05d}", *readings[kinds[n % len(kinds)]])
            for gw in self.gateways
            for n in range(devices)
        ]
        gate, fault = PROBE_FAULT
        profile = catalogue[gate]
        example = next(e for e in profile.examples if e.expect.faults == (fault,))
        jammed = decode(profile, example.topic, payload_bytes(example.payload), now)
        self.probe_fault = jammed.model_dump(exclude={"ts", "device_id"})
        self.probes = [
            Device(self.gateways[n % gateways], f"probe-{n:04d}", readings[gate][0])
            for n in range(probes)
        ]
        self.epoch = uuid.uuid4().hex[:16]
        self._templates: dict[tuple[str, int], str] = {}
        self.seq = dict.fromkeys(self.gateways, 0)

    def item(self, device: Device, at: datetime, fields: dict[str, object]) -> str:
        """An item of ``device`` with ``fields`` stamped ``at``, under a new id: the JSON of
        a validated Item made once per device and fields, with id and times put in (making
        thousands of pydantic items a second would take the publisher's whole core)."""
        key = (device.device_id, id(fields))
        template = self._templates.get(key)
        if template is None:
            values = {
                **fields, "device_id": device.device_id, "ts": _TEMPLATE_TS,
                "received_at": _TEMPLATE_TS,
            }  # fmt: skip
            template = Item(id=_TEMPLATE_ID, **values).model_dump_json()  # type: ignore[arg-type]
            self._templates[key] = template
        stamp = _TIME.dump_json(at).decode()[1:-1]
        return template.replace(_TEMPLATE_ID, uuid.uuid4().hex).replace(_TEMPLATE_TS_TEXT, stamp)

    def batch(self, gateway: str, items: list[str], at: datetime) -> tuple[str, int, bytes]:
        self.seq[gateway] += 1
        seq = self.seq[gateway]
        return gateway, seq, batch_payload(gateway, self.epoch, seq, at, items)

    def stream(self, readings: int, size: int, fault_share: float) -> list[tuple[str, int, bytes]]:
        """``readings`` readings in batches of ``size``, round robin over the devices, each
        gateway's batches in order; stamped over the last minute."""
        start = datetime.now(UTC) - timedelta(seconds=60)
        step = timedelta(seconds=60) / max(readings, 1)
        by_gateway: dict[str, list[str]] = {gw: [] for gw in self.gateways}
        every = int(1 / fault_share) if fault_share > 0 else 0
        for n in range(readings):
            device = self.devices[n % len(self.devices)]
            fields = device.normal
            if every and n % every == every - 1 and device.faulty:
                fields = device.faulty[n % len(device.faulty)]
            by_gateway[device.gateway].append(self.item(device, start + n * step, fields))
        batches = []
        for gateway, items in by_gateway.items():
            for first in range(0, len(items), size):
                batches.append(self.batch(gateway, items[first : first + size], start))
        # interleave the gateways, as they would send
        batches.sort(key=lambda b: (b[1], b[0]))
        return batches


def _high_priority(profile: object, faults: tuple[str, ...]) -> bool:
    """Whether a fault example would open a ticket as urgent or high as the probes' (the
    probes are found among the open tickets of priority high)."""
    spec = profile.faults  # type: ignore[attr-defined]
    template = profile.ticket.priority.value  # type: ignore[attr-defined]
    return any(
        spec[f].ticket
        and (spec[f].priority.value if spec[f].priority else template) in ("high", "urgent")
        for f in faults
    )


# ---------------------------------------------------------------------------- the parts


def provision(workdir: Path, fleet: Fleet, settings: dict[str, str]) -> None:
    """The fleet's gateways provisioned as an operator would (``linli site apply``), each
    new device a facility of its own, as in a community whose devices are one each."""
    path = workdir / "bench.site.yaml"
    listed = "".join(f"  {g}: {{new_devices: own-facility}}\n" for g in fleet.gateways)
    path.write_text(
        f"schema: linli.site/v1\ncommunity: {{id: bench, name: Bench}}\ngateways:\n{listed}"
    )
    env = {**os.environ, **{f"LINLI_CLOUD_{k.upper()}": v for k, v in settings.items()}}
    done = subprocess.run(
        linli_command("site", "apply", str(path), "--data-dir", str(workdir / "cloud")),
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"provisioning the gateways failed: {done.stderr.strip()}")


class Cloud:
    """``linli cloud run`` as a child process, with its HTTP API and /metrics."""

    def __init__(self, workdir: Path, broker: Mosquitto, settings: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **{f"LINLI_CLOUD_{k.upper()}": v for k, v in settings.items()}}
        env.update(
            LINLI_CLOUD_INGEST_CLIENT_ID=INGEST_CLIENT,
            LINLI_CLOUD_INGEST_GROUP=INGEST_GROUP,
            LINLI_CLOUD_LOG_LEVEL="WARNING",
            LINLI_ADMIN_PASSWORD=BENCH_PASSWORD,
        )
        self._group = ProcessGroup(workdir / "logs", env=env)
        self._argv = linli_command(
            "cloud", "run", "--data-dir", str(workdir / "cloud"), "--port", str(self.port),
            "--mqtt-port", str(broker.port), "--ingest",
        )  # fmt: skip
        self.pid = 0

    def __enter__(self) -> Cloud:
        self.pid = self._group.start("cloud", self._argv).pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cloud did not come up; see its log in " + str(self._group.log_dir))

    def __exit__(self, *exc: object) -> None:
        self._group.stop()

    def stored(self, client: httpx.Client | None = None) -> int:
        """Readings this cloud process has stored."""
        return self._count('linli_ingest_items_total{result="stored"}', client)

    def acknowledged(self, client: httpx.Client | None = None) -> int:
        """Batches this cloud process has acknowledged to their gateways (then, in the same
        step, to the broker)."""
        return self._count("linli_ingest_acks_total{", client)

    def _count(self, prefix: str, client: httpx.Client | None) -> int:
        """The sum of the samples of /metrics whose line starts with ``prefix``."""
        text = (client or httpx).get(f"{self.url}/metrics", timeout=5).text
        return sum(
            int(float(line.split()[-1])) for line in text.splitlines() if line.startswith(prefix)
        )


async def publish(broker: Mosquitto, batches: list[tuple[str, int, bytes]], name: str) -> None:
    """Publish every batch (QoS 1); returns once the broker has them all."""
    async with Client(broker.host, broker.port, client_id=name, max_in_flight=100) as client:
        for first in range(0, len(batches), 100):
            await asyncio.gather(
                *(client.publish(batch_topic(gw), payload) for gw, _, payload in
                  batches[first : first + 100])
            )  # fmt: skip


def keep_session(broker: Mosquitto, client_id: str, topic_filter: str, rm: int) -> None:
    async def register() -> None:
        async with Client(
            broker.host, broker.port, client_id=client_id, clean_start=False,
            session_expiry_s=7200, receive_maximum=rm,
        ) as client:  # fmt: skip
            await client.subscribe([topic_filter])

    asyncio.run(register())


def forget_session(broker: Mosquitto, client_id: str) -> None:
    """End the broker's session of ``client_id``: nothing more is queued for it (a queue
    growing on the broker is written out at each of its autosaves, and stalls it)."""

    async def forget() -> None:
        async with Client(broker.host, broker.port, client_id=client_id, clean_start=True):
            pass

    asyncio.run(forget())


def bare_drain(broker: Mosquitto, messages: int, rm: int) -> float:
    """Seconds a plain subscriber takes to receive ``messages`` queued for it."""

    async def drain() -> float:
        count, first = 0, 0.0
        async with Client(
            broker.host, broker.port, client_id="bench-bare", clean_start=False,
            session_expiry_s=7200, receive_maximum=rm,
        ) as client:  # fmt: skip
            async for _ in client.messages():
                if count == 0:
                    first = time.perf_counter()
                count += 1
                if count == messages:
                    return time.perf_counter() - first
        raise RuntimeError("the bare subscriber lost its connection")

    return asyncio.run(drain())


def ingest_drain(cloud: Cloud, readings: int) -> tuple[float, float]:
    """(seconds from the first reading stored to the last, CPU seconds the cloud used
    meanwhile). ``cloud`` is a process started for this run: its stored count began at 0."""
    first = last = 0.0
    first_count = 0
    cpu_first = cpu_last = 0.0
    stored = 0
    with httpx.Client() as client:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            stored = cloud.stored(client)
            now = time.perf_counter()
            if stored and not first:
                first, first_count, cpu_first = now, stored, cpu_s(cloud.pid)
            if stored >= readings:
                last, cpu_last = now, cpu_s(cloud.pid)
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the cloud stored {stored} of {readings} readings")
    if first_count >= readings:
        raise RuntimeError("the cloud stored everything before the first poll: use more readings")
    # the first poll saw first_count already stored: scale the window to all readings
    scale = readings / (readings - first_count)
    return (last - first) * scale, (cpu_last - cpu_first) * scale


# ---------------------------------------------------------------------------- latency


@dataclass
class Latency:
    published: int = 0
    lags: list[float] = field(default_factory=list)
    probe_lags: list[float] = field(default_factory=list)
    """publish → ack of the probes' single-reading batches"""
    tickets: list[float] = field(default_factory=list)
    probes_sent: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    """CPU seconds the cloud used in the measured seconds"""


async def steady(
    fleet: Fleet,
    broker: Mosquitto,
    cloud: Cloud,
    rate: float,
    seconds: float,
    faults: float,
    warmup: float,
) -> Latency:
    """Publish ``rate`` readings a second for ``warmup`` seconds (not measured: the cloud,
    started afresh, loads its devices and takes what the previous run left), then for
    ``seconds`` more with ``faults`` probe faults a second; measure acknowledgements and
    tickets of those."""
    result = Latency()
    sent: dict[tuple[str, int], float] = {}
    probe_sent: dict[str, float] = {}
    acked: dict[tuple[str, int], float] = {}
    seen: dict[str, float] = {}
    probe_batches: set[tuple[str, int]] = set()

    async def watch_acks(client: Client) -> None:
        async for message in client.messages():
            ack = json.loads(message.payload)
            acked.setdefault((ack["gateway_id"], ack["seq"]), time.monotonic())

    async def poll_tickets(http: httpx.AsyncClient, until: float) -> None:
        # newest first within a priority: a probe's ticket is among the first high ones
        query = "/api/v1/tickets?state=open&priority=high&limit=50"
        while time.monotonic() < until:
            for ticket in (await http.get(cloud.url + query)).json():
                if ticket["device_id"] in probe_sent:
                    seen.setdefault(ticket["device_id"], time.monotonic())
            await asyncio.sleep(0.02)

    size = 50
    interval = size / rate
    by_gateway = {gw: [d for d in fleet.devices if d.gateway == gw] for gw in fleet.gateways}
    probe_every = 1 / faults if faults else 0
    async with (
        Client(broker.host, broker.port, client_id="bench-gateways", max_in_flight=200) as pub,
        Client(broker.host, broker.port, client_id="bench-acks") as acks,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await acks.subscribe([ack_topic("+")])
        login = await http.post(
            cloud.url + "/api/v1/auth/login",
            json={"username": "admin", "password": BENCH_PASSWORD},
        )
        login.raise_for_status()
        watcher = asyncio.create_task(watch_acks(acks))
        begin = time.monotonic()
        start = begin + warmup  # measured from here
        end = start + seconds
        poller = asyncio.create_task(poll_tickets(http, end + 5))
        pending: set[asyncio.Task[None]] = set()
        device_n = probe_n = 0
        next_batch, next_probe = begin, start
        cpu0 = -1.0
        while (now := time.monotonic()) < end:
            measured = now >= start
            if measured and cpu0 < 0:
                cpu0 = cpu_s(cloud.pid)
            if probe_every and now >= next_probe and probe_n < len(fleet.probes):
                probe = fleet.probes[probe_n]
                probe_n += 1
                next_probe += probe_every
                at = datetime.now(UTC)
                gw, seq, payload = fleet.batch(
                    probe.gateway, [fleet.item(probe, at, fleet.probe_fault)], at
                )
                probe_sent[probe.device_id] = time.monotonic()
                probe_batches.add((gw, seq))
                sent[(gw, seq)] = time.monotonic()
                task = asyncio.create_task(pub.publish(batch_topic(gw), payload))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if now >= next_batch:
                at = datetime.now(UTC)
                gateway = fleet.gateways[(device_n // size) % len(fleet.gateways)]
                mine = by_gateway[gateway]
                items = []
                for k in range(size):
                    device = mine[(device_n + k) % len(mine)]
                    items.append(fleet.item(device, at, device.normal))
                device_n += size
                gw, seq, payload = fleet.batch(gateway, items, at)
                if measured:
                    sent[(gw, seq)] = time.monotonic()
                    result.published += size
                task = asyncio.create_task(pub.publish(batch_topic(gw), payload))
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_batch += interval
            await asyncio.sleep(max(0.0, min(next_batch, next_probe or end) - time.monotonic()))
        result.seconds = time.monotonic() - start
        result.cpu_s = cpu_s(cloud.pid) - cpu0
        await asyncio.gather(*pending)
        deadline = time.monotonic() + 30
        while not sent.keys() <= acked.keys() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await poller
        watcher.cancel()
    result.lags = [acked[key] - at for key, at in sent.items() if key in acked]
    result.probe_lags = [acked[key] - sent[key] for key in probe_batches if key in acked]
    result.tickets = [seen[d] - at for d, at in probe_sent.items() if d in seen]
    result.probes_sent = len(probe_sent)
    return result


# ---------------------------------------------------------------------------- the run


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, shorter run")
    parser.add_argument("--gateways", type=int, default=10, help="gateways (10)")
    parser.add_argument("--devices", type=int, default=500, help="devices per gateway (500)")
    parser.add_argument(
        "--sizes", default="1,50,500", help="batch sizes of the throughput runs (1,50,500)"
    )
    parser.add_argument(
        "--readings",
        type=int,
        default=0,
        help="readings per throughput run (default: 400 000 for batches of 50 and more, "
        "60 000 for single readings; --quick: a quarter)",
    )
    parser.add_argument("--rate", type=float, default=10_000, help="latency run: readings/s")
    parser.add_argument("--seconds", type=float, default=60, help="latency run: seconds (60)")
    parser.add_argument("--faults", type=float, default=5, help="latency run: probe faults/s (5)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5,
        help="latency run: seconds of the stream before the measured ones (5)",
    )
    parser.add_argument("--fault-share", type=float, default=0.01, help="fault readings (0.01)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a cloud setting for every run, e.g. --set ingest_receive_maximum=1000",
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="store in a throwaway PostgreSQL cluster started for the run (initdb, pg_ctl) "
        "instead of the default SQLite file",
    )
    parser.add_argument(
        "--influxdb",
        action="store_true",
        help="keep telemetry in a throwaway InfluxDB (influxd 1.x, started for the run) "
        "instead of the SQL database",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="PREFIX",
        help="record the cloud with py-spy during each measured run (raw collapsed stacks, "
        "all threads) to PREFIX.batchN.txt and PREFIX.steady.txt (py-spy must be installed)",
    )
    parser.add_argument(
        "--top", type=Path, metavar="FILE", help="print where a --py-spy recording spent its time"
    )
    args = parser.parse_args()
    if args.top is not None:
        print(top(args.top))
        return
    if args.quick:
        args.seconds = min(args.seconds, 20)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    settings = dict(item.split("=", 1) for item in args.set)
    receive_maximum = int(settings.get("ingest_receive_maximum", 0)) or _default_rm()
    probes = int(args.faults * args.seconds) + 1
    fleet = Fleet(Catalogue.load(), args.gateways, args.devices, probes)
    say(f"load average {load()}; {len(fleet.devices)} devices, {probes} probes")

    rows: list[list[str]] = []
    with contextlib.ExitStack() as stack:
        if args.postgres:
            cluster = stack.enter_context(PostgresCluster(name="bench"))
            settings["database_url"] = cluster.create_database("linli_bench")
            say(f"PostgreSQL on port {cluster.port}")
        if args.influxdb:
            influx = stack.enter_context(InfluxServer(name="bench"))
            settings.update(
                telemetry_store="influxdb", influxdb_url=influx.url, influxdb_database="bench"
            )
            say(f"InfluxDB on port {influx.port}")
        _run(args, sizes, settings, receive_maximum, fleet, rows)


def _run(
    args: argparse.Namespace,
    sizes: list[int],
    settings: dict[str, str],
    receive_maximum: int,
    fleet: Fleet,
    rows: list[list[str]],
) -> None:
    with tempfile.TemporaryDirectory(prefix="linli-bench-ingest-") as tmp:
        workdir = Path(tmp)
        with Mosquitto(name="bench-cloud", log_dir=workdir) as broker:
            keep_session(broker, "bench-bare", BATCH_FILTER, receive_maximum)
            quiet = {
                **settings,
                "silence_check_s": "0",
                "rollup_check_s": "0",
                "repair_check_s": "0",
            }
            provision(workdir, fleet, settings)
            with Cloud(workdir, broker, quiet) as cloud:  # registers every device (and probe)
                at = datetime.now(UTC)
                everyone = fleet.devices + fleet.probes
                warm = []
                for gateway in fleet.gateways:
                    mine = [fleet.item(d, at, d.normal) for d in everyone if d.gateway == gateway]
                    for first in range(0, len(mine), 500):
                        warm.append(fleet.batch(gateway, mine[first : first + 500], at))
                asyncio.run(publish(broker, warm, "bench-warm"))
                wait_for(lambda: cloud.stored() >= len(everyone), "the devices registered")
            bare_drain(broker, len(warm), receive_maximum)  # the bare subscriber's copy
            for size in sizes:
                readings = args.readings or (400_000 if size >= 50 else 60_000)
                if args.quick and not args.readings:
                    readings //= 4
                batches = fleet.stream(readings, size, args.fault_share)
                say(f"batches of {size}: publishing {readings} readings ({len(batches)} batches)")
                asyncio.run(publish(broker, batches, "bench-publisher"))
                load_before = load()
                bare_s = bare_drain(broker, len(batches), receive_maximum)
                with (
                    Cloud(workdir, broker, quiet) as cloud,
                    spying(cloud.pid, args.py_spy, f"batch{size}"),
                ):
                    took, cpu = ingest_drain(cloud, readings)
                    # the last group's acknowledgements out, or the next run would begin
                    # with its messages again (as duplicates)
                    sent = len(batches)
                    wait_for(lambda: cloud.acknowledged() >= sent, "acknowledgements")  # noqa: B023
                ingest, bare = readings / took, readings / bare_s
                goal = (
                    (50_000 if args.postgres or args.influxdb else 100_000)
                    if size >= 50
                    else 20_000
                )
                rows.append([
                    str(size), f"{readings:,}", f"{ingest:,.0f}", f"{bare:,.0f}",
                    f"{ingest / bare:.2f}", f"{goal:,}", f"{100 * cpu / took:.0f}",
                    f"{load_before} / {load()}",
                ])  # fmt: skip
                say(f"  ingest {ingest:,.0f}/s, bare {bare:,.0f}/s")
            latency = None
            if not args.no_latency:
                forget_session(broker, "bench-bare")  # the latency run has no bare subscriber
                say(
                    f"steady: {args.rate:,.0f} readings/s for {args.warmup:g} s unmeasured, "
                    f"then {args.seconds:g} s"
                )
                with Cloud(workdir, broker, settings) as cloud:
                    load_before = load()
                    with spying(cloud.pid, args.py_spy, "steady"):
                        latency = asyncio.run(
                            steady(
                                fleet,
                                broker,
                                cloud,
                                args.rate,
                                args.seconds,
                                args.faults,
                                args.warmup,
                            )
                        )
                    latency_load = f"{load_before} / {load()}"
                    say("the cloud's ingest metrics after the latency run:")
                    for line in httpx.get(f"{cloud.url}/metrics", timeout=5).text.splitlines():
                        if line.startswith(_REPORTED):
                            say(f"  {line}")
    _print_throughput(rows, receive_maximum)
    if latency is not None:
        cpu = 100 * latency.cpu_s / latency.seconds
        _print_latency(latency, args.rate, cpu, latency_load)


def _default_rm() -> int:
    from cloud.config import CloudSettings

    return int(CloudSettings.model_fields["ingest_receive_maximum"].default)


def _print_throughput(rows: list[list[str]], receive_maximum: int) -> None:
    head = [
        "batch", "readings", "ingest readings/s", "bare readings/s", "ratio", "goal",
        "cloud CPU %", "load avg 1/5/15 min (before / after)",
    ]  # fmt: skip
    _table(head, rows)
    print(f"(receive maximum {receive_maximum}; ingest and bare take the same queued stream)")


def _print_latency(result: Latency, rate: float, cpu: float, load_text: str) -> None:
    achieved = result.published / result.seconds if result.seconds else 0
    ms = [x * 1000 for x in result.lags]
    tickets = [x * 1000 for x in result.tickets]
    probe = [x * 1000 for x in result.probe_lags]
    head = ["measure", "samples", "p50 ms", "p99 ms", "max ms", "goal p99 ms"]
    rows = [
        ["ingest lag (publish → ack)", f"{len(ms):,}", f"{percentile(ms, 0.5):.0f}",
         f"{percentile(ms, 0.99):.0f}", f"{max(ms, default=float('nan')):.0f}", "1 000"],
        ["  of which the probes' single-reading batches", f"{len(probe):,}",
         f"{percentile(probe, 0.5):.0f}", f"{percentile(probe, 0.99):.0f}",
         f"{max(probe, default=float('nan')):.0f}", ""],
        ["fault → ticket in the API", f"{len(tickets)} of {result.probes_sent}",
         f"{percentile(tickets, 0.5):.0f}", f"{percentile(tickets, 0.99):.0f}",
         f"{max(tickets, default=float('nan')):.0f}", "250"],
    ]  # fmt: skip
    print()
    print(
        f"steady stream: {achieved:,.0f} readings/s of {rate:,.0f} for {result.seconds:.0f} s; "
        f"cloud CPU {cpu:.0f} %; load avg {load_text}"
    )
    _table(head, rows)
    if statistics.fmean(ms or [0]) > 0:
        print(f"(mean lag {statistics.fmean(ms):.0f} ms)")


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
