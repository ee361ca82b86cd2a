"""``linli site``: check site files (the register's own commands follow them here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
