"""Who may use the cloud broker, and for what: the accounts, and the Mosquitto password file
and ACL Linli writes from them.

- A **gateway** logs in with its id as user name. It publishes only under its own prefix
  (``linli/v1/gw/<id>/up/…``) and reads only its own commands and acknowledgements
  (``…/<id>/down/…``).
- The **cloud** (API processes and ingest workers, one account from their settings) reads
  every gateway's ``up`` topics, writes their ``down`` topics and pushes notices under
  ``linli/community/…``.
- An **integration** of a community (a building's message board) reads that community's
  notices, ``linli/community/<slug>/#``.

Nobody else gets in: the broker's configuration (:func:`broker_conf`) refuses anonymous
clients. Passwords are made here, shown once, and kept only as Mosquitto checks them
(PBKDF2-SHA512, its ``$7$`` lines). After a change the files are written anew
(:class:`BrokerFiles`) and the broker told to read them again (SIGHUP); from then on a
revoked account's connections are refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.access import BrokerAccount
from cloud.db.models import Gateway
from cloud.db.register import Community
from device_profiles.protocol import PREFIX

GATEWAY, INTEGRATION = "gateway", "integration"
NOTICES_PREFIX = "linli/community"
"""Where the cloud pushes ticket notices (``cloud/notify``)."""
ITERATIONS = 101
"""What ``mosquitto_passwd`` uses: the password is long and random, the count guards little."""


class BrokerAccessError(Exception):
    """An account cannot be made or found; the message says why."""


def broker_hash(password: str, *, salt: bytes | None = None) -> str:
    """``password`` as a line of Mosquitto's password file holds it (``$7$…``)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def new_broker_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class CloudAccount:
    """The cloud's own broker account, from its settings."""

    username: str
    password: str


# -- accounts -----------------------------------------------------------------------------


def add_gateway_account(session: Session, gateway: Gateway, now: datetime) -> str:
    """A broker account for ``gateway`` (user name: its id); its new password, to be shown
    once. A gateway with an account gets a new password (the old one stops working)."""
    password = new_broker_password()
    found = session.get(BrokerAccount, gateway.id)
    if found is not None and found.kind != GATEWAY:
        raise BrokerAccessError(f"user name {gateway.id!r} is taken by an {found.kind}")
    if found is None:
        found = BrokerAccount(username=gateway.id, kind=GATEWAY, created_at=now)
        session.add(found)
    found.gateway_id = gateway.id
    found.community_id = gateway.community_id
    found.password_hash = broker_hash(password)
    found.revoked_at = None
    return password


def add_integration_account(
    session: Session, username: str, community: Community, now: datetime
) -> str:
    """A broker account for an integration that reads ``community``'s notices; its new
    password, to be shown once."""
    if "@" not in username:
        # never a gateway's id (ids have no @), so never a gateway's topics
        raise BrokerAccessError(f"an integration's user name has an @, e.g. board@{community.slug}")
    found = session.get(BrokerAccount, username)
    if found is not None and (found.kind != INTEGRATION or found.community_id != community.id):
        raise BrokerAccessError(f"user name {username!r} is taken")
    password = new_broker_password()
    if found is None:
        found = BrokerAccount(username=username, kind=INTEGRATION, created_at=now)
        session.add(found)
    found.community_id = community.id
    found.password_hash = broker_hash(password)
    found.revoked_at = None
    return password


def revoke_account(session: Session, username: str, now: datetime) -> bool:
    """Take the account's right to connect away; False if it had none."""
    found = session.get(BrokerAccount, username)
    if found is None or found.revoked_at is not None:
        return False
    found.revoked_at = now
    return True


def live_accounts(session: Session) -> list[BrokerAccount]:
    return list(
        session.scalars(
            select(BrokerAccount)
            .where(BrokerAccount.revoked_at.is_(None))
            .order_by(BrokerAccount.kind, BrokerAccount.username)
        )
    )


# -- what Mosquitto reads -----------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One account's line in the files: its password hash and its topics."""

    username: str
    password_hash: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


def cloud_grant(cloud: CloudAccount) -> Grant:
    return Grant(
        cloud.username,
        broker_hash(cloud.password),
        read=(f"{PREFIX}/+/up/#",),
        write=(f"{PREFIX}/+/down/#", f"{NOTICES_PREFIX}/#"),
    )


def account_grants(session: Session) -> list[Grant]:
    """Every live account's grant."""
    slugs = {cid: slug for cid, slug in session.execute(select(Community.id, Community.slug))}
    grants = []
    for account in live_accounts(session):
        if account.kind == GATEWAY:
            own = f"{PREFIX}/{account.username}"
            grants.append(
                Grant(
                    account.username,
                    account.password_hash,
                    read=(f"{own}/down/#",),
                    write=(f"{own}/up/#",),
                )
            )
        elif account.kind == INTEGRATION and account.community_id in slugs:
            topic = f"{NOTICES_PREFIX}/{slugs[account.community_id]}/#"
            grants.append(Grant(account.username, account.password_hash, read=(topic,)))
    return grants


def password_file(grants: Iterable[Grant]) -> str:
    return "".join(f"{g.username}:{g.password_hash}\n" for g in grants)


def acl_file(grants: Iterable[Grant]) -> str:
    """Each account may use its topics and no others (Mosquitto denies what no line
    allows)."""
    lines = ["# written by Linli (linli gateway, linli broker); changes here are lost"]
    for grant in grants:
        lines += ["", f"user {grant.username}"]
        lines += [f"topic read {topic}" for topic in grant.read]
        lines += [f"topic write {topic}" for topic in grant.write]
    return "\n".join(lines) + "\n"


def broker_conf(directory: Path) -> str:
    """The lines a Mosquitto configuration includes to use the files in ``directory``."""
    return (
        "# written by Linli: every client logs in, and uses only the topics its account has\n"
        "allow_anonymous false\n"
        f"password_file {directory / 'passwd'}\n"
        f"acl_file {directory / 'acl'}\n"
    )


@dataclass(frozen=True)
class BrokerFiles:
    """The files of ``directory`` a Mosquitto broker reads: ``passwd``, ``acl`` and
    ``linli.conf`` (include it, or copy its lines, in the broker's configuration)."""

    directory: Path

    def write(self, grants: list[Grant]) -> None:
        """Write the files anew, each whole or not at all (a broker reloading meanwhile
        reads the old or the new, never half)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _replace(self.directory / "passwd", password_file(grants), mode=0o640)
        _replace(self.directory / "acl", acl_file(grants), mode=0o640)
        _replace(self.directory / "linli.conf", broker_conf(self.directory), mode=0o644)

    @staticmethod
    def reload(pid_file: Path) -> int:
        """Tell the broker whose process id ``pid_file`` holds to read its files again
        (SIGHUP); its pid. BrokerAccessError if there is no such broker."""
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError, IndexError) as exc:
            raise BrokerAccessError(f"cannot signal the broker of {pid_file}: {exc}") from exc
        return pid


def _replace(path: Path, text: str, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
