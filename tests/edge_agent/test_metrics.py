"""The edge agent's Prometheus metrics: the status figures at /metrics, as counters and
gauges of the gateway, against real brokers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from device_profiles import Catalogue
from edge_agent.metrics import EdgeMetrics, metric_name
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from tests.edge_agent.helpers import publish, running, settings_for, wait_until, watch


def scrape(port: int) -> dict[str, tuple[str, float]]:
    """Each sample of /metrics by name: its type and value (the gateway's only)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5, trust_env=False).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("gateway") == "gw-test":
                found[sample.name] = (family.type, sample.value)
    return found


def reading(catalogue: Catalogue, device: str, cycles: int) -> tuple[str, bytes]:
    spec = catalogue["acme_access_gate"].topics[0]
    body = {"ts": 1764201600 + cycles, "door": 0, "cycles": cycles, "motor_ma": 1200, "err": 0}
    return spec.topic_for(device), json.dumps(body).encode()


async def test_metrics_say_what_the_agent_forwarded_and_holds(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    port = free_port()
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, metrics_port=port, status_file_interval_s=0.1
    )
    async with watch(cloud_broker, "linli/v1/gw/+/up/batch") as cloud, running(settings, catalogue):
        await publish(gateway_broker, [reading(catalogue, "gate-1", n) for n in range(1, 6)])
        await cloud.items(5)

        def forwarded() -> bool:
            samples = scrape(port)
            return samples.get("linli_edge_items_forwarded_total", ("", 0))[1] == 5

        await wait_until(lambda: forwarded(), "five items forwarded, said at /metrics")
        samples = await asyncio.to_thread(scrape, port)
    assert samples["linli_edge_items_queued_total"] == ("counter", 5)
    assert samples["linli_edge_messages_received_total"] == ("counter", 5)
    assert samples["linli_edge_uplink_connected"] == ("gauge", 1)
    assert samples["linli_edge_items_waiting"] == ("gauge", 0)
    assert samples["linli_edge_oldest_item_age_seconds"] == ("gauge", 0)
    assert samples["linli_edge_items_dropped_total"] == ("counter", 0)


def test_a_figure_is_a_gauge_when_it_goes_down_and_a_counter_otherwise() -> None:
    metrics = EdgeMetrics("gw-test")
    metrics.update({"items_waiting": 7, "oldest_item_age_s": 42, "batches_sent": 3})
    kinds = {family.name: family.type for family in metrics.collect()}
    assert kinds == {
        "linli_edge_items_waiting": "gauge",
        "linli_edge_oldest_item_age_seconds": "gauge",
        "linli_edge_batches_sent": "counter",
    }
    assert metric_name("outbox_bytes") == "linli_edge_outbox_bytes"
