"""Webhooks over HTTP with httpx (:mod:`callhopper.ports.webhooks`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

#: How much of a failed answer's body is kept in the message's ``last_error``.
ERROR_BODY_CHARS = 300


class HttpxPosts:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
        try:
            with self.client.stream("POST", url, content=body, headers=headers) as response:
                if response.is_success:
                    return None
                # One chunk at most: a slow endpoint cannot hold the sender for long.
                chunk = next(response.iter_bytes(), b"")
                text = chunk.decode("utf-8", "replace")[:ERROR_BODY_CHARS].strip()
                return f"HTTP {response.status_code}" + (f": {text}" if text else "")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class HttpxWebhookPoster:
    """POSTs with an httpx client per batch (``transport`` lets tests answer in-process)."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport

    @contextmanager
    def open(self, *, timeout_s: float) -> Iterator[HttpxPosts]:
        with httpx.Client(
            timeout=timeout_s, follow_redirects=False, transport=self.transport
        ) as client:
            yield HttpxPosts(client)
