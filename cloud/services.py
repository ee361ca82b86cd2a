"""Everything a cloud process is made of, built once in the app factory and passed around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.config import CloudSettings
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.health import HealthEngine
from cloud.ingest.dead_letters import DeadLetters
from cloud.ingest.intake import Intake
from cloud.ingest.writer import BatchWriter
from cloud.metrics import CloudMetrics
from cloud.tickets import TicketDesk
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

    @classmethod
    def build(cls, settings: CloudSettings, catalogue: Catalogue | None = None) -> Services:
        """Load profiles, open and migrate the database, wire the services together."""
        catalogue = catalogue or Catalogue.load(settings.profiles_dirs)
        engine = make_engine(
            settings.sqlalchemy_url(), sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
        )
        migrate(engine)
        sessions = session_factory(engine)
        metrics = CloudMetrics()
        tickets = TicketDesk(metrics, catalogue)
        health = HealthEngine(
            catalogue, tickets, future_skew=timedelta(seconds=settings.future_skew_s)
        )
        writer = BatchWriter(
            sessions, catalogue, health, metrics, device_cache_size=settings.ingest_device_cache
        )
        dead_letters = DeadLetters(sessions, metrics)
        intake = Intake(writer, dead_letters, metrics)
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
        )

    def close(self) -> None:
        self.engine.dispose()
