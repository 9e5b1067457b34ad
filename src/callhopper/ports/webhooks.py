"""The webhook port: how the webhook sender POSTs a signed message to a rule's URL."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol


class WebhookPosts(Protocol):
    """Posts messages over connections kept open for one batch."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
        """POST ``body``; ``None`` when the endpoint answered 2xx, else why it failed (the
        status and the start of the answer, or the network error), never an exception."""
        ...


class WebhookPoster(Protocol):
    """Opens a client for one batch of messages."""

    def open(self, *, timeout_s: float) -> AbstractContextManager[WebhookPosts]:
        """A client whose every phase (connect, send, first bytes of the answer) may take
        ``timeout_s``; redirects are not followed."""
        ...
