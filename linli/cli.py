"""``linli``: one command, each subcommand owned by its package."""

from __future__ import annotations

import typer

from cloud.access.cli import broker_app, gateway_app
from cloud.cli import app as cloud_app
from cloud.register.cli import app as site_app
from device_profiles.cli import app as profiles_app
from edge_agent.cli import app as edge_app
from linli.demo import demo
from simulators.cli import app as sim_app

app = typer.Typer(
    name="linli",
    help="Linli keeps a residential community's shared facilities working.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(help="Run the whole system on one machine: brokers, cloud, edge agent, simulator.")(
    demo
)
app.add_typer(
    cloud_app, name="cloud", help="The cloud service: ingest, health, tickets, REST API, web UI."
)
app.add_typer(edge_app, name="edge", help="The edge agent that runs on a community gateway.")
app.add_typer(sim_app, name="sim", help="Simulated devices and fault injection.")
app.add_typer(
    profiles_app,
    name="profiles",
    help="Device profiles: list, show, validate, try a payload, export the JSON Schema.",
)
app.add_typer(
    site_app, name="site", help="Site files: a community's zones, facilities, devices, people."
)

app.add_typer(
    gateway_app,
    name="gateway",
    help="Gateways of the cloud broker: add one (register, broker account, edge config), "
    "revoke one, list them.",
)
app.add_typer(
    broker_app, name="broker", help="The cloud broker's password file and ACL, from the register."
)


def main() -> None:
    app()
