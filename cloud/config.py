"""Cloud settings (environment prefix ``LINLI_CLOUD_``), built in main and passed in."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from plumbing.settings import Host, LogLevel, LogLevelSetting, Port, ProfilesDirs


class CloudSettings(BaseSettings):
    """Everything a cloud process needs to know; env prefix ``LINLI_CLOUD_``."""

    model_config = SettingsConfigDict(env_prefix="LINLI_CLOUD_", extra="forbid")

    host: Host = Field(default="127.0.0.1", description="address the HTTP API listens on")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=8080, description="port of the HTTP API (0: any free port)"
    )
    data_dir: Path = Field(
        default=Path("var/cloud"), description="directory of the SQLite database file"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy database URL (default: a SQLite file in the data directory)",
    )
    mqtt_host: Host = Field(default="127.0.0.1", description="host of the cloud MQTT broker")
    mqtt_port: Port = Field(default=1883, description="port of the cloud MQTT broker")
    ingest: bool = Field(
        default=True, description="run an ingest worker in this process, beside the API"
    )
    ingest_group: str = Field(
        default="linli-ingest",
        min_length=1,
        description="MQTT 5 shared-subscription group of ingest workers",
    )
    ingest_client_id: str = Field(
        default_factory=lambda: f"linli-ingest-{socket.gethostname()}",
        min_length=1,
        description="MQTT client id; keep it stable so the broker keeps this worker's session",
    )
    ingest_session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="how long the broker queues batches for this worker while it is away",
    )
    reconnect_min_s: float = Field(
        default=0.5, gt=0, description="first reconnect delay after the broker went away"
    )
    reconnect_max_s: float = Field(default=30.0, gt=0, description="longest reconnect delay")
    silence_check_s: float = Field(
        default=5.0, ge=0, description="how often to look for silent devices; 0 turns it off"
    )
    profiles_dirs: ProfilesDirs
    log_level: LogLevelSetting = LogLevel.INFO

    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'linli.db').resolve()}"
