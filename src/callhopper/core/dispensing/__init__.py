"""The dispensing core: which record an agent works next, and what the agent does with it.

One module per concept, behind one facade (:class:`Dispenser`):

* :mod:`.views`: what an agent is shown (a delivery, why nothing was delivered, My
  Campaigns, what Call did);
* :mod:`.sessions`: login and logout, Get Record / Stop, ready and not ready;
* :mod:`.getrecord`: Get Record, and why there is nothing to deliver;
* :mod:`.push`: pushes, accept and reject, the accept and preview timers; :mod:`.pusher`
  runs them in a loop;
* :mod:`.callbacks`: callbacks scheduled by agents;
* :mod:`.calls`: Call and its pre-dial validation;
* :mod:`.wrapup`: Skip, Decline, the wrap-up and Done.

Each reaches stored state through the ports of :class:`callhopper.ports.Transaction`
(``tx.claims``, ``tx.agents``, ``tx.callbacks``, ``tx.records``, ``tx.outcomes``), the
agents' channels through :class:`callhopper.ports.events.AgentEvents`, and the external
validation service through :class:`callhopper.ports.validation.NumberValidator`.
"""

from __future__ import annotations

from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.core.dispensing.pusher import Pusher
from callhopper.core.dispensing.views import (
    Delivery,
    DialResult,
    FieldView,
    HistoryItem,
    MyCampaign,
    NoRecord,
    PhoneView,
)

__all__ = [
    "Delivery",
    "DialResult",
    "Dispenser",
    "FieldView",
    "HistoryItem",
    "MyCampaign",
    "NoRecord",
    "PhoneView",
    "Pusher",
]
