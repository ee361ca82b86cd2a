"""Several ingest workers, each a ``linli cloud ingest`` process, share the stream of batches
through the MQTT 5 shared subscription and one PostgreSQL database: nothing lost, nothing
stored twice, every batch acknowledged, and one ticket when two workers see the same fault
at the same moment."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from device_profiles import Catalogue
from device_profiles.protocol import Batch, BatchAck, batch_topic
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from linli.postgres import PostgresCluster
from linli.processes import ProcessGroup, linli_command
from plumbing.mqtt import Client
from tests.cloud.helpers import EPOCH, GATE, T0, item
from tests.e2e.harness import provision

pytestmark = pytest.mark.e2e

WORKERS = 3
GATEWAYS = 4
DEVICES = 25  # per gateway
BATCHES = 30  # per gateway, of one reading of each of ten devices
TIMEOUT_S = 60


def _stream(catalogue: Catalogue) -> tuple[list[Batch], list[Batch]]:
    """Ordinary batches from every gateway, and two batches of one gateway that report the
    same fault of the same gate at the same moment (two readings, two ids)."""
    batches = []
    for g in range(GATEWAYS):
        for seq in range(1, BATCHES + 1):
            items = [
                item(
                    catalogue, GATE, "normal",
                    ts=T0.replace(second=seq), device_id=f"gate-{(seq * 10 + n) % DEVICES:02d}",
                )
                for n in range(10)
            ]  # fmt: skip
            batches.append(
                Batch(gateway_id=f"gw-{g}", epoch=EPOCH, seq=seq, sent_at=T0, items=items)
            )
    jam = [
        item(catalogue, GATE, "motor_jammed", ts=T0.replace(minute=5), device_id="gate-jam")
        for _ in range(2)
    ]
    twins = [
        Batch(gateway_id="gw-0", epoch=EPOCH, seq=BATCHES + n, sent_at=T0, items=[reading])
        for n, reading in enumerate(jam, start=1)
    ]
    assert jam[0].id != jam[1].id and jam[0].faults == ("motor_jammed",)
    return batches, twins


async def _publish_and_collect_acks(
    broker: Mosquitto, batches: list[Batch], twins: list[Batch]
) -> dict[tuple[str, int], str]:
    """Publish the twins first (so that two workers take them at once), then the rest;
    the acknowledgements the gateways get back, by (gateway, seq)."""
    acks: dict[tuple[str, int], str] = {}
    async with (
        Client(broker.host, broker.port, client_id="gateways") as gateways,
        Client(broker.host, broker.port, client_id="gateways-acks") as listener,
    ):
        await listener.subscribe(["linli/v1/gw/+/down/ack"], qos=1)
        await gateways.publish_all(
            [(batch_topic(b.gateway_id), b.model_dump_json().encode()) for b in twins + batches]
        )
        async with asyncio.timeout(TIMEOUT_S):
            async for message in listener.messages():
                ack = BatchAck.model_validate_json(message.payload)
                acks[(ack.gateway_id, ack.seq)] = ack.result
                if len(acks) == len(batches) + len(twins):
                    break
    return acks


def _worker_batches(port: int) -> float:
    """Batches a worker stored, from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('linli_ingest_batches_total{result="stored"}')
    )


def test_three_workers_share_the_stream_without_loss_duplicates_or_a_second_ticket(
    tmp_path: Path, cloud_broker: Mosquitto, postgres_cluster: PostgresCluster
) -> None:
    catalogue = Catalogue.load()
    url = postgres_cluster.create_database(f"workers_{uuid.uuid4().hex[:12]}")
    migrated = subprocess.run(
        linli_command("cloud", "migrate", "--database-url", url),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    provision(tmp_path, [f"gw-{g}" for g in range(GATEWAYS)], database_url=url)
    batches, twins = _stream(catalogue)
    ports = [free_port() for _ in range(WORKERS)]
    with ProcessGroup(tmp_path / "logs") as processes:
        for n, port in enumerate(ports):
            processes.start(
                f"ingest-{n}",
                linli_command(
                    "cloud", "ingest", "--port", str(port), "--client-id", f"worker-{n}",
                    "--mqtt-port", str(cloud_broker.port), "--database-url", url,
                    "--data-dir", str(tmp_path / f"worker-{n}"),
                ),
            )  # fmt: skip
        deadline = time.monotonic() + TIMEOUT_S
        for port in ports:
            while True:
                assert processes.first_exited() is None, processes.first_exited()
                assert time.monotonic() < deadline, f"worker on {port} not consuming"
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                    if health.status_code == 200 and health.json()["ingest_connected"]:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/tickets").status_code == 404

        acks = asyncio.run(_publish_and_collect_acks(cloud_broker, batches, twins))
        taken = [_worker_batches(port) for port in ports]

    assert set(acks.values()) == {"stored"}
    assert sum(taken) == len(batches) + len(twins)
    assert all(share > 0 for share in taken), taken  # every worker took part
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            readings = connection.execute(
                sa.text("SELECT count(*), count(DISTINCT id) FROM readings")
            ).one()
            tickets = connection.execute(
                sa.text(
                    "SELECT t.fault, t.occurrences FROM tickets t"
                    " JOIN facilities f ON f.id = t.facility_id WHERE f.code = 'gate-jam'"
                )
            ).all()
            devices = connection.execute(sa.text("SELECT count(*) FROM devices")).scalar_one()
    finally:
        engine.dispose()
    total = sum(len(b.items) for b in batches + twins)
    assert tuple(readings) == (total, total)
    assert devices == GATEWAYS * DEVICES + 1
    # the second sighting is the same fault still active: the first's ticket, no new onset
    assert [tuple(ticket) for ticket in tickets] == [("motor_jammed", 1)]
