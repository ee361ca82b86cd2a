"""Everything a cloud process is made of, built once in the app factory and passed around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.access.desk import AccessDesk
from cloud.config import CloudSettings
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.health import HealthEngine
from cloud.ingest.dead_letters import DeadLetters
from cloud.ingest.intake import Intake
from cloud.ingest.roster import GatewayRoster
from cloud.ingest.writer import BatchWriter, utcnow
from cloud.metrics import CloudMetrics
from cloud.repair.desk import TicketDesk
from cloud.repair.rounds import RepairRounds
from cloud.telemetry.influx import InfluxTelemetry
from cloud.telemetry.sql import SqlTelemetry
from cloud.telemetry.store import TelemetryStore
from cloud.telemetry.upkeep import Retention, TelemetryUpkeep
from device_profiles import Catalogue


@dataclass
class Services:
    settings: CloudSettings
    catalogue: Catalogue
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: CloudMetrics
    tickets: TicketDesk
    health: HealthEngine
    writer: BatchWriter
    dead_letters: DeadLetters
    intake: Intake
    telemetry: TelemetryStore
    upkeep: TelemetryUpkeep
    access: AccessDesk
    rounds: RepairRounds

    @classmethod
    def build(cls, settings: CloudSettings, catalogue: Catalogue | None = None) -> Services:
        """Load profiles, open and migrate the database, wire the services together."""
        catalogue = catalogue or Catalogue.load(settings.profiles_dirs)
        engine = make_engine(
            settings.sqlalchemy_url(), sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
        )
        migrate(engine)
        sessions = session_factory(engine)
        telemetry = telemetry_store(settings, sessions)
        metrics = CloudMetrics()
        tickets = TicketDesk(metrics, catalogue)
        health = HealthEngine(
            catalogue, tickets, future_skew=timedelta(seconds=settings.future_skew_s)
        )
        writer = BatchWriter(
            sessions,
            catalogue,
            health,
            metrics,
            device_cache_size=settings.ingest_device_cache,
            telemetry=telemetry,
        )
        dead_letters = DeadLetters(sessions, metrics)
        roster = GatewayRoster(
            sessions, metrics, utcnow, refresh_s=settings.gateway_roster_refresh_s
        )
        intake = Intake(writer, dead_letters, metrics, roster)
        return cls(
            settings,
            catalogue,
            engine,
            sessions,
            metrics,
            tickets,
            health,
            writer,
            dead_letters,
            intake,
            telemetry,
            TelemetryUpkeep(sessions, telemetry, retention(settings), metrics),
            AccessDesk(sessions),
            RepairRounds(tickets),
        )

    def close(self) -> None:
        self.telemetry.close()
        self.engine.dispose()


def telemetry_store(settings: CloudSettings, sessions: sessionmaker[Session]) -> TelemetryStore:
    """The telemetry store the settings name; InfluxDB's database is created if missing
    (:class:`TelemetryUnavailable` if InfluxDB cannot be reached)."""
    if settings.telemetry_store == "sql":
        return SqlTelemetry(sessions)
    password = settings.influxdb_password
    store = InfluxTelemetry(
        settings.influxdb_url,
        settings.influxdb_database,
        username=settings.influxdb_username,
        password=password.get_secret_value() if password else None,
    )
    try:
        store.create_database()
    except BaseException:
        store.close()
        raise
    return store


def retention(settings: CloudSettings) -> Retention:
    return Retention(
        raw=timedelta(days=settings.raw_retention_days),
        minutes=timedelta(days=settings.minute_rollup_retention_days),
        hours=timedelta(days=settings.hour_rollup_retention_days),
    )
