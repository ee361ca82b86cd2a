"""Commands from the cloud: checked, dead-lettered when unusable, queued for their device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_profiles import Catalogue
from tests.edge_agent.helpers import agent_for, dead_letters


@pytest.mark.parametrize(
    ("payload", "retained", "reason"),
    [
        (b"not json", False, "Invalid JSON"),
        (b'{"v": 1, "id": "cmd-00001", "command": "open"}', False, "device_id"),
        (b'{"v": 1, "id": "cmd-00001", "device_id": "a/b", "command": "open"}', False,
         "cannot be a topic level"),
        (b'{"v": 1, "id": "cmd-00001", "device_id": "g1", "command": "open"}', True, "retained"),
    ],
)  # fmt: skip
def test_an_unusable_command_is_a_dead_letter(
    tmp_path: Path, catalogue: Catalogue, payload: bytes, retained: bool, reason: str
) -> None:
    agent = agent_for(tmp_path, catalogue)
    assert agent.process_command(payload, retained=retained) is False
    (entry,) = dead_letters(agent)
    assert entry["category"] == "command"
    assert entry["topic"] == "linli/v1/gw/gw-unit/down/command"
    assert reason in entry["reason"]
    assert agent.counters["commands_received"] == 0


def test_a_valid_command_is_accepted(tmp_path: Path, catalogue: Catalogue) -> None:
    agent = agent_for(tmp_path, catalogue)
    command = {"v": 1, "id": "cmd-00001", "device_id": "g1", "command": "open", "args": {"s": 5}}
    assert agent.process_command(json.dumps(command).encode()) is True
    assert agent.counters["commands_received"] == 1
    assert not (tmp_path / "deadletter.jsonl").exists()
