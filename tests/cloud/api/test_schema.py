"""Schemathesis against /openapi.json, every check on, authenticated: no server error, no
answer outside the schema. Bounded: a few dozen examples per operation, no deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from cloud.access.roles import SCOPES, Role
from cloud.app import create_app
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import load_site
from tests.cloud.conftest import make_account
from tests.cloud.helpers import BUTTON, GATE, batch, item
from tests.cloud.register.test_sites import EXAMPLE

EXAMPLES = 50
NEVER_ENDING = {"/api/v1/events/stream"}
"""Operations whose answer goes on until the client leaves (server-sent events): a test
client reading them whole would wait forever; tests/cloud/api/test_events.py reads them."""


@pytest.fixture
def api(sqlite_services: Services, catalogue: Catalogue) -> tuple[FastAPI, str]:
    """The app on a small community with tickets, and an operator's token with every scope."""
    services = sqlite_services
    with services.sessions.begin() as session:
        apply_site(session, load_site(EXAMPLE), datetime.now(UTC), services.tickets)
    services.writer.write(
        batch(
            "gw-north",
            1,
            [
                item(catalogue, GATE, "motor_jammed", device_id="gate-01"),
                item(catalogue, BUTTON, "help_requested", device_id="sos-02"),
            ],
        )
    )
    make_account(services, "admin", Role.OPERATOR_ADMIN)
    with services.sessions() as session:
        from cloud.db.models import Account

        admin = session.query(Account).one()
    from cloud.access.roles import Principal

    issuer = Principal("admin", Role.OPERATOR_ADMIN, None, account_id=admin.id)
    token = services.access.issue_token(issuer, "schemathesis", SCOPES, None, datetime.now(UTC))
    return create_app(services), token.token


def test_every_operation_answers_within_its_schema(api: tuple[FastAPI, str]) -> None:
    app, token = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:
        if operation.path in NEVER_ENDING:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_within_its_schema(case: Any) -> None:
            case.call_and_validate(headers=headers)

        answers_within_its_schema()
