"""``linli cloud``: run the cloud service or migrate its database.

Every option is a setting of :class:`~cloud.config.CloudSettings`: an option given
overrides its ``LINLI_CLOUD_*`` environment variable, which overrides the default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloud.config import CloudSettings
from plumbing.settings import LogLevel, SettingsOptions, configure_logging

if TYPE_CHECKING:
    from cloud.services import Services

app = typer.Typer(
    help="The cloud service: ingest, facility health, tickets, REST API and web UI.",
    no_args_is_help=True,
    add_completion=False,
)

OPTIONS = SettingsOptions(CloudSettings, program="linli cloud")

DataDir = Annotated[
    Path | None, OPTIONS.option("data_dir", "--data-dir", metavar="DIR", file_okay=False)
]
DatabaseUrl = Annotated[str | None, OPTIONS.option("database_url", "--database-url", metavar="URL")]


def _services(settings: CloudSettings) -> Services:
    from cloud.services import Services
    from device_profiles import ProfileError

    try:
        return Services.build(settings)
    except ProfileError as exc:
        for issue in exc.issues:
            typer.echo(f"linli cloud: invalid profile: {issue}", err=True)
        raise typer.Exit(2) from None


@app.command(
    help="Serve the REST API and web UI, and ingest edge batches from the cloud broker "
    "(unless --no-ingest). Every option can also be set in the environment, as its help says."
)
def run(
    host: Annotated[str | None, OPTIONS.option("host", "--host", metavar="HOST")] = None,
    port: Annotated[int | None, OPTIONS.option("port", "--port", metavar="PORT")] = None,
    mqtt_host: Annotated[
        str | None, OPTIONS.option("mqtt_host", "--mqtt-host", metavar="HOST")
    ] = None,
    mqtt_port: Annotated[
        int | None, OPTIONS.option("mqtt_port", "--mqtt-port", metavar="PORT")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    ingest: Annotated[bool | None, OPTIONS.option("ingest", "--ingest/--no-ingest")] = None,
    profiles_dir: Annotated[
        list[Path] | None,
        OPTIONS.option("profiles_dirs", "--profiles-dir", metavar="DIR", file_okay=False),
    ] = None,
    log_level: Annotated[
        LogLevel | None, OPTIONS.option("log_level", "--log-level", case_sensitive=False)
    ] = None,
) -> None:
    import uvicorn

    from cloud.app import create_app

    settings = OPTIONS.build(
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
    configure_logging(settings.log_level)
    services = _services(settings)
    application = create_app(services)
    try:
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
    finally:
        services.close()
    sys.exit(0)


@app.command(help="Bring the database schema up to date (the service also does this at start).")
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    from cloud.db.engine import make_engine
    from cloud.db.engine import migrate as upgrade

    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.sqlalchemy_url())
    upgrade(engine)
    engine.dispose()
    typer.echo("database schema is up to date")
