"""``python -m edge_agent run ...``: the same commands as ``linli edge``."""

from edge_agent.cli import app

app(prog_name="python -m edge_agent")
