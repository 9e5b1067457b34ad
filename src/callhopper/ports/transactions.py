"""Transactions: how a core service reads and changes stored state.

A service asks its :class:`UnitOfWork` for a transaction and works through the stores the
:class:`Transaction` exposes; everything done through them commits together when the
``with`` block ends normally, or not at all when it raises. The stores take and return domain
values (dataclasses, enums, ids), never database rows or sessions, so that a service can be
tested with in-memory fakes and the SQL stays in :mod:`callhopper.store`.

The store adapter translates database failures into domain errors before they reach a
service (see :mod:`callhopper.domain.errors`): a transaction the database rolled back to
break a deadlock or a serialization conflict raises
:class:`~callhopper.domain.errors.Contention`, which a service may run again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from callhopper.ports.agents import AgentSessions
from callhopper.ports.audit import AuditLog
from callhopper.ports.callbacks import Callbacks
from callhopper.ports.claims import Claims
from callhopper.ports.outcomes import Outcomes
from callhopper.ports.records import Records


class Transaction(Protocol):
    """The stores of one transaction. Add a store here when a service needs a new one."""

    @property
    def audit(self) -> AuditLog: ...

    @property
    def claims(self) -> Claims: ...

    @property
    def agents(self) -> AgentSessions: ...

    @property
    def callbacks(self) -> Callbacks: ...

    @property
    def records(self) -> Records: ...

    @property
    def outcomes(self) -> Outcomes: ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transaction has committed; never if it rolls back
        (a savepoint released is not the commit)."""
        ...


class UnitOfWork(Protocol):
    """Opens transactions on the database."""

    def read(self) -> AbstractContextManager[Transaction]:
        """A transaction that only reads; it is rolled back when the block ends."""
        ...

    def write(self) -> AbstractContextManager[Transaction]:
        """A transaction that commits when the block ends normally and rolls back when it
        raises. On SQLite it holds the single writer lock from its first statement."""
        ...

    def lookup(self) -> AbstractContextManager[Transaction]:
        """For one reading statement (who a token stands for, a campaign's name): on
        PostgreSQL outside any transaction. Never for several statements that must agree."""
        ...
