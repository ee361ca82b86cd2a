"""Settings of the edge agent, read from ``LINLI_EDGE_*`` environment variables.

Nothing is read at import time: the CLI (or a test) builds :class:`EdgeSettings` and
passes it to :class:`edge_agent.agent.EdgeAgent`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from device_profiles.protocol import GATEWAY_ID_PATTERN, MAX_BATCH_ITEMS
from edge_agent.outbox import RECENT_MESSAGES, Sync
from plumbing.settings import Host, LogLevel, LogLevelSetting, Port, ProfilesDirs


class EdgeSettings(BaseSettings):
    """Everything a gateway's edge agent needs to know; env prefix ``LINLI_EDGE_``.

    List-valued settings (``LINLI_EDGE_PROFILES_DIRS``) are given as JSON in the
    environment, e.g. ``'["/etc/linli/profiles"]'``.
    """

    model_config = SettingsConfigDict(env_prefix="LINLI_EDGE_", extra="forbid")

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
    data_dir: Path = Field(
        Path("var/edge"),
        description="directory for the outbox database and the dead-letter log; created if missing",
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

    @model_validator(mode="after")
    def _consistent(self) -> EdgeSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self
