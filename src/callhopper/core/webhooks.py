"""Delivery of the webhook outbox that workflow rules fill.

Workflow rules queue webhooks as rows of ``webhook_outbox`` in the transaction of the
change they report. :class:`WebhookSender` delivers them afterwards:

1. one short write transaction claims a batch of due messages (``FOR UPDATE SKIP LOCKED``
   on PostgreSQL, the writer lock on SQLite) and leases them by moving their
   ``next_attempt_at`` past the time the batch may take;
2. the messages are POSTed with no transaction open;
3. a second short transaction records each result: ``sent``, or another attempt later
   (exponential backoff), or ``failed`` after the last attempt.

Delivery is at least once: a sender that dies after a POST and before recording it
leaves the message to be sent again when its lease lapses. Receivers deduplicate by the
``X-Callhopper-Delivery`` header (the message id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from callhopper import __version__
from callhopper.domain.webhooks import ClaimedWebhook
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork

log = logging.getLogger(__name__)

#: Attempts before a message is ``failed`` (``POST /webhooks/{id}/retry`` starts again).
MAX_ATTEMPTS = 8
#: Seconds each phase of a POST (connect, send, first bytes of the answer) may take.
TIMEOUT_S = 10.0
#: Messages claimed per transaction.
BATCH_SIZE = 10
#: Wait after the first failed attempt; each later wait is ``BACKOFF_FACTOR`` times longer,
#: at most ``BACKOFF_CAP_S``: 10 s, 30 s, 90 s, 270 s, 810 s, 2430 s, 3600 s, …
BACKOFF_BASE_S = 10.0
BACKOFF_FACTOR = 3.0
BACKOFF_CAP_S = 3600.0
#: How much of a failed answer's body is kept in ``last_error``.
ERROR_BODY_CHARS = 300
#: A stop request without a wake-up is noticed within this many seconds.
STOP_CHECK_S = 0.5
#: Extra lease time beyond the worst case of a batch, for the bookkeeping around it.
LEASE_MARGIN_S = 30.0

SIGNATURE_HEADER = "X-Callhopper-Signature"
DELIVERY_HEADER = "X-Callhopper-Delivery"
EVENT_HEADER = "X-Callhopper-Event"


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
    exponent = max(attempts - 1, 0)
    # Past this exponent the cap is reached anyway; stop before the float grows huge.
    if exponent > 32:
        return BACKOFF_CAP_S
    return min(BACKOFF_BASE_S * BACKOFF_FACTOR**exponent, BACKOFF_CAP_S)


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed) for a payload: compact JSON, keys sorted."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """The ``X-Callhopper-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the raw
    body keyed with the rule's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the signature of the raw body, compare in constant
    time."""
    return hmac.compare_digest(signature(secret, body), header.strip())


@dataclass(frozen=True, slots=True)
class _Result:
    claimed: ClaimedWebhook
    #: ``None``: delivered; else why the attempt failed.
    error: str | None
    #: False when the message was given back unattempted (the batch ran out of time).
    attempted: bool = True


class WebhookSender:
    """Delivers due outbox messages; several senders (threads or processes) may share one
    database."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        timeout_s: float = TIMEOUT_S,
        batch_size: int = BATCH_SIZE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_attempts < 1 or batch_size < 1 or timeout_s <= 0:
            raise ValueError("max_attempts and batch_size must be >= 1, timeout_s > 0")
        self.uow = uow
        self.clock = clock
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self._transport = transport
        # A POST reads at most the status line, headers and one chunk of the body, each
        # within the timeout, after connecting and sending within it: four phases.
        self._per_message_s = 4 * timeout_s
        self.lease_s = batch_size * self._per_message_s + LEASE_MARGIN_S

    def run_once(self, now: datetime) -> int:
        """Claim the messages due at ``now`` (one batch), POST them, record the results.

        Returns how many were attempted. No transaction is open during the POSTs.
        """
        started = time.monotonic()
        lease_until = now + timedelta(seconds=self.lease_s)
        with self.uow.write() as tx:
            batch = tx.webhooks.claim(now=now, lease_until=lease_until, limit=self.batch_size)
        if not batch:
            return 0
        results = self._send_all(batch, give_up_at=started + self.lease_s - LEASE_MARGIN_S)
        done = self.clock.now()
        with self.uow.write() as tx:
            for result in results:
                self._record(tx, result, done)
        return sum(1 for r in results if r.attempted)

    def _send_all(self, batch: list[ClaimedWebhook], *, give_up_at: float) -> list[_Result]:
        # The lease must outlive the batch: a message that might not be done before the
        # lease lapses is given back unattempted rather than risk a second sender's copy.
        results: list[_Result] = []
        with httpx.Client(
            timeout=self.timeout_s, follow_redirects=False, transport=self._transport
        ) as client:
            for claimed in batch:
                if time.monotonic() + self._per_message_s > give_up_at:
                    results.append(_Result(claimed, None, attempted=False))
                    continue
                results.append(_Result(claimed, self._post(client, claimed)))
        return results

    def _post(self, client: httpx.Client, claimed: ClaimedWebhook) -> str | None:
        """POST one message; ``None`` when the endpoint answered 2xx, else the error."""
        if claimed.secret is None:
            return "its workflow rule was deleted: there is no secret to sign it with"
        body = body_of(claimed.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"callhopper/{__version__}",
            SIGNATURE_HEADER: signature(claimed.secret, body),
            DELIVERY_HEADER: str(claimed.id),
            EVENT_HEADER: str(claimed.payload.get("event", "")),
        }
        try:
            with client.stream("POST", claimed.url, content=body, headers=headers) as response:
                if response.is_success:
                    return None
                # One chunk at most: a slow endpoint cannot hold the sender for long.
                chunk = next(response.iter_bytes(), b"")
                text = chunk.decode("utf-8", "replace")[:ERROR_BODY_CHARS].strip()
                return f"HTTP {response.status_code}" + (f": {text}" if text else "")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    def _record(self, tx: Transaction, result: _Result, now: datetime) -> None:
        claimed = result.claimed
        if not result.attempted:
            tx.webhooks.released(claimed, now=now)
            return
        if result.error is None:
            held = tx.webhooks.sent(claimed, now=now)
        else:
            attempts = claimed.attempts + 1
            final = attempts >= self.max_attempts or claimed.secret is None
            retry_at = None if final else now + timedelta(seconds=backoff_s(attempts))
            held = tx.webhooks.attempt_failed(
                claimed, error=result.error, now=now, retry_at=retry_at
            )
            log.warning(
                "webhook %s to %s: attempt %s failed (%s); %s",
                claimed.id,
                claimed.url,
                attempts,
                result.error,
                "giving up" if retry_at is None else f"next attempt at {retry_at.isoformat()}",
            )
        if not held:
            log.warning("webhook %s: lease lost before its result was recorded", claimed.id)

    def run_forever(self, stop: threading.Event, wake: threading.Event, poll_s: float) -> None:
        """Deliver until ``stop`` is set: run a batch, then wait for ``wake`` (new messages
        committed), ``poll_s`` or ``stop``, whichever comes first. A full batch runs the next
        at once. Errors are logged and the loop goes on.

        Set ``stop`` and then ``wake`` to stop at once; ``stop`` alone is noticed within
        :data:`STOP_CHECK_S` seconds.
        """
        while not stop.is_set():
            try:
                attempted = self.run_once(self.clock.now())
            except Exception:  # the loop must survive a database outage or a bug in one run
                log.exception("webhook sender: run failed; trying again in %s s", poll_s)
                attempted = 0
            if attempted >= self.batch_size:
                continue
            _wait(stop, wake, poll_s)


def _wait(stop: threading.Event, wake: threading.Event, poll_s: float) -> None:
    deadline = time.monotonic() + poll_s
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if wake.wait(min(remaining, STOP_CHECK_S)):
            wake.clear()
            return


class WebhookWorker:
    """A :class:`WebhookSender` with its own stop and wake events: the shape of the
    application's background jobs (``run`` in a thread, ``wake``, ``stop``)."""

    def __init__(self, sender: WebhookSender, *, poll_s: float) -> None:
        self.sender = sender
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        """Deliver until :meth:`stop` (blocks: run it in a thread)."""
        self.sender.run_forever(self._stop, self._wake, self.poll_s)

    def wake(self) -> None:
        """Look for due messages now (call it after committing a wrap-up that queued some)."""
        self._wake.set()

    def stop(self) -> None:
        """End :meth:`run` after the batch in flight."""
        self._stop.set()
        self._wake.set()
