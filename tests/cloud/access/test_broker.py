"""The cloud broker lets in only whom the register names, each to its own topics: tested
against a real Mosquitto running the password file and ACL Linli writes — anonymous clients
and wrong passwords refused, gateway A unable to publish as B or read B's topics, a revoked
gateway refused once the broker reloaded; and over TLS with a CA made here, a client without
a valid certificate refused where certificates are required."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from cloud.access.broker import (
    BrokerFiles,
    CloudAccount,
    account_grants,
    acl_file,
    add_gateway_account,
    add_integration_account,
    broker_hash,
    cloud_grant,
    revoke_account,
)
from cloud.db.models import Gateway
from cloud.db.register import Community
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import ack_topic, batch_topic, command_topic, status_topic
from linli.cli import app as linli
from linli.mosquitto import Mosquitto, TlsListener
from plumbing.mqtt import BrokerAccess, Client, Message, MqttError
from tests.cloud.communities import two_communities
from tests.cloud.helpers import eventually
from tests.conftest import require_mosquitto

CLOUD = CloudAccount("cloud@linli", "the-clouds-password-for-tests")
NOW = datetime(2026, 12, 4, tzinfo=UTC)


@dataclass
class Register:
    """Oak's gateway gw-a and elm's gw-b with broker accounts, oak's message board, and the
    broker's files in ``directory``."""

    services: Services
    directory: Path
    passwords: dict[str, str] = field(default_factory=dict)

    def write(self) -> None:
        with self.services.sessions() as session:
            BrokerFiles(self.directory).write([cloud_grant(CLOUD), *account_grants(session)])


@pytest.fixture
def register(sqlite_services: Services, catalogue: Catalogue, tmp_path: Path) -> Register:
    services = sqlite_services
    two_communities(services, catalogue)
    found = Register(services, tmp_path / "broker")
    with services.sessions.begin() as session:
        for gateway_id in ("gw-a", "gw-b"):
            gateway = session.get_one(Gateway, gateway_id)
            found.passwords[gateway_id] = add_gateway_account(session, gateway, NOW)
        oak = session.query(Community).filter_by(slug="oak").one()
        found.passwords["board@oak"] = add_integration_account(session, "board@oak", oak, NOW)
    found.write()
    return found


@pytest.fixture
def broker(register: Register) -> Iterator[Mosquitto]:
    require_mosquitto()
    with Mosquitto(name="secured", access=register.directory) as running:
        yield running


def as_user(username: str, password: str) -> BrokerAccess:
    return BrokerAccess(username=username, password=password)


@dataclass
class Listener:
    client: Client
    got: list[Message] = field(default_factory=list)

    def topics(self) -> list[str]:
        return [m.topic for m in self.got]

    async def until(self, topic: str) -> None:
        await eventually(lambda: topic in self.topics(), 5, f"a message on {topic}")


@contextlib.asynccontextmanager
async def listening(
    broker: Mosquitto, access: BrokerAccess, filters: list[str], port: int | None = None
) -> AsyncIterator[Listener]:
    """A client subscribed to ``filters`` one at a time (a refused one is left out)."""
    collected: list[Message] = []
    async with Client(
        broker.host,
        port or broker.port,
        client_id=f"listener-{access.username}-{len(filters)}",
        access=access,
        on_message=collected.append,
    ) as client:
        for topic_filter in filters:
            with contextlib.suppress(MqttError):
                await client.subscribe([topic_filter])
        yield Listener(client, collected)


async def connects(broker: Mosquitto, access: BrokerAccess, port: int | None = None) -> bool:
    try:
        async with Client(broker.host, port or broker.port, client_id="probe", access=access):
            return True
    except MqttError:
        return False


async def until_connects(broker: Mosquitto, access: BrokerAccess, wanted: bool) -> None:
    """Until the broker lets ``access`` in (or refuses it): it reads its files again
    between two passes of its loop, a moment after the signal."""
    for _ in range(100):
        if await connects(broker, access) == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{access.username} still {'refused' if wanted else 'let in'}")


def test_a_password_is_kept_as_mosquitto_checks_it() -> None:
    salt = b"0123456789ab"
    line = broker_hash("secret", salt=salt)
    iterations, salt_b64, digest_b64 = line.removeprefix("$7$").split("$")
    assert base64.b64decode(salt_b64) == salt
    expected = hashlib.pbkdf2_hmac("sha512", b"secret", salt, int(iterations))
    assert base64.b64decode(digest_b64) == expected
    assert broker_hash("secret") != broker_hash("secret"), "a new salt each time"


def test_each_account_is_granted_its_own_topics_only(register: Register) -> None:
    with register.services.sessions() as session:
        text = acl_file(account_grants(session))
    assert (
        "user gw-a\ntopic read linli/v1/gw/gw-a/down/#\ntopic write linli/v1/gw/gw-a/up/#" in text
    )
    assert "user board@oak\ntopic read linli/community/oak/#" in text
    assert "pattern" not in text and "#\ntopic write #" not in text
    for name in ("passwd", "acl"):
        mode = stat.S_IMODE(os.stat(register.directory / name).st_mode)
        assert mode & 0o007 == 0, f"{name} is not for everyone to read"


async def test_the_broker_lets_in_only_the_register_and_each_to_its_own_topics(
    register: Register, broker: Mosquitto
) -> None:
    a = as_user("gw-a", register.passwords["gw-a"])
    b = as_user("gw-b", register.passwords["gw-b"])
    cloud = as_user(CLOUD.username, CLOUD.password)

    assert not await connects(broker, BrokerAccess()), "anonymous clients are refused"
    assert not await connects(broker, as_user("gw-a", register.passwords["gw-b"]))
    assert not await connects(broker, as_user("gw-z", "made-up"))

    up = ["linli/v1/gw/+/up/#"]
    async with (
        listening(broker, cloud, up) as ingest,
        listening(broker, a, ["#", "linli/v1/gw/gw-b/down/#", "linli/v1/gw/+/up/#"]) as snoop,
        listening(broker, as_user("board@oak", register.passwords["board@oak"]), ["#"]) as board,
        Client(broker.host, broker.port, client_id="gw-a", access=a) as gateway_a,
        Client(broker.host, broker.port, client_id="cloud", access=cloud) as sender,
    ):
        # gateway A publishes as B, then as itself (a fence: the first would have come first)
        with contextlib.suppress(MqttError):  # MQTT 5: the broker may say "not authorised"
            await gateway_a.publish(batch_topic("gw-b"), b"forged", qos=1)
        with contextlib.suppress(MqttError):
            await gateway_a.publish(status_topic("gw-b"), b"forged", qos=1)
        await gateway_a.publish(batch_topic("gw-a"), b"its own", qos=1)
        await ingest.until(batch_topic("gw-a"))
        assert [(m.topic, m.payload) for m in ingest.got] == [(batch_topic("gw-a"), b"its own")]

        # the cloud writes to both gateways: A reads its own, never B's, whatever it asked for
        await sender.publish(command_topic("gw-b"), b"open gate", qos=1)
        await sender.publish(ack_topic("gw-b"), b"ack", qos=1)
        await sender.publish("linli/community/elm/notices/opened", b"elm's", qos=1)
        await sender.publish("linli/community/oak/notices/opened", b"oak's", qos=1)
        await sender.publish(command_topic("gw-a"), b"its command", qos=1)
        await snoop.until(command_topic("gw-a"))
        await board.until("linli/community/oak/notices/opened")
        assert set(snoop.topics()) == {command_topic("gw-a")}, "nothing of B's, no one's batch"
        assert board.topics() == ["linli/community/oak/notices/opened"], "only its community"

        # the board and B may not write where gateways and the cloud do
        async with Client(broker.host, broker.port, client_id="gw-b", access=b) as gateway_b:
            with contextlib.suppress(MqttError):
                await gateway_b.publish(command_topic("gw-a"), b"forged command", qos=1)
            await gateway_b.publish(batch_topic("gw-b"), b"b's own", qos=1)
            await ingest.until(batch_topic("gw-b"))
        await sender.publish(command_topic("gw-a"), b"second", qos=1)
        await eventually(lambda: b"second" in [m.payload for m in snoop.got], 5, "second")
        assert b"forged command" not in [m.payload for m in snoop.got]


async def test_a_revoked_gateway_is_refused_once_the_broker_reloaded(
    register: Register, broker: Mosquitto
) -> None:
    b = as_user("gw-b", register.passwords["gw-b"])
    assert await connects(broker, b)
    with register.services.sessions.begin() as session:
        assert revoke_account(session, "gw-b", NOW + timedelta(hours=1))
    register.write()
    broker.reload()

    await until_connects(broker, b, False)  # the broker reads its files between two loops
    assert await connects(broker, as_user("gw-a", register.passwords["gw-a"])), "others stay"


# -- TLS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _key_and_name(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    return ec.generate_private_key(ec.SECP256R1()), x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _issue(
    subject_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(minutes=5))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A CA made for the test, the broker's certificate for 127.0.0.1 and a gateway's, both
    signed by it, and a stranger's certificate signed by a CA of its own."""
    directory = tmp_path / "pki"
    directory.mkdir()
    ca_key, ca_name = _key_and_name("Linli test CA")
    ca = _issue(ca_key, ca_name, ca_key, ca_name, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    server_key, server_name = _key_and_name("broker")
    server_cert, server_key_path = _write(
        directory,
        "server",
        _issue(server_key, server_name, ca_key, ca_name, server=True),
        server_key,
    )
    client_key, client_name = _key_and_name("gw-a")
    client_cert, client_key_path = _write(
        directory, "gw-a", _issue(client_key, client_name, ca_key, ca_name), client_key
    )
    other_ca_key, other_ca_name = _key_and_name("Another CA")
    stranger_key, stranger_name = _key_and_name("stranger")
    stranger_cert, stranger_key_path = _write(
        directory,
        "stranger",
        _issue(stranger_key, stranger_name, other_ca_key, other_ca_name),
        stranger_key,
    )
    return Pki(
        ca_path,
        server_cert,
        server_key_path,
        client_cert,
        client_key_path,
        stranger_cert,
        stranger_key_path,
    )


async def test_over_tls_a_client_without_a_valid_certificate_is_refused(
    register: Register, pki: Pki
) -> None:
    require_mosquitto()
    listener = TlsListener(pki.ca, pki.server_cert, pki.server_key, require_certificate=True)
    password = register.passwords["gw-a"]
    with Mosquitto(name="tls", access=register.directory, tls=listener) as broker:
        port = broker.tls_port

        def over_tls(cert: Path | None, key: Path | None, ca: Path = pki.ca) -> BrokerAccess:
            return BrokerAccess("gw-a", password, ca_file=ca, cert_file=cert, key_file=key)

        gateway = over_tls(pki.client_cert, pki.client_key)
        assert await connects(broker, gateway, port)
        assert not await connects(broker, over_tls(None, None), port), "no certificate"
        assert not await connects(broker, over_tls(pki.stranger_cert, pki.stranger_key), port)
        assert not await connects(broker, BrokerAccess("gw-a", password), port), "not TLS"

        # a batch larger than a TLS record goes up whole, and the command comes down
        cloud = as_user(CLOUD.username, CLOUD.password)
        big = os.urandom(100_000)
        async with (
            listening(broker, cloud, ["linli/v1/gw/+/up/#"]) as ingest,
            listening(broker, gateway, [command_topic("gw-a")], port) as edge,
            Client(broker.host, port, client_id="gw-a-up", access=gateway) as up,
        ):
            await up.publish(batch_topic("gw-a"), big, qos=1)
            await ingest.until(batch_topic("gw-a"))
            assert ingest.got[0].payload == big
            async with Client(broker.host, broker.port, client_id="c", access=cloud) as down:
                for n in range(50):
                    await down.publish(command_topic("gw-a"), b"%03d" % n + big[:20_000], qos=1)
            await eventually(lambda: len(edge.got) >= 50, 10, "every command")
            assert [m.payload[:3] for m in edge.got] == [b"%03d" % n for n in range(50)]
            assert all(len(m.payload) == 20_003 for m in edge.got), "whole, in order"


# -- one command -------------------------------------------------------------------------


def test_linli_gateway_add_writes_the_broker_files_and_the_edge_agents(
    register: Register, broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From nothing to a gateway the broker lets in, in one command; revoke takes it away."""
    services = register.services
    monkeypatch.setenv("LINLI_CLOUD_MQTT_USERNAME", CLOUD.username)
    monkeypatch.setenv("LINLI_CLOUD_MQTT_PASSWORD", CLOUD.password)
    database = ["--data-dir", str(services.settings.data_dir)]
    files = ["--broker-dir", str(register.directory), "--broker-pid-file", str(broker.pid_file)]
    env_file = tmp_path / "gw-new.env"
    runner = CliRunner()

    added = runner.invoke(
        linli,
        [
            "gateway",
            "add",
            "gw-new",
            "--community",
            "oak",
            "--zone",
            "north",
            "--out",
            str(env_file),
            "--broker-host",
            "127.0.0.1",
            "--broker-port",
            str(broker.port),
            *database,
            *files,
        ],
    )
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert settings["LINLI_EDGE_GATEWAY_ID"] == "gw-new"
    assert settings["LINLI_EDGE_CLOUD_PORT"] == str(broker.port)
    new = as_user(settings["LINLI_EDGE_CLOUD_USERNAME"], settings["LINLI_EDGE_CLOUD_PASSWORD"])

    asyncio.run(until_connects(broker, new, True))
    with services.sessions() as session:
        gateway = session.get_one(Gateway, "gw-new")
        assert gateway.community_id is not None and gateway.retired_at is None
    listed = runner.invoke(linli, ["gateway", "list", *database])
    assert "gw-new\tlive" in listed.output

    revoked = runner.invoke(linli, ["gateway", "revoke", "gw-new", *database, *files])
    assert revoked.exit_code == 0, revoked.output

    asyncio.run(until_connects(broker, new, False))
    with services.sessions() as session:
        assert session.get_one(Gateway, "gw-new").retired_at is not None
    unknown = runner.invoke(linli, ["gateway", "add", "gw-x", "--community", "nowhere", *database])
    assert unknown.exit_code == 1 and "no community 'nowhere'" in unknown.output
