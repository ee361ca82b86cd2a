"""A running agent picks up changed site profiles: no restart, nothing queued lost."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from device_profiles import Catalogue
from device_profiles.protocol import status_topic
from edge_agent.agent import EdgeAgent
from linli.mosquitto import Mosquitto
from tests.edge_agent.helpers import (
    SITE_PROFILE_ID,
    running,
    settings_for,
    site_profile,
    site_reading,
    wait_until,
    watch,
    write_profile,
)
from tests.edge_agent.helpers import publish as device_publish

UP = "linli/v1/gw/+/up/#"
SITE_FILTER = "newco/gate/+/state"
POLL_S = 0.1


def gate_reading(device: str, cycles: int) -> tuple[str, bytes]:
    """A normal reading from a built-in acme gate: decodes whatever the site changes."""
    body = {"ts": 1764201600 + cycles, "door": 0, "cycles": cycles, "motor_ma": 1200, "err": 0}
    return f"acme/gate/{device}/state", json.dumps(body).encode()


def dead_letters(agent: EdgeAgent) -> list[dict[str, Any]]:
    agent.dead_letters.flush(10.0)
    path = agent.dead_letters.path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The site's profile directory."""
    directory = tmp_path / "profiles"
    directory.mkdir()
    return directory


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent")


async def test_a_profile_added_while_running_decodes_its_topics_from_then_on(
    site: Path,
    data_dir: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(
        gateway_broker,
        cloud_broker,
        data_dir,
        profiles_dirs=[site],
        profiles_poll_s=POLL_S,
        batch_linger_s=0,
    )
    new_topic, new_payload = site_reading("t-1", motor_ma=1500)
    async with watch(cloud_broker, UP) as cloud, running(settings, Catalogue.load([site])) as agent:
        assert SITE_FILTER not in agent.local_subscriptions
        # before the profile exists nothing subscribes to its topic, and nothing decodes it
        await device_publish(gateway_broker, [(new_topic, new_payload), gate_reading("g-1", 1)])
        fence = await cloud.batch()
        assert [item.device_id for item in fence.items] == ["g-1"]
        assert agent.counters["messages_received"] == 1
        assert agent.process_device_message(new_topic, new_payload) is None
        assert [d["category"] for d in dead_letters(agent)] == ["unknown_topic"]

        write_profile(site / "newco.yaml", site_profile("1.0.0"))
        await wait_until(lambda: SITE_FILTER in agent.local_subscriptions, "the new subscription")
        await device_publish(gateway_broker, [(new_topic, new_payload)])
        batch = await cloud.batch()
        counters = agent.counters
    (item,) = batch.items
    assert (item.device_id, item.profile, item.profile_version) == ("t-1", SITE_PROFILE_ID, "1.0.0")
    assert item.device_type == "turnstile"
    assert item.metrics["motor_current"] == 1.5
    assert counters["profile_reloads"] == 1
    assert counters["profile_reload_errors"] == 0
    assert counters["local_connects"] == 1  # subscribed on the open connection
    assert f"device profile {SITE_PROFILE_ID} added: version 1.0.0" in caplog.text


async def test_a_new_version_decodes_later_messages_and_queued_items_keep_the_old_one(
    site: Path,
    data_dir: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_profile(site / "newco.yaml", site_profile("1.0.0", scale=0.001))
    # a long linger: what is decoded before the change still waits in the outbox after it
    settings = settings_for(
        gateway_broker,
        cloud_broker,
        data_dir,
        profiles_dirs=[site],
        profiles_poll_s=POLL_S,
        batch_linger_s=60,
    )
    async with watch(cloud_broker, UP) as cloud:
        async with running(settings, Catalogue.load([site])) as agent:
            await device_publish(gateway_broker, [site_reading("t-1", 1200, n) for n in range(3)])
            await wait_until(lambda: agent.counters["items_waiting"] == 3, "3 items queued")
            write_profile(site / "newco.yaml", site_profile("1.1.0", scale=0.002))
            await wait_until(lambda: agent.counters["profile_reloads"] == 1, "the reload")
            await device_publish(
                gateway_broker, [site_reading("t-1", 1200, n) for n in range(3, 5)]
            )
            await wait_until(lambda: agent.counters["items_waiting"] == 5, "5 items queued")
            assert agent.counters["batches_sent"] == 0
            assert agent.local_subscriptions == frozenset(agent.catalogue.subscriptions())
        # stopping flushes the outbox
        batches = await cloud.items(5)
    items = [item for batch in batches for item in batch.items]
    assert [
        (i.metrics["cycles"], i.profile_version, i.metrics["motor_current"]) for i in items
    ] == [
        (0, "1.0.0", 1.2),
        (1, "1.0.0", 1.2),
        (2, "1.0.0", 1.2),
        (3, "1.1.0", 2.4),
        (4, "1.1.0", 2.4),
    ]
    assert agent.counters["local_connects"] == 1
    assert f"device profile {SITE_PROFILE_ID} changed: version 1.0.0 → 1.1.0" in caplog.text


async def test_an_invalid_change_keeps_the_previous_profiles_until_it_is_fixed(
    site: Path,
    data_dir: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = site / "newco.yaml"
    write_profile(path, site_profile("1.0.0"))
    settings = settings_for(
        gateway_broker,
        cloud_broker,
        data_dir,
        profiles_dirs=[site],
        profiles_poll_s=POLL_S,
        batch_linger_s=0,
    )
    broken = site_profile("1.0.1").replace("version: 1.0.1", "version: one")
    reading = site_reading("t-1", 1500)
    async with (
        watch(cloud_broker, UP, status_topic("gw-test")) as cloud,
        running(settings, Catalogue.load([site])) as agent,
    ):
        write_profile(path, broken)
        await wait_until(lambda: agent.counters["profile_reload_errors"] == 1, "a reload error")
        await device_publish(gateway_broker, [reading])
        (old,) = (await cloud.batch()).items
        assert old.profile_version == "1.0.0"

        write_profile(path, site_profile("1.0.1"))
        await wait_until(lambda: agent.counters["profile_reloads"] == 1, "the fixed profiles")
        await device_publish(gateway_broker, [reading])
        (new,) = (await cloud.batch()).items
        assert new.profile_version == "1.0.1"
    offline, _ = await cloud.status_where(lambda status, _: not status.online)
    assert offline.counters["profile_reload_errors"] == 1
    assert offline.counters["profile_reloads"] == 1
    version_line = next(n for n, line in enumerate(broken.splitlines(), 1) if "version:" in line)
    issue = f"{path}:{version_line}: version: "
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0] == "device profiles changed but 1 problem(s) keep the previous ones in use:"
    assert [e for e in errors if e.startswith(issue)] == errors[1:2]
    assert len(errors) == 2  # once for the change, not at every poll


async def test_a_removed_profile_is_unsubscribed_and_its_topics_no_longer_decode(
    site: Path,
    data_dir: Path,
    gateway_broker: Mosquitto,
    cloud_broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = site / "newco.yaml"
    write_profile(path, site_profile("1.0.0"))
    settings = settings_for(
        gateway_broker,
        cloud_broker,
        data_dir,
        profiles_dirs=[site],
        profiles_poll_s=POLL_S,
        batch_linger_s=0,
    )
    topic, payload = site_reading("t-1", 1500)
    async with watch(cloud_broker, UP) as cloud, running(settings, Catalogue.load([site])) as agent:
        assert SITE_FILTER in agent.local_subscriptions
        await device_publish(gateway_broker, [(topic, payload)])
        (item,) = (await cloud.batch()).items
        assert item.profile == SITE_PROFILE_ID

        path.unlink()
        await wait_until(lambda: SITE_FILTER not in agent.local_subscriptions, "unsubscribing")
        assert agent.catalogue.get(SITE_PROFILE_ID) is None
        await device_publish(gateway_broker, [(topic, payload), gate_reading("g-1", 1)])
        fence = await cloud.batch()
        assert [item.device_id for item in fence.items] == ["g-1"]
        assert agent.counters["messages_received"] == 2  # not the removed profile's message
        # were one in flight while unsubscribing, it would be an unknown topic now
        assert agent.process_device_message(topic, payload) is None
        counters = agent.counters
    assert [d["category"] for d in dead_letters(agent)] == ["unknown_topic"]
    assert counters["profile_reloads"] == 1
    assert counters["local_connects"] == 1
    assert f"device profile {SITE_PROFILE_ID} removed (was version 1.0.0)" in caplog.text
