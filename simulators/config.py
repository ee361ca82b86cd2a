"""The settings of ``linli sim``: every option, also settable as a ``LINLI_SIM_*`` variable.

:class:`SimSettings` declares each setting once — its type, default, description and (from
``env_prefix``) its environment variable — and :mod:`simulators.cli_options` makes the
commands' options from it (:class:`plumbing.settings.SettingsOptions`): an option given
overrides its variable, which overrides the default. ``linli sim run`` uses them all; the
other commands the ones they share (the broker, the community, the profiles).

Light on purpose: ``linli --help`` imports it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, FilePath, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from plumbing.durations import Duration, DurationRange, Range
from plumbing.settings import Host, Port, ProfilesDirs

GATE_PROFILE = "acme_access_gate"
LIGHT_PROFILE = "brightway_street_light"
BUTTON_PROFILE = "safecall_alarm_button"


class ConnectionMode(StrEnum):
    """How the simulated devices reach the broker."""

    SHARED = "shared"
    PER_DEVICE = "per-device"


def _counts(value: Any) -> Any:
    """``["acme_access_gate=3", ...]`` (``--count``, or a JSON list) as ``{id: count}``."""
    if not isinstance(value, list):
        return value  # a JSON object, or what pydantic will refuse
    counts: dict[str, int] = {}
    for item in value:
        profile_id, sep, number = str(item).partition("=")
        if not sep or not profile_id.strip() or not number.strip().isdigit():
            raise ValueError(f"expects PROFILE_ID=N, got {item!r}")
        counts[profile_id.strip()] = int(number)
    return counts


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


LogLevel = Annotated[Literal["debug", "info", "warning", "error"], BeforeValidator(_lower)]


class SimSettings(BaseSettings):
    """Every setting of ``linli sim``; environment prefix ``LINLI_SIM_``.

    List- and mapping-valued settings are JSON in the environment, e.g.
    ``LINLI_SIM_COUNTS='{"acme_access_gate": 3}'`` or ``'["acme_access_gate=3"]'``.
    Durations are seconds or text like ``90s``, ``5m``, ``1h30m``, ``2d``.
    """

    model_config = SettingsConfigDict(env_prefix="LINLI_SIM_", extra="forbid")

    broker_host: Host = Field("127.0.0.1", description="MQTT broker the devices use")
    broker_port: Port = Field(1883, description="port of the MQTT broker the devices use")
    seed: int = Field(0, description="same seed, same community and faults")
    speed: float = Field(
        1.0,
        ge=0.001,
        allow_inf_nan=False,
        description="simulated seconds per real second: 60 runs an hour of the community "
        "in a minute",
    )
    min_interval: float = Field(
        5.0,
        ge=0,
        allow_inf_nan=False,
        description="never report more often than this (real seconds)",
    )
    report_every: float | None = Field(
        None,
        ge=0.001,
        allow_inf_nan=False,
        description="load tests: every device reports this often (real seconds), whatever "
        "its heartbeat",
    )
    gates: int | None = Field(
        None, ge=0, description=f"access gates: short for --count {GATE_PROFILE}=N"
    )
    lights: int | None = Field(
        None, ge=0, description=f"street lights: short for --count {LIGHT_PROFILE}=N"
    )
    buttons: int | None = Field(
        None, ge=0, description=f"repair-alarm buttons: short for --count {BUTTON_PROFILE}=N"
    )
    counts: Annotated[dict[str, Annotated[int, Field(ge=0)]], BeforeValidator(_counts)] = Field(
        default_factory=dict,
        description="devices of a profile, PROFILE_ID=N (repeatable); with any count, only "
        "the profiles counted are simulated, else every profile gets its demo count",
    )
    profiles_dirs: ProfilesDirs
    scenario: FilePath | None = Field(
        None, description="scripted faults (YAML; see docs/simulator.md), in simulated time"
    )
    mtbf: Duration | None = Field(
        None,
        description="random faults: each device's mean time between failures, e.g. 30d "
        "(simulated time)",
    )
    fault_every: Duration = Field(
        0.0,
        description="a random fault on a random device this often (simulated time); 0: never",
    )
    first_fault_after: Duration | None = Field(
        None,
        description="when the first random fault of --fault-every comes (simulated time); "
        "without it, one period in",
    )
    fault_duration: Annotated[DurationRange, NoDecode] = Field(
        "30m:2h",  # type: ignore[assignment]  # settings validate defaults: (1800.0, 7200.0)
        description="range of a random fault's duration, MIN:MAX (simulated time)",
    )
    uplink_port: Annotated[int, Field(ge=0, le=65535)] | None = Field(
        None,
        description="own the gateway's uplink: relay 127.0.0.1:PORT to the cloud broker "
        "(--cloud-host, --cloud-port) and point the edge agent's cloud port here; needed "
        "for uplink_loss and gateway_power_loss",
    )
    cloud_host: Host = Field("127.0.0.1", description="cloud broker behind the uplink")
    cloud_port: Port = Field(1884, description="port of the cloud broker behind the uplink")
    connection_mode: ConnectionMode = Field(
        ConnectionMode.SHARED,
        description="shared: devices multiplexed over --connections MQTT connections; "
        "per-device: one connection per device (client id = device id) with a last will",
    )
    connections: int = Field(
        1, ge=1, description="shared mode: MQTT connections to spread the devices over"
    )
    connect_concurrency: int = Field(50, ge=1, description="connections set up at the same time")
    max_in_flight: int | None = Field(
        None,
        ge=1,
        description="messages awaiting their acknowledgement at once; without it, 64 per "
        "shared connection, or in per-device mode 4 per device and at least 256",
    )
    log_level: LogLevel = Field(
        "info", description="how much to log: debug, info, warning or error"
    )

    @field_validator("fault_duration")
    @classmethod
    def _a_range(cls, value: Range) -> Range:
        low, high = value
        if not 0 < low <= high:
            raise ValueError("MIN must be longer than 0 and MAX at least MIN")
        return value

    def device_counts(self) -> dict[str, int]:
        """Devices per profile asked for: ``counts`` with the gates, lights and buttons."""
        counts = dict(self.counts)
        for profile_id, count in (
            (GATE_PROFILE, self.gates),
            (LIGHT_PROFILE, self.lights),
            (BUTTON_PROFILE, self.buttons),
        ):
            if count is not None:
                counts[profile_id] = count
        return counts
