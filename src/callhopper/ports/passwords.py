"""The password port: how the core hashes and checks passwords without knowing the
algorithm (:mod:`callhopper.security` implements it with argon2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class PasswordHasher(Protocol):
    """Slow, salted password hashes."""

    def hash(self, password: str) -> str:
        """The hash to store for ``password``."""
        ...

    def hash_many(self, passwords: Sequence[str]) -> list[str]:
        """The hashes of many passwords, in order (on every core where it can)."""
        ...

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches ``password_hash``; false for a missing or malformed
        hash. Takes as long without a hash as with one, so that signing in with an unknown
        email costs as much time as with a wrong password."""
        ...
