"""Watching site profile files and comparing catalogues, without a broker."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from device_profiles import Catalogue, ProfileError, decode
from edge_agent import EdgeAgent, EdgeSettings
from edge_agent.profiles import ProfileWatcher, compare, scan
from tests.edge_agent.helpers import (
    SITE_PROFILE_ID,
    payload_of,
    site_profile,
    site_reading,
    write_profile,
)

RECEIVED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_the_site_profile_used_in_these_tests_decodes_its_own_examples(tmp_path: Path) -> None:
    write_profile(tmp_path / "newco.yaml", site_profile("2.0.0", scale=0.002))
    profile = Catalogue.load([tmp_path])[SITE_PROFILE_ID]
    assert profile.version == "2.0.0"
    for case in profile.examples:
        decoded = decode(profile, case.topic, payload_of(case), RECEIVED)
        assert decoded.metrics == case.expect.metrics, case.name


def test_the_watcher_loads_anew_only_when_a_profile_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "newco.yaml"
    watcher = ProfileWatcher([tmp_path])
    assert watcher.poll() is None
    write_profile(path, site_profile("1.0.0"))
    added = watcher.poll()
    assert added is not None
    assert added[SITE_PROFILE_ID].version == "1.0.0"
    assert len(added) == len(Catalogue.load()) + 1  # the built-in ones too
    assert watcher.poll() is None
    (tmp_path / "notes.txt").write_text("not a profile")
    assert watcher.poll() is None
    write_profile(path, site_profile("1.0.1"))
    changed = watcher.poll()
    assert changed is not None
    assert changed[SITE_PROFILE_ID].version == "1.0.1"
    path.unlink()
    removed = watcher.poll()
    assert removed is not None
    assert removed.get(SITE_PROFILE_ID) is None


def test_an_invalid_change_is_reported_once_and_its_fix_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "newco.yaml"
    write_profile(path, site_profile("1.0.0"))
    watcher = ProfileWatcher([tmp_path])
    write_profile(path, site_profile("1.0.0").replace("heartbeat_s: 60", "heartbeat_s: -1"))
    with pytest.raises(ProfileError) as caught:
        watcher.poll()
    assert [(i.file, i.field) for i in caught.value.issues] == [(path, "heartbeat_s")]
    assert watcher.poll() is None  # the same broken files: not reported again
    write_profile(path, site_profile("1.0.1"))
    fixed = watcher.poll()
    assert fixed is not None
    assert fixed[SITE_PROFILE_ID].version == "1.0.1"


def test_a_profile_directory_that_goes_away_is_a_change(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    watcher = ProfileWatcher([site])
    site.rmdir()
    with pytest.raises(ProfileError) as caught:
        watcher.poll()
    assert [(i.file, i.message) for i in caught.value.issues] == [(site, "not a directory")]
    site.mkdir()
    assert watcher.poll() is not None


def test_a_file_moved_into_place_is_a_change_even_with_the_same_time_and_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "newco.yaml"
    write_profile(path, site_profile("1.0.0"))
    before = scan([tmp_path])
    stat = path.stat()
    write_profile(path, site_profile("1.0.1"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert scan([tmp_path]) != before


def test_compare_names_the_added_changed_and_removed_profiles(tmp_path: Path) -> None:
    builtin = Catalogue.load()
    write_profile(tmp_path / "newco.yaml", site_profile("1.0.0"))
    with_site = Catalogue.load([tmp_path])
    write_profile(tmp_path / "newco.yaml", site_profile("1.1.0", scale=0.002))
    changed = Catalogue.load([tmp_path])

    added = compare(builtin, with_site)
    assert [p.id for p in added.added] == [SITE_PROFILE_ID]
    assert not added.changed
    assert not added.removed
    bumped = compare(with_site, changed)
    assert [(old.version, new.version) for old, new in bumped.changed] == [("1.0.0", "1.1.0")]
    assert not bumped.added
    assert not bumped.removed
    gone = compare(changed, builtin)
    assert [p.id for p in gone.removed] == [SITE_PROFILE_ID]
    assert not compare(with_site, Catalogue(with_site))


def test_replacing_the_catalogue_decodes_later_messages_with_it_and_logs_the_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent")
    site = tmp_path / "site"
    site.mkdir()
    write_profile(site / "newco.yaml", site_profile("1.0.0"))
    settings = EdgeSettings(gateway_id="gw-unit", data_dir=tmp_path, profiles_dirs=[site])
    agent = EdgeAgent(settings, Catalogue.load([site]))
    topic, payload = site_reading("t-1", motor_ma=1500)
    before = agent.process_device_message(topic, payload, RECEIVED)
    write_profile(site / "newco.yaml", site_profile("1.1.0", scale=0.002))
    agent.replace_catalogue(Catalogue.load([site]))
    after = agent.process_device_message(topic, payload, RECEIVED)
    assert before is not None
    assert after is not None
    assert (before.profile_version, before.metrics["motor_current"]) == ("1.0.0", 1.5)
    assert (after.profile_version, after.metrics["motor_current"]) == ("1.1.0", 3.0)
    assert agent.counters["profile_reloads"] == 1
    assert agent.counters["profile_reload_errors"] == 0
    assert f"device profile {SITE_PROFILE_ID} changed: version 1.0.0 → 1.1.0" in caplog.text


def test_a_profile_changed_without_a_new_version_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_profile(site / "newco.yaml", site_profile("1.0.0"))
    settings = EdgeSettings(gateway_id="gw-unit", data_dir=tmp_path, profiles_dirs=[site])
    agent = EdgeAgent(settings, Catalogue.load([site]))
    write_profile(site / "newco.yaml", site_profile("1.0.0", scale=0.002))
    agent.replace_catalogue(Catalogue.load([site]))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"device profile {SITE_PROFILE_ID} changed but kept version 1.0.0: raise its version, "
        "or readings decoded before and after cannot be told apart"
    ]


def test_profiles_poll_s_defaults_to_5_and_0_disables_it(tmp_path: Path) -> None:
    assert EdgeSettings(gateway_id="gw-unit").profiles_poll_s == 5.0
    assert EdgeSettings(gateway_id="gw-unit", profiles_poll_s=0).profiles_poll_s == 0
    with pytest.raises(ValidationError, match="profiles_poll_s"):
        EdgeSettings(gateway_id="gw-unit", profiles_poll_s=-1)


def test_profiles_poll_s_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_EDGE_PROFILES_POLL_S", "0.5")
    assert EdgeSettings(gateway_id="gw-unit").profiles_poll_s == 0.5
