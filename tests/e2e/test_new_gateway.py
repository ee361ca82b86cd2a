"""A new gateway, from `linli gateway add` to its data in the cloud, by the steps of
docs/deploy.md: the broker's files written from the register, a broker that lets in only
their accounts, the cloud logging in, the gateway added with one command, its edge agent
started with the file that command wrote, a device heard — and the device in the API and on
the dashboard of its community. Real Mosquitto and `linli` processes throughout."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import httpx

from device_profiles import Catalogue
from linli.demo import ProcessGroup, linli_command
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from plumbing.mqtt import Client
from tests.e2e.harness import ADMIN_PASSWORD, System, eventually

SITE = """\
schema: linli.site/v1
community: {id: oak, name: Oak Court, time_zone: Asia/Shanghai}
zones:
  north: {name: North side}
"""


def linli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        linli_command(*args), capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, f"linli {' '.join(args)}: {done.stderr}"
    return done.stdout


async def a_device_speaks(port: int, catalogue: Catalogue) -> None:
    """A gate on the community's network publishes to the gateway broker."""
    example = next(e for e in catalogue["acme_access_gate"].examples if e.expect.health == "ok")
    payload = example.payload if isinstance(example.payload, str) else json.dumps(example.payload)
    async with Client("127.0.0.1", port, client_id="gate-of-oak") as device:
        await device.publish(example.topic, payload.encode(), qos=1)


def test_a_gateway_added_in_one_step_sends_data_to_the_dashboard(tmp_path: Path) -> None:
    catalogue = Catalogue.load()
    cloud_data, broker_dir = tmp_path / "cloud", tmp_path / "broker"
    site = tmp_path / "oak.yaml"
    site.write_text(SITE)
    env = {
        **os.environ,
        "LINLI_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "LINLI_CLOUD_DATA_DIR": str(cloud_data),
        "LINLI_CLOUD_MQTT_USERNAME": "cloud@linli",
        "LINLI_CLOUD_MQTT_PASSWORD": "the-cloud-password-of-this-test",
        "LINLI_CLOUD_BROKER_DIR": str(broker_dir),
    }
    linli(env, "site", "apply", str(site))
    linli(env, "broker", "config")  # the cloud's own account, before the broker starts
    http_port = free_port()
    with (
        Mosquitto(name="cloud", log_dir=tmp_path, access=broker_dir) as cloud_broker,
        Mosquitto(name="gateway", log_dir=tmp_path) as gateway_broker,
        ProcessGroup(tmp_path / "logs", env=env) as processes,
    ):
        env["LINLI_CLOUD_BROKER_PID_FILE"] = str(cloud_broker.pid_file)
        processes.start(
            "cloud",
            linli_command(
                "cloud", "run", "--port", str(http_port), "--mqtt-port", str(cloud_broker.port)
            ),
        )
        added = linli(
            env,
            "gateway", "add", "gw-7", "--community", "oak", "--zone", "north",
            "--broker-host", "127.0.0.1", "--broker-port", str(cloud_broker.port),
            "--out", str(tmp_path / "gw-7.env"),
        )  # fmt: skip
        assert "told to read them again" in added
        processes.start(
            "edge",
            linli_command(
                "edge", "run", "--env-file", str(tmp_path / "gw-7.env"),
                "--local-port", str(gateway_broker.port), "--data-dir", str(tmp_path / "edge"),
            ),
        )  # fmt: skip
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as api:
            system = System(api, processes, gateway_broker.port, tmp_path / "edge")

            def ingesting() -> bool:
                try:
                    health = api.get("/healthz").json()
                except (httpx.TransportError, ValueError):
                    return False
                return bool(health.get("ingest_connected"))

            eventually(system, ingesting, "the cloud logged in to its broker and ingesting")
            login = api.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text

            def gateway_online() -> bool:
                found = api.get("/api/v1/gateways/gw-7")
                return found.status_code == 200 and found.json()["online"]

            eventually(system, gateway_online, "gw-7 online: its agent logged in")
            asyncio.run(a_device_speaks(gateway_broker.port, catalogue))

            def the_gate() -> list[dict[str, object]]:
                found = api.get("/api/v1/facilities").json()
                return [f for f in found if f["gateway_id"] == "gw-7"]

            [gate] = eventually(system, the_gate, "the gate a facility of oak, from its data")
            assert gate["health"] == "ok" and gate["devices"] == ["gate-01"]
            page = api.get("/").text
            assert "Oak Court" in page or "North side" in page
            assert f'href="/dashboard/facilities/{gate["id"]}"' in page, "on the dashboard"
