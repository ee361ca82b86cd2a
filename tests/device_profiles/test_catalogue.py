"""Every example in every catalogue profile is a test; adding a YAML file adds its tests.

The parameters are built when pytest collects this module, from ``Catalogue.load()`` (plus
any site directories named in ``LINLI_TEST_PROFILES_DIRS``, see profiles_under_test.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from device_profiles import Catalogue, Health, Profile
from device_profiles.examples import run_example
from device_profiles.schema import Example, Scalar
from tests.device_profiles.profiles_under_test import CATALOGUE, LOAD_ERROR, PROFILES

RECEIVED_AT = datetime(2025, 11, 27, 0, 0, tzinfo=UTC)

EXAMPLES = [
    pytest.param(profile, example, id=f"{profile.id}/{example.name}")
    for profile in PROFILES
    for example in profile.examples
]


def assert_metrics_equal(actual: dict[str, Scalar], expected: dict[str, Scalar]) -> None:
    assert actual.keys() == expected.keys(), "decoded metric names differ from expect.metrics"
    for name, want in expected.items():
        got = actual[name]
        if isinstance(want, bool) or isinstance(got, bool) or isinstance(want, str):
            assert type(got) is type(want) and got == want, f"{name}: {got!r} != {want!r}"
        elif isinstance(want, float) or isinstance(got, float):
            assert got == pytest.approx(want), f"{name}: {got!r} != {want!r}"
        else:
            assert type(got) is int and got == want, f"{name}: {got!r} != {want!r}"


def test_catalogue_loads() -> None:
    assert LOAD_ERROR == "", LOAD_ERROR
    assert len(PROFILES) >= 3
    assert EXAMPLES, "the catalogue has no examples"


@pytest.mark.parametrize(("profile", "example"), EXAMPLES)
def test_example(profile: Profile, example: Example) -> None:
    decoded, verdict = run_example(profile, example, RECEIVED_AT)
    expect = example.expect

    assert decoded.device_id == expect.device_id
    assert decoded.profile == profile.id
    assert decoded.device_type == profile.type
    assert decoded.profile_version == profile.version
    assert_metrics_equal(decoded.metrics, expect.metrics)
    assert set(verdict.faults) == set(expect.faults)
    assert verdict.health is expect.health


def _verdicts(profile: Profile) -> list[tuple[str, Any]]:
    out = []
    for example in profile.examples:
        out.append((example.name, run_example(profile, example, RECEIVED_AT)[1]))
    return out


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_every_fault_has_an_example(profile: Profile) -> None:
    produced = {fault for _, verdict in _verdicts(profile) for fault in verdict.faults}
    missing = sorted(profile.faults.keys() - produced)
    assert not missing, f"{profile.id}: no example produces {missing}"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_some_example_is_healthy(profile: Profile) -> None:
    healthy = [name for name, verdict in _verdicts(profile) if verdict.health is Health.OK]
    assert healthy, f"{profile.id}: no example decodes to health ok"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_example_names_are_unique(profile: Profile) -> None:
    names = [example.name for example in profile.examples]
    assert len(names) == len(set(names)), f"{profile.id}: duplicate example names"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_catalogue_routes_examples_to_their_profile(profile: Profile) -> None:
    assert CATALOGUE is not None
    for example in profile.examples:
        assert CATALOGUE.profile_for_topic(example.topic) is profile, example.name


def test_subscriptions_cover_every_example() -> None:
    assert CATALOGUE is not None
    subscriptions = CATALOGUE.subscriptions()
    assert "acme/gate/+/state" in subscriptions
    for profile in PROFILES:
        for spec in profile.topics:
            assert spec.subscription in subscriptions


@pytest.mark.parametrize("profile", list(Catalogue.load()), ids=lambda p: p.id)
def test_every_built_in_profile_speaks_chinese(profile: Profile) -> None:
    """The people's views show a profile's name, faults and metrics in Simplified Chinese:
    a built-in profile words each of them (a site's own may leave them in English)."""
    words = profile.translations.get("zh-Hans")
    assert words is not None and words.name, f"{profile.id}: no zh-Hans translation"
    assert set(words.faults) == set(profile.faults), f"{profile.id}: faults not all worded"
    assert set(words.metrics) == set(profile.decode.metrics), f"{profile.id}: metrics"
    assert (words.usage is not None) == (profile.usage is not None), f"{profile.id}: usage"
