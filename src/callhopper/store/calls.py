"""The calls of automatic campaigns (:class:`callhopper.ports.calls.Calls`)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from callhopper.domain.dialer import AbandonDay, CallResult
from callhopper.ports.calls import PlacedCall
from callhopper.store.models import Call, table_of

_PERSON = "person"
_CALLS = table_of(Call)
#: Core statements, built once (the engine writes a call several times in its life).
_INSERT = insert(_CALLS)


@lru_cache(maxsize=32)
def _update(columns: tuple[str, ...]) -> Any:
    """The update of these columns of one call (parameters ``call_id`` and ``v_<column>``)."""
    values = {name: bindparam(f"v_{name}", type_=_CALLS.c[name].type) for name in columns}
    return update(_CALLS).where(_CALLS.c.id == bindparam("call_id")).values(values)


def _placed(row: Call) -> PlacedCall:
    return PlacedCall(
        id=row.id,
        campaign_id=row.campaign_id,
        record_id=row.record_id,
        number=row.number,
        caller_id=row.caller_id,
        engine=row.engine,
        agent_id=row.agent_id,
        placed_at=row.placed_at,
        ring_timeout_s=row.ring_timeout_s,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        connected_at=row.connected_at,
        ended_at=row.ended_at,
        result=CallResult(row.result) if row.result is not None else None,
        code=row.code,
        message_played=row.message_played,
    )


class SqlCalls:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, call: PlacedCall) -> None:
        self.session.execute(
            _INSERT,
            {
                "id": call.id,
                "campaign_id": call.campaign_id,
                "record_id": call.record_id,
                "number": call.number,
                "caller_id": call.caller_id,
                "engine": call.engine,
                "agent_id": call.agent_id,
                "placed_at": call.placed_at,
                "ring_timeout_s": call.ring_timeout_s,
                "message_played": False,
            },
        )

    def _set(self, call_id: str, **values: Any) -> None:
        params = {f"v_{name}": value for name, value in values.items()}
        self.session.execute(_update(tuple(sorted(values))), {"call_id": call_id, **params})

    def answered(self, call_id: str, at: datetime, by: str) -> None:
        self._set(call_id, answered_at=at, answered_by=by)

    def connected(self, call_id: str, agent_id: int, at: datetime) -> None:
        self._set(call_id, agent_id=agent_id, connected_at=at, result=CallResult.CONNECTED.value)

    def not_connected(self, call_id: str, dialled_for: int | None, *, message_played: bool) -> None:
        self._set(
            call_id,
            agent_id=dialled_for,
            connected_at=None,
            result=CallResult.ABANDONED.value,
            message_played=message_played,
        )

    def finish(
        self,
        call_id: str,
        result: CallResult,
        at: datetime,
        *,
        code: str | None = None,
        message_played: bool = False,
    ) -> None:
        values: dict[str, Any] = {"result": result.value, "message_played": message_played}
        if code is not None:
            values["code"] = code
        if result in (CallResult.NO_ANSWER, CallResult.BUSY, CallResult.FAILED, CallResult.LOST):
            values["ended_at"] = at
        self._set(call_id, **values)

    def ended(self, call_id: str, at: datetime) -> None:
        self._set(call_id, ended_at=at)

    def get(self, call_id: str) -> PlacedCall | None:
        row = self.session.get(Call, call_id)
        return _placed(row) if row is not None else None

    def connected_to(self, campaign_id: int, record_id: int, agent_id: int) -> PlacedCall | None:
        row = self.session.scalars(
            select(Call)
            .where(
                Call.record_id == record_id,
                Call.campaign_id == campaign_id,
                Call.agent_id == agent_id,
                Call.result == CallResult.CONNECTED.value,
            )
            .order_by(Call.placed_at.desc())
            .limit(1)
        ).first()
        return _placed(row) if row is not None else None

    def open_calls(self, campaign_id: int) -> list[PlacedCall]:
        rows = self.session.scalars(
            select(Call)
            .where(Call.campaign_id == campaign_id, Call.result.is_(None))
            .order_by(Call.placed_at)
        )
        return [_placed(r) for r in rows]

    def of_record(self, record_id: int) -> list[PlacedCall]:
        rows = self.session.scalars(
            select(Call).where(Call.record_id == record_id).order_by(Call.placed_at.desc())
        )
        return [_placed(r) for r in rows]

    def abandon_days(self, campaign_id: int, first: date, last: date, tz: str) -> list[AbandonDay]:
        zone = ZoneInfo(tz)
        start = datetime.combine(first, time(), zone)
        end = datetime.combine(last + timedelta(days=1), time(), zone)
        rows = self.session.execute(
            select(Call.answered_at, Call.result).where(
                Call.campaign_id == campaign_id,
                Call.answered_by == _PERSON,
                Call.answered_at >= start,
                Call.answered_at < end,
            )
        )
        answered: Counter[date] = Counter()
        abandoned: Counter[date] = Counter()
        for at, result in rows:
            if at is None:
                continue
            day = at.astimezone(zone).date()
            answered[day] += 1
            if result == CallResult.ABANDONED.value:
                abandoned[day] += 1
        return [AbandonDay(day, answered[day], abandoned[day]) for day in sorted(answered)]
