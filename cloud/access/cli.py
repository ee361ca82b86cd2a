"""``linli gateway`` and ``linli broker``: a gateway from nothing to sending data securely in
one command, and the broker's password file and ACL kept as the register says.

``linli gateway add`` provisions the gateway for its community, gives it a broker account,
writes the broker's files anew (``--broker-dir``, and tells the broker to read them with
``--broker-pid-file``) and writes the edge agent's environment file with the password in it
(shown nowhere else). ``linli gateway revoke`` takes all that away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloud.options import OPTIONS, DatabaseUrl, DataDir

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cloud.config import CloudSettings

gateway_app = typer.Typer(
    help="Gateways of the cloud broker: add one (register, broker account, edge config), "
    "revoke one, list them.",
    no_args_is_help=True,
    add_completion=False,
)
broker_app = typer.Typer(
    help="The cloud broker's password file and ACL, written from the register.",
    no_args_is_help=True,
    add_completion=False,
)

BrokerDir = Annotated[
    Path | None, OPTIONS.option("broker_dir", "--broker-dir", metavar="DIR", file_okay=False)
]
BrokerPidFile = Annotated[
    Path | None, OPTIONS.option("broker_pid_file", "--broker-pid-file", metavar="FILE")
]
MqttUser = Annotated[str | None, OPTIONS.option("mqtt_username", "--mqtt-username", metavar="NAME")]


def _opened(
    data_dir: Path | None,
    database_url: str | None,
    broker_dir: Path | None,
    broker_pid_file: Path | None,
) -> tuple[CloudSettings, sessionmaker[Session]]:
    """A command's settings, and sessions of its database (brought up to date)."""
    from cloud.register.cli import sessions_of

    settings = OPTIONS.build(
        data_dir=data_dir,
        database_url=database_url,
        broker_dir=broker_dir,
        broker_pid_file=broker_pid_file,
    )
    return settings, sessions_of(settings)


def _fail(command: str, message: str) -> typer.Exit:
    typer.echo(f"linli {command}: {message}", err=True)
    return typer.Exit(1)


def _write_broker_files(session: Session, settings: CloudSettings, command: str) -> None:
    """The broker's files anew, if the settings say where; the broker told, if they say
    how."""
    from cloud.access.broker import (
        BrokerAccessError,
        BrokerFiles,
        CloudAccount,
        account_grants,
        cloud_grant,
    )

    if settings.broker_dir is None:
        typer.echo(
            "the broker's files were not written (no --broker-dir / LINLI_CLOUD_BROKER_DIR): "
            "run `linli broker config` where the broker reads them"
        )
        return
    grants = account_grants(session)
    if settings.mqtt_username and settings.mqtt_password:
        cloud = CloudAccount(settings.mqtt_username, settings.mqtt_password.get_secret_value())
        grants.insert(0, cloud_grant(cloud))
    else:
        typer.echo(
            "warning: no LINLI_CLOUD_MQTT_USERNAME and _PASSWORD: the files give the cloud "
            "itself no account",
            err=True,
        )
    files = BrokerFiles(settings.broker_dir)
    files.write(grants)
    typer.echo(f"broker files written in {files.directory} ({len(grants)} account(s))")
    if settings.broker_pid_file is not None:
        try:
            pid = BrokerFiles.reload(settings.broker_pid_file)
        except BrokerAccessError as exc:
            raise _fail(command, str(exc)) from None
        typer.echo(f"broker (pid {pid}) told to read them again")
    else:
        typer.echo("reload the broker now (e.g. systemctl reload mosquitto, or SIGHUP)")


def _edge_env(
    gateway_id: str, password: str, host: str, port: int, tls: bool, ca_file: Path | None
) -> str:
    lines = [
        "# the edge agent's settings for this gateway (linli gateway add); keep it secret",
        f"LINLI_EDGE_GATEWAY_ID={gateway_id}",
        f"LINLI_EDGE_CLOUD_HOST={host}",
        f"LINLI_EDGE_CLOUD_PORT={port}",
        f"LINLI_EDGE_CLOUD_USERNAME={gateway_id}",
        f"LINLI_EDGE_CLOUD_PASSWORD={password}",
    ]
    if tls or ca_file is not None:
        lines.append("LINLI_EDGE_CLOUD_TLS=true")
    if ca_file is not None:
        lines.append(f"LINLI_EDGE_CLOUD_CA_FILE={ca_file}")
    return "\n".join(lines) + "\n"


@gateway_app.command(
    "add",
    help="Provision gateway NAME for community --community, give it a broker account that "
    "may publish only under its own topics, write the broker's files anew, and write the "
    "edge agent's environment file (--out; it holds the password, shown nowhere else). "
    "Adding a gateway again gives it a new password; one the register has keeps its name, "
    "zone (unless --zone) and what becomes of its new devices.",
)
def add_gateway(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the gateway's id")],
    community: Annotated[str, typer.Option("--community", metavar="SLUG", help="its community")],
    zone: Annotated[
        str | None, typer.Option("--zone", metavar="SLUG", help="the zone it stands in")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="the edge agent's file (default NAME.env)"),
    ] = None,
    broker_host: Annotated[
        str | None,
        typer.Option(
            "--broker-host",
            metavar="HOST",
            help="the cloud broker as the gateway reaches it (default: the cloud's mqtt_host)",
        ),
    ] = None,
    broker_port: Annotated[
        int | None, typer.Option("--broker-port", metavar="PORT", help="default: mqtt_port")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file", metavar="FILE", help="the CA the gateway checks the broker by (TLS)"
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    broker_dir: BrokerDir = None,
    broker_pid_file: BrokerPidFile = None,
) -> None:
    import os
    import re

    from sqlalchemy import select

    from cloud.access.broker import BrokerAccessError, add_gateway_account
    from cloud.db.models import Gateway, NewDevices
    from cloud.db.register import Community, Zone
    from cloud.register.gateways import RegisterConflict, provision_gateway
    from device_profiles.protocol import GATEWAY_ID_PATTERN

    if not re.match(GATEWAY_ID_PATTERN, name):
        raise _fail("gateway add", f"{name!r} is not a gateway id (letters, digits, . _ -)")
    settings, sessions = _opened(data_dir, database_url, broker_dir, broker_pid_file)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        found = session.scalar(select(Community).where(Community.slug == community))
        if found is None or found.archived_at is not None:
            raise _fail("gateway add", f"no community {community!r} in the register")
        zone_id = None
        if zone is not None:
            zone_id = session.scalar(
                select(Zone.id).where(Zone.community_id == found.id, Zone.slug == zone)
            )
            if zone_id is None:
                raise _fail("gateway add", f"community {community!r} has no zone {zone!r}")
        try:
            known = session.get(Gateway, name)
            if known is not None and known.community_id == found.id:
                # one the register has (from a site file) keeps its name, zone and policy
                called, kept_zone, policy = known.name, known.zone_id, NewDevices(known.new_devices)
            else:
                called, kept_zone, policy = name, None, NewDevices.OWN_FACILITY
            gateway, _ = provision_gateway(
                session,
                name,
                found.id,
                name=called,
                zone_id=zone_id if zone is not None else kept_zone,
                new_devices=policy,
                now=now,
                revive=True,
            )
            password = add_gateway_account(session, gateway, now)
        except (RegisterConflict, BrokerAccessError) as exc:
            raise _fail("gateway add", str(exc)) from None
        session.flush()
        _write_broker_files(session, settings, "gateway add")
    target = out or Path(f"{name}.env")
    text = _edge_env(
        name,
        password,
        broker_host or settings.mqtt_host,
        broker_port or settings.mqtt_port,
        settings.mqtt_tls,
        ca_file,
    )
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file there before keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    typer.echo(f"gateway {name} added to {community}; its edge agent's settings: {target}")
    typer.echo(
        "on the gateway: install it as /etc/linli/edge.env and start linli-edge (docs/edge.md)"
    )


@gateway_app.command(
    "revoke",
    help="Retire gateway NAME (its devices and history stay) and take its broker account "
    "away; the broker's files are written anew, after which its connections are refused.",
)
def revoke_gateway(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the gateway's id")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    broker_dir: BrokerDir = None,
    broker_pid_file: BrokerPidFile = None,
) -> None:
    from cloud.access.broker import revoke_account
    from cloud.db.models import Gateway
    from cloud.register.gateways import retire_gateway

    settings, sessions = _opened(data_dir, database_url, broker_dir, broker_pid_file)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        gateway = session.get(Gateway, name)
        if gateway is None:
            raise _fail("gateway revoke", f"no gateway {name!r} in the register")
        retired = retire_gateway(gateway, now)
        revoked = revoke_account(session, name, now)
        session.flush()
        _write_broker_files(session, settings, "gateway revoke")
    said = "retired and its broker account revoked" if revoked else "retired (it had no account)"
    typer.echo(f"gateway {name} {said if retired or revoked else 'was already revoked'}")


@gateway_app.command("list", help="The gateways with a broker account, and whether it is live.")
def list_gateways(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    from sqlalchemy import select

    from cloud.access.broker import GATEWAY
    from cloud.db.access import BrokerAccount
    from cloud.register.cli import _sessions

    with _sessions(data_dir, database_url)() as session:
        accounts = session.scalars(
            select(BrokerAccount)
            .where(BrokerAccount.kind == GATEWAY)
            .order_by(BrokerAccount.username)
        )
        for account in accounts:
            state = f"revoked {account.revoked_at:%Y-%m-%d}" if account.revoked_at else "live"
            typer.echo(f"{account.username}\t{state}")


@broker_app.command(
    "config",
    help="Write the broker's password file, ACL and linli.conf (include it in mosquitto.conf) "
    "from the register: the cloud's account (LINLI_CLOUD_MQTT_USERNAME and _PASSWORD), every "
    "live gateway's and integration's. Tells the broker to read them with --broker-pid-file.",
)
def broker_config(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    broker_dir: BrokerDir = None,
    broker_pid_file: BrokerPidFile = None,
) -> None:

    settings, sessions = _opened(data_dir, database_url, broker_dir, broker_pid_file)
    if settings.broker_dir is None:
        raise _fail("broker config", "say where: --broker-dir or LINLI_CLOUD_BROKER_DIR")
    with sessions() as session:
        _write_broker_files(session, settings, "broker config")


@broker_app.command(
    "integration",
    help="Give an integration of a community (a building's message board) an account that "
    "reads the community's notices (linli/community/SLUG/#); prints its password once. "
    "USER has an @, e.g. board@oak.",
)
def add_integration(
    username: Annotated[str, typer.Argument(metavar="USER")],
    community: Annotated[str, typer.Option("--community", metavar="SLUG")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    broker_dir: BrokerDir = None,
    broker_pid_file: BrokerPidFile = None,
) -> None:
    from sqlalchemy import select

    from cloud.access.broker import BrokerAccessError, add_integration_account
    from cloud.db.register import Community

    settings, sessions = _opened(data_dir, database_url, broker_dir, broker_pid_file)
    with sessions.begin() as session:
        found = session.scalar(select(Community).where(Community.slug == community))
        if found is None:
            raise _fail("broker integration", f"no community {community!r} in the register")
        try:
            password = add_integration_account(session, username, found, datetime.now(UTC))
        except BrokerAccessError as exc:
            raise _fail("broker integration", str(exc)) from None
        session.flush()
        _write_broker_files(session, settings, "broker integration")
    typer.echo(f"{username} reads linli/community/{community}/#; its password: {password}")
