"""Accounts, logins, web sessions and API tokens: :class:`AccessDesk`.

There is no default password anywhere. At first start :meth:`AccessDesk.bootstrap_admin`
creates the operator admin ``admin`` with the password given (``LINLI_ADMIN_PASSWORD``) or,
if none is, a generated one, written to ``admin-password`` in the data directory (readable
by its owner only) and printed once. ``linli cloud admin reset-password`` sets a new one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.access.limits import LoginLimiter
from cloud.access.passwords import hash_password, new_password, password_matches, weak
from cloud.access.roles import SCOPES, Principal, Role
from cloud.db.models import Account, ApiToken, Community, PersonZone, WebSession

ADMIN = "admin"
PASSWORD_FILE = "admin-password"
SESSION_COOKIE = "linli_session"
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "lnl_"


class LoginRefused(Exception):
    """Wrong user name or password, or a disabled account (which one is not said)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class AccessError(ValueError):
    """A request about accounts or tokens that cannot be met; the message says why."""


class AccessDenied(AccessError):
    """The one asking may not do it (not what they asked for)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Login:
    cookie: str
    """the session cookie's value"""
    principal: Principal
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str
    """the bearer value: shown once, stored only as its hash"""


class AccessDesk:
    def __init__(
        self, sessions: sessionmaker[Session], limiter: LoginLimiter | None = None
    ) -> None:
        self._sessions = sessions
        self.limiter = limiter or LoginLimiter()

    # ------------------------------------------------------------------ accounts

    def bootstrap_admin(self, data_dir: Path, password: str | None, now: datetime) -> str | None:
        """Create the operator admin if there is none; what to tell whoever started the
        service (the generated password), or None."""
        with self._sessions.begin() as session:
            exists = session.scalar(
                select(Account.id).where(Account.role == Role.OPERATOR_ADMIN.value).limit(1)
            )
            if exists is not None:
                return None
            generated = password is None
            if password is None:
                password = new_password()
            elif problem := weak(password):
                raise AccessError(f"LINLI_ADMIN_PASSWORD: {problem}")
            self.create_account(session, ADMIN, password, Role.OPERATOR_ADMIN, None, now)
        if not generated:
            return None
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / PASSWORD_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
        return (
            f"created the operator admin: log in as {ADMIN!r} with password {password} "
            f"(also in {path}, readable by its owner only; change it with "
            "`linli cloud admin reset-password`)"
        )

    @staticmethod
    def create_account(
        session: Session,
        username: str,
        password: str,
        role: Role,
        community_id: int | None,
        now: datetime,
        person_id: int | None = None,
    ) -> Account:
        if problem := weak(password):
            raise AccessError(problem)
        if (role is Role.OPERATOR_ADMIN) != (community_id is None):
            raise AccessError("an operator admin has no community; everyone else has one")
        if session.scalar(select(Account.id).where(Account.username == username)) is not None:
            raise AccessError(f"user name {username!r} is taken")
        account = Account(
            username=username,
            password_hash=hash_password(password),
            role=role.value,
            community_id=community_id,
            person_id=person_id,
            created_at=now,
            password_changed_at=now,
        )
        session.add(account)
        session.flush()
        return account

    @staticmethod
    def set_role_of_person(session: Session, person_id: int, role: Role) -> None:
        """The person's accounts take their new role (at their next request)."""
        for account in session.scalars(select(Account).where(Account.person_id == person_id)):
            account.role = role.value

    @staticmethod
    def disable_accounts_of_person(session: Session, person_id: int, now: datetime) -> None:
        """The person's accounts log in no more, and their web sessions end (a person
        archived). Tokens they issued are their integrations' and stay."""
        accounts = list(session.scalars(select(Account).where(Account.person_id == person_id)))
        for account in accounts:
            if account.disabled_at is None:
                account.disabled_at = now
        if accounts:
            session.execute(
                delete(WebSession).where(WebSession.account_id.in_([a.id for a in accounts]))
            )

    def set_password(self, username: str, password: str, now: datetime) -> None:
        """A new password for ``username``; its web sessions end (LookupError: no such
        account)."""
        if problem := weak(password):
            raise AccessError(problem)
        with self._sessions.begin() as session:
            account = session.scalar(select(Account).where(Account.username == username))
            if account is None:
                raise LookupError(f"no account {username!r}")
            account.password_hash = hash_password(password)
            account.password_changed_at = now
            session.execute(delete(WebSession).where(WebSession.account_id == account.id))

    # ------------------------------------------------------------------ web sessions

    def login(self, username: str, password: str, client: str, now: datetime) -> Login:
        keys = (f"user:{username.lower()}", f"client:{client}")
        wait = self.limiter.retry_after(*keys)
        if wait > 0:
            raise TooManyAttempts(wait)
        with self._sessions.begin() as session:
            account = session.scalar(select(Account).where(Account.username == username))
            if (
                account is None
                or account.disabled_at is not None
                or not password_matches(account.password_hash, password)
            ):
                self.limiter.failed(*keys)
                raise LoginRefused("wrong user name or password")
            self.limiter.succeeded(*keys)
            cookie = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(24)
            expires = now + SESSION_LIFETIME
            session.add(
                WebSession(
                    id=_digest(cookie),
                    account_id=account.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
            return Login(cookie, _principal(session, account, csrf), expires)

    def session_principal(self, cookie: str, now: datetime) -> Principal | None:
        with self._sessions() as session:
            found = session.execute(
                select(WebSession, Account)
                .join(Account, Account.id == WebSession.account_id)
                .where(WebSession.id == _digest(cookie))
            ).first()
            if found is None:
                return None
            web, account = found
            if web.expires_at <= now or account.disabled_at is not None:
                return None
            return _principal(session, account, web.csrf_token)

    def logout(self, cookie: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(WebSession).where(WebSession.id == _digest(cookie)))

    # ------------------------------------------------------------------ API tokens

    def issue_token(
        self,
        issuer: Principal,
        name: str,
        scopes: Iterable[str],
        community_id: int | None,
        now: datetime,
    ) -> IssuedToken:
        wanted = sorted(set(scopes))
        unknown = [scope for scope in wanted if scope not in SCOPES]
        if unknown:
            raise AccessError(f"unknown scope(s) {unknown}; scopes: {sorted(SCOPES)}")
        if issuer.account_id is None:
            raise AccessDenied("only a person logged in issues tokens")
        if not issuer.sees(community_id) or (community_id is None and issuer.community_id):
            raise AccessDenied("a token is for your own community")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            if community_id is not None and session.get(Community, community_id) is None:
                raise AccessError(f"no community {community_id}")
            row = ApiToken(
                name=name,
                token_hash=_digest(token),
                community_id=community_id,
                scopes=wanted,
                created_by=issuer.account_id,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return IssuedToken(row.id, token)

    def token_principal(self, token: str) -> Principal | None:
        with self._sessions() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        return Principal(
            name=row.name,
            role=Role.TOKEN,
            community_id=row.community_id,
            token_id=row.id,
            scopes=frozenset(row.scopes),
        )

    def revoke_token(self, revoker: Principal, token_id: int, now: datetime) -> None:
        """LookupError if there is no such token the revoker may see."""
        with self._sessions.begin() as session:
            row = session.get(ApiToken, token_id)
            if row is None or not revoker.sees(row.community_id):
                raise LookupError(f"no token {token_id}")
            if row.revoked_at is None:
                row.revoked_at = now


def _principal(session: Session, account: Account, csrf: str | None) -> Principal:
    role = Role(account.role)
    zones: frozenset[int] | None = None
    if role is Role.MAINTAINER:  # a maintainer reaches the zones they work in, no more
        zones = frozenset(
            session.scalars(
                select(PersonZone.zone_id).where(PersonZone.person_id == account.person_id)
            )
            if account.person_id is not None
            else ()
        )
    return Principal(
        name=account.username,
        role=role,
        community_id=account.community_id,
        account_id=account.id,
        csrf_token=csrf,
        zone_ids=zones,
        person_id=account.person_id,
    )
