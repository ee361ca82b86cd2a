"""Linli device profiles: the open format every device type is described in.

Pure code (no I/O beyond reading profile files on request) shared by the edge agent,
the cloud and the simulators.
"""

from device_profiles.catalogue import Catalogue, ProfileError, ProfileIssue, load_file
from device_profiles.decode import Decoded, DecodeError, decode, match_topic
from device_profiles.rules import Verdict, evaluate, health_of, worst
from device_profiles.schema import Fault, Health, Priority, Profile, Severity

__all__ = [
    "Catalogue",
    "DecodeError",
    "Decoded",
    "Fault",
    "Health",
    "Priority",
    "Profile",
    "ProfileError",
    "ProfileIssue",
    "Severity",
    "Verdict",
    "decode",
    "evaluate",
    "health_of",
    "load_file",
    "match_topic",
    "worst",
]
