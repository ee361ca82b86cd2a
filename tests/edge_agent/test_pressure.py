"""The gateway under pressure, against real brokers: a long outage over the disk budget,
a full disk, and ``linli edge status`` on a running agent and a stopped one."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from device_profiles import Catalogue
from device_profiles.protocol import Batch, Item
from edge_agent.agent import EdgeAgent
from edge_agent.cli import app
from linli.mosquitto import Mosquitto
from simulators.uplink import Uplink
from tests.edge_agent.helpers import TIMEOUT_S, publish, running, settings_for, wait_until, watch

UP = "linli/v1/gw/+/up/#"


def gate(device: str, n: int, err: int = 0) -> tuple[str, bytes]:
    """A reading of an acme gate, stamped by the gate (``err`` 11: its motor jammed)."""
    body = {"ts": 1764201600 + n, "door": 0, "cycles": n, "motor_ma": 1200, "err": err}
    return f"acme/gate/{device}/state", json.dumps(body).encode()


async def everything(cloud_batches: asyncio.Queue[Batch], until: int) -> list[Batch]:
    """Batches until they hold ``until`` items and data-gap readings together."""
    batches: list[Batch] = []

    def held() -> int:
        return sum(len(b.items) + sum(g.items for g in b.gaps) for b in batches)

    async with asyncio.timeout(TIMEOUT_S * 3):
        while held() < until:
            batches.append(await cloud_batches.get())
    return batches


async def test_a_long_outage_over_budget_drops_only_telemetry_and_says_so(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    """1 MiB of budget holds about 1 800 telemetry readings: 3 000 come while the uplink is
    cut, with 20 alarms among them. When it is back, the cloud gets every alarm, the newest
    telemetry, and data gaps that account for every reading dropped, device by device —
    the gaps ahead of the bulk telemetry."""
    telemetry = [gate(f"gate-{n % 30}", n) for n in range(3000)]
    alarms = [gate(f"jam-{n}", 5000 + n, err=11) for n in range(20)]
    messages = telemetry[:1500] + alarms + telemetry[1500:]
    async with Uplink(cloud_broker.host, cloud_broker.port) as link:
        settings = settings_for(
            gateway_broker, cloud_broker, tmp_path, batch_linger_s=0, outbox_budget_mb=1
        ).model_copy(update={"cloud_port": link.port})
        async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
            link.cut()
            await wait_until(lambda: not agent.cloud.ready.is_set(), "the agent to notice")
            await publish(gateway_broker, messages)
            await wait_until(lambda: agent.counters["messages_received"] == 3020, "all received")
            await wait_until(lambda: agent.local.staged == 0, "all committed")
            backlog = agent.outbox.backlog
            assert backlog.alarms == 20
            assert 1500 < backlog.bulk < 2000 and backlog.dropped == 3000 - backlog.bulk
            assert backlog.bytes <= 1024 * 1024
            link.restore()
            batches = await everything(cloud.batches, until=3020)
            status, _ = await cloud.status_where(
                lambda s, _: s.counters.get("items_dropped", 0) > 0
            )
    items = [item for batch in batches for item in batch.items]
    gaps = [gap for batch in batches for gap in batch.gaps]
    assert sorted(i.device_id for i in items if i.alarm) == sorted(f"jam-{n}" for n in range(20))
    assert {g.reason for g in gaps} == {"disk_budget"}
    dropped = sum(g.items for g in gaps)
    assert dropped == backlog.dropped == status.counters["items_dropped"]
    received = Counter(i.device_id for i in items if not i.alarm)
    for gap in gaps:  # each device's gap accounts for its readings that did not come
        assert received[gap.device_id] + gap.items == 100
    kept = sorted(int(i.metrics["cycles"]) for i in items if not i.alarm)
    assert kept == list(range(dropped, 3000))  # the oldest went
    first_with_gaps = next(n for n, batch in enumerate(batches) if batch.gaps)
    assert all(any(i.alarm for i in b.items) for b in batches[:first_with_gaps])
    assert status.counters["gaps_recorded"] == len(gaps)


async def cap_pages(agent: EdgeAgent, pages: int | None) -> None:
    """Cap the agent's outbox at ``pages`` database pages (None: those it has) — a full
    disk; a large number lifts the cap."""
    outbox = agent.outbox

    def cap() -> None:
        db = outbox._connection()
        limit = pages or db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {limit}")

    await outbox._call(cap)


async def test_a_full_disk_holds_alarms_unacknowledged_until_there_is_room(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    """With the disk full and nothing but alarms to keep, the agent acknowledges nothing it
    could not commit: the gateway broker keeps those messages, and once there is room again
    every one reaches the cloud."""
    flips = [gate("gate-1", n, err=11 if n % 2 else 0) for n in range(1, 401)]  # all alarms
    async with Uplink(cloud_broker.host, cloud_broker.port) as link:
        settings = settings_for(gateway_broker, cloud_broker, tmp_path, batch_linger_s=0)
        settings = settings.model_copy(update={"cloud_port": link.port})
        async with watch(cloud_broker, UP) as cloud, running(settings, catalogue) as agent:
            link.cut()
            await wait_until(lambda: not agent.cloud.ready.is_set(), "the agent to notice")
            await cap_pages(agent, None)
            await publish(gateway_broker, flips)
            await wait_until(lambda: agent.counters["outbox_full"] > 0, "a full disk")
            assert agent.local.staged > 0
            assert agent.outbox.backlog.dropped == 0
            await cap_pages(agent, 1_000_000)
            link.restore()
            batches = await everything(cloud.batches, until=400)
    items: list[Item] = [item for batch in batches for item in batch.items]
    assert sorted(int(i.metrics["cycles"]) for i in items) == list(range(1, 401))
    assert all(i.alarm for i in items)
    assert not any(batch.gaps for batch in batches)


async def test_linli_edge_status_reads_a_running_agent_and_a_stopped_one(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto, catalogue: Catalogue
) -> None:
    settings = settings_for(
        gateway_broker, cloud_broker, tmp_path, batch_linger_s=60, status_file_interval_s=0.1
    )
    runner = CliRunner()
    arguments = ["status", "--data-dir", str(tmp_path)]
    async with watch(cloud_broker, UP), running(settings, catalogue) as agent:
        await publish(gateway_broker, [gate("gate-1", 1), gate("gate-2", 2), gate("jam", 3, 11)])
        await wait_until(lambda: agent.counters["items_queued"] == 3, "the items")
        await wait_until(
            lambda: agent.status_file().counters["devices_heard_recently"] == 3, "the devices"
        )
        await asyncio.sleep(0.3)  # a status file written since
        shown = await asyncio.to_thread(runner.invoke, app, arguments)
        figures = await asyncio.to_thread(runner.invoke, app, [*arguments, "--json"])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "gateway     gw-test: agent running" in text
    assert "uplink      up" in text
    assert "telemetry 2" in text  # lingering; the alarm went at once
    assert "devices     3 heard in the last hour" in text
    assert "dropped     nothing, ever" in text
    document = json.loads(figures.output)
    assert document["running"] is True and document["uplink"] is True
    assert document["figures"]["telemetry_waiting"] == 2
    assert document["figures"]["outbox_budget_bytes"] == 1024 * 1024 * 1024
    stopped = runner.invoke(app, arguments)
    assert stopped.exit_code == 3
    assert "agent not running" in stopped.output
    assert "backlog     alarms 0 · telemetry 0 · in flight 0" in stopped.output


def test_linli_edge_status_without_a_data_directory_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "nothing to read" in result.stderr
