"""/metrics of the API process says what the database holds now: tickets by state, those
past their targets, deliveries waiting, gateways online and offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from cloud.app import create_app
from cloud.db.models import Gateway
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import two_communities


def scrape(services: Services) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with TestClient(create_app(services)) as client:
        text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_api_process_counts_tickets_breaches_deliveries_and_gateways(
    services: Services, catalogue: Catalogue
) -> None:
    two_communities(services, catalogue)  # a jammed gate in each
    later = datetime.now(UTC) + timedelta(days=30)
    for _ in range(3):  # a round takes each ticket one escalation step
        services.rounds.run(services.sessions, later)
    with services.sessions.begin() as session:
        session.execute(update(Gateway).values(online=False))
        session.execute(update(Gateway).where(Gateway.id == "gw-a").values(online=True))

    first = scrape(services)
    again = scrape(services)  # a second app of the same services: no metric twice
    assert first.keys() == again.keys()
    live = {
        labels[0][1]: value for (name, labels), value in first.items() if name == "linli_tickets"
    }
    assert live == {"open": 4}, "two jammed gates, and their gateways silent for 30 days"
    assert first[("linli_tickets_breached", (("target", "respond"),))] == 2
    # unanswered for 30 days, the gates' tickets missed the repair's deadline too; the
    # gateways' tickets, opened by the same rounds, have missed nothing yet
    assert first[("linli_tickets_breached", (("target", "resolve"),))] == 2
    assert first[("linli_gateways", (("status", "online"),))] == 1
    provisioned = 2 + 8  # oak's and elm's, and the tests' own (tests/cloud/conftest.py)
    assert first[("linli_gateways", (("status", "offline"),))] == provisioned - 1
    assert first[("linli_notifications_waiting", ())] >= 0
    assert ("linli_notifications_oldest_waiting_seconds", ()) in first
