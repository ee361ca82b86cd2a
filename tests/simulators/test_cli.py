"""``linli sim`` commands: list, fault, garbage, run's checks before it starts (run itself is
covered in test_simulator_mqtt), and settings from options, ``LINLI_SIM_*`` variables and
the model's defaults."""

from __future__ import annotations

import asyncio
import re
import resource
from pathlib import Path

import pytest

from device_profiles.catalogue import Catalogue
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from simulators.community import DEFAULT_COUNTS, Community
from simulators.config import SimSettings
from simulators.faults import CONTROL_TOPIC, EventCommand, parse_control
from simulators.simulator import Simulator, SimulatorConfig
from tests.simulators.conftest import SimCli, running, subscribed


def test_list_prints_the_default_community(sim_cli: SimCli) -> None:
    result = sim_cli("list", "--seed", "3")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"{sum(DEFAULT_COUNTS.values())} devices"
    ids = [line.split()[0] for line in lines[:-1]]
    assert ids[0] == "gate-01" and "light-b-30" in ids and "sos-24" in ids
    assert "brightway/zone-a/lamp/light-a-01/report" in result.output


def test_list_with_counts(sim_cli: SimCli) -> None:
    result = sim_cli("list", "--gates", "1", "--lights", "0", "--count", "safecall_alarm_button=2")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "3 devices"


def test_list_rejects_an_unknown_profile(sim_cli: SimCli) -> None:
    result = sim_cli("list", "--count", "teapot=3")
    assert result.exit_code == 2
    assert "teapot" in result.output


def test_list_rejects_a_count_that_is_not_profile_and_number(sim_cli: SimCli) -> None:
    result = sim_cli("list", "--count", "teapot")
    assert result.exit_code == 2
    assert "setting counts (--count or LINLI_SIM_COUNTS): expects PROFILE_ID=N" in result.output


def test_list_rejects_a_bad_profiles_dir(sim_cli: SimCli, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("schema: linli.profile/v1\nid: Bad Id\n")
    result = sim_cli("list", "--profiles-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output


async def test_fault_command_delivers_the_control_message(
    sim_cli: SimCli, broker: Mosquitto
) -> None:
    argv = ["fault", "gate-01", "motor_jammed", "--for", "7m", "--broker-port", str(broker.port)]
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(sim_cli, *argv)
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
    sim_cli: SimCli, broker: Mosquitto, argv: list[str], event: dict[str, object]
) -> None:
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(sim_cli, "fault", *argv, "--broker-port", str(broker.port))
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
def test_fault_command_refuses_a_bad_request_before_sending(
    sim_cli: SimCli, argv: list[str], says: str
) -> None:
    result = sim_cli("fault", *argv, "--broker-port", str(free_port()))
    assert result.exit_code == 2
    assert says in result.output


async def test_fault_command_breaks_a_running_device(
    sim_cli: SimCli, catalogue: Catalogue, broker: Mosquitto
) -> None:
    community = Community.generate(catalogue, {"brightway_street_light": 2}, seed=2)
    simulator = Simulator(community, SimulatorConfig(speed=1, min_interval_s=0))
    argv = ["fault", "light-b-01", "overvoltage", "--broker-port", str(broker.port)]
    async with (
        subscribed(broker, catalogue.subscriptions()) as inbox,
        running(simulator, broker.host, broker.port),
    ):
        result = await asyncio.to_thread(sim_cli, *argv)
        assert result.exit_code == 0, result.output
        message = await inbox.next(
            lambda m: (
                m.topic.endswith("/light-b-01/report")
                and m.decoded(catalogue).faults == ("overvoltage",)
            )
        )
    assert message.topic == "brightway/zone-b/lamp/light-b-01/report"


async def test_garbage_command(sim_cli: SimCli, broker: Mosquitto) -> None:
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(
            sim_cli, "garbage", "sos-03", "--broker-port", str(broker.port)
        )
        assert result.exit_code == 0, result.output
        message = await inbox.next()
    assert parse_control(message.payload) == EventCommand(
        event={"device": "sos-03", "fault": "garbage", "count": 1}
    )


def test_fault_command_without_a_broker_exits_2(sim_cli: SimCli) -> None:
    port = free_port()
    result = sim_cli("fault", "gate-01", "motor_jammed", "--broker-port", str(port))
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output
    assert "is the broker running?" in result.output


# -- run: what it checks before it starts ----------------------------------------------------


def test_run_refuses_a_scenario_with_gateway_faults_but_no_uplink(
    sim_cli: SimCli, tmp_path: Path
) -> None:
    script = tmp_path / "outage.yaml"
    script.write_text(
        "events:\n  - at: 1m\n    device: gate-01\n    fault: motor_jammed\n"
        "  - at: 2m\n    gateway: true\n    fault: uplink_loss\n    for: 5m\n"
    )
    result = sim_cli("run", "--scenario", str(script), "--broker-port", "1")
    assert result.exit_code == 2
    assert "line 5" in result.output
    assert "--uplink-port" in result.output


def test_run_reports_too_few_open_files(sim_cli: SimCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 256))
    result = sim_cli("run", "--connection-mode", "per-device", "--count", "acme_access_gate=300")
    assert result.exit_code == 2
    assert "301 MQTT connections" in result.output and "ulimit" in result.output


def test_connections_option_is_for_shared_mode_only(sim_cli: SimCli) -> None:
    result = sim_cli("run", "--connection-mode", "per-device", "--connections", "4")
    assert result.exit_code == 2
    assert (
        "setting connections (--connections or LINLI_SIM_CONNECTIONS): applies to "
        "--connection-mode shared only"
    ) in result.output


# -- settings: option > LINLI_SIM_* variable > the model's default ----------------------------


def _intervals(output: str) -> set[str]:
    return set(re.findall(r"every (\S+)s ", output))


def test_a_variable_sets_an_option(sim_cli: SimCli) -> None:
    """acme_access_gate's heartbeat is 60 s: at speed 60 a report every second."""
    argv = ("list", "--count", "acme_access_gate=2", "--min-interval", "0")
    assert _intervals(sim_cli(*argv).output) == {"60"}
    result = sim_cli(*argv, env={"LINLI_SIM_SPEED": "60"})
    assert result.exit_code == 0, result.output
    assert _intervals(result.output) == {"1"}


def test_an_option_overrides_its_variable(sim_cli: SimCli) -> None:
    env = {"LINLI_SIM_SPEED": "60", "LINLI_SIM_MIN_INTERVAL": "0"}
    result = sim_cli("list", "--count", "acme_access_gate=1", "--speed", "30", env=env)
    assert result.exit_code == 0, result.output
    assert _intervals(result.output) == {"2"}


async def test_the_broker_port_comes_from_the_environment(
    sim_cli: SimCli, broker: Mosquitto
) -> None:
    env = {"LINLI_SIM_BROKER_PORT": str(broker.port)}
    async with subscribed(broker, [CONTROL_TOPIC]) as inbox:
        result = await asyncio.to_thread(sim_cli, "garbage", "sos-03", env=env)
        assert result.exit_code == 0, result.output
        message = await inbox.next()
    assert parse_control(message.payload) == EventCommand(
        event={"device": "sos-03", "fault": "garbage", "count": 1}
    )
    # and an option given wins: nothing listens on this one
    port = free_port()
    argv = ("garbage", "sos-03", "--broker-port", str(port))
    result = await asyncio.to_thread(sim_cli, *argv, env=env)
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        (["list"], "LINLI_SIM_SPEED", "fast", "setting speed (--speed or LINLI_SIM_SPEED)"),
        (["list"], "LINLI_SIM_SPEED", "0", "setting speed (--speed or LINLI_SIM_SPEED)"),
        (
            ["fault", "gate-01", "motor_jammed"],
            "LINLI_SIM_BROKER_PORT",
            "70000",
            "setting broker_port (--broker-port or LINLI_SIM_BROKER_PORT)",
        ),
        (
            ["run"],
            "LINLI_SIM_FAULT_DURATION",
            "2h",
            "setting fault_duration (--fault-duration or LINLI_SIM_FAULT_DURATION): "
            "expects MIN:MAX",
        ),
        (["run"], "LINLI_SIM_MTBF", "soon", "setting mtbf (--mtbf or LINLI_SIM_MTBF)"),
        (
            ["list"],
            "LINLI_SIM_COUNTS",
            "acme_access_gate=3",
            "setting counts (--count or LINLI_SIM_COUNTS): not valid JSON",
        ),
    ],
)
def test_an_invalid_variable_is_named_with_its_option(
    sim_cli: SimCli, command: list[str], variable: str, value: str, says: str
) -> None:
    result = sim_cli(*command, env={variable: value})
    assert result.exit_code == 2
    assert f"linli sim: {says}" in result.output
    assert "Traceback" not in result.output


def test_a_list_variable_takes_json(sim_cli: SimCli) -> None:
    env = {"LINLI_SIM_COUNTS": '["acme_access_gate=2", "safecall_alarm_button=1"]'}
    result = sim_cli("list", env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "3 devices"
    result = sim_cli("list", env={"LINLI_SIM_COUNTS": '{"acme_access_gate": 4}'})
    assert result.output.strip().splitlines()[-1] == "4 devices"


@pytest.mark.parametrize(
    ("command", "flag", "field"),
    [
        ("run", "--broker-port", "broker_port"),
        ("run", "--speed", "speed"),
        ("run", "--fault-duration", "fault_duration"),
        ("run", "--connect-concurrency", "connect_concurrency"),
        ("list", "--min-interval", "min_interval"),
        ("fault", "--broker-host", "broker_host"),
        ("record", "--broker-port", "broker_port"),
    ],
)
def test_help_shows_each_variable_and_the_models_default(
    sim_cli: SimCli, command: str, flag: str, field: str
) -> None:
    result = sim_cli(command, "--help", env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if f" {flag} " in line)
    default = SimSettings.model_fields[field].default
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    assert f"(env LINLI_SIM_{field.upper()}; default {shown})" in line, line
