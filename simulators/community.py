"""A simulated community: devices generated from the profile catalogue, and the loop that runs them.

:class:`Community` is the population (which devices exist, where they publish).
:class:`Simulator` runs it: every device reports on its heartbeat and at once when its state
changes; faults are injected on request or at random and end after their duration.

Time: payload timestamps are the wall clock (``clock``, default :func:`time.time`); ``speed``
shortens the report intervals only, so the event times the platform sees stay true. Fault
durations and the random-fault period are wall-clock seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from datetime import tzinfo
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

from device_profiles.catalogue import Catalogue
from device_profiles.decode import match_topic
from device_profiles.schema import Profile
from simulators.device import (
    ProfileNotSimulable,
    SimulatedDevice,
    SimulatorError,
    UnknownDevice,
    normal_examples,
)
from simulators.faults import (
    RANDOM_DURATION_S,
    FaultCommand,
    GarbageCommand,
    SilenceCommand,
    check_duration,
    parse_control,
    pick_random_fault,
)
from simulators.transport import Transport, TransportError

log = logging.getLogger(__name__)

DEFAULT_COUNTS: Mapping[str, int] = MappingProxyType(
    {
        "acme_access_gate": 12,
        "turnix_access_gate": 4,
        "parkline_vehicle_barrier": 4,
        "brightway_street_light": 60,
        "safecall_alarm_button": 24,
        "liftsafe_elevator": 8,
        "aquaboost_water_pump": 4,
        "hydropro_water_pump": 2,
        "firewatch_hydrant_pressure": 6,
        "guardian_smoke_detector": 24,
        "coverguard_manhole_cover": 10,
        "voltgo_ev_charger": 8,
        "binsense_waste_bin": 16,
        "airnode_environment_sensor": 4,
        "climasense_environment_sensor": 2,
        "vistacam_camera": 16,
        "aquastop_leak_sensor": 8,
    }
)
"""Devices per built-in profile in the demo community: two zones, 212 devices, 14 types."""
DEFAULT_OTHER_COUNT = 4
"""Devices for any other profile in the catalogue (e.g. from --profiles-dir)."""
DEFAULT_ZONES: tuple[str, ...] = ("zone-a", "zone-b")
DEFAULT_MIN_INTERVAL_S = 5.0
DEFAULT_MAX_IN_FLIGHT = 64
LOST_WARNING_EVERY_S = 10.0
_TRAILING_NUMBER = re.compile(r"-?\d+$")


class UnknownProfile(SimulatorError):
    """A device count names a profile the catalogue does not have."""


def _prefix_from_examples(profile: Profile) -> str | None:
    """``gate`` from an example device id like ``gate-01``, if the examples show one."""
    for example in profile.examples:
        stem = _TRAILING_NUMBER.sub("", example.expect.device_id)
        if stem and stem != example.expect.device_id:
            return stem
    return None


def _zone_suffix(zone: str) -> str:
    return zone.removeprefix("zone-").removeprefix("zone_") or zone


def _example_labels(profile: Profile) -> dict[str, str]:
    """Placeholder values (other than device_id) seen in the profile's example topics."""
    for example in profile.examples:
        matched = match_topic(profile, example.topic)
        if matched is not None and matched[0] == profile.topics[0]:
            return {k: v for k, v in matched[1].items() if k != "device_id"}
    return {}


def _split(count: int, parts: int) -> list[int]:
    """``count`` split into ``parts`` near-equal shares, the larger ones first."""
    base, extra = divmod(count, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass(frozen=True)
class Community:
    """The simulated devices of one community, in a stable order."""

    devices: tuple[SimulatedDevice, ...]
    seed: int = 0
    _by_id: Mapping[str, SimulatedDevice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, SimulatedDevice] = {}
        for device in self.devices:
            if device.device_id in by_id:
                raise ValueError(f"two simulated devices share the id {device.device_id!r}")
            by_id[device.device_id] = device
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    @classmethod
    def generate(
        cls,
        catalogue: Catalogue,
        counts: Mapping[str, int] | None = None,
        seed: int = 0,
        *,
        zones: Sequence[str] = DEFAULT_ZONES,
    ) -> Community:
        """Devices for every profile in ``catalogue``.

        ``counts`` maps profile id → number of devices, and then only the profiles it names
        are simulated. Without counts, every profile gets :data:`DEFAULT_COUNTS` (built-in
        profiles) or :data:`DEFAULT_OTHER_COUNT` devices. Device ids
        are ``<prefix>-NN`` where the prefix comes from the profile's example device ids
        (``gate``, ``light``, ``sos``); a profile whose topic has a ``{zone}`` placeholder
        spreads its devices over ``zones`` and its ids name the zone (``light-a-03``).
        The seed fixes each device's report phase, so one seed always gives one community.
        """
        counts = dict(counts or {})
        for profile_id, count in counts.items():
            if catalogue.get(profile_id) is None:
                known = ", ".join(sorted(p.id for p in catalogue))
                raise UnknownProfile(f"no profile {profile_id!r} in the catalogue (have: {known})")
            if count < 0:
                raise ValueError(f"device count for {profile_id!r} is negative: {count}")
        if not zones:
            raise ValueError("at least one zone is needed")
        rng = random.Random(seed)
        devices: list[SimulatedDevice] = []
        used_prefixes: set[str] = set()
        for profile in sorted(catalogue, key=lambda p: p.id):
            explicit = profile.id in counts
            default = DEFAULT_COUNTS.get(profile.id, DEFAULT_OTHER_COUNT)
            count = counts.get(profile.id, 0 if counts else default)
            if count == 0:
                continue
            if not normal_examples(profile):
                message = f"profile {profile.id!r} has no example without faults to send"
                if explicit:
                    raise ProfileNotSimulable(message)
                log.warning("%s; simulating none of its devices", message)
                continue
            prefix = _prefix_from_examples(profile) or profile.type.replace("_", "-")
            if prefix in used_prefixes:
                prefix = profile.id.replace("_", "-")
            used_prefixes.add(prefix)
            devices.extend(_devices_for(profile, prefix, count, zones, rng))
        return cls(tuple(devices), seed)

    def __iter__(self) -> Iterator[SimulatedDevice]:
        return iter(self.devices)

    def __len__(self) -> int:
        return len(self.devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._by_id

    def get(self, device_id: str) -> SimulatedDevice:
        """The device with this id; UnknownDevice if there is none."""
        try:
            return self._by_id[device_id]
        except KeyError:
            raise UnknownDevice(device_id) from None


def _devices_for(
    profile: Profile, prefix: str, count: int, zones: Sequence[str], rng: random.Random
) -> list[SimulatedDevice]:
    spec = profile.topics[0]
    labels = _example_labels(profile)
    groups: list[tuple[str | None, str, int]]
    if "{zone}" in spec.pattern:
        groups = [
            (zone, f"{prefix}-{_zone_suffix(zone)}", share)
            for zone, share in zip(zones, _split(count, len(zones)), strict=True)
        ]
    else:
        groups = [(None, prefix, count)]
    width = max(2, len(str(max(share for _, _, share in groups))))
    devices = []
    for zone, stem, share in groups:
        for number in range(1, share + 1):
            device_id = f"{stem}-{number:0{width}d}"
            device_labels = dict(labels)
            if zone is not None:
                device_labels["zone"] = zone
            devices.append(
                SimulatedDevice(
                    device_id=device_id,
                    profile=profile,
                    topic=spec.topic_for(device_id, **device_labels),
                    labels=MappingProxyType(device_labels),
                    phase=rng.random(),
                )
            )
    return devices


@dataclass(frozen=True)
class SimulatorConfig:
    """How fast and how faulty the simulation runs.

    ``speed`` divides each profile's heartbeat; ``min_interval_s`` is the shortest report
    interval whatever the speed. ``fault_every_s`` = 0 disables random faults;
    ``first_fault_after_s`` (default: ``fault_every_s``) times the first one.
    ``max_in_flight`` bounds the messages published but not yet acknowledged; when that
    many are waiting, reports wait too.
    """

    speed: float = 1.0
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    fault_every_s: float = 0.0
    first_fault_after_s: float | None = None
    fault_duration_s: tuple[float, float] = RANDOM_DURATION_S
    qos: int = 1
    reconnect_max_s: float = 10.0
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def __post_init__(self) -> None:
        if not (self.speed > 0 and math.isfinite(self.speed)):
            raise ValueError(f"speed must be a positive number, got {self.speed}")
        if not self.min_interval_s >= 0:
            raise ValueError(f"min_interval_s must be >= 0, got {self.min_interval_s}")
        if not self.fault_every_s >= 0:
            raise ValueError(f"fault_every_s must be >= 0, got {self.fault_every_s}")
        if self.first_fault_after_s is not None and not self.first_fault_after_s >= 0:
            raise ValueError(f"first_fault_after_s must be >= 0, got {self.first_fault_after_s}")
        low, high = self.fault_duration_s
        if not 0 < low <= high:
            raise ValueError(f"fault_duration_s must be 0 < low <= high, got {low}, {high}")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {self.qos}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")


class _Event(Enum):
    REPORT = "report"
    FAULT_END = "fault_end"
    GARBAGE = "garbage"
    RANDOM_FAULT = "random_fault"
    SILENCE_START = "silence_start"
    SILENCE_END = "silence_end"


class _Scheduled(NamedTuple):
    """A heap entry; ordered by (when, seq) — seq is unique, so the rest is never compared.
    A tuple, so that the heap compares in C (tens of thousands of entries)."""

    when: float
    seq: int
    kind: _Event
    device_id: str = ""
    token: int = 0


@dataclass
class _DeviceState:
    fault: str | None = None
    report_token: int = 0
    fault_token: int = 0
    silent: bool = False
    silence_token: int = 0


Connect = Callable[[], AbstractAsyncContextManager[Transport]]


async def _wait(event: asyncio.Event, delay: float | None) -> None:
    """Until ``event`` is set or ``delay`` seconds pass (None: no limit).

    ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11 ``wait_for`` can
    swallow a cancellation that races with its timeout, which would leave the task running
    after it was told to stop.
    """
    with suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await event.wait()


class Simulator:
    """Runs a :class:`Community` against a broker.

    One scheduler publishes every report (a heap of due times, so ten thousand devices cost
    no more tasks than ten); a second task reads control messages. Publishing does not wait
    for each acknowledgement: up to ``config.max_in_flight`` messages are in flight at once,
    sent in the order they were due. Injections made before :meth:`run` take effect when it
    starts.
    """

    def __init__(
        self,
        community: Community,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
    ) -> None:
        self.community = community
        self.config = config or SimulatorConfig()
        self._clock = clock
        self._tz = tz
        self._rng = random.Random(f"linli-sim-runtime-{community.seed}")
        self._states = {device.device_id: _DeviceState() for device in community}
        self._queue: list[_Scheduled] = []
        self._seq = 0
        self._wakeup = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while the transport is up (connected and subscribed to the control topic)."""
        self.published = 0
        """Messages published (and, at QoS 1 or 2, acknowledged) so far."""
        self.lost = 0
        """Messages that could not be published (connection down or publish failed)."""
        self._lost_since_warning = 0
        self._last_warning = -math.inf
        self._started = False

    # -- scheduling -------------------------------------------------------------------

    def _push(self, when: float, kind: _Event, device_id: str = "", token: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Scheduled(when, self._seq, kind, device_id, token))
        self._wakeup.set()

    def _interval(self, device: SimulatedDevice) -> float:
        return device.report_interval(self.config.speed, self.config.min_interval_s)

    def _schedule_start(self) -> None:
        now = time.monotonic()
        for device in self.community:
            self._push(now + device.phase * self._interval(device), _Event.REPORT, device.device_id)
        if self.config.fault_every_s > 0:
            first = self.config.first_fault_after_s
            self._push(
                now + (self.config.fault_every_s if first is None else first),
                _Event.RANDOM_FAULT,
            )

    def _report_now(self, device_id: str) -> None:
        """Report at once and restart the heartbeat from now."""
        state = self._states[device_id]
        state.report_token += 1
        self._push(time.monotonic(), _Event.REPORT, device_id, state.report_token)

    # -- requests ---------------------------------------------------------------------

    def fault_of(self, device_id: str) -> str | None:
        """The fault ``device_id`` has now (None: working)."""
        self.community.get(device_id)
        return self._states[device_id].fault

    def is_silent(self, device_id: str) -> bool:
        """Whether ``device_id`` has fallen silent (see :meth:`silence`)."""
        self.community.get(device_id)
        return self._states[device_id].silent

    def inject(self, device_id: str, fault: str, duration_s: float) -> None:
        """Put the device into ``fault`` for ``duration_s`` seconds, then back to normal.

        The device reports at once, and again when the fault ends. A new fault replaces the
        current one. UnknownDevice, UnknownFault or InvalidDuration if the request is bad.
        """
        device = self.community.get(device_id)
        check_duration(duration_s)
        device.example_for(fault, self._clock(), self._tz)
        state = self._states[device_id]
        state.fault = fault
        state.fault_token += 1
        self._push(time.monotonic() + duration_s, _Event.FAULT_END, device_id, state.fault_token)
        self._report_now(device_id)
        log.info("fault %s on %s for %.1fs", fault, device_id, duration_s)

    def silence(self, device_id: str, duration_s: float) -> None:
        """Make the device fall silent for ``duration_s`` seconds, as if it lost power.

        It publishes nothing meanwhile, and the transport drops its connection (with its
        own connection, without DISCONNECT: the broker publishes its will). Afterwards it
        reconnects and reports at once. A new silence replaces the current one.
        """
        self.community.get(device_id)
        check_duration(duration_s)
        state = self._states[device_id]
        state.silent = True
        state.silence_token += 1
        now = time.monotonic()
        self._push(now, _Event.SILENCE_START, device_id, state.silence_token)
        self._push(now + duration_s, _Event.SILENCE_END, device_id, state.silence_token)
        log.info("%s falls silent for %.1fs", device_id, duration_s)

    def send_garbage(self, device_id: str) -> None:
        """Make the device publish one malformed payload on its topic."""
        self.community.get(device_id)
        self._push(time.monotonic(), _Event.GARBAGE, device_id)
        log.info("malformed payload from %s", device_id)

    def handle_control(self, payload: bytes) -> None:
        """Carry out one control message; a SimulatorError says why a bad one was refused."""
        command = parse_control(payload)
        if isinstance(command, FaultCommand):
            self.inject(command.device_id, command.fault, command.duration_s)
        elif isinstance(command, GarbageCommand):
            self.send_garbage(command.device_id)
        elif isinstance(command, SilenceCommand):
            self.silence(command.device_id, command.duration_s)

    # -- running ----------------------------------------------------------------------

    async def run(self, connect: Connect, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or the task is cancelled), reconnecting as needed."""
        if stop is None:
            stop = asyncio.Event()
        if not self._started:
            self._started = True
            self._schedule_start()
        backoff = 0.5
        while not stop.is_set():
            lost: TransportError | None = None
            try:
                async with connect() as transport:
                    backoff = 0.5
                    await self._serve(transport, stop)
            except* TransportError as group:
                lost = next(e for e in group.exceptions if isinstance(e, TransportError))
            finally:
                self.connected.clear()
            if lost is None or stop.is_set():
                continue
            log.warning("%s; retrying in %.1fs", lost, backoff)
            await _wait(stop, backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    async def _serve(self, transport: Transport, stop: asyncio.Event) -> None:
        for device_id, state in self._states.items():
            if state.silent:
                transport.drop(device_id)
        self.connected.set()
        # The publisher is told to halt rather than cancelled: on Python 3.11 a cancellation
        # that races with a publish acknowledgement is lost inside aiomqtt (asyncio.wait_for),
        # and the publisher would run on with the TaskGroup waiting for it forever.
        halt = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._publish_loop(transport, halt))
            control = tasks.create_task(self._control_loop(transport))
            try:
                await stop.wait()
            finally:
                halt.set()
                self._wakeup.set()
                control.cancel()

    async def _control_loop(self, transport: Transport) -> None:
        async for payload in transport.control_messages():
            try:
                self.handle_control(payload)
            except SimulatorError as exc:
                log.warning("ignored control message %r: %s", payload[:200], exc)

    async def _publish_loop(self, transport: Transport, halt: asyncio.Event) -> None:
        window = asyncio.Semaphore(self.config.max_in_flight)
        sending: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            sending.discard(task)
            window.release()

        try:
            while not halt.is_set():
                now = time.monotonic()
                while self._queue and self._queue[0].when <= now and not halt.is_set():
                    message = self._fire(heapq.heappop(self._queue), transport)
                    if message is None:
                        continue
                    # Tasks start in the order they are created, so messages leave in the
                    # order they were due; the window bounds how many await their ack.
                    await window.acquire()
                    task = asyncio.create_task(self._send(transport, *message))
                    sending.add(task)
                    task.add_done_callback(done)
                self._wakeup.clear()
                if halt.is_set():
                    return
                timeout = self._queue[0].when - time.monotonic() if self._queue else None
                await _wait(self._wakeup, timeout)
        finally:
            # in-flight publishes end by themselves (acknowledged, failed or timed out);
            # the transport must not close under them
            if sending:
                await asyncio.wait(set(sending))

    def _fire(self, item: _Scheduled, transport: Transport) -> tuple[SimulatedDevice, bytes] | None:
        """Carry out one due event; the message to publish, if it makes one."""
        if item.kind is _Event.RANDOM_FAULT:
            self._push(time.monotonic() + self.config.fault_every_s, _Event.RANDOM_FAULT)
            self._random_fault()
            return None
        device = self.community.get(item.device_id)
        state = self._states[item.device_id]
        if item.kind is _Event.SILENCE_START:
            if item.token == state.silence_token and state.silent:
                transport.drop(device.device_id)
            return None
        if item.kind is _Event.SILENCE_END:
            if item.token == state.silence_token and state.silent:
                log.info("%s is back", device.device_id)
                state.silent = False
                transport.restore(device.device_id)
                self._report_now(device.device_id)
            return None
        if item.kind is _Event.FAULT_END:
            if item.token == state.fault_token and state.fault is not None:
                log.info("fault %s on %s ended", state.fault, device.device_id)
                state.fault = None
                self._report_now(device.device_id)
            return None
        if item.kind is _Event.GARBAGE:
            if state.silent:
                return None
            return device, device.garbage(self._clock())
        if item.token != state.report_token:
            return None
        # Schedule the next heartbeat before publishing: a failed publish loses one report,
        # never the device's heartbeat. It counts from when this one was due, so a busy loop
        # does not stretch every interval; a device a whole interval behind starts afresh.
        interval = self._interval(device)
        due = item.when + interval
        now = time.monotonic()
        if due <= now:
            due = now + interval
        self._push(due, _Event.REPORT, device.device_id, item.token)
        if state.silent:
            return None
        return device, device.payload(state.fault, self._clock(), self._tz)

    async def _send(self, transport: Transport, device: SimulatedDevice, payload: bytes) -> None:
        try:
            await transport.publish(device.device_id, device.topic, payload, self.config.qos)
        except TransportError as exc:
            self._note_lost(exc)
        else:
            self.published += 1

    def _note_lost(self, error: TransportError) -> None:
        """Count a lost message; warn at most once per LOST_WARNING_EVERY_S."""
        self.lost += 1
        self._lost_since_warning += 1
        now = time.monotonic()
        if now - self._last_warning >= LOST_WARNING_EVERY_S:
            log.warning(
                "%d message(s) not published since the last warning; latest: %s",
                self._lost_since_warning,
                error,
            )
            self._last_warning = now
            self._lost_since_warning = 0
        else:
            log.debug("message not published: %s", error)

    def _random_fault(self) -> None:
        working = [
            d
            for d in self.community
            if self._states[d.device_id].fault is None and not self._states[d.device_id].silent
        ]
        choice = pick_random_fault(self._rng, working, self.config.fault_duration_s)
        if choice is None:
            log.info("random fault skipped: no working device can fail")
            return
        self.inject(choice.device_id, choice.fault, choice.duration_s)
