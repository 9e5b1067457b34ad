"""Password hashing (argon2) and opaque secrets for sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

API_TOKEN_PREFIX = "chp_"
SESSION_PREFIX = "chs_"
MIN_PASSWORD_LENGTH = 8

#: A real hash of a random password, verified against when the email is unknown so
#: that a login for a missing user costs as much time as one with a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; false for a missing or malformed hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """A fresh 256-bit secret, prefixed so that leaked tokens are recognisable."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored for a token: a secret this long needs no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()
