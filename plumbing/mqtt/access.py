"""How a client presents itself to a broker: its login and TLS, and its will."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """How a client proves itself to a broker that wants it: a user name and password,
    and TLS — the broker's certificate checked against ``ca_file`` (the system's CAs if
    none), and a certificate of the client's own (``cert_file``, ``key_file``) where the
    broker asks for one."""

    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.password is not None and self.username is None:
            raise ValueError("a broker password needs a user name")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.ca_file is not None or self.cert_file is not None


ANONYMOUS = BrokerAccess()
"""No user name, no TLS: a broker that lets anyone in (a gateway's own, on loopback)."""


@dataclass(frozen=True, slots=True)
class Will:
    """What the broker publishes for the client if its connection dies without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True
