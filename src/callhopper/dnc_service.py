"""External pre-dial validation: the HTTP adapter of the
:class:`~callhopper.ports.validation.NumberValidator` port.

Wire format (one request per dial attempt, every candidate number of the record
at once)::

    POST <url>
    Content-Type: application/json

    {"numbers": ["+16025550100", "+16025550101"]}

    200 OK
    Content-Type: application/json

    {"results": {"+16025550100": "allowed", "+16025550101": "dnc"}}

When the request fails as a whole (a timeout, a connection error, a non-2xx
status, an unreadable answer) and it was about several numbers, each number is
then asked about in a request of its own, in parallel: a service that hangs on
one number still validates the others, and a check takes at most about twice
the timeout.

Numbers are E.164. The answer must name each number asked about with
``"allowed"`` or ``"dnc"``; extra keys are ignored. Whatever else happens —
a timeout (connect, read, or the whole exchange taking longer than
``timeout_s``), a connection error, a non-2xx status, a body that is not JSON
or not of this shape, a number missing from ``results`` or given any other
value, an answer larger than :data:`MAX_RESPONSE_BYTES` — the numbers
concerned are ``unavailable`` and are not dialled: a number that could not be
validated is never dialled, whatever the reason.
:meth:`HttpNumberValidator.check` never raises.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

import httpx

from callhopper.domain.predial import Verdict

logger = logging.getLogger(__name__)

#: An answer larger than this is malformed (a few hundred numbers need a few KiB).
MAX_RESPONSE_BYTES = 1024 * 1024
#: Requests at once when the numbers of a failed batch are asked about one by one.
MAX_PARALLEL_REQUESTS = 8
_ANSWERS = {"allowed": Verdict.ALLOWED, "dnc": Verdict.DNC}


class NoValidator:
    """No external service configured: every number is ``allowed`` as far as it goes
    (internal do-not-call lists still apply)."""

    local = True

    def check(self, numbers: Sequence[str]) -> dict[str, Verdict]:
        """Every number is allowed."""
        return dict.fromkeys(numbers, Verdict.ALLOWED)

    def close(self) -> None:
        """Nothing to release (so that callers can close any validator)."""


class HttpNumberValidator:
    """Asks a validation service over HTTP (see the module docstring for the format).

    ``timeout_s`` bounds each network phase and also the exchange as a whole while
    the answer is read. A ``client`` passed in is used as is and left open;
    otherwise the validator owns one and :meth:`close` closes it.
    """

    local = False

    def __init__(self, url: str, timeout_s: float, client: httpx.Client | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"the validation service URL {url!r} is invalid: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"the validation service URL must be http(s)://…, not {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()

    def check(self, numbers: Sequence[str]) -> dict[str, Verdict]:
        """Verdicts for ``numbers``; every failure makes the numbers concerned ``unavailable``."""
        wanted = list(dict.fromkeys(numbers))
        if not wanted:
            return {}
        verdicts = dict.fromkeys(wanted, Verdict.UNAVAILABLE)
        results = self._ask(wanted)
        if results is None and len(wanted) > 1:
            results = self._ask_each(wanted)
        if results is None:
            return verdicts
        missing = 0
        for number in wanted:
            answer = results.get(number)
            if isinstance(answer, str) and answer in _ANSWERS:
                verdicts[number] = _ANSWERS[answer]
            else:
                missing += 1
        if missing:
            logger.warning(
                "DNC validation service %s gave no usable verdict for %d of %d number(s)",
                self.url,
                missing,
                len(wanted),
            )
        return verdicts

    def _ask_each(self, numbers: list[str]) -> dict[str, Any]:
        """The verdicts of the numbers asked about one by one, all at once.

        Used when the service failed on the batch as a whole (a timeout, an error): one
        number it cannot answer in time must not keep the record's other numbers from
        being dialled (the next number is used instead). The requests run in
        parallel, so a check takes at most about twice ``timeout_s``.
        """
        workers = min(len(numbers), MAX_PARALLEL_REQUESTS)
        with ThreadPoolExecutor(workers, thread_name_prefix="dnc-check") as pool:
            answers = list(pool.map(lambda number: self._ask([number]), numbers))
        return {
            number: answer[number]
            for number, answer in zip(numbers, answers, strict=True)
            if answer is not None and number in answer
        }

    def _ask(self, numbers: list[str]) -> dict[str, Any] | None:
        """The ``results`` object of the service's answer, or ``None`` on any failure."""
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream(
                "POST",
                self.url,
                json={"numbers": numbers},
                headers={"Accept": "application/json"},
                timeout=httpx.Timeout(self.timeout_s),
            ) as response:
                if not response.is_success:
                    logger.warning(
                        "DNC validation service %s answered HTTP %d",
                        self.url,
                        response.status_code,
                    )
                    return None
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        logger.warning("DNC validation service %s: answer too large", self.url)
                        return None
                    if time.monotonic() > deadline:
                        logger.warning("DNC validation service %s: answer too slow", self.url)
                        return None
        except httpx.HTTPError as exc:
            logger.warning("DNC validation service %s failed: %r", self.url, exc)
            return None
        try:
            document = json.loads(bytes(body))
        except ValueError:
            logger.warning("DNC validation service %s: the answer is not JSON", self.url)
            return None
        results = document.get("results") if isinstance(document, dict) else None
        if not isinstance(results, dict):
            logger.warning("DNC validation service %s: the answer has no results", self.url)
            return None
        return results

    def close(self) -> None:
        """Close the HTTP client if this validator created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def make_validator(url: str | None, timeout_s: float) -> HttpNumberValidator | NoValidator:
    """The validator for a configured service URL, or :class:`NoValidator` without one.
    Close it when done."""
    if not url:
        return NoValidator()
    return HttpNumberValidator(url, timeout_s)
