"""Fixtures for cloud tests: a fresh SQLite database and wired services per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.app import create_app
from cloud.config import CloudSettings
from cloud.services import Services
from device_profiles import Catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The built-in profiles."""
    return Catalogue.load()


def build_services(data_dir: Path, catalogue: Catalogue, **settings: object) -> Services:
    config = CloudSettings(data_dir=data_dir, database_url=None, **settings)  # type: ignore[arg-type]
    return Services.build(config, catalogue)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    """A database file migrated once; each test starts from a copy (faster than migrating)."""
    directory = tmp_path_factory.mktemp("template")
    build_services(directory, catalogue, ingest=False).close()
    assert not (directory / "linli.db-wal").exists(), "closing must checkpoint the WAL"
    return directory / "linli.db"


@pytest.fixture
def services(tmp_path: Path, catalogue: Catalogue, migrated_db: Path) -> Iterator[Services]:
    """Services on a fresh SQLite file (a copy of the migrated template), without ingest."""
    data_dir = tmp_path / "cloud"
    data_dir.mkdir()
    shutil.copyfile(migrated_db, data_dir / "linli.db")
    built = build_services(data_dir, catalogue, ingest=False)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client
