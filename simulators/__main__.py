"""``python -m simulators`` runs the simulator CLI without the ``linli`` front door."""

from simulators.cli import app

app(prog_name="linli-sim")
