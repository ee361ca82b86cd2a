"""The loop that runs a simulated community against a broker.

:class:`Simulator` keeps every device's state (:class:`simulators.live.LiveDevice`) and one
heap of due events, so twenty thousand devices cost no more tasks than ten. Each device
*ticks* on its own period: its behaviour advances to the simulated time and it reports when
its heartbeat is due or a state it reports by exception changed. Faults — the profile's
own, silence, flapping, power loss of a zone or of the gateway, loss of the gateway's
uplink, bursts of garbage — come from the control topic, from a scripted
:class:`simulators.scenario.Scenario`, or at random (a fixed period or a mean time between
failures); all of them run on the one :class:`simulators.clock.SimClock`.

Commands the profiles define arrive on the devices' command topics; the device acts on them
(:meth:`simulators.behaviour.Behaviour.command`) and reports its new state at once.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import Enum
from typing import NamedTuple

from device_profiles.commands import CommandError, command_subscriptions, decode_command
from device_profiles.schema import Profile
from simulators.behaviour import DEFAULT_LATITUDE, behaviour_for
from simulators.clock import SimClock
from simulators.community import Community
from simulators.device import SimulatedDevice, SimulatorError
from simulators.faults import (
    CONTROL_TOPIC,
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
    format_duration,
    select,
)
from simulators.transport import Transport, TransportError, topic_matches
from simulators.uplink import Uplink

log = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_S = 5.0
DEFAULT_MAX_IN_FLIGHT = 64
TICK_S = 60.0
"""Simulated seconds between two looks at a device's state (at most its heartbeat)."""
LOST_WARNING_EVERY_S = 10.0
DEFAULT_FLAP_PERIOD_S = 20.0


class NoUplink(SimulatorError):
    """A gateway fault was asked for, but the simulator does not own the gateway's uplink."""


@dataclass(frozen=True)
class SimulatorConfig:
    """How fast and how faulty the simulation runs. Durations are simulated seconds, except
    ``min_interval_s`` and ``report_every_s``, which are real ones.

    - ``speed``: simulated seconds per real second (:class:`SimClock`).
    - ``min_interval_s``: shortest real time between two reports of one device, whatever
      the speed; ``report_every_s`` (benchmarks): every device reports at this fixed real
      interval instead of its heartbeat.
    - ``fault_every_s``: a random fault every so many seconds (0: off);
      ``first_fault_after_s`` (default ``fault_every_s``) times the first.
    - ``random``: random faults by mean time between failures (in addition).
    - ``fault_duration_s``: range of a random fault's duration.
    - ``max_in_flight``: messages published but not yet acknowledged; when that many are
      waiting, reports wait too.
    - ``start``: the simulated unix time the run starts at (default: now).
    """

    speed: float = 1.0
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    report_every_s: float | None = None
    fault_every_s: float = 0.0
    first_fault_after_s: float | None = None
    random: RandomFaults | None = None
    fault_duration_s: tuple[float, float] = RANDOM_DURATION_S
    qos: int = 1
    reconnect_max_s: float = 10.0
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    start: float | None = None
    latitude: float = DEFAULT_LATITUDE

    def __post_init__(self) -> None:
        if not (self.speed > 0 and math.isfinite(self.speed)):
            raise ValueError(f"speed must be a positive number, got {self.speed}")
        if self.min_interval_s < 0:
            raise ValueError(f"min_interval_s must not be negative, got {self.min_interval_s}")
        if self.report_every_s is not None and not self.report_every_s > 0:
            raise ValueError(f"report_every_s must be positive, got {self.report_every_s}")
        if self.fault_every_s < 0:
            raise ValueError(f"fault_every_s must not be negative, got {self.fault_every_s}")
        if self.first_fault_after_s is not None and self.first_fault_after_s < 0:
            raise ValueError(
                f"first_fault_after_s must not be negative: {self.first_fault_after_s}"
            )
        low, high = self.fault_duration_s
        if not 0 < low <= high:
            raise ValueError(f"fault_duration_s must be 0 < low <= high, got {low}, {high}")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {self.qos}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")


class _Event(Enum):
    TICK = "tick"
    FAULT_END = "fault_end"
    FLAP = "flap"
    SILENCE_START = "silence_start"
    SILENCE_END = "silence_end"
    GARBAGE = "garbage"
    RANDOM_FAULT = "random_fault"
    MTBF_FAULT = "mtbf_fault"
    SCRIPT = "script"
    UPLINK_RESTORE = "uplink_restore"


class _Scheduled(NamedTuple):
    """A heap entry; ordered by (when, seq) — seq is unique, so the rest is never compared.
    A tuple, so that the heap compares in C (tens of thousands of entries)."""

    when: float
    seq: int
    kind: _Event
    device_id: str = ""
    token: int = 0
    detail: str = ""


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


def command_filters(community: Community) -> tuple[str, ...]:
    """The MQTT filters covering every command topic of the community's profiles."""
    profiles = {device.profile.id: device.profile for device in community}
    filters: dict[str, None] = {}
    for profile in profiles.values():
        filters.update(dict.fromkeys(command_subscriptions(profile)))
    return tuple(filters)


class Simulator:
    """Runs a :class:`Community` against a broker (see the module docstring).

    ``scenario`` is checked against the community at once (ScenarioError); its events run
    at their simulated times once :meth:`run` starts. ``uplink`` is the gateway's uplink the
    simulator owns, needed for the gateway faults. Requests made before :meth:`run` take
    effect when it starts.
    """

    def __init__(
        self,
        community: Community,
        config: SimulatorConfig | None = None,
        *,
        scenario: Scenario | None = None,
        uplink: Uplink | None = None,
        clock: SimClock | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.community = community
        self.config = config or SimulatorConfig()
        self.clock = clock or SimClock(self.config.speed, self.config.start)
        self.scenario = scenario
        self.uplink = uplink
        self._tz = tz if tz is not None else datetime.now().astimezone().tzinfo
        """Time zone of the community's clock (dusk, rush hours): default the machine's."""
        if scenario is not None:
            check_against(scenario, community.devices)
        self._rng = random.Random(f"linli-sim-runtime-{community.seed}")
        self._devices = {
            device.device_id: LiveDevice(
                device,
                behaviour_for(
                    device.profile,
                    random.Random(f"{community.seed}-{device.device_id}"),
                    latitude=self.config.latitude,
                ),
            )
            for device in community
        }
        self._profiles: dict[str, Profile] = {d.profile.id: d.profile for d in community}
        self._queue: list[_Scheduled] = []
        self._seq = 0
        self._uplink_token = 0
        self._gateway_down: str | None = None
        self._wakeup = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while the transport is up (connected and subscribed)."""
        self.published = 0
        """Messages published (and, at QoS 1 or 2, acknowledged) so far."""
        self.lost = 0
        """Messages that could not be published (connection down or publish failed)."""
        self.commands = 0
        """Device commands received and acted on."""
        self._lost_since_warning = 0
        self._last_warning = -math.inf
        self._started = False
        self._quiet = False
        self._transport: Transport | None = None

    # -- scheduling -------------------------------------------------------------------

    def _push(
        self, when: float, kind: _Event, device_id: str = "", token: int = 0, detail: str = ""
    ) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Scheduled(when, self._seq, kind, device_id, token, detail))
        self._wakeup.set()

    def _report_interval(self, device: SimulatedDevice) -> float:
        """Real seconds between two heartbeat reports of ``device``."""
        if self.config.report_every_s is not None:
            return self.config.report_every_s
        return device.report_interval(self.config.speed, self.config.min_interval_s)

    def _tick_interval(self, device: SimulatedDevice) -> float:
        """Real seconds between two looks at ``device``'s state."""
        if self.config.report_every_s is not None:
            return self.config.report_every_s
        sim = min(device.profile.heartbeat_s, TICK_S)
        return max(sim / self.config.speed, self.config.min_interval_s)

    def _schedule_start(self) -> None:
        now = time.monotonic()
        for live in self._devices.values():
            first = now + live.device.phase * self._report_interval(live.device)
            live.next_report = first
            self._push(first, _Event.TICK, live.device_id, live.tick_token)
        if self.config.fault_every_s > 0:
            first_after = self.config.first_fault_after_s
            if first_after is None:
                first_after = self.config.fault_every_s
            self._push(self.clock.deadline(first_after), _Event.RANDOM_FAULT)
        if self.config.random is not None:
            self._schedule_mtbf(self.config.random)
        if self.scenario is not None:
            if self.scenario.random is not None:
                self._schedule_mtbf(self.scenario.random, scripted=True)
            for index, event in enumerate(self.scenario.events):
                self._push(self.clock.deadline_at(event.at_s), _Event.SCRIPT, token=index)

    def _schedule_mtbf(self, faults: RandomFaults, *, scripted: bool = False) -> None:
        delay = faults.next_delay(self._rng, len(self._devices))
        if math.isfinite(delay):
            self._push(
                self.clock.deadline(delay), _Event.MTBF_FAULT, detail="s" if scripted else ""
            )

    def _report_now(self, live: LiveDevice) -> None:
        """Look at the device at once and report whatever its state."""
        live.force = True
        live.tick_token += 1
        self._push(time.monotonic(), _Event.TICK, live.device_id, live.tick_token)

    def _live(self, device_id: str) -> LiveDevice:
        self.community.get(device_id)  # UnknownDevice
        return self._devices[device_id]

    # -- requests ---------------------------------------------------------------------

    def fault_of(self, device_id: str) -> str | None:
        """The fault ``device_id`` shows now (None: working)."""
        return self._live(device_id).fault

    def is_silent(self, device_id: str) -> bool:
        """Whether ``device_id`` is silent now (silenced, without power, gateway down)."""
        return self._live(device_id).silent

    def inject(self, device_id: str, fault: str, duration_s: float) -> None:
        """Put the device into ``fault`` for ``duration_s`` simulated seconds, then back.

        The device reports at once, and again when the fault ends. A new fault replaces the
        current one (and ends flapping). UnknownDevice, UnknownFault or InvalidDuration if the
        request is bad.
        """
        live = self._live(device_id)
        check_duration(duration_s)
        live.device.example_for(fault, self.clock.now(), self._tz)  # UnknownFault
        live.flap = None
        self._set_fault(live, fault, duration_s)
        self._note("fault %s on %s for %s", fault, device_id, format_duration(duration_s))

    def _set_fault(self, live: LiveDevice, fault: str | None, duration_s: float | None) -> None:
        live.fault = fault
        live.fault_token += 1
        if duration_s is not None:
            end = self.clock.deadline(duration_s)
            self._push(end, _Event.FAULT_END, live.device_id, live.fault_token)
        self._report_now(live)

    def flap(self, device_id: str, fault: str, duration_s: float, period_s: float) -> None:
        """Alternate the device between ``fault`` and normal every ``period_s`` simulated
        seconds, for ``duration_s``; it reports each change at once."""
        live = self._live(device_id)
        check_duration(duration_s)
        if not period_s > 0:
            raise SimulatorError(f"flapping period must be positive, got {period_s}")
        live.device.example_for(fault, self.clock.now(), self._tz)
        live.flap = Flap(fault, period_s)
        self._set_fault(live, fault, duration_s)
        self._push(self.clock.deadline(period_s), _Event.FLAP, device_id, live.fault_token)
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
        live = self._live(device_id)
        check_duration(duration_s)
        token = live.silence_tokens.get(reason, 0) + 1
        live.silence_tokens[reason] = token
        self._silence_start(live, reason)
        end = self.clock.deadline(duration_s)
        self._push(end, _Event.SILENCE_END, device_id, token, reason)
        self._note("%s silent (%s) for %s", device_id, reason, format_duration(duration_s))

    def _silence_start(self, live: LiveDevice, reason: str) -> None:
        was_silent = live.silent
        live.silent_for.add(reason)
        if not was_silent and self._transport is not None:
            self._transport.drop(live.device_id)

    def _silence_end(self, live: LiveDevice, reason: str) -> None:
        if reason not in live.silent_for:
            return
        live.silent_for.discard(reason)
        if live.silent:
            return
        self._note("%s is back", live.device_id)
        if self._transport is not None:
            self._transport.restore(live.device_id)
        live.sent = None
        self._report_now(live)

    def send_garbage(self, device_id: str, count: int = 1, over_s: float = 0.0) -> None:
        """Make the device publish ``count`` malformed payloads, spread over ``over_s``
        simulated seconds (0: all at once)."""
        self._live(device_id)
        if count < 1:
            raise SimulatorError(f"garbage count must be at least 1, got {count}")
        step = over_s / count if over_s > 0 else 0.0
        for i in range(count):
            self._push(self.clock.deadline(i * step), _Event.GARBAGE, device_id)
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
        end = self.clock.deadline(duration_s)
        self._push(end, _Event.UPLINK_RESTORE, token=self._uplink_token)
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

    def _note(self, message: str, *args: object) -> None:
        """Log one device's fault at info, or at debug inside a group event."""
        log.log(logging.DEBUG if self._quiet else logging.INFO, message, *args)

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

    def event_from(self, fields: Mapping[str, object]) -> ScriptedFault:
        """A scenario event (without ``at``) as one to carry out now; ScenarioError says
        what is wrong with it, or why the community cannot carry it out."""
        text = json.dumps({"events": [{**fields, "at": 0}]})
        script = Scenario.parse(text, source="control message")
        check_against(script, self.community.devices)
        return script.events[0]

    def handle_command(self, topic: str, payload: bytes) -> bool:
        """A device command from the platform: the device acts on it and reports at once.

        False (and a log line saying why) for a command no simulated device takes."""
        problem = "no simulated device has this command topic"
        for profile in self._profiles.values():
            if not any(topic_matches(topic, f) for f in command_subscriptions(profile)):
                continue
            try:
                decoded = decode_command(profile, topic, payload)
            except CommandError as exc:
                problem = str(exc)
                continue
            live = self._devices.get(decoded.device_id)
            if live is None or live.device.profile.id != profile.id:
                problem = f"no simulated {profile.id} device {decoded.device_id!r}"
                continue
            if live.silent:
                log.info("%s is silent; command %s lost", live.device_id, decoded.name)
                return False
            acted = live.behaviour.command(decoded.name, decoded.args, self.clock.now())
            self.commands += 1
            log.info("%s: command %s %s", live.device_id, decoded.name, decoded.args)
            if acted:
                self._report_now(live)
            return True
        log.warning("ignored command on %s: %s", topic, problem)
        return False

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
                self._transport = None
            if lost is None or stop.is_set():
                continue
            log.warning("%s; retrying in %.1fs", lost, backoff)
            await _wait(stop, backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    async def _serve(self, transport: Transport, stop: asyncio.Event) -> None:
        self._transport = transport
        for live in self._devices.values():
            if live.silent:
                transport.drop(live.device_id)
        self.connected.set()
        # The publisher is told to halt rather than cancelled: on Python 3.11 a cancellation
        # that races with a publish acknowledgement is lost inside aiomqtt (asyncio.wait_for),
        # and the publisher would run on with the TaskGroup waiting for it forever.
        halt = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._publish_loop(transport, halt))
            listener = tasks.create_task(self._listen(transport))
            try:
                await stop.wait()
            finally:
                halt.set()
                self._wakeup.set()
                listener.cancel()

    async def _listen(self, transport: Transport) -> None:
        async for topic, payload in transport.incoming():
            if topic_matches(topic, CONTROL_TOPIC):
                try:
                    self.handle_control(payload)
                except SimulatorError as exc:
                    log.warning("ignored control message %r: %s", payload[:200], exc)
            else:
                self.handle_command(topic, payload)

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
                    message = self._fire(heapq.heappop(self._queue))
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

    def _fire(self, item: _Scheduled) -> tuple[SimulatedDevice, bytes] | None:
        """Carry out one due event; the message to publish, if it makes one."""
        kind = item.kind
        if kind is _Event.TICK:
            return self._tick(self._devices[item.device_id], item)
        try:
            self._fire_fault_event(item)
        except SimulatorError as exc:
            log.warning("%s", exc)
            return None
        if kind is _Event.GARBAGE:
            live = self._devices[item.device_id]
            if live.silent:
                return None
            payload = live.garbage(self.clock.wall(), self.clock.now(), self._tz)
            return live.device, payload
        return None

    def _fire_fault_event(self, item: _Scheduled) -> None:
        kind = item.kind
        if kind is _Event.RANDOM_FAULT:
            self._push(self.clock.deadline(self.config.fault_every_s), _Event.RANDOM_FAULT)
            self._random_fault()
        elif kind is _Event.MTBF_FAULT:
            faults = self.scenario.random if item.detail and self.scenario else self.config.random
            if faults is not None:
                self._schedule_mtbf(faults, scripted=bool(item.detail))
                self._random_fault(faults)
        elif kind is _Event.SCRIPT:
            assert self.scenario is not None
            event = self.scenario.events[item.token]
            log.info("scenario %s line %d:", self.scenario.source, event.line)
            self.apply(event)
        elif kind is _Event.UPLINK_RESTORE:
            if item.token == self._uplink_token:
                self._end_gateway_fault()
        elif kind is _Event.FAULT_END:
            live = self._devices[item.device_id]
            if item.token == live.fault_token and live.fault is not None:
                self._note("fault %s on %s ended", live.fault, live.device_id)
                live.flap = None
                self._set_fault(live, None, None)
        elif kind is _Event.FLAP:
            live = self._devices[item.device_id]
            if item.token == live.fault_token and live.flap is not None:
                live.fault = None if live.fault is not None else live.flap.fault
                self._report_now(live)
                self._push(
                    self.clock.deadline(live.flap.period_s), _Event.FLAP, live.device_id, item.token
                )
        elif kind is _Event.SILENCE_END:
            live = self._devices[item.device_id]
            if live.silence_tokens.get(item.detail) == item.token:
                self._silence_end(live, item.detail)

    def _tick(self, live: LiveDevice, item: _Scheduled) -> tuple[SimulatedDevice, bytes] | None:
        if item.token != live.tick_token:
            return None
        device = live.device
        now = time.monotonic()
        # The next look counts from when this one was due, so a busy loop does not stretch
        # every interval; a device a whole interval behind starts afresh.
        interval = self._tick_interval(device)
        due = item.when + interval
        if due <= now:
            due = now + interval
        self._push(due, _Event.TICK, live.device_id, live.tick_token)
        if live.silent:
            return None
        sim_now = self.clock.now()
        metrics, faults = live.reading(sim_now, self._tz)
        # Heartbeats count in due times, as the ticks do: timed from when a tick ran, a
        # late tick would push the next report past the tick that should carry it.
        if not live.should_report(metrics, item.when + 0.5 * interval):
            return None
        live.force = False
        live.sent = metrics
        live.next_report = item.when + self._report_interval(device)
        return device, live.payload(metrics, faults, self.clock.wall(), sim_now, self._tz)

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

    def _random_fault(self, faults: RandomFaults | None = None) -> None:
        working = [
            live.device for live in self._devices.values() if live.fault is None and not live.silent
        ]
        duration = faults.duration_s if faults is not None else self.config.fault_duration_s
        kinds: Sequence[str] = faults.kinds if faults is not None else ("device_faults",)
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
