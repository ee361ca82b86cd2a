"""Cloud settings (environment prefix ``LINLI_CLOUD_``), built in main and passed in."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class CloudSettings(BaseSettings):
    """Everything a cloud process needs to know; env prefix ``LINLI_CLOUD_``."""

    model_config = SettingsConfigDict(
        env_prefix="LINLI_CLOUD_", extra="forbid", populate_by_name=True
    )

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
    mqtt_username: str | None = Field(
        default=None,
        description="the cloud's user name on the broker (ingest and notices; linli broker "
        "config grants it its topics); none: a broker that lets anyone in",
    )
    mqtt_password: SecretStr | None = Field(default=None, description="its password")
    mqtt_tls: bool = Field(default=False, description="reach the broker over TLS")
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="the CA that signed the broker's certificate (TLS; default: the system's)",
    )
    mqtt_cert_file: Path | None = Field(
        default=None, description="the cloud's own certificate, for a broker that asks for one"
    )
    mqtt_key_file: Path | None = Field(default=None, description="that certificate's key")
    broker_dir: Path | None = Field(
        default=None,
        description="where linli gateway and linli broker write the broker's password file, "
        "ACL and linli.conf (the broker's configuration includes linli.conf)",
    )
    broker_pid_file: Path | None = Field(
        default=None,
        description="the broker's pid file: after a change it is told to read its files again "
        "(SIGHUP); none: reload it yourself",
    )
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
    ingest_receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="how many batches the broker may hand this worker before it has "
        "acknowledged earlier ones (MQTT 5 Receive Maximum): a worker that falls behind "
        "stops reading, and the broker keeps the rest; above ingest_group_max_batches, so "
        "that the next group arrives while one commits",
    )
    ingest_group_max_batches: int = Field(
        default=500,
        ge=1,
        description="most batches ingest stores in one transaction; while one group commits, "
        "the next gathers what arrives meanwhile (keep the receive maximum above it, so "
        "that the broker can send the next group during the commit)",
    )
    ingest_group_max_readings: int = Field(
        default=10_000,
        ge=1,
        description="most readings in one transaction (a group closes at the batch that "
        "reaches it)",
    )
    ingest_group_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="how long a group waits for more batches after its first, when no "
        "commit is under way; 0: it takes what has arrived (under load groups grow by "
        "themselves while the previous one commits)",
    )
    ingest_device_cache: int = Field(
        default=200_000,
        ge=0,
        description="devices whose state ingest keeps in memory between transactions (the "
        "least recently seen are dropped first, and loaded again when they report)",
    )
    future_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="how far in the future a reading's own time may lie, beyond the "
        "cloud's clock, before it is not trusted: such a reading is stored flagged and "
        "judged at its receipt time, so a device with a wrong clock cannot freeze its state",
    )
    ingest_max_attempts: int = Field(
        default=3,
        ge=1,
        description="how often a message is tried when it fails with an error that is not "
        "the database's, before it is kept as a dead letter and acknowledged",
    )
    database_retry_min_s: float = Field(
        default=0.2,
        gt=0,
        description="first delay before a message is tried again while the database is "
        "down, locked or full (it is held meanwhile, never dropped)",
    )
    database_retry_max_s: float = Field(
        default=10.0, gt=0, description="longest delay between tries while the database fails"
    )
    sqlite_busy_timeout_s: float = Field(
        default=10.0,
        ge=0,
        description="how long a SQLite statement waits for a lock another connection holds "
        "before the database counts as locked",
    )
    reconnect_min_s: float = Field(
        default=0.5,
        gt=0,
        description="first delay before ingest reconnects or restarts after a failure",
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, description="longest delay before ingest reconnects or restarts"
    )
    silence_check_s: float = Field(
        default=5.0, ge=0, description="how often to look for silent devices; 0 turns it off"
    )
    repair_check_s: float = Field(
        default=5.0,
        ge=0,
        description="how often to do the repair rounds (assign tickets, escalate, remind, "
        "verify repairs by the data); 0 turns them off",
    )
    notify_check_s: float = Field(
        default=1.0,
        ge=0,
        description="how often to fan new ticket events out into notifications and send "
        "those due (webhooks, e-mail, MQTT push); 0 turns it off (run it in the API "
        "processes, as the repair rounds)",
    )
    notify_max_attempts: int = Field(
        default=10,
        ge=1,
        le=100,
        description="attempts of a notification before it is given up as a dead letter",
    )
    notify_retry_first_s: float = Field(
        default=10.0,
        gt=0,
        description="delay after a notification's first failed attempt; it doubles with each "
        "failure, up to notify_retry_max_s",
    )
    notify_retry_max_s: float = Field(
        default=3600.0, gt=0, description="longest delay between attempts of a notification"
    )
    notify_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="how long a webhook's answer, the SMTP server or the broker's PUBACK is "
        "waited for before the attempt counts as failed",
    )
    notify_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="how long a notification being sent is left to its notifier: one whose "
        "notifier died is sent again after this (at least twice notify_timeout_s)",
    )
    notify_keep_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="days a sent or dead-lettered notification is kept (GET /api/v1/deliveries "
        "lists it; a dead letter can be sent again until then); older ones are forgotten, "
        "hourly. The ticket events they told of stay",
    )
    notify_mqtt: bool = Field(
        default=True,
        description="push ticket events over the cloud broker to "
        "linli/community/<community>/notices/<kind> (and to people who chose MQTT)",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server notifications are e-mailed through; unset: no e-mail",
    )
    smtp_port: Port = Field(default=25, description="port of the SMTP server")
    smtp_from: str = Field(
        default="linli@localhost",
        min_length=3,
        max_length=254,
        description="the From address of notification e-mails",
    )
    smtp_username: str | None = Field(
        default=None, description="user name to log in to the SMTP server with, if it asks"
    )
    smtp_password: SecretStr | None = Field(default=None, description="its password")
    smtp_starttls: bool = Field(
        default=False, description="upgrade the SMTP connection with STARTTLS before logging in"
    )
    events_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often a live event stream (GET /api/v1/events/stream) looks for new "
        "ticket events",
    )
    events_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="how long a live event stream may stay silent before it sends a "
        "keep-alive comment (and checks that its login still holds)",
    )
    telemetry_store: Literal["sql", "influxdb"] = Field(
        default="sql",
        description="where raw readings and their roll-ups are kept: the SQL database, or "
        "InfluxDB through its v1 HTTP API (device state and tickets stay in SQL)",
    )
    influxdb_url: str = Field(
        default="http://127.0.0.1:8086", description="base URL of InfluxDB's HTTP API"
    )
    influxdb_database: str = Field(
        default="linli", min_length=1, description="InfluxDB database (created if missing)"
    )
    influxdb_username: str | None = Field(default=None, description="InfluxDB user, if any")
    influxdb_password: SecretStr | None = Field(
        default=None, description="InfluxDB password (or 2.x/3.x token), if any"
    )
    raw_retention_days: float = Field(
        default=30.0, gt=0, description="how long raw readings are kept"
    )
    minute_rollup_retention_days: float = Field(
        default=90.0, gt=0, description="how long 1-minute roll-ups are kept"
    )
    hour_rollup_retention_days: float = Field(
        default=1825.0, gt=0, description="how long 1-hour roll-ups are kept"
    )
    rollup_check_s: float = Field(
        default=10.0,
        ge=0,
        description="how often to roll up the minutes and hours that got readings; 0 turns "
        "it off (run it in one process of a deployment, as the API process does)",
    )
    gateway_roster_refresh_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="how long ingest trusts what it read of a gateway's provisioning: a "
        "gateway provisioned or retired is heard or refused within this time",
    )
    command_check_s: float = Field(
        default=1.0,
        ge=0,
        description="how often an ingest worker, while connected to the cloud broker, sends "
        "the commands for devices waiting in the database (a repair's self-test) to their "
        "gateways, at least once, and marks them sent; 0 turns it off (such a worker sends "
        "none)",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LINLI_ADMIN_PASSWORD", "LINLI_CLOUD_ADMIN_PASSWORD"),
        description="the operator admin's password at first start (LINLI_ADMIN_PASSWORD); "
        "unset: one is generated, written to admin-password in the data directory (owner "
        "only) and printed once",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        max_length=300,
        description="the cloud's address as residents reach it (https://linli.example.org): "
        "the links in the facilities' QR codes start with it; unset: the address the QR "
        "sheet was asked for at",
    )
    photo_max_bytes: int = Field(
        default=5_000_000,
        ge=1000,
        le=50_000_000,
        description="largest photo a resident may attach to a report (JPEG, PNG or WebP); "
        "photos are kept in photos/ of the data directory",
    )
    resident_reports_per_window: int = Field(
        default=5,
        ge=1,
        description="reports (and their tries) one client address may send from resident "
        "pages within resident_report_window_s; more are answered 429",
    )
    resident_report_window_s: float = Field(
        default=600.0, gt=0, description="the window resident_reports_per_window counts in"
    )
    profiles_dirs: ProfilesDirs
    log_level: LogLevelSetting = LogLevel.INFO
    log_format: LogFormatSetting = LogFormat.TEXT

    @model_validator(mode="after")
    def _delays_in_order(self) -> CloudSettings:
        for first, longest in (
            ("reconnect_min_s", "reconnect_max_s"),
            ("database_retry_min_s", "database_retry_max_s"),
            ("notify_retry_first_s", "notify_retry_max_s"),
        ):
            if getattr(self, first) > getattr(self, longest):
                raise ValueError(f"{first} must not be greater than {longest}")
        if self.notify_lease_s < 2 * self.notify_timeout_s:
            raise ValueError(
                "notify_lease_s must be at least twice notify_timeout_s, so that a "
                "notification being sent is not sent again meanwhile"
            )
        if not (
            self.raw_retention_days
            <= self.minute_rollup_retention_days
            <= self.hour_rollup_retention_days
        ):
            raise ValueError(
                "retention must grow from raw readings to minute to hour roll-ups: "
                "raw_retention_days <= minute_rollup_retention_days <= "
                "hour_rollup_retention_days"
            )
        return self

    @model_validator(mode="after")
    def _broker_access_whole(self) -> CloudSettings:
        self.broker_access()  # ValueError: a password without a user name, a key alone
        return self

    def broker_access(self) -> BrokerAccess:
        """How the cloud logs in to its broker."""
        return broker_access(self, "mqtt")

    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'linli.db').resolve()}"
