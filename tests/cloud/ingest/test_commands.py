"""Commands for devices, from ``outbound_commands`` to their gateway's ``down/command`` topic,
sent by the ingest worker against a real Mosquitto: at least once, marked sent, not sent
again; kept while the broker is away; sent again (same id) while they cannot be marked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cloud.db.models import OutboundCommand
from cloud.ingest.commands import CommandOutbox
from cloud.ingest.worker import IngestWorker
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import Command, command_topic
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client, Message
from tests.cloud.helpers import eventually
from tests.cloud.ingest_support import (
    change_schema,
    database_file,
    good_batch_json,
    make_worker,
    publish_batch,
    running,
    sample,
    watching_acks,
    worker_settings,
)

CHECK = {"command_check_s": 0.05}
T0 = datetime(2025, 11, 27, 8, 0, tzinfo=UTC)


def queue_command(
    services: Services,
    command_id: str,
    *,
    gateway_id: str = "gw-1",
    device_id: str = "gate-01",
    command: str = "self_test",
    args: dict[str, Any] | None = None,
    created_at: datetime = T0,
) -> None:
    """A row as the cloud writes one (the repair desk, for a self-test)."""
    with services.sessions.begin() as session:
        session.add(
            OutboundCommand(
                id=command_id,
                gateway_id=gateway_id,
                device_id=device_id,
                command=command,
                args=args or {},
                created_at=created_at,
            )
        )


def sent_at(services: Services, command_id: str) -> datetime | None:
    with services.sessions() as session:
        return session.scalars(
            select(OutboundCommand.sent_at).where(OutboundCommand.id == command_id)
        ).one()


def worker_with_outbox(services: Services, broker: Mosquitto) -> IngestWorker:
    settings = worker_settings(services, broker, **CHECK)
    return IngestWorker.from_settings(
        settings, services.intake, services.metrics, services.sessions
    )


class Gateway:
    """Listens on a gateway's command topic, as its edge agent does."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    @property
    def commands(self) -> list[Command]:
        return [Command.model_validate_json(m.payload) for m in self.messages]

    async def _collect(self, client: Client) -> None:
        async for message in client.messages():
            self.messages.append(message)


@contextlib.asynccontextmanager
async def listening(
    broker: Mosquitto, gateway_id: str, *, client_id: str = "test-edge", keep_session: bool = False
) -> AsyncIterator[Gateway]:
    gateway = Gateway()
    async with Client(
        broker.host,
        broker.port,
        client_id=client_id,
        clean_start=not keep_session,
        session_expiry_s=300 if keep_session else 0,
    ) as client:
        await client.subscribe([command_topic(gateway_id)], qos=1)
        task = asyncio.create_task(gateway._collect(client))
        try:
            yield gateway
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_queued_command_reaches_its_gateway_once_and_is_marked_sent(
    services: Services, cloud_broker: Mosquitto
) -> None:
    queue_command(services, "cmd-later-0001", created_at=T0 + timedelta(seconds=1))
    queue_command(services, "cmd-first-0001", device_id="sos-02", args={"level": 2}, created_at=T0)
    queue_command(services, "cmd-other-gw01", gateway_id="gw-2")

    async with (
        listening(cloud_broker, "gw-1") as gateway,
        # as the app builds it: the outbox on the database ingest writes to
        running(make_worker(services, cloud_broker, **CHECK)),
    ):
        await eventually(lambda: len(gateway.messages) >= 2, 5, "both commands for gw-1")
        await eventually(lambda: sent_at(services, "cmd-later-0001"), 5, "marked sent")
        queue_command(services, "cmd-newer-0001", command="reboot")
        await eventually(lambda: len(gateway.messages) >= 3, 5, "a command queued meanwhile")
        await asyncio.sleep(0.5)  # ten more rounds: none sends anything again

    assert gateway.commands == [
        Command(id="cmd-first-0001", device_id="sos-02", command="self_test", args={"level": 2}),
        Command(id="cmd-later-0001", device_id="gate-01", command="self_test"),
        Command(id="cmd-newer-0001", device_id="gate-01", command="reboot"),
    ], "oldest first, each once, only this gateway's"
    assert not any(m.retain for m in gateway.messages), "commands are never retained"
    for command_id in ("cmd-first-0001", "cmd-later-0001", "cmd-newer-0001", "cmd-other-gw01"):
        assert sent_at(services, command_id) is not None, command_id
    assert sample(services, "linli_commands_sent_total") == 4


async def test_a_command_written_while_the_broker_is_away_is_sent_after_the_reconnect(
    services: Services, cloud_broker: Mosquitto
) -> None:
    async with listening(cloud_broker, "gw-1", client_id="edge-gw-1", keep_session=True):
        pass  # the broker keeps the gateway's subscription, and queues for it

    worker = worker_with_outbox(services, cloud_broker)
    async with running(worker):
        cloud_broker.halt()
        await eventually(lambda: not worker.connected.is_set(), 5, "the worker disconnected")
        queue_command(services, "cmd-while-away")
        await asyncio.sleep(0.2)
        assert sent_at(services, "cmd-while-away") is None
        await asyncio.to_thread(cloud_broker.resume)
        await asyncio.wait_for(worker.connected.wait(), timeout=5)
        await eventually(lambda: sent_at(services, "cmd-while-away"), 5, "sent on return")

    async with listening(cloud_broker, "gw-1", client_id="edge-gw-1", keep_session=True) as gw:
        await eventually(lambda: gw.messages, 5, "the command queued for the gateway")
    assert [c.id for c in gw.commands] == ["cmd-while-away"]


async def test_a_command_that_cannot_be_marked_is_sent_again_with_its_id_and_ingest_goes_on(
    sqlite_services: Services, catalogue: Catalogue, cloud_broker: Mosquitto
) -> None:
    """At least once: while the database refuses the mark, every round sends the command
    again, with the same id (the edge and device tell the repeat); batches are still
    stored and acknowledged meanwhile."""
    services = sqlite_services
    change_schema(
        database_file(services),
        "CREATE TRIGGER refuse BEFORE UPDATE ON outbound_commands "
        "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
    )
    queue_command(services, "cmd-stubborn-01")

    async with (
        listening(cloud_broker, "gw-1") as gateway,
        watching_acks(cloud_broker) as acks,
        running(worker_with_outbox(services, cloud_broker)),
    ):
        await eventually(lambda: len(gateway.messages) >= 3, 5, "sent again and again")
        await publish_batch(cloud_broker, "gw-1", good_batch_json(catalogue, "gw-1", 1))
        [ack] = await acks.wait_for(1)
        assert ack.result == "stored"
        assert sent_at(services, "cmd-stubborn-01") is None

        change_schema(database_file(services), "DROP TRIGGER refuse")
        await eventually(lambda: sent_at(services, "cmd-stubborn-01"), 5, "marked at last")
        settled = len(gateway.messages)
        await asyncio.sleep(0.3)
        assert len(gateway.messages) == settled, "not sent once marked"

    assert {c.id for c in gateway.commands} == {"cmd-stubborn-01"}


def test_workers_sharing_postgresql_never_hold_the_same_commands(
    postgres_services: Services,
) -> None:
    services = postgres_services
    for n in range(3):
        queue_command(services, f"cmd-shared-{n:04}", created_at=T0 + timedelta(seconds=n))
    one, other = CommandOutbox(services.sessions, round_size=2), CommandOutbox(services.sessions)

    first = one.claim()
    second = other.claim()
    try:
        assert first.ids == ["cmd-shared-0000", "cmd-shared-0001"] and first.full
        assert second.ids == ["cmd-shared-0002"], "rows another worker holds are skipped"
        assert second.mark_sent() == 1
    finally:
        first.close()  # not marked: given back
        second.close()

    again = other.claim()
    try:
        assert again.ids == ["cmd-shared-0000", "cmd-shared-0001"]
        assert again.mark_sent() == 2
    finally:
        again.close()
    assert other.claim().ids == []


def test_a_row_that_makes_no_valid_command_is_not_sent_and_does_not_block(
    services: Services,
) -> None:
    queue_command(services, "short", created_at=T0)  # ids are 8-64 characters on the wire
    queue_command(services, "cmd-behind-0001", created_at=T0 + timedelta(seconds=1))
    outbox = CommandOutbox(services.sessions)

    claim = outbox.claim()
    try:
        assert claim.ids == ["short", "cmd-behind-0001"]
        assert [Command.model_validate_json(p).id for _, p in claim.messages] == ["cmd-behind-0001"]
        assert claim.mark_sent() == 2
    finally:
        claim.close()
    assert outbox.claim().ids == []
