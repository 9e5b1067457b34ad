"""The webhook outbox in SQL: :class:`SqlWebhookOutbox`
(:class:`callhopper.ports.workflows.WebhookOutbox`), and :func:`queue_message` for the rules
that fill it.

A webhook is only a row of ``webhook_outbox`` here, committed (or rolled back) with the change
it reports; :class:`callhopper.core.webhooks.WebhookSender` delivers it later, outside any
transaction, so that a slow or failing endpoint can never block or undo a wrap-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select, update
from sqlalchemy.orm import Session

from callhopper.domain.records import WebhookStatus
from callhopper.domain.webhooks import ClaimedWebhook, WebhookMessage, WebhookStage
from callhopper.store.models import WebhookMessage as Message
from callhopper.store.models import WorkflowRule


def queue_message(
    session: Session, rule_id: int, url: str, payload: dict[str, Any], now: datetime
) -> int:
    """A message due at once, in the caller's transaction; returns its id."""
    message = Message(
        rule_id=rule_id,
        url=url,
        payload=payload,
        status=WebhookStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message.id


def _message(row: Message) -> WebhookMessage:
    return WebhookMessage(
        id=row.id,
        rule_id=row.rule_id,
        url=row.url,
        status=WebhookStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        payload=row.payload,
    )


def _held(claimed: ClaimedWebhook) -> ColumnElement[bool]:
    # Only the holder of the current lease records a result: a sender whose lease lapsed
    # (and whose message another sender took) changes nothing.
    return (
        (Message.id == claimed.id)
        & (Message.status == WebhookStatus.PENDING.value)
        & (Message.next_attempt_at == claimed.lease_until)
    )


class SqlWebhookOutbox:
    """:class:`callhopper.ports.workflows.WebhookOutbox` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def message(self, message_id: int) -> WebhookMessage | None:
        row = self.session.get(Message, message_id)
        return _message(row) if row is not None else None

    def messages(
        self,
        *,
        status: WebhookStatus | None,
        rule_id: int | None,
        before_id: int | None,
        limit: int,
        stage: WebhookStage | None = None,
    ) -> list[WebhookMessage]:
        query = select(Message)
        if status is not None:
            query = query.where(Message.status == status.value)
        if stage is not None:
            query = query.where(_of_stage(stage))
        if rule_id is not None:
            query = query.where(Message.rule_id == rule_id)
        if before_id is not None:
            query = query.where(Message.id < before_id)
        rows = self.session.scalars(query.order_by(Message.id.desc()).limit(limit))
        return [_message(r) for r in rows]

    def fail_pending(self, rule_id: int, error: str) -> int:
        failed = self.session.execute(
            update(Message)
            .where(Message.rule_id == rule_id, Message.status == WebhookStatus.PENDING.value)
            .values(status=WebhookStatus.FAILED.value, last_error=error)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return int(failed)

    def retry(self, message_id: int, *, now: datetime) -> bool:
        retried = self.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == WebhookStatus.FAILED.value)
            .values(status=WebhookStatus.PENDING.value, attempts=0, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        row = self.session.get(Message, message_id)
        if row is not None:
            self.session.refresh(row)
        return bool(retried)

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedWebhook]:
        # On PostgreSQL the candidates are locked with ``SKIP LOCKED`` (concurrent senders
        # take disjoint batches); on SQLite the write transaction holds the writer lock.
        due = (  # pending messages whose time has come, oldest first, skipping others' claims
            select(Message.id)
            .where(Message.status == WebhookStatus.PENDING.value, Message.next_attempt_at <= now)
            .order_by(Message.next_attempt_at, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        rows = self.session.execute(
            update(Message)
            .where(Message.id == due.c.id)
            .values(next_attempt_at=lease_until)
            .returning(Message.id, Message.rule_id, Message.url, Message.payload, Message.attempts)
            .execution_options(synchronize_session=False)
        ).all()
        rule_ids = {r.rule_id for r in rows if r.rule_id is not None}
        secrets = {
            r.id: r.secret
            for r in self.session.execute(
                select(WorkflowRule.id, WorkflowRule.secret).where(WorkflowRule.id.in_(rule_ids))
            )
        }
        return sorted(
            (
                ClaimedWebhook(
                    id=r.id,
                    rule_id=r.rule_id,
                    url=r.url,
                    payload=r.payload,
                    attempts=r.attempts,
                    secret=secrets.get(r.rule_id) if r.rule_id is not None else None,
                    lease_until=lease_until,
                )
                for r in rows
            ),
            key=lambda c: c.id,
        )

    def sent(self, claimed: ClaimedWebhook, *, now: datetime) -> bool:
        return self._record(
            claimed,
            status=WebhookStatus.SENT.value,
            attempts=claimed.attempts + 1,
            next_attempt_at=now,
            sent_at=now,
            last_error="",
        )

    def attempt_failed(
        self, claimed: ClaimedWebhook, *, error: str, now: datetime, retry_at: datetime | None
    ) -> bool:
        status = WebhookStatus.PENDING if retry_at is not None else WebhookStatus.FAILED
        return self._record(
            claimed,
            status=status.value,
            attempts=claimed.attempts + 1,
            next_attempt_at=retry_at if retry_at is not None else now,
            last_error=error,
        )

    def released(self, claimed: ClaimedWebhook, *, now: datetime) -> bool:
        return self._record(
            claimed,
            status=WebhookStatus.PENDING.value,
            attempts=claimed.attempts,
            next_attempt_at=now,
        )

    def _record(self, claimed: ClaimedWebhook, **values: Any) -> bool:
        matched = self.session.execute(
            update(Message)
            .where(_held(claimed))
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(matched)


def _of_stage(stage: WebhookStage) -> ColumnElement[bool]:
    """The messages at ``stage``, as :attr:`WebhookMessage.stage` reads it."""
    tried = or_(Message.attempts > 0, Message.last_error != "")
    match stage:
        case WebhookStage.DELIVERED:
            return Message.status == WebhookStatus.SENT.value
        case WebhookStage.FAILED:
            return Message.status == WebhookStatus.FAILED.value
        case WebhookStage.RETRYING:
            return and_(Message.status == WebhookStatus.PENDING.value, tried)
        case WebhookStage.PENDING:
            return and_(Message.status == WebhookStatus.PENDING.value, not_(tried))
