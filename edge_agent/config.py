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
        description="directory for the sequence file and the dead-letter log; created if missing",
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
    outbox_max_items: Annotated[
        int,
        Field(
            ge=1,
            description="items held in memory while the cloud is unreachable "
            "(about 1.6 KB each: 100 000 take some 160 MB)",
        ),
    ] = 100_000
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
        if self.outbox_max_items < self.batch_max_items:
            raise ValueError("outbox_max_items must be at least batch_max_items")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self
