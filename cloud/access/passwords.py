"""Passwords: hashed with argon2id, checked in constant time, new ones generated."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A password to hand out once: 20 characters from a URL-safe alphabet."""
    return secrets.token_urlsafe(15)


def weak(password: str) -> str | None:
    """Why ``password`` will not do, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    return None
