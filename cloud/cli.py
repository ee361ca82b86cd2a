"""``linli cloud``: run the cloud service, migrate its database, look after dead letters.

Every option is a setting of :class:`~cloud.config.CloudSettings`: an option given
overrides its ``LINLI_CLOUD_*`` environment variable, which overrides the default.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cloud.config import CloudSettings
from cloud.options import (
    OPTIONS,
    DatabaseUrl,
    DataDir,
    InfluxDatabase,
    InfluxUrl,
    LogFormatOption,
    LogLevelOption,
    MqttHost,
    MqttPort,
    ProfilesDir,
    TelemetryStoreOption,
)
from plumbing.heap import settle_heap
from plumbing.settings import configure_logging

if TYPE_CHECKING:
    from cloud.services import Services

app = typer.Typer(
    help="The cloud service: ingest, facility health, tickets, REST API and web UI.",
    no_args_is_help=True,
    add_completion=False,
)


def _services(settings: CloudSettings) -> Services:
    from cloud.services import Services
    from cloud.telemetry.store import TelemetryRejected, TelemetryUnavailable
    from device_profiles import ProfileError

    try:
        return Services.build(settings)
    except ProfileError as exc:
        for issue in exc.issues:
            typer.echo(f"linli cloud: invalid profile: {issue}", err=True)
        raise typer.Exit(2) from None
    except (TelemetryUnavailable, TelemetryRejected) as exc:
        typer.echo(f"linli cloud: telemetry store ({settings.telemetry_store}): {exc}", err=True)
        raise typer.Exit(1) from None


def _bootstrap_admin(services: Services) -> None:
    """The operator admin, made at first start; its generated password printed once."""
    from datetime import UTC, datetime

    from cloud.access.desk import AccessError

    settings = services.settings
    given = settings.admin_password.get_secret_value() if settings.admin_password else None
    try:
        told = services.access.bootstrap_admin(settings.data_dir, given, datetime.now(UTC))
    except AccessError as exc:
        typer.echo(f"linli cloud: {exc}", err=True)
        services.close()
        raise typer.Exit(2) from None
    if told:
        typer.echo(f"linli cloud: {told}", err=True)


def _serve(settings: CloudSettings, *, api: bool) -> None:
    """Run the cloud process until it is stopped: the app (with its API or without), its
    ingest worker if the settings ask for one; the heap settled once start-up is done."""
    import uvicorn

    from cloud.app import create_app

    configure_logging(settings.log_level, settings.log_format)
    services = _services(settings)
    if api:
        _bootstrap_admin(services)
    application = create_app(services, api=api)
    settle_heap()
    try:
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
    finally:
        services.close()
    sys.exit(0)


@app.command(
    help="Serve the REST API and web UI, and ingest edge batches from the cloud broker "
    "(unless --no-ingest). Every option can also be set in the environment, as its help says."
)
def run(
    host: Annotated[str | None, OPTIONS.option("host", "--host", metavar="HOST")] = None,
    port: Annotated[int | None, OPTIONS.option("port", "--port", metavar="PORT")] = None,
    mqtt_host: MqttHost = None,
    mqtt_port: MqttPort = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    ingest: Annotated[bool | None, OPTIONS.option("ingest", "--ingest/--no-ingest")] = None,
    telemetry_store: TelemetryStoreOption = None,
    influxdb_url: InfluxUrl = None,
    influxdb_database: InfluxDatabase = None,
    profiles_dir: ProfilesDir = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    settings = OPTIONS.build(
        log_format=log_format,
        telemetry_store=telemetry_store,
        influxdb_url=influxdb_url,
        influxdb_database=influxdb_database,
        host=host,
        port=port,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        data_dir=data_dir,
        database_url=database_url,
        ingest=ingest,
        profiles_dirs=profiles_dir,
        log_level=log_level,
    )
    _serve(settings, api=True)


@app.command(
    help="Run an ingest worker alone, without the REST API and web UI: it takes edge batches "
    "from the cloud broker, sharing them with every other worker of its group, and serves "
    "only /healthz and /metrics on --port. Give each worker its own --client-id (the broker "
    "keeps each one's session). Every option can also be set in the environment."
)
def ingest(
    host: Annotated[
        str | None,
        OPTIONS.option(
            "host", "--host", metavar="HOST", help="address /healthz and /metrics listen on"
        ),
    ] = None,
    port: Annotated[
        int | None,
        OPTIONS.option(
            "port",
            "--port",
            metavar="PORT",
            help="port of /healthz and /metrics (0: any free port)",
        ),
    ] = None,
    mqtt_host: MqttHost = None,
    mqtt_port: MqttPort = None,
    client_id: Annotated[
        str | None, OPTIONS.option("ingest_client_id", "--client-id", metavar="ID")
    ] = None,
    group: Annotated[str | None, OPTIONS.option("ingest_group", "--group", metavar="NAME")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    telemetry_store: TelemetryStoreOption = None,
    influxdb_url: InfluxUrl = None,
    influxdb_database: InfluxDatabase = None,
    profiles_dir: ProfilesDir = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    settings = OPTIONS.build(
        log_format=log_format,
        telemetry_store=telemetry_store,
        influxdb_url=influxdb_url,
        influxdb_database=influxdb_database,
        host=host,
        port=port,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        ingest_client_id=client_id,
        ingest_group=group,
        data_dir=data_dir,
        database_url=database_url,
        profiles_dirs=profiles_dir,
        log_level=log_level,
    )
    # this process ingests; looking for silent devices, rolling telemetry up, the repair
    # rounds and notifications are the API processes' part
    alone = {
        "ingest": True,
        "silence_check_s": 0.0,
        "rollup_check_s": 0.0,
        "repair_check_s": 0.0,
        "notify_check_s": 0.0,
    }
    _serve(settings.model_copy(update=alone), api=False)


@app.command(help="Bring the database schema up to date (the service also does this at start).")
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    from cloud.db.engine import make_engine
    from cloud.db.engine import migrate as upgrade

    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    engine = make_engine(
        settings.sqlalchemy_url(), sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
    )
    upgrade(engine)
    engine.dispose()
    typer.echo("database schema is up to date")


@app.command(
    help="List the web UI's messages (templates and web modules) that a language's catalogue "
    "(cloud/web/locales) lacks; exits 1 if there is one."
)
def untranslated() -> None:
    from cloud.web.i18n import Languages, package_root
    from cloud.web.i18n import untranslated as lacking

    missing = lacking(package_root(), Languages())
    for code, messages in missing.items():
        for message in messages:
            typer.echo(f"{code}: {message}")
    if any(missing.values()):
        raise typer.Exit(1)
    typer.echo("every message is translated")


admin_app = typer.Typer(help="The operator admin's account.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command(
    "reset-password",
    help="Set a new password for an account (the operator admin, unless --username says "
    "another) and end its web sessions. Without --password-stdin a new one is generated and "
    "printed.",
)
def reset_password(
    username: Annotated[str, typer.Option("--username", metavar="NAME")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the new password from stdin")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    from datetime import UTC, datetime

    from cloud.access.desk import AccessDesk, AccessError
    from cloud.access.passwords import new_password
    from cloud.db.engine import make_engine, session_factory
    from cloud.db.engine import migrate as upgrade

    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else new_password()
    engine = make_engine(settings.sqlalchemy_url())
    try:
        upgrade(engine)
        AccessDesk(session_factory(engine)).set_password(username, password, datetime.now(UTC))
    except (LookupError, AccessError) as exc:
        typer.echo(f"linli cloud admin reset-password: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if password_stdin:
        typer.echo(f"new password set for {username}")
    else:
        typer.echo(f"new password for {username}: {password}")


dead_letters_app = typer.Typer(
    help="Messages ingest could not take, kept whole: list them, show one, replay them "
    "through ingest once their cause is fixed.",
    no_args_is_help=True,
)
app.add_typer(dead_letters_app, name="dead-letters")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dead_letters_app.command(
    "list", help="The dead letters waiting for a replay (with --all, replayed ones too)."
)
def list_dead_letters(
    every: Annotated[bool, typer.Option("--all", help="Replayed ones too.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    services = _services(settings)
    try:
        letters = services.dead_letters.listing(limit=limit, replayed=every)
    finally:
        services.close()
    if not letters:
        typer.echo("no dead letters" if every else "no dead letters waiting")
        return
    typer.echo(f"{'ID':>6}  {'AT (UTC)':19}  {'STATE':8}  {'CATEGORY':8}  {'BYTES':>7}  TOPIC")
    for letter in letters:
        state = "waiting" if letter.replayed_at is None else "replayed"
        at = letter.at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{letter.id:>6}  {at:19}  {state:8}  {letter.category:8}  "
            f"{len(letter.payload):>7}  {_one_line(letter.topic, 60)}"
        )
        typer.echo(f"{'':>6}  {_one_line(letter.reason, 100)}")


@dead_letters_app.command(
    "show",
    help="One dead letter: what it is and why, then its payload (with --raw, only the "
    "payload's exact bytes, e.g. to save it to a file).",
)
def show_dead_letter(
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    raw: Annotated[bool, typer.Option("--raw", help="Only the payload, byte for byte.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    services = _services(settings)
    try:
        letter = services.dead_letters.get(letter_id)
    finally:
        services.close()
    if letter is None:
        typer.echo(f"linli cloud: no dead letter {letter_id}", err=True)
        raise typer.Exit(1)
    if raw:
        sys.stdout.buffer.write(letter.payload)
        sys.stdout.buffer.flush()
        return
    replayed = "waiting" if letter.replayed_at is None else f"replayed {letter.replayed_at}"
    for name, value in (
        ("id", letter.id),
        ("at", letter.at),
        ("topic", letter.topic),
        ("gateway", letter.gateway_id or "-"),
        ("category", letter.category),
        ("reason", letter.reason),
        ("state", replayed),
        ("last replay", letter.replay_result or "-"),
        ("bytes", len(letter.payload)),
    ):
        typer.echo(f"{name + ':':13}{value}")
    typer.echo("")
    typer.echo(letter.payload.decode("utf-8", errors="backslashreplace"))


@dead_letters_app.command(
    "replay",
    help="Feed dead letters through ingest again, as if they had just arrived (no broker "
    "needed), and say what became of each. Stored ones are marked replayed; one rejected "
    "again stays waiting, with the new reason. Safe to repeat: nothing is stored twice. "
    "Exit status 1 if any was not stored.",
)
def replay_dead_letters(
    letter_ids: Annotated[
        list[int] | None, typer.Argument(metavar="ID", help="Dead letters to replay.")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every dead letter waiting, oldest first.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    profiles_dir: ProfilesDir = None,
    log_level: LogLevelOption = None,
) -> None:
    from cloud.ingest.replay import replay

    if bool(letter_ids) == every:
        typer.echo("linli cloud: give the dead letters' ids, or --all (not both)", err=True)
        raise typer.Exit(2)
    settings = OPTIONS.build(
        data_dir=data_dir,
        database_url=database_url,
        profiles_dirs=profiles_dir,
        log_level=log_level,
    )
    configure_logging(settings.log_level, settings.log_format)
    services = _services(settings)
    replayed = failed = 0
    try:
        ids = services.dead_letters.waiting_ids() if every else list(letter_ids or [])
        if not ids:
            typer.echo("no dead letters waiting")
            return
        for report in replay(services.dead_letters, services.intake, ids):
            typer.echo(f"dead letter {report.letter_id}: {report.detail}")
            replayed, failed = (replayed + 1, failed) if report.ok else (replayed, failed + 1)
    finally:
        services.close()
    typer.echo(f"{replayed} replayed, {failed} not")
    if failed:
        raise typer.Exit(1)
