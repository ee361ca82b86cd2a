"""Prometheus metrics of one cloud process, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class CloudMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.batches = Counter(
            "linli_ingest_batches",
            "Batches received from edge agents, by result (stored, duplicate, rejected)",
            ["result"],
            registry=self.registry,
        )
        self.items = Counter(
            "linli_ingest_items",
            "Items received, by result (stored, duplicate)",
            ["result"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "linli_ingest_dead_letters",
            "Messages the cloud could not ingest, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.tickets_opened = Counter(
            "linli_tickets_opened",
            "Repair tickets opened, by fault",
            ["fault"],
            registry=self.registry,
        )
        self.acks = Counter(
            "linli_ingest_acks",
            "Batch acknowledgements published to gateways, by result (stored, duplicate, rejected)",
            ["result"],
            registry=self.registry,
        )
        self.ingest_retries = Counter(
            "linli_ingest_retries",
            "Messages tried again, by cause: database (down, locked or full: held and "
            "retried without limit) or error (another error: dead-lettered after a few tries)",
            ["cause"],
            registry=self.registry,
        )
        self.ingest_restarts = Counter(
            "linli_ingest_restarts",
            "Times ingest was restarted after a failure that was not the broker's",
            registry=self.registry,
        )
        self.ingest_connected = Gauge(
            "linli_ingest_connected",
            "1 while the ingest worker is connected to the cloud broker and consuming",
            registry=self.registry,
        )
