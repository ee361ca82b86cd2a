"""Linli device profiles: the open format every device type is described in.

Pure code (no I/O beyond reading profile files on request) shared by the edge agent,
the cloud and the simulators. What it holds, one idea a module:

- the format: :mod:`~device_profiles.schema` (the models), :mod:`~device_profiles.topics`
  (topic patterns and their placeholders), :mod:`~device_profiles.references` (names that
  refer to each other), :mod:`~device_profiles.units`, :mod:`~device_profiles.pieces`
  (parts many profiles share, included by name);
- applying a profile: :mod:`~device_profiles.fields` (a payload's fields, read and
  written), :mod:`~device_profiles.decode` (compiled: :mod:`~device_profiles.decoder`),
  :mod:`~device_profiles.rules` (health; compiled: :mod:`~device_profiles.rule_plans`),
  :mod:`~device_profiles.encode` with :mod:`~device_profiles.vendor_values` (the inverse of
  decoding), :mod:`~device_profiles.commands`, :mod:`~device_profiles.examples`;
- files: :mod:`~device_profiles.catalogue` (loading, with located problems),
  :mod:`~device_profiles.file_checks` (``validate``), :mod:`~device_profiles.describe`
  (``show``, ``list``), :mod:`~device_profiles.cli` (``linli profiles``);
- the wire protocol between edge and cloud: :mod:`~device_profiles.protocol` (the models
  that define it), :mod:`~device_profiles.wire` (batches read fast, as the models read them);
- the site file, a community as data: :mod:`~device_profiles.site`.

It imports ``plumbing`` only, never ``edge_agent``, ``cloud``, ``simulators`` or ``linli``:
they all import it (``tests/test_layering.py``).
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
