"""Settings of the edge agent, read from ``LINLI_EDGE_*`` environment variables.

Nothing is read at import time: the CLI (or a test) builds :class:`EdgeSettings` and
passes it to :class:`edge_agent.agent.EdgeAgent`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from device_profiles.protocol import GATEWAY_ID_PATTERN, MAX_BATCH_ITEMS
from edge_agent.outbox import RECENT_MESSAGES, Sync
from plumbing.mqtt import BrokerAccess
from plumbing.settings import (
    Host,
    LogFormat,
    LogFormatSetting,
    LogLevel,
    LogLevelSetting,
    Port,
    ProfilesDirs,
    broker_access,
)


class EdgeDataSettings(BaseSettings):
    """Where a gateway's edge agent keeps its data: all that ``linli edge status`` needs."""

    model_config = SettingsConfigDict(env_prefix="LINLI_EDGE_", extra="forbid")

    data_dir: Path = Field(
        Path("var/edge"),
        description="directory for the outbox database, the dead-letter log and the status "
        "file; created if missing",
    )


class EdgeSettings(EdgeDataSettings):
    """Everything a gateway's edge agent needs to know; env prefix ``LINLI_EDGE_``.

    List-valued settings (``LINLI_EDGE_PROFILES_DIRS``) are given as JSON in the
    environment, e.g. ``'["/etc/linli/profiles"]'``.
    """

    gateway_id: Annotated[
        str,
        Field(pattern=GATEWAY_ID_PATTERN, description="this gateway's id in the cloud"),
    ]
    local_host: Host = Field(
        "127.0.0.1", description="host of the gateway's local MQTT broker, where devices publish"
    )
    local_port: Port = Field(1883, description="port of the local MQTT broker")
    cloud_host: Host = Field(
        "127.0.0.1", description="host of the cloud MQTT broker that batches go to"
    )
    cloud_port: Port = Field(1883, description="port of the cloud MQTT broker")
    cloud_username: str | None = Field(
        None,
        description="this gateway's user name on the cloud broker (its id, as linli gateway "
        "add made it); none: a broker that lets anyone in",
    )
    cloud_password: SecretStr | None = Field(None, description="its password")
    cloud_tls: bool = Field(False, description="reach the cloud broker over TLS")
    cloud_ca_file: Path | None = Field(
        None,
        description="the CA that signed the cloud broker's certificate (default: the system's)",
    )
    cloud_cert_file: Path | None = Field(
        None, description="this gateway's certificate, for a broker that asks for one"
    )
    cloud_key_file: Path | None = Field(None, description="that certificate's key")
    metrics_host: Host = Field(
        "127.0.0.1", description="address /metrics listens on (0.0.0.0: every interface)"
    )
    metrics_port: Port | None = Field(
        None,
        description="port of the Prometheus /metrics (the status figures, refreshed every "
        "status_file_interval_s); none: not served",
    )
    profiles_dirs: ProfilesDirs
    profiles_poll_s: Annotated[
        float,
        Field(
            ge=0,
            description="how often to look for added, changed or removed *.yaml files in "
            "profiles_dirs and load them without a restart (0: never)",
        ),
    ] = 5.0
    batch_max_items: Annotated[int, Field(ge=1, le=MAX_BATCH_ITEMS)] = 500
    batch_linger_s: Annotated[float, Field(ge=0)] = 0.5
    status_interval_s: Annotated[float, Field(gt=0)] = 30.0
    outbox_sync: Sync = Field(
        "full",
        description="full: every outbox commit survives a power cut (an fsync each); normal: "
        "only a crash of the agent, which is faster on slow storage",
    )
    outbox_budget_mb: Annotated[int, Field(ge=1)] = Field(
        1024,
        description="disk space, in MiB, that readings waiting in the outbox may take; past "
        "it the oldest telemetry is dropped and reported to the cloud as data gaps. 1 GiB "
        "is a small share of a Raspberry Pi's SD card (16 GB and up, with the system on it) "
        "and holds about two million readings: days of a community's telemetry behind a "
        "cut uplink. The database file stays about this size once it has been full",
    )
    outbox_alarm_share: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.1,
        description="share of outbox_budget_mb kept for alarms: telemetry may fill the rest, "
        "alarms all of it, and no alarm is ever dropped to make room for telemetry",
    )
    max_clock_skew_s: Annotated[float, Field(ge=0)] = Field(
        300.0,
        description="a reading stamped more than this far ahead of its receipt comes from a "
        "device whose clock is wrong: it is flagged (ts_suspect), counted, and judged by the "
        "time it was received",
    )
    device_memory_max: Annotated[int, Field(ge=1)] = Field(
        10_000,
        description="devices the agent remembers in memory (rule state, last reading, route "
        "for commands), the least recently heard forgotten first; a community has hundreds "
        "to a few thousand",
    )
    device_memory_idle_s: Annotated[float, Field(gt=0)] = Field(
        86_400.0,
        description="a device not heard from this long is forgotten from memory (not from "
        "the outbox); its next reading starts its rules afresh",
    )
    status_file_interval_s: Annotated[float, Field(gt=0)] = Field(
        5.0,
        description="how often the agent writes DATA_DIR/status.json for 'linli edge status'",
    )
    commit_max_messages: Annotated[int, Field(ge=1)] = Field(
        500, description="device messages committed to the outbox in one transaction at most"
    )
    local_session_expiry_s: Annotated[int, Field(ge=0)] = Field(
        86_400,
        description="how long the gateway broker keeps the agent's session, and queues device "
        "messages for it, while the agent is away",
    )
    local_receive_maximum: Annotated[int, Field(ge=1, le=RECENT_MESSAGES // 2)] = Field(
        1000,
        description="device messages the gateway broker may deliver before the agent "
        "acknowledged them (once committed)",
    )
    ack_timeout_s: Annotated[float, Field(gt=0)] = Field(
        15.0, description="a batch the cloud has not acknowledged this long is sent again"
    )
    batches_in_flight: Annotated[int, Field(ge=1, le=64)] = Field(
        4, description="batches sent and awaiting the cloud's acknowledgement at most"
    )
    deadletter_max_bytes: Annotated[
        int, Field(ge=4096, description="dead-letter file size before it rotates to .1")
    ] = 5 * 1024 * 1024
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    shutdown_timeout_s: Annotated[
        float, Field(gt=0, description="time to flush queued items on shutdown")
    ] = 10.0

    log_level: LogLevelSetting = LogLevel.INFO
    log_format: LogFormatSetting = LogFormat.TEXT

    @model_validator(mode="after")
    def _consistent(self) -> EdgeSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        self.cloud_access()  # ValueError: a password without a user name, a key alone
        return self

    def cloud_access(self) -> BrokerAccess:
        """How the agent logs in to the cloud broker."""
        return broker_access(self, "cloud")
