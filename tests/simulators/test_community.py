"""Generating a community from the catalogue: counts, ids, topics, determinism."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from device_profiles.catalogue import Catalogue
from simulators.community import DEFAULT_COUNTS, DEFAULT_OTHER_COUNT, Community, UnknownProfile
from simulators.device import ProfileNotSimulable, UnknownDevice
from simulators.faults import pick_random_fault


def test_default_community_is_a_believable_neighbourhood(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, seed=1)
    per_profile = Counter(device.profile_id for device in community)
    assert per_profile == {p.id: DEFAULT_COUNTS.get(p.id, DEFAULT_OTHER_COUNT) for p in catalogue}
    assert 180 <= len(community) <= 250
    assert len({catalogue[p].type for p in per_profile}) >= 8
    assert {d.labels.get("zone") for d in community} >= {"zone-a", "zone-b"}


def test_counts_name_the_only_profiles_simulated(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, {"acme_access_gate": 2, "liftsafe_elevator": 1})
    assert Counter(d.profile_id for d in community) == {
        "acme_access_gate": 2,
        "liftsafe_elevator": 1,
    }


def test_ids_are_readable_and_unique(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, seed=1)
    ids = [device.device_id for device in community]
    assert len(set(ids)) == len(ids)
    assert {"gate-01", "gate-12", "light-a-01", "light-b-30", "sos-01", "sos-24"} <= set(ids)
    assert community.get("gate-01").topic == "acme/gate/gate-01/state"
    assert community.get("sos-02").topic == "safecall/sos-02/evt"


def test_lights_spread_over_zones(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, seed=1)
    lights = [d for d in community if d.profile_id == "brightway_street_light"]
    zones = Counter(d.labels["zone"] for d in lights)
    half = DEFAULT_COUNTS["brightway_street_light"] // 2
    assert zones == {"zone-a": half, "zone-b": half}
    light = community.get("light-b-03")
    assert light.topic == "brightway/zone-b/lamp/light-b-03/report"


def test_uneven_zone_split(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, {"brightway_street_light": 5}, seed=1)
    ids = sorted(d.device_id for d in community if d.profile_id == "brightway_street_light")
    assert ids == ["light-a-01", "light-a-02", "light-a-03", "light-b-01", "light-b-02"]


def test_counts_override_defaults(catalogue: Catalogue) -> None:
    counts = {"acme_access_gate": 2, "brightway_street_light": 0, "safecall_alarm_button": 120}
    community = Community.generate(catalogue, counts, seed=1)
    per_profile = Counter(device.profile_id for device in community)
    assert per_profile == {"acme_access_gate": 2, "safecall_alarm_button": 120}
    assert "sos-001" in community and "sos-120" in community


def test_deterministic_for_a_seed(catalogue: Catalogue) -> None:
    first = Community.generate(catalogue, seed=42)
    again = Community.generate(catalogue, seed=42)
    other = Community.generate(catalogue, seed=43)
    assert first == again
    assert [d.phase for d in first] == [d.phase for d in again]
    assert [d.device_id for d in first] == [d.device_id for d in other]
    assert [d.phase for d in first] != [d.phase for d in other]


def test_phases_jitter_first_reports(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, seed=3)
    phases = [d.phase for d in community]
    assert all(0 <= p < 1 for p in phases)
    assert len(set(phases)) == len(phases)


def test_unknown_profile_in_counts(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownProfile, match="no_such_profile"):
        Community.generate(catalogue, {"no_such_profile": 1})


def test_negative_count(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="negative"):
        Community.generate(catalogue, {"acme_access_gate": -1})


def test_unknown_device(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue, seed=1)
    with pytest.raises(UnknownDevice, match="gate-99"):
        community.get("gate-99")


def test_second_vendor_of_a_type_gets_its_own_prefix(catalogue: Catalogue) -> None:
    gate = catalogue["acme_access_gate"]
    other = gate.model_copy(update={"id": "zenith_access_gate"})
    community = Community.generate(Catalogue([gate, other]), seed=1)
    ids = {d.device_id for d in community}
    assert "gate-01" in ids and "zenith-access-gate-01" in ids
    assert len(ids) == len(community)
    # a built-in profile gets its DEFAULT_COUNTS, any other profile DEFAULT_OTHER_COUNT
    assert Counter(d.profile_id for d in community) == {
        gate.id: DEFAULT_COUNTS[gate.id],
        other.id: DEFAULT_OTHER_COUNT,
    }


def test_profile_without_normal_example(catalogue: Catalogue) -> None:
    gate = catalogue["acme_access_gate"]
    broken_only = tuple(e for e in gate.examples if e.expect.faults)
    profile = gate.model_copy(update={"id": "only_faults", "examples": broken_only})
    with pytest.raises(ProfileNotSimulable):
        Community.generate(Catalogue([profile]), {"only_faults": 1})
    assert len(Community.generate(Catalogue([profile]))) == 0


def test_random_fault_pick_is_seeded(catalogue: Catalogue) -> None:
    devices = list(Community.generate(catalogue, seed=1))
    picks = [pick_random_fault(random.Random(5), devices) for _ in range(2)]
    assert picks[0] == picks[1]
    assert picks[0] is not None
    assert 30 <= picks[0].duration_s <= 90
    assert picks[0].fault in next(d for d in devices if d.device_id == picks[0].device_id).faults
    assert pick_random_fault(random.Random(5), []) is None
