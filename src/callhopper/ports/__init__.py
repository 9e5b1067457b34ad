"""The ports: the interfaces that the core services need and the adapters implement.

One module per port. :mod:`~callhopper.ports.transactions` is the way into stored state
(a :class:`~callhopper.ports.transactions.UnitOfWork` opens transactions whose stores are
declared in the other modules); :mod:`~callhopper.ports.clock` gives the time;
:mod:`~callhopper.ports.imports` takes an import's rows. Ports import only
:mod:`callhopper.domain`; adapters (:mod:`callhopper.store`, :mod:`callhopper.telephony`, …)
implement them and are wired to the services in :mod:`callhopper.services`.
"""

from __future__ import annotations

from callhopper.ports.clock import Clock
from callhopper.ports.imports import RecordSink
from callhopper.ports.transactions import Transaction, UnitOfWork

__all__ = ["Clock", "RecordSink", "Transaction", "UnitOfWork"]
