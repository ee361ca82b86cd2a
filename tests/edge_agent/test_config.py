"""Edge settings: from the environment, with defaults, and invalid values refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent import EdgeSettings


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINLI_EDGE_GATEWAY_ID", "maple-court")
    monkeypatch.setenv("LINLI_EDGE_CLOUD_PORT", "18830")
    monkeypatch.setenv("LINLI_EDGE_PROFILES_DIRS", json.dumps([str(tmp_path)]))
    settings = EdgeSettings()  # gateway_id comes from the environment
    assert settings.gateway_id == "maple-court"
    assert settings.cloud_port == 18830
    assert settings.profiles_dirs == [tmp_path]
    assert settings.batch_max_items == 500
    assert settings.batch_linger_s == 0.5
    assert settings.status_interval_s == 30
    assert settings.data_dir == Path("var/edge")


@pytest.mark.parametrize(
    "bad",
    [
        {"gateway_id": "has/slash"},
        {"gateway_id": ""},
        {"gateway_id": "gw", "batch_max_items": 0},
        {"gateway_id": "gw", "batch_max_items": 5000},
        {"gateway_id": "gw", "cloud_port": 0},
        {"gateway_id": "gw", "batch_max_items": 100, "outbox_max_items": 10},
    ],
)
def test_invalid_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EdgeSettings(**bad)
