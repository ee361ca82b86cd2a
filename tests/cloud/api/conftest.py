"""A database seeded with a small community: faults of every priority and healthy devices."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud.db.models import Ticket
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.helpers import BUTTON, GATE, LIGHT, at, batch, item

SEED = [
    # (profile, example, device, minute): devices as in the profile examples
    (GATE, "motor_jammed", "gate-01", 0),  # high, faulty
    (BUTTON, "help_requested", "sos-02", 0),  # urgent, faulty
    (LIGHT, "lamp_failure", "light-07", 1),  # normal, faulty
    (GATE, "door_forced", "gate-02", 2),  # normal, degraded
    (BUTTON, "battery_low", "sos-04", 0),  # low, degraded
    (LIGHT, "normal_on", "light-01", 0),  # ok, no ticket
]


@pytest.fixture
def seeded(services: Services, catalogue: Catalogue) -> dict[str, int]:
    """Writes SEED (gateway gw-1) plus one healthy gate behind gw-2; ticket id by fault."""
    items = [
        item(catalogue, p, name, ts=at(minute), device_id=device)
        for p, name, device, minute in SEED
    ]
    services.writer.write(batch("gw-1", 1, items))
    services.writer.write(batch("gw-2", 1, [item(catalogue, GATE, "normal", device_id="gate-9")]))
    with services.sessions() as session:
        return {t.fault: t.id for t in session.scalars(select(Ticket))}
