"""Linli edge agent: runs on a community gateway, between the devices and the cloud.

It decodes device messages from the gateway's local MQTT broker with the device profiles,
forwards them to the cloud broker in batches (alarms first), keeps what it cannot decode in
a dead-letter log, reports the gateway's status and relays commands down to devices.

The exports are loaded on first use, so ``linli --help`` does not import the agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_agent.agent import EdgeAgent
    from edge_agent.config import EdgeSettings

__all__ = ["EdgeAgent", "EdgeSettings"]


def __getattr__(name: str) -> Any:
    if name == "EdgeAgent":
        from edge_agent.agent import EdgeAgent

        return EdgeAgent
    if name == "EdgeSettings":
        from edge_agent.config import EdgeSettings

        return EdgeSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
