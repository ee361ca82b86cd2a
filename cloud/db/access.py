"""Tables of access: accounts, web sessions and API tokens.

Secrets are never stored: a password as its argon2id hash, a session or token as the SHA-256
of the random value its holder has (they are long and random, so a fast hash suffices and a
lookup by it is an index probe).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, Timestamp


class Account(Base):
    """Someone who logs in: an operator admin (no community) or a person of a community."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    password_changed_at: Mapped[datetime] = mapped_column(Timestamp)
    disabled_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebSession(Base):
    """A browser's login: the cookie holds the value whose hash is ``id``."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class ApiToken(Base):
    """A bearer token for an integration: scoped, revocable, shown once when issued."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    """None: the operator's (every community)."""
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)


class BrokerAccount(Base):
    """A user of the cloud broker: a gateway (its user name is its id) or an integration
    of a community that reads its notices. The password is kept only as the broker checks
    it (Mosquitto's PBKDF2-SHA512 line); the cloud's own account comes from its settings."""

    __tablename__ = "broker_accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``gateway`` or ``integration``"""
    gateway_id: Mapped[str | None] = mapped_column(ForeignKey("gateways.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
