"""The telephony port: how the dialing engine places calls and learns what became of them.

An adapter (the built-in simulator in :mod:`callhopper.telephony.simulator`, or one for
Asterisk ARI, a SIP stack or a CPaaS) implements :class:`Telephony`. The engine never
learns which one it talks to. ``docs/dialing/telephony-port.md`` describes the contract an
adapter keeps, with the order of events and what each method may raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from callhopper.domain.calls import AgentLine, CallEvent, CallId, DialRequest


class Telephony(Protocol):
    """Places calls, reports their events, connects them to agents.

    Every method may be called from the engine's event loop at any time; an adapter that
    talks to a remote server does its I/O without blocking the loop. Calls are named by the
    engine (:attr:`DialRequest.call_id`), so events can be matched to calls even when one
    arrives before :meth:`originate` returns.
    """

    async def originate(self, request: DialRequest) -> None:
        """Start calling ``request.number``; return once the network has taken the request
        (not when the phone answers). What happens next arrives through :meth:`events`.

        Raises :class:`~callhopper.domain.calls.LinesExhausted` when no line is free (the
        call was not placed) and :class:`~callhopper.domain.calls.TelephonyError` when the
        adapter could not reach the network. A call id is originated at most once.
        """
        ...

    def events(self) -> AsyncIterator[CallEvent]:
        """The events of every call this adapter placed, in the order they happened to each
        call, as one stream with a single consumer (the engine). The stream ends when the
        adapter is closed."""
        ...

    async def bridge(self, call_id: CallId, agent: AgentLine) -> None:
        """Connect an answered call to an agent's line; the contact and the agent hear each
        other until one of them hangs up (a :class:`~callhopper.domain.calls.HungUp` event).

        Raises :class:`~callhopper.domain.calls.UnknownCall` when the call was not answered
        or has already ended (the contact may hang up at any moment).
        """
        ...

    async def play_and_hang_up(self, call_id: CallId, message: str) -> None:
        """Play a recorded message to an answered call and hang up when it ends (an abandoned
        call's message). ``message`` is the adapter's name for the recording (a file, a
        URL). The call's :class:`~callhopper.domain.calls.HungUp` event says ``by=ENGINE``,
        or ``by=CONTACT`` when the contact hangs up first.

        Raises :class:`~callhopper.domain.calls.UnknownCall` as :meth:`bridge` does.
        """
        ...

    async def hang_up(self, call_id: CallId) -> None:
        """End a call in any phase: a ringing call is cancelled (an
        :class:`~callhopper.domain.calls.Unanswered` ``NO_ANSWER`` event follows), an answered
        one is hung up (a ``HungUp`` ``by=ENGINE`` event follows). Hanging up a call that
        already ended does nothing."""
        ...

    async def close(self) -> None:
        """Hang up every call still up, release the adapter's resources and end
        :meth:`events`."""
        ...
