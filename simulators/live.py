"""A simulated device as it runs: its behaviour, its fault, why it is silent, what it sent.

:class:`LiveDevice` is the simulator's per-device state. It turns the device's behaviour
(canonical metrics over simulated time, :mod:`simulators.behaviour`) and its current fault
into the vendor payload its profile decodes (:func:`device_profiles.encode.encode`), and
decides when the device reports: on its heartbeat, and at once when a state it reports by
exception changes (a light switching on, a gate opening, a fault starting or ending).
Pure: no I/O, no clocks of its own (times are passed in).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from device_profiles.encode import EncodeError, encode
from device_profiles.schema import Scalar
from simulators.behaviour import Behaviour, discrete_change, fault_state
from simulators.device import SimulatedDevice, choose_normal, malformed, render

log = logging.getLogger(__name__)

Metrics = dict[str, Scalar]

_warned: set[tuple[str, str | None]] = set()


@dataclass
class Flap:
    """A flapping fault: ``fault`` for ``period_s`` simulated seconds, then normal as long."""

    fault: str
    period_s: float


class LiveDevice:
    """One device's running state. ``silent_for`` holds why it is silent (e.g. ``silent``,
    ``power_loss``, ``gateway_power_loss``): it publishes nothing while any reason holds."""

    __slots__ = (
        "behaviour",
        "device",
        "fault",
        "fault_token",
        "flap",
        "force",
        "next_report",
        "sent",
        "silence_tokens",
        "silent_for",
        "tick_token",
    )

    def __init__(self, device: SimulatedDevice, behaviour: Behaviour) -> None:
        self.device = device
        self.behaviour = behaviour
        self.fault: str | None = None
        self.fault_token = 0
        self.flap: Flap | None = None
        self.silent_for: set[str] = set()
        self.silence_tokens: dict[str, int] = {}
        self.sent: Metrics | None = None
        """The metrics of the last report (None: has not reported since it started)."""
        self.next_report = 0.0
        """Monotonic time the next heartbeat report is due."""
        self.tick_token = 0
        self.force = False
        """Report at the next tick whatever changed (after a fault, a command, a restart)."""

    @property
    def device_id(self) -> str:
        return self.device.device_id

    @property
    def silent(self) -> bool:
        return bool(self.silent_for)

    def reading(self, sim_now: float, tz: tzinfo | None) -> tuple[Metrics, tuple[str, ...]]:
        """The metrics and self-reported faults at simulated time ``sim_now``."""
        metrics = self.behaviour.step(sim_now, tz)
        if self.fault is None:
            return metrics, ()
        shown, faults = fault_state(self.device.profile, self.fault, metrics)
        # a counter moved forward to show a service fault stays there
        self.behaviour.adopt_counters(shown)
        return shown, faults

    def should_report(self, metrics: Metrics, now: float) -> bool:
        """Whether a reading taken at monotonic ``now`` is to be sent: the heartbeat is due,
        a bool or text state changed, or a report was asked for."""
        if self.force or self.sent is None or now >= self.next_report:
            return True
        return discrete_change(self.sent, metrics)

    def payload(
        self,
        metrics: Metrics,
        faults: tuple[str, ...],
        wall: float,
        sim_now: float,
        tz: tzinfo | None,
    ) -> bytes:
        """The vendor payload for this reading, stamped with the wall-clock time ``wall``.

        When the profile's dialect cannot say the reading (encode refuses it), the device
        falls back to its profile's example payload for the same state, and says so once.
        """
        profile = self.device.profile
        try:
            _topic, payload = encode(
                profile,
                self.device_id,
                metrics,
                faults,
                datetime.fromtimestamp(wall, UTC),
                placeholders=self.device.labels,
            )
        except EncodeError as exc:
            key = (profile.id, self.fault)
            if key not in _warned:
                _warned.add(key)
                log.warning(
                    "%s: cannot encode a reading (%s); sending the profile's example instead",
                    profile.id,
                    exc,
                )
            example = self.device.example_for(self.fault, sim_now, tz)
            return render(profile, example, wall)
        return payload

    def garbage(self, wall: float, sim_now: float, tz: tzinfo | None) -> bytes:
        """A malformed payload on this device's topic (a transmission error)."""
        example = choose_normal(self.device.profile, sim_now, tz)
        return malformed(self.device.profile.topics[0], render(self.device.profile, example, wall))
