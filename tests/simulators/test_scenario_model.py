"""What a scenario is: targets in words, and random faults by mean time between failures."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from simulators.faults import MAX_FAULT_DURATION_S
from simulators.scenario import DEVICE_FAULTS, GARBAGE, RandomFaults, Target


def test_describe() -> None:
    assert Target(device="gate-01").describe() == "device gate-01"
    assert Target(devices=("a", "b")).describe() == "devices a, b"
    assert (
        Target(zone="zone-a", category="lighting").describe() == "lighting devices in zone zone-a"
    )
    assert Target(type="water_pump").describe() == "devices of type water_pump"
    assert Target(profile="p").describe() == "devices of profile p"
    assert Target(gateway=True).describe() == "the gateway"


def test_a_target_names_its_key() -> None:
    assert Target(devices=("a",)).key == "devices"
    assert Target(zone="z", category="lighting").key == "zone"
    assert Target(gateway=True).key == "gateway"
    assert Target().key == "target"


# --- random faults ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 10, 200])
def test_next_delay_has_mean_mtbf_over_devices(count: int) -> None:
    faults = RandomFaults(mtbf_s=30 * 86400)
    rng = random.Random(7)
    draws = [faults.next_delay(rng, count) for _ in range(20_000)]
    expected = faults.mtbf_s / count
    # the mean of 20000 exponential draws has a standard error of 0.7% of the mean
    assert statistics.fmean(draws) == pytest.approx(expected, rel=0.03)
    assert statistics.median(draws) == pytest.approx(expected * math.log(2), rel=0.05)
    assert min(draws) >= 0


def test_next_delay_without_devices_is_never() -> None:
    assert RandomFaults(3600).next_delay(random.Random(1), 0) == math.inf


def test_next_delay_is_reproducible() -> None:
    faults = RandomFaults(3600)
    first = [faults.next_delay(random.Random(3), 5) for _ in range(3)]
    assert first == [faults.next_delay(random.Random(3), 5) for _ in range(3)]


@pytest.mark.parametrize(
    ("mtbf", "duration", "kinds"),
    [
        (0, (1, 2), (DEVICE_FAULTS,)),
        (math.inf, (1, 2), (DEVICE_FAULTS,)),
        (3600, (2, 1), (DEVICE_FAULTS,)),
        (3600, (0, 1), (DEVICE_FAULTS,)),
        (3600, (1, MAX_FAULT_DURATION_S + 1), (DEVICE_FAULTS,)),
        (3600, (1, 2), ()),
        (3600, (1, 2), (GARBAGE,)),
    ],
)
def test_random_faults_refuse_nonsense(
    mtbf: float, duration: tuple[float, float], kinds: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        RandomFaults(mtbf, duration, kinds)
