"""Fixtures for cloud tests: wired services per test on a fresh database, SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.access.desk import AccessDesk
from cloud.access.roles import Role
from cloud.app import create_app
from cloud.config import CloudSettings
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import Site
from linli.influxdb import InfluxServer
from linli.postgres import PostgresCluster


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The built-in profiles."""
    return Catalogue.load()


def build_services(
    data_dir: Path, catalogue: Catalogue, database_url: str | None = None, **settings: object
) -> Services:
    """The services of a cloud process on that database, :data:`TEST_GATEWAYS` provisioned.

    An app made of them runs no repair rounds and no silence sweeps by itself (unless
    ``settings`` say how often): the tests run them at the times they choose, and a round
    the clock brought in the middle of a test would add its escalations to what the test
    checks (the readings of the tests are from 2025: every target is long missed)."""
    settings = {"repair_check_s": 0.0, "silence_check_s": 0.0, **settings}
    config = CloudSettings(data_dir=data_dir, database_url=database_url, **settings)  # type: ignore[arg-type]
    services = Services.build(config, catalogue)
    provision_test_gateways(services)
    return services


TEST_GATEWAYS = ("gw-0", "gw-1", "gw-2", "gw-7", "gw-9", "gw-cli", "gw-test", "gw-unit")
"""The gateways the cloud tests send from, provisioned in every test's database (community
``tests``) and taking each new device as a facility of its own. Tests of provisioning
itself use other ids."""


def provision_test_gateways(services: Services) -> None:
    site = Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": "tests", "name": "Tests"},
            "gateways": {g: {"new_devices": "own-facility"} for g in TEST_GATEWAYS},
        }
    )
    with services.sessions.begin() as session:
        apply_site(session, site, datetime.now(UTC), services.tickets)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    """A database file migrated once; each test starts from a copy (faster than migrating)."""
    directory = tmp_path_factory.mktemp("template")
    build_services(directory, catalogue, ingest=False).close()
    assert not (directory / "linli.db-wal").exists(), "closing must checkpoint the WAL"
    return directory / "linli.db"


@pytest.fixture(scope="session")
def postgres_template(
    postgres_cluster: PostgresCluster,
    catalogue: Catalogue,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A PostgreSQL database migrated once; each test's database is a copy of it. Its name
    is its own: another directory's conftest may take this fixture as its own too."""
    name = f"linli_template_{uuid.uuid4().hex[:8]}"
    url = postgres_cluster.create_database(name)
    build_services(tmp_path_factory.mktemp("pg"), catalogue, database_url=url, ingest=False).close()
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_db: Path
) -> Iterator[str | None]:
    """The database of one test, on each engine the cloud runs on: a URL, or None for a
    SQLite file in the test's data directory (a copy of the migrated template)."""
    if request.param == "sqlite":
        data_dir = tmp_path / "cloud"
        data_dir.mkdir()
        shutil.copyfile(migrated_db, data_dir / "linli.db")
        yield None
        return
    with _postgres_database(request) as url:
        yield url


@contextmanager
def _postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database in the tests' PostgreSQL cluster, migrated; its URL."""
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    template: str = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = cluster.create_database(name, template=template)
    try:
        yield url
    finally:
        cluster.drop_database(name)


@pytest.fixture
def services(tmp_path: Path, catalogue: Catalogue, database: str | None) -> Iterator[Services]:
    """Services without ingest, on SQLite and on PostgreSQL (a fresh database each)."""
    data_dir = tmp_path / "cloud"
    data_dir.mkdir(exist_ok=True)
    built = build_services(data_dir, catalogue, database_url=database, ingest=False)
    yield built
    built.close()


@pytest.fixture
def postgres_services(
    request: pytest.FixtureRequest, tmp_path: Path, catalogue: Catalogue
) -> Iterator[Services]:
    """Services on PostgreSQL alone, for what needs writers that overlap (SQLite runs one
    writer at a time)."""
    with _postgres_database(request) as url:
        built = build_services(tmp_path / "postgres", catalogue, database_url=url, ingest=False)
        yield built
        built.close()


@pytest.fixture
def sqlite_services(tmp_path: Path, catalogue: Catalogue, migrated_db: Path) -> Iterator[Services]:
    """Services on a SQLite file alone, for what only SQLite has (its file, its locks)."""
    data_dir = tmp_path / "sqlite"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / "linli.db")
    built = build_services(data_dir, catalogue, ingest=False)
    yield built
    built.close()


ADMIN_PASSWORD = "an-admin-password-for-tests"


def make_account(
    services: Services,
    username: str,
    role: Role,
    community_id: int | None = None,
    password: str = ADMIN_PASSWORD,
    person_id: int | None = None,
) -> None:
    with services.sessions.begin() as session:
        AccessDesk.create_account(
            session, username, password, role, community_id, datetime.now(UTC), person_id
        )


def log_in(client: TestClient, username: str, password: str = ADMIN_PASSWORD) -> None:
    """Log ``client`` in; it then sends the session's CSRF token with every request."""
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The API and web UI, logged in as an operator admin."""
    make_account(services, "admin", Role.OPERATOR_ADMIN)
    with TestClient(create_app(services)) as test_client:
        log_in(test_client, "admin")
        yield test_client


@pytest.fixture
def influx_services(
    tmp_path: Path, catalogue: Catalogue, migrated_db: Path, influx_server: InfluxServer
) -> Iterator[Services]:
    """Services keeping telemetry in InfluxDB (a database of its own), state in SQLite."""
    data_dir = tmp_path / "influx"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / "linli.db")
    built = build_services(
        data_dir,
        catalogue,
        ingest=False,
        telemetry_store="influxdb",
        influxdb_url=influx_server.url,
        influxdb_database=f"t_{uuid.uuid4().hex[:16]}",
    )
    yield built
    built.close()


@pytest.fixture(params=["sqlite", "postgresql", "influxdb"])
def any_store_services(
    request: pytest.FixtureRequest, tmp_path: Path, catalogue: Catalogue, migrated_db: Path
) -> Iterator[Services]:
    """Services keeping telemetry in each store: SQLite, PostgreSQL, InfluxDB (with SQLite)."""
    if request.param == "influxdb":
        yield request.getfixturevalue("influx_services")
        return
    data_dir = tmp_path / "any"
    data_dir.mkdir()
    if request.param == "sqlite":
        shutil.copyfile(migrated_db, data_dir / "linli.db")
        built = build_services(data_dir, catalogue, ingest=False)
        yield built
        built.close()
        return
    with _postgres_database(request) as url:
        built = build_services(data_dir, catalogue, database_url=url, ingest=False)
        yield built
        built.close()
