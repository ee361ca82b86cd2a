"""Prometheus gauges of what the database holds now, read when Prometheus scrapes: tickets by
state, live tickets past their targets, deliveries waiting and the oldest one's age, gateways
online and offline. The API process serves them (``/metrics``); ingest workers do not, so a
sum over processes counts each once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Gateway, Ticket
from cloud.db.notices import Delivery
from cloud.repair.tickets import LIVE


class StateMetrics(Collector):
    """Counts taken from the database at each scrape (a few indexed counts)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        with self._sessions() as session:
            # (a Result has keys(): dict() would take it for a mapping)
            by_state = {
                state: count
                for state, count in session.execute(
                    select(Ticket.state, func.count()).group_by(Ticket.state)
                )
            }
            live = Ticket.state.in_(LIVE)
            respond = session.scalar(
                select(func.count()).where(live, Ticket.respond_breached_at.is_not(None))
            )
            resolve = session.scalar(
                select(func.count()).where(live, Ticket.resolve_breached_at.is_not(None))
            )
            pending = (Delivery.delivered_at.is_(None), Delivery.dead_at.is_(None))
            waiting = session.scalar(select(func.count()).where(*pending)) or 0
            oldest = session.scalar(select(func.min(Delivery.created_at)).where(*pending))
            gateways = {
                online: count
                for online, count in session.execute(
                    select(Gateway.online, func.count())
                    .where(Gateway.retired_at.is_(None), Gateway.provisioned_at.is_not(None))
                    .group_by(Gateway.online)
                )
            }
        tickets = GaugeMetricFamily("linli_tickets", "Tickets, by state", labels=["state"])
        for state, count in sorted(by_state.items()):
            tickets.add_metric([state], count)
        yield tickets
        breached = GaugeMetricFamily(
            "linli_tickets_breached",
            "Tickets still being worked on that missed a target (respond, resolve)",
            labels=["target"],
        )
        breached.add_metric(["respond"], respond or 0)
        breached.add_metric(["resolve"], resolve or 0)
        yield breached
        yield GaugeMetricFamily(
            "linli_notifications_waiting",
            "Notification deliveries not yet delivered nor given up",
            value=waiting,
        )
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "linli_notifications_oldest_waiting_seconds",
            "Age of the oldest delivery waiting (0: none waits)",
            value=max(age, 0.0),
        )
        online = GaugeMetricFamily(
            "linli_gateways", "Provisioned gateways in use, by status", labels=["status"]
        )
        online.add_metric(["online"], gateways.get(True, 0))
        online.add_metric(["offline"], gateways.get(False, 0))
        yield online
