"""The SQL implementation of :mod:`callhopper.ports.transactions`.

:class:`SqlUnitOfWork` opens the transactions of :class:`~callhopper.store.db.Database`;
each yields a :class:`SqlTransaction` whose stores share its session. Driver errors that a
caller can act on are translated here into domain errors (:func:`translate`), so that no
service or router needs to know the driver's exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from callhopper.domain.errors import CallhopperError, Conflict, Contention
from callhopper.store.agent_state import SqlAgentSessions
from callhopper.store.audit import SqlAuditLog, SqlAuditTrail
from callhopper.store.callbacks import SqlCallbacks
from callhopper.store.calls import SqlCalls
from callhopper.store.campaigns import SqlCampaignStore
from callhopper.store.claims.adapter import SqlClaims
from callhopper.store.claims.reads import ContextCache
from callhopper.store.contact_lists import SqlContactListStore
from callhopper.store.db import Database
from callhopper.store.dnc import SqlDncStore
from callhopper.store.hopper_store import SqlHopperStore
from callhopper.store.imports import SqlImportStore
from callhopper.store.inbound import SqlInboundStore
from callhopper.store.lead_owners import SqlLeadOwnerStore
from callhopper.store.leads import SqlLeadStore
from callhopper.store.outcomes import SqlOutcomes
from callhopper.store.ownership_admin import SqlOwnershipStore
from callhopper.store.queues import SqlQueueStore, SqlSkillStore
from callhopper.store.records import SqlRecords
from callhopper.store.snapshots import SqlSnapshotStore
from callhopper.store.staleness import SqlStalenessRuleStore
from callhopper.store.users import SqlTokenStore, SqlUserStore
from callhopper.store.webhooks import SqlWebhookOutbox
from callhopper.store.workers import SqlWorkerLeases
from callhopper.store.workflows import SqlWorkflowStore
from callhopper.store.wrapup import SqlWrapupStore

#: SQLSTATEs of a transaction PostgreSQL rolled back to break a deadlock, or because it
#: could not be serialized with a concurrent one: running it again is safe.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def translate(exc: DBAPIError) -> CallhopperError | None:
    """The domain error that stands for a driver error, or None for one that is a bug or
    an outage (it then propagates as it is and is answered as a 500)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return Contention(f"the database rolled the transaction back: {exc.orig}")
    if isinstance(exc, IntegrityError):
        constraint = constraint_name(exc)
        return Conflict(
            "the change conflicts with data stored meanwhile; try again",
            code="concurrent_change",
            constraint=constraint,
        )
    return None


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint an integrity error broke, where the driver says it
    (PostgreSQL does; SQLite names the columns in its message instead)."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if isinstance(name, str) else None


@contextmanager
def translated() -> Iterator[None]:
    """Run a block, translating the driver errors that :func:`translate` knows."""
    try:
        yield
    except DBAPIError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise domain from exc


class SqlTransaction:
    """The stores of one SQL transaction (:class:`callhopper.ports.Transaction`)."""

    def __init__(self, session: Session, known: ContextCache | None = None) -> None:
        self.session = session
        self.known = known

    @cached_property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self.session)

    @cached_property
    def claims(self) -> SqlClaims:
        return SqlClaims(self.session, self.known)

    @cached_property
    def agents(self) -> SqlAgentSessions:
        return SqlAgentSessions(self.session)

    @cached_property
    def callbacks(self) -> SqlCallbacks:
        return SqlCallbacks(self.session)

    @cached_property
    def records(self) -> SqlRecords:
        return SqlRecords(self.session)

    @cached_property
    def outcomes(self) -> SqlOutcomes:
        return SqlOutcomes(self.session)

    @cached_property
    def campaigns(self) -> SqlCampaignStore:
        return SqlCampaignStore(self.session)

    @cached_property
    def snapshots(self) -> SqlSnapshotStore:
        return SqlSnapshotStore(self.session)

    @cached_property
    def lists(self) -> SqlContactListStore:
        return SqlContactListStore(self.session)

    @cached_property
    def imports(self) -> SqlImportStore:
        return SqlImportStore(self.session)

    @cached_property
    def owners(self) -> SqlLeadOwnerStore:
        return SqlLeadOwnerStore(self.session)

    @cached_property
    def staleness_rules(self) -> SqlStalenessRuleStore:
        return SqlStalenessRuleStore(self.session)

    @cached_property
    def ownership(self) -> SqlOwnershipStore:
        return SqlOwnershipStore(self.session)

    @cached_property
    def hopper(self) -> SqlHopperStore:
        return SqlHopperStore(self.session)

    @cached_property
    def leads(self) -> SqlLeadStore:
        return SqlLeadStore(self.session)

    @cached_property
    def workers(self) -> SqlWorkerLeases:
        return SqlWorkerLeases(self.session)

    @cached_property
    def calls(self) -> SqlCalls:
        return SqlCalls(self.session)

    @cached_property
    def users(self) -> SqlUserStore:
        return SqlUserStore(self.session)

    @cached_property
    def tokens(self) -> SqlTokenStore:
        return SqlTokenStore(self.session)

    @cached_property
    def queues(self) -> SqlQueueStore:
        return SqlQueueStore(self.session)

    @cached_property
    def skills(self) -> SqlSkillStore:
        return SqlSkillStore(self.session)

    @cached_property
    def inbound(self) -> SqlInboundStore:
        return SqlInboundStore(self.session)

    @cached_property
    def wrapup(self) -> SqlWrapupStore:
        return SqlWrapupStore(self.session)

    @cached_property
    def audit_trail(self) -> SqlAuditTrail:
        return SqlAuditTrail(self.session)

    @cached_property
    def dnc(self) -> SqlDncStore:
        return SqlDncStore(self.session)

    @cached_property
    def workflows(self) -> SqlWorkflowStore:
        return SqlWorkflowStore(self.session)

    @cached_property
    def webhooks(self) -> SqlWebhookOutbox:
        return SqlWebhookOutbox(self.session)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the session's transaction has committed (SQLAlchemy
        reports a savepoint's release as a commit too: that is not the commit); never when
        it rolls back."""
        pending: list[Callable[[], None]] | None = self.session.info.get(_ON_COMMIT)
        if pending is None:
            pending = self.session.info[_ON_COMMIT] = []
            event.listen(self.session, "after_commit", _committed)
            event.listen(self.session, "after_transaction_end", _ended)
        pending.append(callback)


#: ``Session.info`` key of the callbacks waiting for the session's commit.
_ON_COMMIT = "callhopper.on_commit"


def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction goes on
    pending: list[Callable[[], None]] = session.info[_ON_COMMIT]
    callbacks = list(pending)
    pending.clear()
    for callback in callbacks:
        callback()


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (a commit has called them already)
        session.info[_ON_COMMIT].clear()


class SqlUnitOfWork:
    """Transactions on one :class:`~callhopper.store.db.Database`
    (:class:`callhopper.ports.UnitOfWork`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        with translated(), self.db.read() as session:
            yield SqlTransaction(session, self.db.contexts)

    @contextmanager
    def write(self) -> Iterator[SqlTransaction]:
        with translated(), self.db.write() as session:
            yield SqlTransaction(session, self.db.contexts)

    @contextmanager
    def lookup(self) -> Iterator[SqlTransaction]:
        with translated(), self.db.lookup() as session:
            yield SqlTransaction(session, self.db.contexts)
