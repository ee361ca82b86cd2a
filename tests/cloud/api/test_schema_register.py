"""Schemathesis on the register's operations as an operator admin logged in (a web session):
what only an operator may do — communities, provisioning, unknown gateways — is reached,
which test_schema's token (scopes, no operator's rights) is refused at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from cloud.access.desk import SESSION_COOKIE
from cloud.access.roles import Role
from cloud.app import create_app
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles.site import load_site
from tests.cloud.conftest import ADMIN_PASSWORD, make_account
from tests.cloud.register.test_sites import EXAMPLE

EXAMPLES = 30
REGISTER = ("communities", "zones", "facilities", "gateways", "unknown-gateways", "people")


@pytest.fixture
def operator_api(sqlite_services: Services) -> tuple[FastAPI, dict[str, str]]:
    """The app on the example community, and the headers of an operator admin's session."""
    services = sqlite_services
    with services.sessions.begin() as session:
        apply_site(session, load_site(EXAMPLE), datetime.now(UTC), services.tickets)
    make_account(services, "root", Role.OPERATOR_ADMIN)
    login = services.access.login("root", ADMIN_PASSWORD, "tests", datetime.now(UTC))
    assert login.principal.csrf_token is not None
    headers = {
        "Cookie": f"{SESSION_COOKIE}={login.cookie}",
        "X-CSRF-Token": login.principal.csrf_token,
    }
    return create_app(services), headers


def test_the_register_answers_an_operator_within_its_schema(
    operator_api: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = operator_api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path.split("/")[3] in REGISTER and "gaps" not in operation.path
    ]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_within_its_schema(case: Any) -> None:
            case.call_and_validate(headers=headers)

        answers_within_its_schema()
