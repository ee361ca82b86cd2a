"""``linli sim`` commands: list, fault, garbage (run is covered in test_simulator_mqtt)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto, free_port
from simulators.cli import app
from simulators.community import DEFAULT_COUNTS, Community
from simulators.faults import CONTROL_TOPIC, EventCommand, parse_control
from simulators.simulator import Simulator, SimulatorConfig
from tests.simulators.conftest import running, subscribed

runner = CliRunner()


def test_list_prints_the_default_community() -> None:
    result = runner.invoke(app, ["list", "--seed", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"{sum(DEFAULT_COUNTS.values())} devices"
    ids = [line.split()[0] for line in lines[:-1]]
    assert ids[0] == "gate-01" and "light-b-30" in ids and "sos-24" in ids
    assert "brightway/zone-a/lamp/light-a-01/report" in result.output


def test_list_with_counts() -> None:
    result = runner.invoke(
        app, ["list", "--gates", "1", "--lights", "0", "--count", "safecall_alarm_button=2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "3 devices"


def test_list_rejects_an_unknown_profile() -> None:
    result = runner.invoke(app, ["list", "--count", "teapot=3"])
    assert result.exit_code == 2
    assert "teapot" in result.output


def test_list_rejects_a_bad_profiles_dir(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("schema: linli.profile/v1\nid: Bad Id\n")
    result = runner.invoke(app, ["list", "--profiles-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output


async def test_fault_command_delivers_the_control_message(broker: Mosquitto) -> None:
    argv = [
        "fault",
        "gate-01",
        "motor_jammed",
        "--for",
        "7m",
        "--broker-port",
        str(broker.port),
    ]
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(runner.invoke, app, argv)
        assert result.exit_code == 0, result.output
        message = await inbox.next()
    assert parse_control(message.payload) == EventCommand(
        event={"device": "gate-01", "fault": "motor_jammed", "for": "7m"}
    )


@pytest.mark.parametrize(
    ("argv", "event"),
    [
        (
            ["zone:zone-a", "power_loss", "--category", "lighting", "--for", "15m"],
            {"zone": "zone-a", "category": "lighting", "fault": "power_loss", "for": "15m"},
        ),
        (
            ["pump-01", "flapping", "--flap", "low_pressure", "--period", "30s"],
            {
                "device": "pump-01",
                "fault": "flapping",
                "flap": "low_pressure",
                "period": "30s",
                "for": "1m",
            },
        ),
        (
            ["gateway", "uplink_loss", "--for", "5m"],
            {"gateway": True, "fault": "uplink_loss", "for": "5m"},
        ),
        (
            ["light-a-01", "garbage", "--count", "20"],
            {"device": "light-a-01", "fault": "garbage", "count": 20},
        ),
    ],
)
async def test_fault_command_aims_like_a_scenario_event(
    broker: Mosquitto, argv: list[str], event: dict[str, object]
) -> None:
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(
            runner.invoke, app, ["fault", *argv, "--broker-port", str(broker.port)]
        )
        assert result.exit_code == 0, result.output
        message = await inbox.next()
    assert parse_control(message.payload) == EventCommand(event=event)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["gateway", "motor_jammed"], "gateway"),
        (["gate-01", "uplink_loss"], "gateway"),
        (["gate-01", "motor_jammed", "--for", "8d"], "7d"),
        (["pump-01", "flapping"], "flap"),
        (["street:x", "silent"], "TARGET"),
    ],
)
def test_fault_command_refuses_a_bad_request_before_sending(argv: list[str], says: str) -> None:
    result = runner.invoke(app, ["fault", *argv, "--broker-port", str(free_port())])
    assert result.exit_code == 2
    assert says in result.output


async def test_fault_command_breaks_a_running_device(
    catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = Community.generate(catalogue, {"brightway_street_light": 2}, seed=2)
    simulator = Simulator(community, SimulatorConfig(speed=1, min_interval_s=0))
    argv = ["fault", "light-b-01", "overvoltage", "--broker-port", str(broker.port)]
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        result = await asyncio.to_thread(runner.invoke, app, argv)
        assert result.exit_code == 0, result.output
        message = await inbox.next(
            lambda m: (
                m.topic.endswith("/light-b-01/report")
                and m.decoded(catalogue).faults == ("overvoltage",)
            )
        )
    assert message.topic == "brightway/zone-b/lamp/light-b-01/report"


async def test_garbage_command(broker: Mosquitto) -> None:
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        argv = ["garbage", "sos-03", "--broker-port", str(broker.port)]
        result = await asyncio.to_thread(runner.invoke, app, argv)
        assert result.exit_code == 0, result.output
        message = await inbox.next()
    assert parse_control(message.payload) == EventCommand(
        event={"device": "sos-03", "fault": "garbage", "count": 1}
    )


def test_fault_command_without_a_broker_exits_2() -> None:
    port = free_port()
    result = runner.invoke(app, ["fault", "gate-01", "motor_jammed", "--broker-port", str(port)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output
    assert "is the broker running?" in result.output


def test_run_refuses_a_scenario_with_gateway_faults_but_no_uplink(tmp_path: Path) -> None:
    script = tmp_path / "outage.yaml"
    script.write_text(
        "events:\n  - at: 1m\n    device: gate-01\n    fault: motor_jammed\n"
        "  - at: 2m\n    gateway: true\n    fault: uplink_loss\n    for: 5m\n"
    )
    result = runner.invoke(app, ["run", "--scenario", str(script), "--broker-port", "1"])
    assert result.exit_code == 2
    assert "line 5" in result.output
    assert "--uplink-port" in result.output
