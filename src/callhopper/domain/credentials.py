"""Opaque secrets: login sessions, API tokens and webhook signing keys.

A secret carries a prefix that says what it is (so that a leaked one is recognisable) and 256
random bits. Only a hash of a session or token secret is stored.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A fresh 256-bit secret, prefixed so that leaked tokens are recognisable."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored for a secret: one this long needs no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()
