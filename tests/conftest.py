"""Shared fixtures: real Mosquitto brokers on free loopback ports, started and stopped here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.influxdb import InfluxError, InfluxServer, find_influxd
from linli.mosquitto import BrokerError, Mosquitto, find_mosquitto
from linli.postgres import PostgresCluster, PostgresError, find_postgres_bin


def _missing(exc: Exception) -> None:
    """Skip a test whose service is missing — but fail under CI=true, where nothing may skip
    silently."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a required service is missing: {exc}")
    pytest.skip(str(exc))


def require_mosquitto() -> None:
    """Skip without Mosquitto (fail under CI=true)."""
    try:
        find_mosquitto()
    except BrokerError as exc:
        _missing(exc)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server, started once per test run (per xdist worker)."""
    try:
        find_postgres_bin()
    except PostgresError as exc:
        _missing(exc)
    with PostgresCluster(name="tests") as cluster:
        yield cluster


@pytest.fixture(scope="session")
def influx_server() -> Iterator[InfluxServer]:
    """A throwaway InfluxDB 1.x (``influxd``), started once per test run (per xdist worker)."""
    try:
        find_influxd()
    except InfluxError as exc:
        _missing(exc)
    with InfluxServer(name="tests") as server:
        yield server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh Mosquitto for one test."""
    require_mosquitto()
    with Mosquitto(name="test", log_dir=tmp_path) as server:
        yield server


@pytest.fixture
def gateway_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """The gateway's local broker (devices → edge agent)."""
    require_mosquitto()
    with Mosquitto(name="gateway", log_dir=tmp_path) as server:
        yield server


@pytest.fixture
def cloud_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """The cloud broker (edge agent → cloud ingest)."""
    require_mosquitto()
    with Mosquitto(name="cloud", log_dir=tmp_path) as server:
        yield server
