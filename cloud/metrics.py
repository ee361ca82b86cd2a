"""Prometheus metrics of one cloud process, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class CloudMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.batches = Counter(
            "linli_ingest_batches",
            "Batches received from edge agents, by result",
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
        self.ingest_connected = Gauge(
            "linli_ingest_connected",
            "1 while the ingest worker is connected to the cloud broker",
            registry=self.registry,
        )
