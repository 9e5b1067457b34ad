"""Password hashing with argon2 (:class:`callhopper.ports.passwords.PasswordHasher`)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

#: A real hash of a random password, verified against when the email is unknown so
#: that a login for a missing user costs as much time as one with a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Argon2PasswordHasher:
    """argon2id hashes with the library's default cost (the module's hasher, which the test
    suite swaps for a cheap one)."""

    def hash(self, password: str) -> str:
        return _hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matches = _hasher.verify(password_hash or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None
