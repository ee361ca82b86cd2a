"""The cloud's command-line options, each declared once from its setting of
:class:`~cloud.config.CloudSettings` (an option overrides its ``LINLI_CLOUD_*`` variable,
which overrides the default), for every command that opens the cloud's database or runs it:
``linli cloud``, ``linli site``, ``linli gateway`` and ``linli broker``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cloud.config import CloudSettings
from plumbing.settings import LogFormat, LogLevel, SettingsOptions

OPTIONS = SettingsOptions(CloudSettings, program="linli cloud")

DataDir = Annotated[
    Path | None, OPTIONS.option("data_dir", "--data-dir", metavar="DIR", file_okay=False)
]
MqttHost = Annotated[str | None, OPTIONS.option("mqtt_host", "--mqtt-host", metavar="HOST")]
MqttPort = Annotated[int | None, OPTIONS.option("mqtt_port", "--mqtt-port", metavar="PORT")]
DatabaseUrl = Annotated[str | None, OPTIONS.option("database_url", "--database-url", metavar="URL")]
ProfilesDir = Annotated[
    list[Path] | None,
    OPTIONS.option("profiles_dirs", "--profiles-dir", metavar="DIR", file_okay=False),
]
TelemetryStoreOption = Annotated[
    str | None,
    OPTIONS.option("telemetry_store", "--telemetry-store", metavar="sql|influxdb"),
]
InfluxUrl = Annotated[str | None, OPTIONS.option("influxdb_url", "--influxdb-url", metavar="URL")]
InfluxDatabase = Annotated[
    str | None, OPTIONS.option("influxdb_database", "--influxdb-database", metavar="NAME")
]
LogLevelOption = Annotated[
    LogLevel | None, OPTIONS.option("log_level", "--log-level", case_sensitive=False)
]
LogFormatOption = Annotated[
    LogFormat | None, OPTIONS.option("log_format", "--log-format", case_sensitive=False)
]
