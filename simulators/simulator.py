"""The loop that runs a simulated community against a broker.

:class:`Simulator` keeps every device's state (:class:`simulators.live.LiveDevice`) and one
timetable of due events (:class:`simulators.schedule.Schedule`), so twenty thousand devices
cost no more tasks than ten. Each device *ticks* on its own period: its behaviour advances
to the simulated time and it reports when its heartbeat is due or a state it reports by
exception changed. Faults — the profile's own, silence, flapping, power loss of a zone or
of the gateway, loss of the gateway's uplink, bursts of garbage — come from the control
topic, from a scripted :class:`simulators.scenario.Scenario`, or at random; its
:class:`simulators.injection.FaultInjector` carries them out, all on the one
:class:`simulators.clock.SimClock`.

Commands the profiles define arrive on the devices' command topics; the device acts on them
(:meth:`simulators.behaviour.Behaviour.command`) and reports its new state at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, tzinfo

from device_profiles.commands import CommandError, command_subscriptions, decode_command
from device_profiles.schema import Profile
from plumbing.backoff import Backoff
from plumbing.mqtt import topic_matches
from plumbing.tasks import wait_event
from simulators.behaviour import DEFAULT_LATITUDE, behaviour_for
from simulators.clock import SimClock
from simulators.community import Community
from simulators.device import SimulatedDevice, SimulatorError
from simulators.faults import CONTROL_TOPIC, RANDOM_DURATION_S
from simulators.injection import FaultInjector
from simulators.live import LiveDevice
from simulators.scenario import RandomFaults, Scenario, check_against
from simulators.schedule import Due, Event, Schedule
from simulators.transport import (
    FIRST_RECONNECT_S,
    RECONNECT_MAX_S,
    Transport,
    TransportError,
)
from simulators.uplink import Uplink

log = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_S = 5.0
DEFAULT_MAX_IN_FLIGHT = 64
TICK_S = 60.0
"""Simulated seconds between two looks at a device's state (at most its heartbeat)."""
LOST_WARNING_EVERY_S = 10.0


@dataclass(frozen=True)
class SimulatorConfig:
    """How fast and how faulty the simulation runs. Durations are simulated seconds, except
    ``min_interval_s``, ``report_every_s`` and ``reconnect_max_s``, which are real ones.

    - ``speed``: simulated seconds per real second (:class:`SimClock`).
    - ``min_interval_s``: shortest real time between two reports of one device, whatever
      the speed; ``report_every_s`` (benchmarks): every device reports at this fixed real
      interval instead of its heartbeat.
    - ``fault_every_s``: a random fault every so many seconds (0: off);
      ``first_fault_after_s`` (default ``fault_every_s``) times the first.
    - ``random``: random faults by mean time between failures (in addition).
    - ``fault_duration_s``: range of a random fault's duration.
    - ``reconnect_max_s``: the longest wait before connecting again after the transport
      was lost (full jitter, from :data:`FIRST_RECONNECT_S` doubling up to this).
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
    reconnect_max_s: float = RECONNECT_MAX_S
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
        if self.reconnect_max_s < FIRST_RECONNECT_S:
            raise ValueError(
                f"reconnect_max_s must be at least {FIRST_RECONNECT_S}, got {self.reconnect_max_s}"
            )
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")


Connect = Callable[[], AbstractAsyncContextManager[Transport]]


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
    simulator owns, needed for the gateway faults. Fault requests (:attr:`faults`) made
    before :meth:`run` take effect when it starts.
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
        self._tz = tz if tz is not None else datetime.now().astimezone().tzinfo
        """Time zone of the community's clock (dusk, rush hours): default the machine's."""
        if scenario is not None:
            check_against(scenario, community.devices)
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
        self._schedule = Schedule()
        self.faults = FaultInjector(
            community,
            self._devices,
            self.clock,
            self._schedule,
            tz=self._tz,
            rng=random.Random(f"linli-sim-runtime-{community.seed}"),
            scenario=scenario,
            uplink=uplink,
            random_faults=self.config.random,
            fault_every_s=self.config.fault_every_s,
            first_fault_after_s=self.config.first_fault_after_s,
            fault_duration_s=self.config.fault_duration_s,
        )
        """Faults on request (:meth:`FaultInjector.inject`, ...), the scenario's, at random."""
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

    # -- timing -----------------------------------------------------------------------

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
            self._schedule.push(first, Event.TICK, live.device_id, live.tick_token)
        self.faults.start()

    # -- device commands --------------------------------------------------------------

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
                self._schedule.tick_now(live)
            return True
        log.warning("ignored command on %s: %s", topic, problem)
        return False

    # -- running ----------------------------------------------------------------------

    async def run(self, connect: Connect, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or the task is cancelled), connecting again after a
        backoff with full jitter whenever the transport is lost."""
        if stop is None:
            stop = asyncio.Event()
        if not self._started:
            self._started = True
            self._schedule_start()
        backoff = Backoff(FIRST_RECONNECT_S, self.config.reconnect_max_s)
        while not stop.is_set():
            lost: TransportError | None = None
            try:
                async with connect() as transport:
                    backoff.reset()
                    await self._serve(transport, stop)
            except* TransportError as group:
                lost = next(e for e in group.exceptions if isinstance(e, TransportError))
            finally:
                self.connected.clear()
                self.faults.transport = None
            if lost is None or stop.is_set():
                continue
            delay = backoff.next()
            log.warning("%s; retrying in %.1fs", lost, delay)
            await wait_event(stop, delay)

    async def _serve(self, transport: Transport, stop: asyncio.Event) -> None:
        self.faults.transport = transport
        for live in self._devices.values():
            if live.silent:
                transport.drop(live.device_id)
        self.connected.set()
        # The publisher is told to halt rather than cancelled: it stops between two messages
        # and waits for those in flight, so the transport never closes under a publish.
        halt = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._publish_loop(transport, halt))
            listener = tasks.create_task(self._listen(transport))
            try:
                await stop.wait()
            finally:
                halt.set()
                self._schedule.wakeup.set()
                listener.cancel()

    async def _listen(self, transport: Transport) -> None:
        async for topic, payload in transport.incoming():
            if topic_matches(topic, CONTROL_TOPIC):
                try:
                    self.faults.handle_control(payload)
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

        schedule = self._schedule
        try:
            while not halt.is_set():
                now = time.monotonic()
                while not halt.is_set() and (item := schedule.pop_due(now)) is not None:
                    message = self._fire(item)
                    if message is None:
                        continue
                    # Tasks start in the order they are created, so messages leave in the
                    # order they were due; the window bounds how many await their ack.
                    await window.acquire()
                    task = asyncio.create_task(self._send(transport, *message))
                    sending.add(task)
                    task.add_done_callback(done)
                schedule.wakeup.clear()
                if halt.is_set():
                    return
                next_when = schedule.next_when()
                timeout = None if next_when is None else next_when - time.monotonic()
                await wait_event(schedule.wakeup, timeout)
        finally:
            # in-flight publishes end by themselves (acknowledged, failed or timed out);
            # the transport must not close under them
            if sending:
                await asyncio.wait(set(sending))

    def _fire(self, item: Due) -> tuple[SimulatedDevice, bytes] | None:
        """Carry out one due event; the message to publish, if it makes one."""
        if item.kind is Event.TICK:
            return self._tick(self._devices[item.device_id], item)
        return self.faults.fire(item)

    def _tick(self, live: LiveDevice, item: Due) -> tuple[SimulatedDevice, bytes] | None:
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
        self._schedule.push(due, Event.TICK, live.device_id, live.tick_token)
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
