"""Prometheus metrics of one cloud process, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector


class CloudMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._served: set[type[Collector]] = set()
        self.batches = Counter(
            "linli_ingest_batches",
            "Batches received from edge agents, by result (stored, duplicate, rejected; "
            "unprovisioned: from a gateway not provisioned or retired, not taken)",
            ["result"],
            registry=self.registry,
        )
        self.items = Counter(
            "linli_ingest_items",
            "Items received, by result (stored, duplicate, unprovisioned)",
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
        self.readings_clock_ahead = Counter(
            "linli_ingest_readings_clock_ahead",
            "Readings whose own time lay further in the future than the allowed clock skew "
            "(flagged by their gateway, or seen so by the cloud): stored flagged, judged at "
            "their receipt time",
            registry=self.registry,
        )
        self.readings_dropped_at_edge = Counter(
            "linli_ingest_readings_dropped_at_edge",
            "Readings gateways reported they had to drop (data-gap records stored, counted "
            "once each), by reason (disk_budget, disk_full)",
            ["reason"],
            registry=self.registry,
        )
        self.data_gaps = Counter(
            "linli_ingest_data_gaps",
            "Data-gap records stored (each once, however often its batch came)",
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
            "Messages tried again, by cause: database (the database or the telemetry store "
            "down, locked or full: held and retried without limit) or error (another error: "
            "dead-lettered after a few tries)",
            ["cause"],
            registry=self.registry,
        )
        self.ingest_group_messages = Histogram(
            "linli_ingest_group_messages",
            "Messages stored in one transaction (a group)",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.ingest_lag_seconds = Histogram(
            "linli_ingest_lag_seconds",
            "From a gateway receiving a reading to its commit in the cloud: the oldest reading "
            "of each group's first batch (outbox wait and uplink included; the gateway's clock)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.ingest_ack_seconds = Histogram(
            "linli_ingest_ack_seconds",
            "From a batch read from the broker to its acknowledgement reaching the broker: the "
            "first batch of each group",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.ingest_commit_seconds = Histogram(
            "linli_ingest_commit_seconds",
            "Time to store one group, from its first try to its commit",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.ingest_group_splits = Counter(
            "linli_ingest_group_splits",
            "Groups that failed with an error not the database's, and were stored message "
            "by message instead",
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
        self.commands_sent = Counter(
            "linli_commands_sent",
            "Commands for devices published to their gateways by ingest workers (a command "
            "published again after a failure, before it was marked sent, counts again)",
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "linli_notifications_sent",
            "Notifications of ticket events delivered, by channel (webhook, email, mqtt); one "
            "sent again after its notifier died before recording it counts again",
            ["channel"],
            registry=self.registry,
        )
        self.notifications_failed = Counter(
            "linli_notifications_failed",
            "Attempts of notifications that failed and will be tried again, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.notifications_dead = Counter(
            "linli_notifications_dead_lettered",
            "Notifications given up after their last attempt allowed, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.rollups = Counter(
            "linli_telemetry_rollups",
            "Buckets rolled up (written or replaced), by step in seconds (60, 3600)",
            ["step"],
            registry=self.registry,
        )
        self.rollup_lag = Gauge(
            "linli_telemetry_rollup_lag_seconds",
            "How long ago the oldest minute still waiting to be rolled up ended (0: none waits)",
            registry=self.registry,
        )
        self.upkeep_failures = Counter(
            "linli_telemetry_upkeep_failures",
            "Telemetry upkeep runs that failed (the database or telemetry store); tried again",
            registry=self.registry,
        )

    def serve(self, collector: Collector) -> None:
        """Add ``collector``'s metrics to this process's, once per kind of collector (an app
        made again for the same services adds nothing twice)."""
        if type(collector) not in self._served:
            self._served.add(type(collector))
            self.registry.register(collector)
