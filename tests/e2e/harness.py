"""Runs Linli as ``linli demo`` does — cloud, edge agent and simulator as separate processes —
against the two test brokers, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from linli.demo import ProcessGroup, apply_simulated_site, linli_command
from linli.mosquitto import Mosquitto
from linli.ports import free_port

T = TypeVar("T")

ADMIN_PASSWORD = "e2e-admin-password"
"""The operator admin's password the cloud is started with; the API client logs in with it."""


@dataclass
class System:
    api: httpx.Client
    processes: ProcessGroup
    gateway_port: int
    edge_dir: Path

    def sim(self, *args: str) -> None:
        """Run a ``linli sim`` control command against the gateway broker."""
        done = subprocess.run(
            linli_command("sim", *args, "--broker-port", str(self.gateway_port)),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr

    def alive(self) -> None:
        exited = self.processes.first_exited()
        assert exited is None, f"{exited[0].name} exited: {exited[0].log_path.read_text()[-2000:]}"


@contextmanager
def system_with_profiles(
    workdir: Path, profiles: Mapping[str, str], **options: Any
) -> Iterator[System]:
    """A whole system on brokers of its own, whose devices may be of ``profiles`` (file name →
    profile text) beside the catalogue's; ``options`` go to :func:`running_system`."""
    site = workdir / "site-profiles"
    site.mkdir()
    for name, text in profiles.items():
        (site / name).write_text(text)
    with (
        Mosquitto(name="gateway", log_dir=workdir) as gateway_broker,
        Mosquitto(name="cloud", log_dir=workdir) as cloud_broker,
        running_system(
            workdir,
            gateway_broker,
            cloud_broker,
            profiles_dir=site,
            **options,
        ) as system,
    ):
        yield system


def eventually(system: System, probe: Callable[[], T | None], what: str, timeout: float = 45) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        system.alive()
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for: {what}")


@contextmanager
def running_system(
    workdir: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    *,
    gateway_id: str,
    sim_args: Sequence[str],
    profiles_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    site_args: Sequence[str] | None = None,
    new_devices: str = "unassigned",
    site_edit: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[System]:
    """Cloud, edge agent and simulator running, the cloud healthy and ingesting, its
    register made from the simulated community's site file (``linli sim site``).

    ``env`` adds environment variables for the three processes (settings such as
    ``LINLI_EDGE_STATUS_INTERVAL_S`` or ``LINLI_CLOUD_SILENCE_CHECK_S``); ``site_args`` the
    community the register is made from, if not the simulator's (``sim_args``);
    ``new_devices`` what a device the simulator does not run becomes when first heard from;
    ``site_edit`` a change to the site file before it is applied (sections ``linli sim site``
    has no options for), so the cloud reads them from its start."""
    http_port = free_port()
    uplink_port = free_port()  # the edge agent reaches the cloud through the simulator's uplink
    site = ["--profiles-dir", str(profiles_dir)] if profiles_dir else []
    environment = {**os.environ, "LINLI_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    # the register knows what the simulator runs: its gateway provisioned, its devices bound
    apply_simulated_site(
        workdir / "site",
        workdir / "cloud",
        gateway_id,
        [
            *(sim_args if site_args is None else site_args),
            *site,
            "--new-devices",
            new_devices,
        ],
        env=environment,
        edit=site_edit,
    )
    with ProcessGroup(workdir / "logs", env=environment) as processes:
        processes.start(
            "cloud",
            linli_command(
                "cloud", "run", "--port", str(http_port),
                "--mqtt-port", str(cloud_broker.port),
                "--data-dir", str(workdir / "cloud"), *site,
            ),
        )  # fmt: skip
        processes.start(
            "edge",
            linli_command(
                "edge", "run", "--gateway-id", gateway_id,
                "--local-port", str(gateway_broker.port), "--cloud-port", str(uplink_port),
                "--data-dir", str(workdir / "edge"), *site,
            ),
        )  # fmt: skip
        processes.start(
            "sim",
            linli_command(
                "sim", "run", "--broker-port", str(gateway_broker.port),
                "--uplink-port", str(uplink_port), "--cloud-port", str(cloud_broker.port),
                "--speed", "60", "--min-interval", "1",
                *sim_args, *site,
            ),
        )  # fmt: skip
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as api:
            system = System(api, processes, gateway_broker.port, workdir / "edge")

            def ready() -> bool:
                try:
                    health = api.get("/healthz")
                except httpx.TransportError:
                    return False
                return health.status_code == 200 and health.json()["ingest_connected"]

            eventually(system, ready, "cloud up with ingest connected")
            login = api.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            api.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            yield system


def provision(
    workdir: Path,
    gateways: Sequence[str],
    *,
    data_dir: Path | None = None,
    database_url: str | None = None,
) -> None:
    """Provision ``gateways`` as an operator would — a site file (community ``e2e``) applied
    with ``linli site apply`` — each new device of them a facility of its own."""
    path = workdir / "gateways.site.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"  {g}: {{new_devices: own-facility}}\n" for g in gateways)
    path.write_text(
        f"schema: linli.site/v1\ncommunity: {{id: e2e, name: End to end}}\ngateways:\n{listed}"
    )
    where = ["--data-dir", str(data_dir)] if data_dir else []
    where += ["--database-url", database_url] if database_url else []
    done = subprocess.run(
        linli_command("site", "apply", str(path), *where),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
