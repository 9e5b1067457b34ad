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
from callhopper.ports.audit import AuditLog, AuditTrail
from callhopper.ports.callbacks import Callbacks
from callhopper.ports.calls import Calls
from callhopper.ports.campaigns import CampaignStore
from callhopper.ports.claims import Claims
from callhopper.ports.dnc import DncStore
from callhopper.ports.hopper import HopperStore
from callhopper.ports.import_jobs import ImportStore
from callhopper.ports.inbound import InboundStore
from callhopper.ports.leads import LeadStore
from callhopper.ports.lists import ContactListStore
from callhopper.ports.outcomes import Outcomes
from callhopper.ports.owners import LeadOwnerStore
from callhopper.ports.ownership import OwnershipStore
from callhopper.ports.queues import QueueStore, SkillStore
from callhopper.ports.records import Records
from callhopper.ports.snapshots import SnapshotStore
from callhopper.ports.staleness import StalenessRuleStore
from callhopper.ports.users import TokenStore, UserStore
from callhopper.ports.workers import WorkerLeases
from callhopper.ports.workflows import WebhookOutbox, WorkflowStore
from callhopper.ports.wrapup import WrapupStore


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

    @property
    def campaigns(self) -> CampaignStore: ...

    @property
    def snapshots(self) -> SnapshotStore: ...

    @property
    def lists(self) -> ContactListStore: ...

    @property
    def imports(self) -> ImportStore: ...

    @property
    def owners(self) -> LeadOwnerStore: ...

    @property
    def staleness_rules(self) -> StalenessRuleStore: ...

    @property
    def ownership(self) -> OwnershipStore: ...

    @property
    def hopper(self) -> HopperStore: ...

    @property
    def leads(self) -> LeadStore: ...

    @property
    def workers(self) -> WorkerLeases: ...

    @property
    def calls(self) -> Calls: ...

    @property
    def users(self) -> UserStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def queues(self) -> QueueStore: ...

    @property
    def skills(self) -> SkillStore: ...

    @property
    def inbound(self) -> InboundStore: ...

    @property
    def wrapup(self) -> WrapupStore: ...

    @property
    def audit_trail(self) -> AuditTrail: ...

    @property
    def dnc(self) -> DncStore: ...

    @property
    def workflows(self) -> WorkflowStore: ...

    @property
    def webhooks(self) -> WebhookOutbox: ...

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
