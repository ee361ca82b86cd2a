"""Prometheus metrics of the edge agent, at ``/metrics`` on ``metrics_port`` when it is set.

They are the figures the gateway status carries (:attr:`EdgeAgent.counters`): what the agent
did since it started, as counters (``linli_edge_items_forwarded_total``…); what its outbox
holds now and the uplink, as gauges (``linli_edge_items_waiting``,
``linli_edge_oldest_item_age_seconds``…); and what it ever dropped, cumulative across
restarts. The agent hands a snapshot over each time it writes its status file
(``status_file_interval_s``): a scrape reads that snapshot and never touches the agent's state
from the server's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

GAUGES = {
    "items_waiting": "Items in the outbox waiting to be sent",
    "alarms_waiting": "Alarm items waiting (sent before telemetry)",
    "telemetry_waiting": "Telemetry items waiting",
    "items_in_flight": "Items sent in batches the cloud has not yet confirmed",
    "gaps_waiting": "Data-gap records waiting or in flight",
    "oldest_item_age_s": "Age of the oldest item waiting",
    "outbox_bytes": "Size of the outbox on disk",
    "outbox_budget_bytes": "The disk budget of the outbox",
    "uplink_connected": "1 while connected to the cloud broker",
    "devices_heard_recently": "Devices heard from within the last hour",
    "devices_in_memory": "Devices the agent holds state of",
    "dead_letters_unwritten": "Dead letters not yet written to the log",
}
"""The figures that go up and down; every other one only counts up."""
_SECONDS = {"oldest_item_age_s": "oldest_item_age_seconds"}


def metric_name(figure: str) -> str:
    """``items_forwarded`` → ``linli_edge_items_forwarded``; ``…_s`` in seconds."""
    return f"linli_edge_{_SECONDS.get(figure, figure)}"


class EdgeMetrics(Collector):
    """The latest snapshot of the agent's figures, as Prometheus metrics of ``gateway``."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.registry = CollectorRegistry()
        self._figures: Mapping[str, int] = {}
        self.registry.register(self)

    def update(self, figures: Mapping[str, int]) -> None:
        """The agent's figures now (a new mapping each time: a scrape meanwhile reads the
        one before, whole)."""
        self._figures = dict(figures)

    def collect(self) -> Iterator[Metric]:
        figures = self._figures
        for figure, value in sorted(figures.items()):
            name = metric_name(figure)
            if figure in GAUGES:
                gauge = GaugeMetricFamily(name, GAUGES[figure], labels=["gateway"])
                gauge.add_metric([self.gateway_id], value)
                yield gauge
                continue
            said = figure.replace("_", " ").capitalize()
            ever = figure.startswith("items_dropped") or figure == "gaps_recorded"
            help_text = f"{said}, ever" if ever else f"{said}, since the agent started"
            counter = CounterMetricFamily(name, help_text, labels=["gateway"])
            counter.add_metric([self.gateway_id], value)
            yield counter


class MetricsServer:
    """``/metrics`` of ``metrics`` on ``host:port``, served from a thread of its own;
    use as a context manager."""

    def __init__(self, metrics: EdgeMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS gave, for port 0)."""
        assert self._server is not None, "not started"
        return int(self._server.server_port)

    def __enter__(self) -> MetricsServer:
        self._server, self._thread = start_http_server(
            self._port, self._host, registry=self._metrics.registry
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
