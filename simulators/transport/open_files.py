"""Room for many sockets: the open-file limit a process needs for its MQTT connections."""

from __future__ import annotations

import logging
import resource

from simulators.device import SimulatorError

log = logging.getLogger(__name__)

FILES_PER_PROCESS = 100
"""Open files a simulator needs besides its MQTT connections (interpreter, logs, loop)."""


class OpenFileLimit(SimulatorError):
    """This process may not open enough files (sockets) for the connections asked for."""


def ensure_open_files(connections: int) -> int:
    """Make room for ``connections`` sockets; the soft RLIMIT_NOFILE now in force.

    Raises the soft limit to the hard limit when it is too low; OpenFileLimit, saying what to
    do, when even the hard limit is too low. The broker needs as many descriptors as well.
    """
    needed = connections + FILES_PER_PROCESS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OpenFileLimit(
            f"{connections} MQTT connections need about {needed} open files, but this process "
            f"may open at most {hard} (hard RLIMIT_NOFILE); raise it (ulimit -Hn, or "
            f"LimitNOFILE= in a systemd unit), or use fewer connections "
            f"(--connection-mode shared)"
        )
    target = hard if hard != resource.RLIM_INFINITY else max(needed, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        # an unlimited hard limit may still be capped by the kernel (fs.nr_open)
        target = needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    log.info("open-file limit raised from %d to %d for %d connections", soft, target, connections)
    return target
