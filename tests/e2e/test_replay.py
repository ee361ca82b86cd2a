"""A recording of a gateway's device traffic, replayed into a fresh system, reproduces the
tickets the recorded run opened: ``linli sim record`` while faults are injected, then
``linli sim replay`` into new brokers, a new edge agent and a new cloud whose simulator
simulates no device. Payloads are replayed byte for byte, event timestamps included, so
every rule (threshold, rate) judges the same readings at the same event times."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from linli.demo import linli_command
from linli.mosquitto import Mosquitto
from tests.e2e.harness import eventually, running_system

pytestmark = pytest.mark.e2e

GATEWAY = "replay-gw"
DEVICES = ["gate-01", "gate-02", "gate-03", "light-a-01", "light-b-01"]
SETTINGS = {"LINLI_EDGE_STATUS_INTERVAL_S": "1"}  # the edge's counters, fresh every second


def _devices(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {d["device_id"]: d for d in api.get("/api/v1/devices").json()}


def _tickets(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/api/v1/tickets", params={"limit": 1000})
    response.raise_for_status()
    return response.json()


def _ticket_set(api: httpx.Client) -> set[tuple[str, str]]:
    return {(t["device_id"], t["fault"]) for t in _tickets(api)}


def _at(text: str) -> datetime:
    """An API timestamp as an aware datetime (SQLite hands back naive UTC ones)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _counters(api: httpx.Client) -> dict[str, int]:
    found = [g for g in api.get("/api/v1/gateways").json() if g["id"] == GATEWAY]
    return found[0]["counters"] if found else {}


def _items_stored(api: httpx.Client) -> float:
    """Items the cloud has stored, from its Prometheus metrics."""
    text = api.get("/metrics").text
    found = re.search(r'^linli_ingest_items_total\{result="stored"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@contextmanager
def recording(broker_port: int, out: Path, log: Path) -> Iterator[None]:
    """``linli sim record`` running on the broker until the block ends."""
    with log.open("w") as stderr:
        recorder = subprocess.Popen(
            linli_command("sim", "record", "--out", str(out), "--broker-port", str(broker_port)),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while "recording" not in log.read_text():  # printed once subscribed
            assert recorder.poll() is None, f"linli sim record exited: {log.read_text()}"
            assert time.monotonic() < deadline, "linli sim record did not start"
            time.sleep(0.1)
        yield
    finally:
        recorder.send_signal(signal.SIGTERM)
        stdout, _ = recorder.communicate(timeout=30)
    assert recorder.returncode == 0, log.read_text()
    assert stdout.startswith("recorded "), stdout


def test_a_replayed_recording_reproduces_the_tickets(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    traffic = tmp_path / "traffic.jsonl"
    sim_args = ["--seed", "5", "--gates", "3", "--lights", "2", "--buttons", "0"]
    with running_system(
        tmp_path / "recorded", gateway_broker, cloud_broker,
        gateway_id=GATEWAY, sim_args=sim_args, env=SETTINGS,
    ) as system:  # fmt: skip
        api = system.api
        eventually(system, lambda: set(_devices(api)) == set(DEVICES), "every device reporting")
        assert not _tickets(api)
        with recording(system.gateway_port, traffic, tmp_path / "record.log"):
            system.sim("fault", "gate-01", "motor_jammed", "--for", "4m")
            system.sim("fault", "light-a-01", "overvoltage", "--for", "4m")
            system.sim("fault", "gate-03", "motor_overcurrent", "--for", "3m")
            # forced open at 0, 4, 8 and 12 s: the rate rule raises door_forced_repeatedly
            flapping_from = time.time()
            system.sim(
                "fault", "gate-02", "flapping",
                "--flap", "door_forced", "--period", "2m", "--for", "13m",
            )  # fmt: skip
            expected = {
                ("gate-01", "motor_jammed"),
                ("light-a-01", "overvoltage"),
                ("gate-03", "motor_overcurrent"),
                ("gate-02", "door_forced"),
                ("gate-02", "door_forced_repeatedly"),
            }
            # every fault over: a reading of every device after the flapping's end (the rate
            # fault holds for its 600 s window)
            over = {d: ["door_forced_repeatedly"] if d == "gate-02" else [] for d in DEVICES}

            def faults_over() -> bool:
                devices = _devices(api)
                return (
                    all(
                        _at(d["last_ts"]).timestamp() > flapping_from + 14 for d in devices.values()
                    )
                    and {d: v["faults"] for d, v in devices.items()} == over
                )

            eventually(system, faults_over, "the faults over")
        recorded = _ticket_set(api)
        recorded_cleared = {
            (t["device_id"], t["fault"]) for t in _tickets(api) if t["fault_cleared_at"]
        }
    assert recorded >= expected, recorded

    # a fresh system: new brokers, edge and cloud, a register of the recorded community; its
    # simulator simulates no device
    fresh_dir = tmp_path / "replayed"
    fresh_dir.mkdir()
    with (
        Mosquitto(name="gateway-fresh", log_dir=fresh_dir) as fresh_gateway,
        Mosquitto(name="cloud-fresh", log_dir=fresh_dir) as fresh_cloud,
        running_system(
            fresh_dir, fresh_gateway, fresh_cloud, gateway_id=GATEWAY,
            sim_args=["--gates", "0", "--lights", "0", "--buttons", "0"], env=SETTINGS,
            site_args=sim_args,  # the register knows the recorded community
        ) as fresh,
    ):  # fmt: skip
        api = fresh.api
        assert not _devices(api) and not _tickets(api)
        # speed 2: a normal spell of the flapping (2 s recorded) still outlasts the edge's
        # 0.5 s batch linger, so the next alarm cannot overtake it and hide an onset
        replay = subprocess.run(
            linli_command(
                "sim", "replay", str(traffic), "--speed", "2",
                "--broker-port", str(fresh.gateway_port),
            ),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stderr
        summary = re.fullmatch(r"sent (\d+) messages\n", replay.stdout)
        assert summary, replay.stdout
        sent = int(summary.group(1))
        assert sent == len(traffic.read_text().splitlines())

        # everything replayed went through: received by the edge, forwarded, stored
        def all_stored() -> bool:
            counters = _counters(api)
            return (
                counters.get("messages_received") == sent
                and counters["items_waiting"] == 0
                and _items_stored(api) == counters["items_forwarded"]
            )

        eventually(fresh, all_stored, "the replayed traffic ingested")
        assert _counters(api)["dead_letters"] == 0
        assert set(_devices(api)) == set(DEVICES)
        assert _ticket_set(api) == recorded
        replayed_cleared = {
            (t["device_id"], t["fault"]) for t in _tickets(api) if t["fault_cleared_at"]
        }
        assert replayed_cleared == recorded_cleared
