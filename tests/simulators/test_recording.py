"""Recording and replaying device traffic: the file format, timing, and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto
from simulators.community import Community
from simulators.faults import CONTROL_TOPIC, FaultCommand, encode_control
from simulators.recording import (
    Recorded,
    RecordingError,
    RecordingWriter,
    check,
    decode,
    encode,
    read,
    replay,
)
from simulators.simulator import Simulator, SimulatorConfig
from simulators.transport import Subscription
from tests.simulators.conftest import TIMEOUT_S, SimCli, running, subscribed

BINARY = b"\x00\x01\xfe\xff"


def _write(path: Path, records: list[Recorded]) -> Path:
    path.write_text("".join(encode(record) + "\n" for record in records))
    return path


def test_text_and_binary_payloads_round_trip() -> None:
    text = Recorded(1.25, "acme/gate/gate-01/state", b'{"ts":1,"door":"closed"}')
    binary = Recorded(2.5, "vendor/raw", BINARY)
    assert json.loads(encode(text))["payload"] == '{"ts":1,"door":"closed"}'
    assert json.loads(encode(binary))["payload_b64"] == "AAH+/w=="
    assert decode(encode(text)) == text
    assert decode(encode(binary)) == binary


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"t": 1, "topic": "a"', "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"t": -1, "topic": "a", "payload": ""}', "'t' must be"),
        ('{"t": "soon", "topic": "a", "payload": ""}', "'t' must be"),
        ('{"t": 1, "topic": "a/#", "payload": ""}', "'topic' must be"),
        ('{"t": 1, "topic": "a"}', "exactly one of"),
        ('{"t": 1, "topic": "a", "payload": "x", "payload_b64": "eA=="}', "exactly one of"),
        ('{"t": 1, "topic": "a", "payload_b64": "not base64!"}', "not valid base64"),
        ('{"t": 1, "topic": "a", "payload": "", "qos": 2}', "unknown field(s): qos"),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        decode(line)


def test_a_corrupt_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = _write(tmp_path / "day.jsonl", [Recorded(0.1, "a", b"1"), Recorded(0.2, "a", b"2")])
    with path.open("a") as file:
        file.write("\n{broken\n")
    with pytest.raises(RecordingError, match=rf"^{path}:4: not JSON"):
        check(path)
    # the good lines before it are read; the error comes when the bad one is reached
    records = read(path)
    assert next(records).payload == b"1"


def test_writer_counts_time_from_its_start(tmp_path: Path) -> None:
    now = [100.0]
    with RecordingWriter(tmp_path / "r.jsonl", clock=lambda: now[0]) as writer:
        now[0] = 100.5
        writer.write("a", b"x")
        now[0] = 102.0
        writer.write("b", BINARY)
    assert [(r.t, r.topic, r.payload) for r in read(writer.path)] == [
        (0.5, "a", b"x"),
        (2.0, "b", BINARY),
    ]
    assert check(writer.path).messages == 2


async def test_replay_keeps_order_and_spacing_divided_by_speed() -> None:
    loop = asyncio.get_running_loop()
    sent: list[tuple[str, float]] = []

    async def publish(topic: str, payload: bytes) -> None:
        sent.append((topic, loop.time()))

    records = [Recorded(t, f"t/{i}", b"") for i, t in enumerate([0.0, 0.0, 1.0, 3.0])]
    started = loop.time()
    result = await replay(records, publish, speed=10)
    assert result.sent == 4 and result.error is None and not result.stopped
    assert [topic for topic, _ in sent] == ["t/0", "t/1", "t/2", "t/3"]
    offsets = [at - started for _, at in sent]
    assert offsets[2] == pytest.approx(0.1, abs=0.05)
    assert offsets[3] == pytest.approx(0.3, abs=0.08)


async def test_replay_stops_at_the_first_failed_publish() -> None:
    async def publish(topic: str, payload: bytes) -> None:
        if topic == "t/2":
            raise ConnectionError("broker gone")

    records = [Recorded(0, f"t/{i}", b"") for i in range(5)]
    result = await replay(records, publish, window=1)
    assert result.sent == 2
    assert isinstance(result.error, ConnectionError)


async def test_record_captures_messages_with_their_timing(
    broker: Mosquitto, tmp_path: Path
) -> None:
    path = tmp_path / "rec.jsonl"
    two = asyncio.Event()
    with RecordingWriter(path) as writer:

        def on_message(topic: str, payload: bytes) -> None:
            writer.write(topic, payload)
            if writer.count == 2:
                two.set()

        async with (
            Subscription(broker.host, broker.port, ["rec/#"], on_message),
            subscribed(broker, []) as publisher,
        ):
            await publisher.publish("rec/text", b'{"v":1}')
            await asyncio.sleep(0.4)  # the gap being recorded, not a synchronisation
            await publisher.publish("rec/binary", BINARY)
            await asyncio.wait_for(two.wait(), TIMEOUT_S)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["payload"] == '{"v":1}'
    assert json.loads(lines[1])["payload_b64"] == "AAH+/w=="
    first, second = read(path)
    assert (first.topic, second.topic, second.payload) == ("rec/text", "rec/binary", BINARY)
    assert 0.35 <= second.t - first.t < 2.0


async def test_record_command_captures_a_running_simulator(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path, sim_cli: SimCli
) -> None:
    community = Community.generate(catalogue, {"acme_access_gate": 2}, seed=1)
    simulator = Simulator(community, SimulatorConfig(speed=600, min_interval_s=0.1))
    out = tmp_path / "sim.jsonl"
    argv = ["record", "--broker-port", str(broker.port), "--out", str(out), "--seconds", "1"]
    async with running(simulator, broker.host, broker.port):
        result = await asyncio.to_thread(sim_cli, *argv)
    assert result.exit_code == 0, result.output
    records = list(read(out))
    assert f"recorded {len(records)} messages" in result.output
    assert len(records) >= 4
    assert {r.topic for r in records} == {d.topic for d in community}
    times = [r.t for r in records]
    assert times == sorted(times) and times[-1] < 1.5


async def test_replay_at_speed_10_republishes_in_order(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path, sim_cli: SimCli
) -> None:
    # a recorded fault: the payload (and its event timestamp) comes back byte for byte
    gate = Community.generate(catalogue, {"acme_access_gate": 1}).get("gate-01")
    jammed = gate.payload("motor_jammed", 1_700_000_000.0)
    records = [
        Recorded(0.0, gate.topic, gate.payload(None, 1_700_000_000.0)),
        Recorded(0.5, "vendor/raw/x", BINARY),
        Recorded(1.0, gate.topic, jammed),
        Recorded(1.5, "vendor/raw/x", b"text"),
        Recorded(2.0, gate.topic, gate.payload(None, 1_700_000_002.0)),
    ]
    path = _write(tmp_path / "day.jsonl", records)
    argv = ["replay", str(path), "--broker-port", str(broker.port), "--speed", "10"]
    async with subscribed(broker, [gate.topic, "vendor/#"]) as inbox:
        result = await asyncio.to_thread(sim_cli, *argv)
        assert result.exit_code == 0, result.output
        received = [await inbox.next() for _ in records]
    assert "sent 5 messages" in result.output
    assert [(m.topic, m.payload) for m in received] == [(r.topic, r.payload) for r in records]
    assert received[2].decoded(catalogue).faults == ("motor_jammed",)
    assert 0.15 <= received[-1].at - received[0].at < 1.5


def test_replay_reports_a_corrupt_line_by_number(tmp_path: Path, sim_cli: SimCli) -> None:
    path = _write(tmp_path / "day.jsonl", [Recorded(0, "a", b"1")] * 2)
    with path.open("a") as file:
        file.write('{"t": 3, "topic": "a", "payload": \n')
    result = sim_cli("replay", str(path), "--broker-port", "1")
    assert result.exit_code == 2
    assert f"bad recording: {path}:3: not JSON" in result.output
    assert "Traceback" not in result.output


async def test_faults_recorded_arrive_again_on_replay(
    catalogue: Catalogue, broker: Mosquitto, tmp_path: Path, sim_cli: SimCli
) -> None:
    """Record a simulator while a fault is injected, replay it: the fault comes again."""
    community = Community.generate(catalogue, {"acme_access_gate": 1}, seed=1)
    simulator = Simulator(community, SimulatorConfig(speed=1, min_interval_s=0))
    path = tmp_path / "fault.jsonl"
    faulty = asyncio.Event()
    with RecordingWriter(path) as writer:

        def on_message(topic: str, payload: bytes) -> None:
            writer.write(topic, payload)
            if catalogue.decode(topic, payload, datetime.now(UTC)).faults:
                faulty.set()

        async with (
            Subscription(broker.host, broker.port, catalogue.subscriptions(), on_message),
            running(simulator, broker.host, broker.port),
            subscribed(broker, []) as control,
        ):
            command = FaultCommand(device_id="gate-01", fault="motor_jammed", duration_s=30)
            await control.publish(CONTROL_TOPIC, encode_control(command))
            await asyncio.wait_for(faulty.wait(), TIMEOUT_S)
    argv = ["replay", str(path), "--broker-port", str(broker.port), "--speed", "100"]
    async with subscribed(broker, catalogue.subscriptions()) as inbox:
        result = await asyncio.to_thread(sim_cli, *argv)
        assert result.exit_code == 0, result.output
        again = await inbox.next(lambda m: m.decoded(catalogue).faults != ())
    assert again.decoded(catalogue).faults == ("motor_jammed",)
    assert again.payload in {r.payload for r in read(path)}
