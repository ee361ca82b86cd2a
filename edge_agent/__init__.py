"""Linli edge agent: runs on a community gateway, between the devices and the cloud.

It decodes device messages from the gateway's local MQTT broker with the device profiles,
forwards them to the cloud broker in batches (alarms first), keeps what it cannot decode in
a dead-letter log, reports the gateway's status and relays commands down to devices.

What it holds: :mod:`~edge_agent.agent`, which puts the rest together, with its settings
(:mod:`~edge_agent.config`); device messages in (:mod:`~edge_agent.local_link`,
:mod:`~edge_agent.intake`, :mod:`~edge_agent.memory`, :mod:`~edge_agent.profiles`); the
durable outbox (:mod:`~edge_agent.outbox`, :mod:`~edge_agent.outbox_db`, its disk budget
:mod:`~edge_agent.budget` and the data gaps it declares, :mod:`~edge_agent.gaps`); the cloud
side (:mod:`~edge_agent.cloud_link`, and commands relayed down, :mod:`~edge_agent.commands`);
what it keeps and shows (:mod:`~edge_agent.deadletter`, :mod:`~edge_agent.status`,
:mod:`~edge_agent.report`, :mod:`~edge_agent.metrics`); and ``linli edge``
(:mod:`~edge_agent.cli`).

It imports ``plumbing`` and ``device_profiles`` only, never ``cloud``, ``simulators`` or
``linli``: it talks to the cloud over MQTT, in the protocol of :mod:`device_profiles.protocol`
(``tests/test_layering.py``). The exports are loaded on first use, so ``linli --help`` does
not import the agent.
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
