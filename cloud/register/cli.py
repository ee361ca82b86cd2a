"""``linli site``: check site files, apply them to the register, export a community."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloud.options import OPTIONS, DatabaseUrl, DataDir

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cloud.config import CloudSettings

app = typer.Typer(
    help="Site files: one community's zones, facilities, devices, gateways and people.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def site() -> None:
    """Site files: one community's zones, facilities, devices, gateways and people."""


@app.command(
    help="Check site files: every problem as FILE:LINE: FIELD: MESSAGE. Exit code 1 if "
    "any file has a problem. The format: docs/sites.md; its JSON Schema: `linli profiles "
    "schema --of site`."
)
def validate(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="site files")],
) -> None:
    from device_profiles.site import SiteError, load_site

    failed = 0
    for path in files:
        try:
            site = load_site(path)
        except SiteError as exc:
            failed += 1
            for issue in exc.issues:
                typer.echo(str(issue))
            continue
        devices = sum(len(facility.devices) for facility in site.facilities.values())
        typer.echo(
            f"{path}: ok — community {site.community.id}: {len(site.zones)} zone(s), "
            f"{len(site.facilities)} facilities with {devices} device(s), "
            f"{len(site.gateways)} gateway(s), {len(site.people)} people"
        )
    if failed:
        raise typer.Exit(1)


def _sessions(data_dir: Path | None, database_url: str | None) -> sessionmaker[Session]:
    return sessions_of(OPTIONS.build(data_dir=data_dir, database_url=database_url))


def sessions_of(settings: CloudSettings) -> sessionmaker[Session]:
    """Sessions of the settings' database, brought up to date first (for a command)."""
    from cloud.db.engine import make_engine, migrate, session_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url())
    migrate(engine)
    return session_factory(engine)


@app.command(
    help="Make the register say what a site file says: the community, its calendars, SLA "
    "classes, zones, gateways (provisioned for it), facilities with their devices, and "
    "people — created or updated, in one transaction; applying it again changes nothing. "
    "Exit code 1 if the file has a problem or contradicts the register."
)
def apply(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="the site file")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    from datetime import UTC, datetime

    from cloud.metrics import CloudMetrics
    from cloud.register.gateways import RegisterConflict
    from cloud.register.sites import apply_site
    from cloud.repair.desk import TicketDesk
    from device_profiles.catalogue import Catalogue
    from device_profiles.site import SiteError, load_site

    try:
        site = load_site(file)
    except SiteError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(1) from None
    sessions = _sessions(data_dir, database_url)
    settings = OPTIONS.build(data_dir=data_dir, database_url=database_url)
    tickets = TicketDesk(CloudMetrics(), Catalogue.load(settings.profiles_dirs))
    try:
        with sessions.begin() as session:
            result = apply_site(session, site, datetime.now(UTC), tickets, actor=f"site:{file}")
    except RegisterConflict as exc:
        typer.echo(f"linli site apply: {file}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        sessions.kw["bind"].dispose()
    typer.echo(f"{file}: community {site.community.id}: {result.summary() or 'nothing changed'}")


@app.command(help="Write a community of the register as a site file (to stdout, or --output).")
def export(
    community: Annotated[str, typer.Argument(metavar="COMMUNITY", help="the community's id")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="write it here")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    from cloud.register.site_export import export_site
    from device_profiles.site import site_text

    sessions = _sessions(data_dir, database_url)
    try:
        with sessions() as session:
            site = export_site(session, community)
    except LookupError as exc:
        typer.echo(f"linli site export: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        sessions.kw["bind"].dispose()
    text = site_text(site, heading="written by linli site export")
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
