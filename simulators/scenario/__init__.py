"""Fault scenarios: scripted faults at set times, and random faults by mean time between failures.

A scenario is a YAML file. This package runs nothing itself: :mod:`~simulators.scenario.model`
says what a scenario is, :mod:`~simulators.scenario.parser` reads and validates one, and
:mod:`~simulators.scenario.targets` picks the devices an event targets and checks the whole
against the simulated community. The simulator (:mod:`simulators.simulator`) carries the
events out on its simulated clock (:class:`simulators.clock.SimClock`), so every time below
is *simulated* time.

It imports ``plumbing``, ``device_profiles`` and, of the simulator, only
:mod:`simulators.device` and :mod:`simulators.faults` (the limits of a fault): never the
transport, the behaviours or the loop that carries scenarios out (``tests/test_layering.py``).

Format
------

.. code-block:: yaml

    name: A bad evening            # optional; default: the file's name without .yaml
    events:                        # optional (a scenario needs events, random, or both)
      - at: 2m                     # when, counted from the start of the run
        device: gate-01            # the target (see Targets)
        fault: motor_jammed        # a fault of the device's profile, or a special kind
        for: 10m                   # how long; default 1m
      - at: 5m
        zone: zone-a
        category: lighting
        fault: power_loss
        for: 15m
      - at: 10m
        device: pump-01
        fault: flapping
        flap: low_pressure
        period: 30s
        for: 10m
      - at: 12m
        gateway: true
        fault: uplink_loss
        for: 5m
      - at: 25m
        device: light-a-01
        fault: garbage
        count: 20
    random:                        # optional: random faults
      mtbf: 30d                    # each device's mean time between failures
      duration: [10m, 2h]          # a random fault lasts between these; default [30s, 90s]
      kinds: [device_faults, silent]   # default [device_faults]

Events may be listed in any order; they run in order of ``at`` (events with the same
``at`` in the order the file lists them). Unknown keys are errors, so typos are caught.

Durations
    ``at``, ``for``, ``period``, ``mtbf`` and ``duration`` take a number of seconds
    (``90``, ``2.5``) or numbers with units ``d``, ``h``, ``m``, ``s``, largest first:
    ``90s``, ``5m``, ``1.5h``, ``1h30m``, ``2d``. ``at`` may be 0; a fault lasts at most 7
    days (``for`` up to ``7d``, like a control message's ``duration_s``); see
    :mod:`plumbing.durations`.

Targets
    Exactly one of:

    - ``device: ID`` — one device;
    - ``devices: [ID, ...]`` — these devices;
    - ``zone: NAME`` — every device in the zone;
    - ``profile: ID`` — every device of the profile (e.g. ``acme_access_gate``);
    - ``type: NAME`` — every device of the type, in whatever dialect (e.g. ``street_light``);
    - ``gateway: true`` — the edge gateway the simulated devices sit behind.

    ``category: NAME`` narrows a ``zone``, ``profile`` or ``type`` target to the devices whose
    profile has that category (``lighting``, ``access``, ...).

Faults
    A profile fault (``motor_jammed``) puts each targeted device into it for ``for``; its
    profile must declare the fault and have an example payload showing it. Every device a
    ``device`` or ``devices`` target names must be able to; a zone, profile or type target
    affects those of its devices that can (at least one must). Or one of the special kinds:

    - ``silent`` — the devices stop reporting (and drop their connections) for ``for``;
    - ``power_loss`` — the devices lose power: silent, connections dropped, for ``for``;
    - ``flapping`` — the devices alternate between the fault named by ``flap`` (required)
      and normal: ``period`` (default 20s) in the fault, then ``period`` normal, for
      ``for``; ``period`` must be shorter than ``for``;
    - ``garbage`` — each device sends ``count`` (default 10, at most 10000) malformed
      payloads, all at once, or spread evenly over ``for`` if given;
    - ``uplink_loss`` (``gateway: true`` only) — the gateway loses its uplink to the cloud
      for ``for``; devices go on reporting to it;
    - ``gateway_power_loss`` (``gateway: true`` only) — the gateway loses power for
      ``for``: no uplink, and no device behind it is heard.

    ``flap`` and ``period`` are allowed only with ``flapping``, ``count`` only with
    ``garbage``.

Random faults
    With ``random``, each device fails on average once per ``mtbf``: across a community of
    N devices the next random fault comes after an exponentially distributed time with mean
    ``mtbf / N`` (:meth:`RandomFaults.next_delay`). Each random fault is of one of ``kinds``,
    picked uniformly: ``device_faults`` (one of the device's profile faults), ``silent``, or
    ``flapping`` (one of its profile faults, flapping with the default period), and lasts a
    uniformly drawn time in ``duration``.

Errors
    :class:`ScenarioError` lists every problem, one per line, as ``FILE:LINE: field: what``
    (e.g. ``evening.yaml:12: events[3].for: at most 7d, got 8d``), for bad YAML as much as for
    bad fields (:func:`load_scenario`; :func:`scenario_from` and :func:`event_from` take the
    same as values, e.g. from a control message, and say no line). :func:`check_against`
    then checks the events against the simulated community before anything runs: unknown
    devices, targets that select no device, faults no targeted device can show.
"""

from simulators.scenario.model import (
    DEFAULT_FLAP_PERIOD_S,
    DEFAULT_GARBAGE_COUNT,
    DEVICE_FAULTS,
    FLAPPING,
    GARBAGE,
    GATEWAY_KINDS,
    GATEWAY_POWER_LOSS,
    MAX_GARBAGE_COUNT,
    POWER_LOSS,
    RANDOM_KINDS,
    SILENT,
    SPECIAL_KINDS,
    TARGET_KEYS,
    UPLINK_LOSS,
    RandomFaults,
    Scenario,
    ScenarioError,
    ScriptedFault,
    Target,
)
from simulators.scenario.parser import event_from, load_scenario, scenario_from
from simulators.scenario.targets import DeviceLike, can_show, check_against, select

__all__ = [
    "DEFAULT_FLAP_PERIOD_S",
    "DEFAULT_GARBAGE_COUNT",
    "DEVICE_FAULTS",
    "FLAPPING",
    "GARBAGE",
    "GATEWAY_KINDS",
    "GATEWAY_POWER_LOSS",
    "MAX_GARBAGE_COUNT",
    "POWER_LOSS",
    "RANDOM_KINDS",
    "SILENT",
    "SPECIAL_KINDS",
    "TARGET_KEYS",
    "UPLINK_LOSS",
    "DeviceLike",
    "RandomFaults",
    "Scenario",
    "ScenarioError",
    "ScriptedFault",
    "Target",
    "can_show",
    "check_against",
    "event_from",
    "load_scenario",
    "scenario_from",
    "select",
]
