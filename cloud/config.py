"""Cloud settings (environment prefix ``LINLI_CLOUD_``), built in main and passed in."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_CLOUD_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="HTTP bind address")
    port: int = Field(default=8080, ge=0, le=65535, description="HTTP port")
    data_dir: Path = Field(default=Path("var/cloud"), description="where the SQLite file lives")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    ingest: bool = Field(default=True, description="run an ingest worker in this process")
    ingest_group: str = Field(
        default="linli-ingest", description="MQTT 5 shared-subscription group of ingest workers"
    )
    ingest_client_id: str = Field(
        default_factory=lambda: f"linli-ingest-{socket.gethostname()}",
        description="MQTT client id; keep it stable so the broker keeps this worker's session",
    )
    ingest_session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="how long the broker queues batches for this worker while it is away",
    )
    silence_check_s: float = Field(
        default=5.0, ge=0, description="how often to look for silent devices; 0 turns it off"
    )
    profiles_dirs: list[Path] = Field(default_factory=list, description="site profile dirs")

    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'linli.db').resolve()}"
