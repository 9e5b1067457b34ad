"""Password hashing with argon2 (:class:`callhopper.ports.passwords.PasswordHasher`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

#: A real hash of a random password, verified against when the email is unknown so
#: that a login for a missing user costs as much time as one with a wrong password. Made
#: at the first such login rather than at import (a hash costs a noticeable fraction of a
#: second, which every command of the console would pay).
_DUMMY_HASH: str | None = None


#: Fewer passwords than this per process are hashed in the calling process.
PASSWORDS_PER_WORKER = 8


def _hash(password: str) -> str:
    return _hasher.hash(password)


class Argon2PasswordHasher:
    """argon2id hashes with the library's default cost (the module's hasher, which the test
    suite swaps for a cheap one)."""

    def hash(self, password: str) -> str:
        return _hasher.hash(password)

    def hash_many(self, passwords: Sequence[str]) -> list[str]:
        """Each hash costs a fraction of a second of one core: many are made in a pool of
        processes, one per core (a few, here)."""
        workers = min(os.cpu_count() or 1, len(passwords) // PASSWORDS_PER_WORKER)
        if workers < 2:
            return [_hasher.hash(p) for p in passwords]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_hash, passwords, chunksize=PASSWORDS_PER_WORKER))

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matches = _hasher.verify(password_hash or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH
