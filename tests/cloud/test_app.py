"""The application shell: OpenAPI document, Prometheus metrics, liveness."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.helpers import GATE, batch, item


def test_openapi_lists_the_api_paths(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    paths = set(document["paths"])
    assert {
        "/api/v1/facilities",
        "/api/v1/facilities/{facility_id}",
        "/api/v1/devices",
        "/api/v1/devices/{device_pk}",
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/{action}",
        "/api/v1/gateways",
        "/api/v1/dead-letters",
    } <= paths
    assert all(p.startswith("/api/v1/") for p in paths), "web pages stay out of the API doc"
    transition = document["paths"]["/api/v1/tickets/{ticket_id}/{action}"]["post"]
    assert {"404", "409", "422"} <= set(transition["responses"])


def test_metrics_exposes_ingest_counters(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    jammed = item(catalogue, GATE, "motor_jammed")
    services.writer.write(batch("gw-1", 1, [jammed]))
    services.writer.write(batch("gw-1", 1, [jammed]))
    services.dead_letters.record("t", b"x", "bad", "invalid")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("linli_ingest_batches_total", (("result", "stored"),))] == 1
    assert samples[("linli_ingest_batches_total", (("result", "duplicate"),))] == 1
    assert samples[("linli_ingest_items_total", (("result", "stored"),))] == 1
    assert samples[("linli_ingest_dead_letters_total", (("reason", "invalid"),))] == 1
    assert samples[("linli_tickets_opened_total", (("fault", "motor_jammed"),))] == 1
    assert samples[("linli_ingest_connected", ())] == 0
    assert ("linli_ingest_retries_total", (("cause", "database"),)) not in samples
    assert samples[("linli_ingest_restarts_total", ())] == 0


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "ingest": "off", "ingest_connected": False}
