"""``linli cloud``: run the cloud service or migrate its database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloud.config import CloudSettings

if TYPE_CHECKING:
    from cloud.services import Services

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _settings(**overrides: object) -> CloudSettings:
    from pydantic import ValidationError

    try:
        return CloudSettings.model_validate({k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            typer.echo(f"cloud settings: {field}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _services(settings: CloudSettings) -> Services:
    from cloud.services import Services
    from device_profiles import ProfileError

    try:
        return Services.build(settings)
    except ProfileError as exc:
        for issue in exc.issues:
            typer.echo(f"invalid profile: {issue}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="HTTP bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8080)")] = None,
    mqtt_host: Annotated[str | None, typer.Option(help="cloud broker host")] = None,
    mqtt_port: Annotated[int | None, typer.Option(help="cloud broker port (default 1883)")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="data directory (default var/cloud)")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default SQLite in the data directory)")
    ] = None,
    ingest: Annotated[bool, typer.Option(help="run an ingest worker in this process")] = True,
    profiles_dir: Annotated[
        list[Path] | None, typer.Option(help="extra profile directory (repeatable)")
    ] = None,
) -> None:
    """Serve the REST API and web UI, and ingest edge batches from the cloud broker.

    Every option can also be set as LINLI_CLOUD_<OPTION> in the environment.
    """
    import logging

    import uvicorn

    from cloud.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = _settings(
        host=host,
        port=port,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        data_dir=data_dir,
        database_url=database_url,
        ingest=ingest,
        profiles_dirs=profiles_dir,
    )
    services = _services(settings)
    application = create_app(services)
    try:
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_level="warning",
        )
    finally:
        services.close()
    sys.exit(0)


@app.command()
def migrate(
    data_dir: Annotated[Path | None, typer.Option(help="data directory")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL")] = None,
) -> None:
    """Bring the database schema up to date (the service also does this at start)."""
    from cloud.db.engine import make_engine
    from cloud.db.engine import migrate as upgrade

    settings = _settings(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.sqlalchemy_url())
    upgrade(engine)
    engine.dispose()
    typer.echo("database schema is up to date")
