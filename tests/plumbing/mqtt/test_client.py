"""plumbing.mqtt against a real Mosquitto: acknowledgement after the fact, kept sessions,
receive maximum, last will, failures as MqttError, MQTT 3.1.1, messages to a callback, and
waiting for the end of a connection; what is sent ahead of the broker's acknowledgements
against a broker that holds them back."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from pathlib import Path

import pytest

from linli.mosquitto import Mosquitto
from linli.ports import free_port
from plumbing.mqtt import READ_BYTES, Client, Message, MqttError, MqttVersion, Will, topic_matches

TIMEOUT_S = 10.0


def keeping(broker: Mosquitto, client_id: str, **options: object) -> Client:
    """A client whose session the broker keeps, acknowledging by hand."""
    return Client(
        broker.host,
        broker.port,
        client_id=client_id,
        clean_start=False,
        session_expiry_s=600,
        manual_ack=True,
        **options,  # type: ignore[arg-type]
    )


async def take(client: Client, count: int, *, ack: bool = True) -> list[Message]:
    taken: list[Message] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for message in client.messages():
            taken.append(message)
            if ack:
                client.ack(message)
            if len(taken) == count:
                return taken
    raise AssertionError("unreachable")


async def publish(broker: Mosquitto, count: int, topic: str = "t/a") -> None:
    async with Client(broker.host, broker.port, client_id="publisher") as publisher:
        for n in range(count):
            await publisher.publish(topic, str(n).encode(), qos=1)


async def test_a_refused_connection_fails_at_once_with_mqtt_error() -> None:
    started = time.monotonic()
    client = Client("127.0.0.1", free_port(), client_id="nobody")
    with pytest.raises(MqttError, match="refused"):
        async with client:
            pass
    assert time.monotonic() - started < 2
    assert not client.is_connected
    assert "not connected" in await client.wait_lost()


async def test_messages_not_acknowledged_come_again_marked_as_redelivered(
    broker: Mosquitto,
) -> None:
    async with keeping(broker, "keeper") as client:
        await client.subscribe(["t/#"])
        assert client.session_present is False
    await publish(broker, 10)
    async with keeping(broker, "keeper", receive_maximum=3) as client:
        assert client.session_present is True
        first = await take(client, 3, ack=False)
    assert [m.payload for m in first] == [b"0", b"1", b"2"]
    async with keeping(broker, "keeper") as client:
        again = await take(client, 10)
    assert [m.payload for m in again] == [str(n).encode() for n in range(10)]
    assert all(m.dup for m in again[:3])
    assert not any(m.dup for m in again[3:])


async def test_receive_maximum_bounds_what_the_broker_sends_ahead_of_acks(
    broker: Mosquitto,
) -> None:
    async with keeping(broker, "slow", receive_maximum=4) as client:
        await client.subscribe(["t/#"])
        await publish(broker, 20)
        held = await take(client, 4, ack=False)
        with pytest.raises(TimeoutError):  # nothing more while four wait for their ack
            async with asyncio.timeout(0.5):
                await anext(aiter(client.messages()))
        for message in held:
            client.ack(message)
        rest = await take(client, 16)
    assert [m.payload for m in held + rest] == [str(n).encode() for n in range(20)]


async def test_the_last_will_is_published_when_the_connection_is_aborted(
    broker: Mosquitto,
) -> None:
    will = Will("status/x", b"offline", retain=False)
    async with Client(broker.host, broker.port, client_id="watcher") as watcher:
        await watcher.subscribe(["status/#"])
        async with Client(broker.host, broker.port, client_id="x", will=will) as doomed:
            doomed.abort()
        (message,) = await take(watcher, 1)
    assert (message.topic, message.payload) == ("status/x", b"offline")


async def test_a_clean_disconnect_sends_no_will(broker: Mosquitto) -> None:
    will = Will("status/x", b"offline", retain=True)
    async with Client(broker.host, broker.port, client_id="x", will=will):
        pass
    async with Client(broker.host, broker.port, client_id="watcher") as watcher:
        await watcher.subscribe(["status/#"])
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await anext(aiter(watcher.messages()))


async def test_a_broker_that_goes_away_ends_messages_and_publish_with_mqtt_error(
    broker: Mosquitto,
) -> None:
    async with Client(broker.host, broker.port, client_id="x", keepalive_s=5) as client:
        await client.subscribe(["t/#"])
        broker.stop()
        with pytest.raises(MqttError):
            async with asyncio.timeout(TIMEOUT_S):
                async for _ in client.messages():
                    pass
        with pytest.raises(MqttError):
            await client.publish("t/a", b"late", qos=1)


def broker_log(broker: Mosquitto, log_dir: Path) -> str:
    path = log_dir / f"mosquitto-{broker.name}.log"
    return path.read_text() if path.exists() else ""


async def test_mqtt_3_1_1_is_spoken_on_request_and_keeps_a_session_without_clean_start(
    broker: Mosquitto, tmp_path: Path
) -> None:
    def device(**options: object) -> Client:
        return Client(
            broker.host,
            broker.port,
            client_id="v311",
            protocol="3.1.1",
            will=Will("status/v311", b"offline", retain=False),
            **options,  # type: ignore[arg-type]
        )

    async with device(clean_start=False) as client:
        assert client.session_present is False
        await client.subscribe(["t/#", "status/#"])
    await publish(broker, 3)
    async with device(clean_start=False) as client:
        assert client.session_present is True
        kept = await take(client, 3)
        await client.publish("t/own", b"own", qos=2)
        (own,) = await take(client, 1)
    async with device() as client:  # clean: the session is gone
        assert client.session_present is False
    assert [m.payload for m in kept] == [b"0", b"1", b"2"]
    assert (own.topic, own.payload) == ("t/own", b"own")
    log = broker_log(broker, tmp_path)  # Mosquitto flushes every line
    assert "as v311 (p2," in log  # p2: MQTT 3.1.1
    assert "as publisher (p5," in log  # the default: MQTT 5


def test_mqtt_3_1_1_has_no_session_expiry_nor_receive_maximum() -> None:
    for options in ({"session_expiry_s": 60}, {"receive_maximum": 10}):
        with pytest.raises(ValueError, match="need MQTT 5"):
            Client("127.0.0.1", 1883, client_id="x", protocol="3.1.1", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="protocol"):
        Client("127.0.0.1", 1883, client_id="x", protocol="3")  # type: ignore[arg-type]


async def test_on_message_takes_every_message_instead_of_the_iterator(broker: Mosquitto) -> None:
    got: list[Message] = []
    arrived = asyncio.Event()

    def on_message(message: Message) -> None:
        if message.payload == b"bad":
            raise ValueError("a bad message")
        got.append(message)
        if len(got) == 3:
            arrived.set()

    async with Client(
        broker.host, broker.port, client_id="callback", on_message=on_message
    ) as client:
        await client.subscribe(["a/+", "b/#"])
        async with Client(broker.host, broker.port, client_id="sender") as sender:
            for topic, payload in [("a/1", b"1"), ("a/2", b"bad"), ("c/1", b"x"), ("b/2/3", b"2")]:
                await sender.publish(topic, payload)
            await sender.publish("a/3", b"3", qos=0)
        async with asyncio.timeout(TIMEOUT_S):
            await arrived.wait()
        assert client.is_connected  # the exception was logged, the connection went on
        with pytest.raises(RuntimeError, match="on_message"):
            await anext(aiter(client.messages()))
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        ("a/1", b"1", 1),
        ("b/2/3", b"2", 1),
        ("a/3", b"3", 0),
    ]


async def test_wait_lost_says_when_and_why_the_connection_ended(broker: Mosquitto) -> None:
    client = Client(broker.host, broker.port, client_id="x", keepalive_s=5)
    with pytest.raises(MqttError, match="not connected"):
        client.wait_lost()
    async with client:
        lost = client.wait_lost()
        other = client.wait_lost()
        other.cancel()  # a waiter given up leaves the connection alone
        await asyncio.sleep(0.1)
        assert not lost.done() and client.is_connected
        await client.publish("t/a", b"still up")
    assert lost.done() and lost.result()  # a clean end is an end too

    async with Client(broker.host, broker.port, client_id="y") as client:
        client.abort()
        assert client.wait_lost().done()  # at once: nothing to await after an abort
        assert "aborted" in await client.wait_lost()
        assert not client.is_connected
        with pytest.raises(MqttError, match="aborted"):
            await client.publish("t/a", b"late", qos=1)
        with pytest.raises(MqttError, match="aborted"):
            await client.publish("t/a", b"late", qos=0)

    async with Client(broker.host, broker.port, client_id="z", keepalive_s=5) as client:
        broker.stop()
        async with asyncio.timeout(TIMEOUT_S):
            reason = await client.wait_lost()
    assert reason


class SilentBroker:
    """Just enough of an MQTT 5 broker to see what a client sends before any PUBACK: it
    accepts the connection, records every PUBLISH, and acknowledges only on request."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.arrived = asyncio.Condition()
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> SilentBroker:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        if self._writer is not None:
            self._writer.close()
        self._server.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind = (await reader.readexactly(1))[0] >> 4
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                if kind == 1:  # CONNECT: CONNACK, accepted, no properties
                    writer.write(b"\x20\x03\x00\x00\x00")
                elif kind == 3:  # PUBLISH at QoS 1: topic, packet id, properties, payload
                    topic_length = int.from_bytes(body[:2])
                    self.published.append(body[2 + topic_length : 4 + topic_length])
                    async with self.arrived:
                        self.arrived.notify_all()

    def puback(self, packet_id: bytes) -> None:
        assert self._writer is not None
        self._writer.write(b"\x40\x02" + packet_id)

    async def until(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT_S), self.arrived:
            await self.arrived.wait_for(lambda: len(self.published) >= count)


async def test_max_in_flight_bounds_what_is_sent_ahead_of_the_brokers_acks() -> None:
    async with (
        SilentBroker() as broker,
        Client("127.0.0.1", broker.port, client_id="x", max_in_flight=2) as client,
    ):
        sending = [asyncio.create_task(client.publish("t/a", str(n).encode())) for n in range(5)]
        await broker.until(2)
        await asyncio.sleep(0.3)
        assert len(broker.published) == 2  # three wait in the client for an ack
        broker.puback(broker.published[0])
        await broker.until(3)
        await asyncio.sleep(0.3)
        assert len(broker.published) == 3
        for packet_id in broker.published[1:]:
            broker.puback(packet_id)
        await broker.until(5)
        for packet_id in broker.published[3:]:
            broker.puback(packet_id)
        async with asyncio.timeout(TIMEOUT_S):
            await asyncio.gather(*sending)
    assert len(set(broker.published)) == 5


def test_topic_matching() -> None:
    assert topic_matches("acme/gate/gate-01/cmd", "acme/gate/+/cmd")
    assert topic_matches("linli/sim/control", "linli/sim/#")
    assert topic_matches("linli/sim", "linli/sim/#")
    assert not topic_matches("acme/gate/gate-01/state", "acme/gate/+/cmd")


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_aborted_client_collected_in_another_thread_after_its_loop_closed_is_quiet(
    broker: Mosquitto,
) -> None:
    async def aborted() -> Client:
        async with Client(broker.host, broker.port, client_id="x") as client:
            client.abort()
        return client

    held = [asyncio.run(aborted())]

    def collect() -> None:  # paho closes what it thinks is its socket when collected
        held.clear()
        gc.collect()

    thread = threading.Thread(target=collect)
    thread.start()
    thread.join()


async def test_a_paused_client_reads_nothing_until_it_resumes(broker: Mosquitto) -> None:
    got: list[Message] = []
    async with keeping(broker, "pausing", on_message=got.append) as client:
        await client.subscribe(["t/#"])
        client.pause_reading()
        await publish(broker, 5)
        await asyncio.sleep(0.3)
        assert got == []
        client.resume_reading()
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < 5:  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
    assert [m.payload for m in got] == [str(n).encode() for n in range(5)]


async def test_many_messages_small_and_large_arrive_whole_in_order_and_are_acknowledged(
    broker: Mosquitto,
) -> None:
    """Read in bulk: packets cut across reads (one larger than a read) arrive whole; the
    PUBACKs written in groups acknowledge every one, so a kept session has none to give
    again."""
    sizes = [n % 300 for n in range(3000)]
    sizes[1500] = 2 * READ_BYTES + 17
    payloads = [bytes([n % 256]) * size for n, size in enumerate(sizes)]
    got: list[Message] = []
    options = {"clean_start": False, "session_expiry_s": 600, "receive_maximum": 1000}
    async with Client(broker.host, broker.port, client_id="bulk", **options) as client:  # type: ignore[arg-type]
        await client.subscribe(["t/#"])
    async with Client(broker.host, broker.port, client_id="sender", max_in_flight=500) as sender:
        await asyncio.gather(*(sender.publish(f"t/{n}", p, qos=1) for n, p in enumerate(payloads)))
    async with Client(
        broker.host, broker.port, client_id="bulk", on_message=got.append, **options
    ) as client:  # type: ignore[arg-type]
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < len(payloads):  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
        # a round trip: the broker has read the acknowledgements written before it (left
        # at once, Mosquitto 2.0 sometimes drops the last of them with the connection)
        await client.subscribe(["sync/none"])
    assert [m.topic for m in got] == [f"t/{n}" for n in range(len(payloads))]
    assert [m.payload for m in got] == payloads
    got.clear()
    async with Client(
        broker.host, broker.port, client_id="bulk", on_message=got.append, **options
    ) as client:  # type: ignore[arg-type]
        assert client.session_present
        await publish(broker, 1, topic="t/end")
        async with asyncio.timeout(TIMEOUT_S):
            while not got:  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
    assert [(m.topic, m.dup) for m in got] == [("t/end", False)]


async def test_pausing_in_the_callback_holds_back_what_was_read_with_it(
    broker: Mosquitto,
) -> None:
    got: list[Message] = []

    def take_three(message: Message) -> None:
        got.append(message)
        if len(got) == 3:
            client.pause_reading()

    async with keeping(broker, "pauser") as client:
        await client.subscribe(["t/#"])
    await publish(broker, 10)  # waiting in the session: they come in one read
    client = keeping(broker, "pauser", on_message=take_three)
    async with client:
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < 3:  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert len(got) == 3
        client.resume_reading()
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < 10:  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
        for message in got:
            client.ack(message)
    assert [m.payload for m in got] == [str(n).encode() for n in range(10)]


async def test_messages_with_properties_or_qos_2_are_received_too(broker: Mosquitto) -> None:
    """What the bulk reader leaves to paho — a PUBLISH with properties, QoS 2 — arrives in
    order with the rest, acknowledged."""
    got: list[Message] = []
    async with Client(broker.host, broker.port, client_id="mixed", on_message=got.append) as client:
        await client.subscribe(["t/#"], qos=2)
        await publish(broker, 2, topic="t/plain")
        pub = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-V", "5"]
        for extra in (
            ["-q", "1", "-D", "publish", "payload-format-indicator", "1", "-t", "t/props"],
            ["-q", "2", "-t", "t/two"],
        ):
            done = await asyncio.create_subprocess_exec(*pub, *extra, "-m", "x")
            assert await done.wait() == 0
        await publish(broker, 1, topic="t/after")
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < 5:  # noqa: ASYNC110 - the callback fills it
                await asyncio.sleep(0.01)
    # a QoS 2 message is handed on at its PUBREL, which may come after later messages
    assert [(m.topic, m.payload, m.qos) for m in got if m.qos < 2] == [
        ("t/plain", b"0", 1),
        ("t/plain", b"1", 1),
        ("t/props", b"x", 1),
        ("t/after", b"0", 1),
    ]
    assert [(m.topic, m.payload) for m in got if m.qos == 2] == [("t/two", b"x")]


@pytest.mark.parametrize(
    ("protocol", "own_limit"),
    [("5", 0), ("5", 3), ("3.1.1", 3)],  # MQTT 3.1.1 has no Receive Maximum
)
async def test_publish_all_keeps_within_the_receive_maximum_the_broker_announces(
    tmp_path: Path, protocol: MqttVersion, own_limit: int
) -> None:
    with Mosquitto(name="narrow", log_dir=tmp_path, max_inflight=4) as narrow:
        async with (
            keeping(narrow, "reader") as reader,
            Client(
                narrow.host,
                narrow.port,
                client_id="writer",
                max_in_flight=own_limit,
                protocol=protocol,
            ) as writer,
        ):
            await reader.subscribe(["t/#"], qos=1)
            round_ = [(f"t/{n % 3}", str(n).encode()) for n in range(200)]
            seen: list[int] = []

            async def watch() -> None:
                while True:
                    seen.append(writer.in_flight)
                    await asyncio.sleep(0)

            watching = asyncio.create_task(watch())
            async with asyncio.timeout(TIMEOUT_S):
                await asyncio.gather(
                    writer.publish_all(round_[:100]),
                    writer.publish_all(round_[100:]),
                )
                await writer.publish("t/single", b"one")  # paho's own, after them
            watching.cancel()
            taken = await take(reader, 201)
            assert writer.is_connected and writer.in_flight == 0
        assert max(seen) == (own_limit or 4)
        assert [(m.topic, m.payload) for m in taken if m.topic != "t/single"] == round_
        assert [m.payload for m in taken if m.topic == "t/single"] == [b"one"]


async def test_publish_all_sends_a_round_in_order_and_returns_once_the_broker_has_it_all(
    broker: Mosquitto,
) -> None:
    async with (
        keeping(broker, "reader") as reader,
        Client(broker.host, broker.port, client_id="writer") as writer,
    ):
        await reader.subscribe(["t/#"], qos=1)
        round_ = [(f"t/{n % 3}", str(n).encode()) for n in range(300)]  # beyond max_in_flight
        async with asyncio.timeout(TIMEOUT_S):
            await writer.publish_all(round_)
            await writer.publish_all([])
        taken = await take(reader, 300)
        assert [(m.topic, m.payload) for m in taken] == round_
        broker.stop()
        with pytest.raises(MqttError):
            async with asyncio.timeout(TIMEOUT_S):
                while True:  # until the client has seen the connection end
                    await writer.publish_all([("t/a", b"late")])
                    await asyncio.sleep(0.05)
