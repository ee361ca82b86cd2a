"""Faults carried out on a running community, on the simulated clock.

:class:`FaultInjector` puts devices into their profile's faults, makes them flap, fall
silent or send garbage, cuts the gateway's uplink or its power, and ends each of these when
its time is up. Requests come from control messages, from a scenario's events (at their
simulated times) and at random (a fixed period, or a mean time between failures); every
time is on the one :class:`simulators.clock.SimClock`, every deadline in the simulator's
:class:`simulators.schedule.Schedule`.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from plumbing.durations import format_duration
from simulators.clock import SimClock
from simulators.community import Community
from simulators.device import SimulatedDevice, SimulatorError
from simulators.faults import (
    RANDOM_DURATION_S,
    EventCommand,
    FaultCommand,
    GarbageCommand,
    SilenceCommand,
    check_duration,
    parse_control,
    pick_random_fault,
)
from simulators.live import Flap, LiveDevice
from simulators.scenario import (
    DEFAULT_FLAP_PERIOD_S,
    DEVICE_FAULTS,
    FLAPPING,
    GARBAGE,
    GATEWAY_POWER_LOSS,
    POWER_LOSS,
    SILENT,
    UPLINK_LOSS,
    RandomFaults,
    Scenario,
    ScriptedFault,
    check_against,
    event_from,
    select,
)
from simulators.schedule import Due, Event, Schedule
from simulators.transport import Transport
from simulators.uplink import Uplink

log = logging.getLogger(__name__)


class NoUplink(SimulatorError):
    """A gateway fault was asked for, but the simulator does not own the gateway's uplink."""


class FaultInjector:
    """The faults of the devices in ``devices`` (the simulator's running state).

    ``uplink`` is the gateway's uplink the simulator owns, needed for the gateway faults;
    ``transport``, while the simulator is connected, drops the connections of devices that
    fall silent. ``random_faults``, ``fault_every_s`` (0: never), ``first_fault_after_s``
    and ``fault_duration_s`` are the random faults of the run, besides the scenario's.
    """

    def __init__(
        self,
        community: Community,
        devices: Mapping[str, LiveDevice],
        clock: SimClock,
        schedule: Schedule,
        *,
        tz: tzinfo | None,
        rng: random.Random,
        scenario: Scenario | None = None,
        uplink: Uplink | None = None,
        random_faults: RandomFaults | None = None,
        fault_every_s: float = 0.0,
        first_fault_after_s: float | None = None,
        fault_duration_s: tuple[float, float] = RANDOM_DURATION_S,
    ) -> None:
        self.community = community
        self.scenario = scenario
        self.uplink = uplink
        self.transport: Transport | None = None
        self._devices = devices
        self._clock = clock
        self._schedule = schedule
        self._tz = tz
        self._rng = rng
        self._random_faults = random_faults
        self._fault_every_s = fault_every_s
        self._first_fault_after_s = first_fault_after_s
        self._fault_duration_s = fault_duration_s
        self._uplink_token = 0
        self._gateway_down: str | None = None
        self._quiet = False

    def start(self) -> None:
        """Schedule the random faults and the scenario's events, from now."""
        if self._fault_every_s > 0:
            first_after = self._first_fault_after_s
            if first_after is None:
                first_after = self._fault_every_s
            self._schedule.push(self._clock.deadline(first_after), Event.RANDOM_FAULT)
        if self._random_faults is not None:
            self._schedule_mtbf(self._random_faults)
        if self.scenario is not None:
            if self.scenario.random is not None:
                self._schedule_mtbf(self.scenario.random, scripted=True)
            for index, event in enumerate(self.scenario.events):
                self._schedule.push(self._clock.deadline_at(event.at_s), Event.SCRIPT, token=index)

    def _schedule_mtbf(self, faults: RandomFaults, *, scripted: bool = False) -> None:
        delay = faults.next_delay(self._rng, len(self._devices))
        if math.isfinite(delay):
            when = self._clock.deadline(delay)
            self._schedule.push(when, Event.MTBF_FAULT, detail="s" if scripted else "")

    def live(self, device_id: str) -> LiveDevice:
        """The running state of ``device_id``; UnknownDevice if it is not simulated."""
        self.community.get(device_id)  # UnknownDevice
        return self._devices[device_id]

    # -- the state of a device -----------------------------------------------------------

    def fault_of(self, device_id: str) -> str | None:
        """The fault ``device_id`` shows now (None: working)."""
        return self.live(device_id).fault

    def is_silent(self, device_id: str) -> bool:
        """Whether ``device_id`` is silent now (silenced, without power, gateway down)."""
        return self.live(device_id).silent

    # -- requests --------------------------------------------------------------------------

    def inject(self, device_id: str, fault: str, duration_s: float) -> None:
        """Put the device into ``fault`` for ``duration_s`` simulated seconds, then back.

        The device reports at once, and again when the fault ends. A new fault replaces the
        current one (and ends flapping). UnknownDevice, UnknownFault or InvalidDuration if the
        request is bad.
        """
        live = self.live(device_id)
        check_duration(duration_s)
        live.device.example_for(fault, self._clock.now(), self._tz)  # UnknownFault
        live.flap = None
        self._set_fault(live, fault, duration_s)
        self._note("fault %s on %s for %s", fault, device_id, format_duration(duration_s))

    def _set_fault(self, live: LiveDevice, fault: str | None, duration_s: float | None) -> None:
        live.fault = fault
        live.fault_token += 1
        if duration_s is not None:
            end = self._clock.deadline(duration_s)
            self._schedule.push(end, Event.FAULT_END, live.device_id, live.fault_token)
        self._schedule.tick_now(live)

    def flap(self, device_id: str, fault: str, duration_s: float, period_s: float) -> None:
        """Alternate the device between ``fault`` and normal every ``period_s`` simulated
        seconds, for ``duration_s``; it reports each change at once."""
        live = self.live(device_id)
        check_duration(duration_s)
        if not period_s > 0:
            raise SimulatorError(f"flapping period must be positive, got {period_s}")
        live.device.example_for(fault, self._clock.now(), self._tz)
        live.flap = Flap(fault, period_s)
        self._set_fault(live, fault, duration_s)
        self._schedule.push(self._clock.deadline(period_s), Event.FLAP, device_id, live.fault_token)
        self._note(
            "%s flaps %s every %s for %s",
            device_id,
            fault,
            format_duration(period_s),
            format_duration(duration_s),
        )

    def silence(self, device_id: str, duration_s: float, reason: str = SILENT) -> None:
        """Make the device fall silent for ``duration_s`` simulated seconds (``reason``:
        ``silent``, ``power_loss``, ...).

        It publishes nothing meanwhile, and the transport drops its connection (with its own
        connection, without DISCONNECT: the broker publishes its will). When no reason is
        left it reconnects and reports at once. A new silence for the same reason replaces
        the old one.
        """
        live = self.live(device_id)
        check_duration(duration_s)
        token = live.silence_tokens.get(reason, 0) + 1
        live.silence_tokens[reason] = token
        self._silence_start(live, reason)
        end = self._clock.deadline(duration_s)
        self._schedule.push(end, Event.SILENCE_END, device_id, token, reason)
        self._note("%s silent (%s) for %s", device_id, reason, format_duration(duration_s))

    def _silence_start(self, live: LiveDevice, reason: str) -> None:
        was_silent = live.silent
        live.silent_for.add(reason)
        if not was_silent and self.transport is not None:
            self.transport.drop(live.device_id)

    def _silence_end(self, live: LiveDevice, reason: str) -> None:
        if reason not in live.silent_for:
            return
        live.silent_for.discard(reason)
        if live.silent:
            return
        self._note("%s is back", live.device_id)
        if self.transport is not None:
            self.transport.restore(live.device_id)
        live.sent = None
        self._schedule.tick_now(live)

    def send_garbage(self, device_id: str, count: int = 1, over_s: float = 0.0) -> None:
        """Make the device publish ``count`` malformed payloads, spread over ``over_s``
        simulated seconds (0: all at once)."""
        self.live(device_id)
        if count < 1:
            raise SimulatorError(f"garbage count must be at least 1, got {count}")
        step = over_s / count if over_s > 0 else 0.0
        for i in range(count):
            self._schedule.push(self._clock.deadline(i * step), Event.GARBAGE, device_id)
        self._note("%d malformed payload(s) from %s", count, device_id)

    def cut_uplink(self, duration_s: float) -> None:
        """The gateway loses its uplink to the cloud for ``duration_s`` simulated seconds.

        The devices go on reporting to the gateway; the edge agent keeps what it cannot send
        and delivers it when the uplink is back. NoUplink without an uplink to cut."""
        self._gateway_fault(UPLINK_LOSS, duration_s)

    def gateway_power_loss(self, duration_s: float) -> None:
        """The gateway loses power for ``duration_s`` simulated seconds: its uplink goes, and
        no device behind it is heard (every simulated device is silent meanwhile)."""
        self._gateway_fault(GATEWAY_POWER_LOSS, duration_s)
        for live in self._devices.values():
            self._silence_start(live, GATEWAY_POWER_LOSS)

    def _gateway_fault(self, kind: str, duration_s: float) -> None:
        if self.uplink is None:
            raise NoUplink(
                f"{kind} needs the gateway's uplink to run through the simulator "
                "(linli sim run --uplink-port P --cloud-port Q)"
            )
        check_duration(duration_s)
        self._end_gateway_fault()
        self.uplink.cut()
        self._gateway_down = kind
        self._uplink_token += 1
        end = self._clock.deadline(duration_s)
        self._schedule.push(end, Event.UPLINK_RESTORE, token=self._uplink_token)
        log.info("gateway: %s for %s", kind, format_duration(duration_s))

    def _end_gateway_fault(self) -> None:
        kind, self._gateway_down = self._gateway_down, None
        if kind is None or self.uplink is None:
            return
        self.uplink.restore()
        log.info("gateway: %s over", kind)
        if kind == GATEWAY_POWER_LOSS:
            for live in self._devices.values():
                self._silence_end(live, GATEWAY_POWER_LOSS)

    def apply(self, event: ScriptedFault) -> None:
        """Carry out one scenario event (or the same built from a control message) now."""
        if event.target.gateway:
            if event.fault == UPLINK_LOSS:
                self.cut_uplink(event.duration_s)
            else:
                self.gateway_power_loss(event.duration_s)
            return
        devices = select(event.target, self.community.devices)
        if not devices:
            raise SimulatorError(f"{event.target.describe()} selects no simulated device")
        if len(devices) == 1:
            self._apply_to(event, devices)
            return
        self._quiet = True
        try:
            applied = self._apply_to(event, devices)
        finally:
            self._quiet = False
        what = event.fault if event.flap is None else f"{event.fault} {event.flap}"
        log.info(
            "%s on %d %s for %s",
            what,
            applied,
            event.target.describe(),
            format_duration(event.duration_s),
        )

    def _apply_to(self, event: ScriptedFault, devices: Sequence[SimulatedDevice]) -> int:
        applied = 0
        for device in devices:
            if event.fault in (SILENT, POWER_LOSS):
                self.silence(device.device_id, event.duration_s, event.fault)
            elif event.fault == GARBAGE:
                self.send_garbage(device.device_id, event.count, event.duration_s)
            elif event.fault == FLAPPING:
                assert event.flap is not None
                if event.flap not in device.faults:
                    continue
                self.flap(device.device_id, event.flap, event.duration_s, event.period_s)
            else:
                if event.fault not in device.faults:
                    continue
                self.inject(device.device_id, event.fault, event.duration_s)
            applied += 1
        if not applied:
            raise SimulatorError(f"no device of {event.target.describe()} can show {event.fault}")
        return applied

    def handle_control(self, payload: bytes) -> None:
        """Carry out one control message; a SimulatorError says why a bad one was refused."""
        command = parse_control(payload)
        if isinstance(command, FaultCommand):
            self.inject(command.device_id, command.fault, command.duration_s)
        elif isinstance(command, GarbageCommand):
            self.send_garbage(command.device_id)
        elif isinstance(command, SilenceCommand):
            self.silence(command.device_id, command.duration_s)
        elif isinstance(command, EventCommand):
            self.apply(self.event_from(command.event))

    def event_from(self, fields: Mapping[str, Any]) -> ScriptedFault:
        """A scenario event (without ``at``) as one to carry out now; ScenarioError says
        what is wrong with it, or why the community cannot carry it out."""
        event = event_from(fields, source="control message")
        scenario = Scenario("control message", "control message", (event,))
        check_against(scenario, self.community.devices)
        return event

    def _note(self, message: str, *args: object) -> None:
        """Log one device's fault at info, or at debug inside a group event."""
        log.log(logging.DEBUG if self._quiet else logging.INFO, message, *args)

    # -- what falls due ------------------------------------------------------------------

    def fire(self, item: Due) -> tuple[SimulatedDevice, bytes] | None:
        """Carry out one due fault event (not a tick); the malformed payload to publish, if it
        is one. A request that cannot be carried out is logged, not raised."""
        try:
            self._fire(item)
        except SimulatorError as exc:
            log.warning("%s", exc)
            return None
        if item.kind is Event.GARBAGE:
            live = self._devices[item.device_id]
            if live.silent:
                return None
            payload = live.garbage(self._clock.wall(), self._clock.now(), self._tz)
            return live.device, payload
        return None

    def _fire(self, item: Due) -> None:
        kind = item.kind
        if kind is Event.RANDOM_FAULT:
            self._schedule.push(self._clock.deadline(self._fault_every_s), Event.RANDOM_FAULT)
            self._random_fault()
        elif kind is Event.MTBF_FAULT:
            faults = self.scenario.random if item.detail and self.scenario else self._random_faults
            if faults is not None:
                self._schedule_mtbf(faults, scripted=bool(item.detail))
                self._random_fault(faults)
        elif kind is Event.SCRIPT:
            assert self.scenario is not None
            event = self.scenario.events[item.token]
            log.info("scenario %s line %d:", self.scenario.source, event.line)
            self.apply(event)
        elif kind is Event.UPLINK_RESTORE:
            if item.token == self._uplink_token:
                self._end_gateway_fault()
        elif kind is Event.FAULT_END:
            live = self._devices[item.device_id]
            if item.token == live.fault_token and live.fault is not None:
                self._note("fault %s on %s ended", live.fault, live.device_id)
                live.flap = None
                self._set_fault(live, None, None)
        elif kind is Event.FLAP:
            live = self._devices[item.device_id]
            if item.token == live.fault_token and live.flap is not None:
                live.fault = None if live.fault is not None else live.flap.fault
                self._schedule.tick_now(live)
                when = self._clock.deadline(live.flap.period_s)
                self._schedule.push(when, Event.FLAP, live.device_id, item.token)
        elif kind is Event.SILENCE_END:
            live = self._devices[item.device_id]
            if live.silence_tokens.get(item.detail) == item.token:
                self._silence_end(live, item.detail)

    def _random_fault(self, faults: RandomFaults | None = None) -> None:
        working = [
            live.device for live in self._devices.values() if live.fault is None and not live.silent
        ]
        duration = faults.duration_s if faults is not None else self._fault_duration_s
        kinds: Sequence[str] = faults.kinds if faults is not None else (DEVICE_FAULTS,)
        kind = self._rng.choice(list(kinds))
        choice = pick_random_fault(self._rng, working, duration)
        if choice is None:
            log.info("random fault skipped: no working device can fail")
            return
        if kind == SILENT:
            self.silence(choice.device_id, choice.duration_s)
        elif kind == FLAPPING:
            self.flap(choice.device_id, choice.fault, choice.duration_s, DEFAULT_FLAP_PERIOD_S)
        else:
            self.inject(choice.device_id, choice.fault, choice.duration_s)
