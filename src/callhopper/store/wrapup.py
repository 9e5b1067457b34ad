"""Wrap-up code sets and their codes in SQL: :class:`SqlWrapupStore`
(:class:`callhopper.ports.wrapup.WrapupStore`), and the codes read with a campaign's context
(:func:`codes_json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from callhopper.domain.errors import NotFound
from callhopper.domain.wrapup import OwnerAction, WrapupCodeSpec, WrapupSet
from callhopper.store.models import Campaign, WrapupCode, WrapupCodeSet, table_of
from callhopper.store.types import json_rows


def get_set(session: Session, set_id: int) -> WrapupCodeSet:
    """The set, or :class:`NotFound`."""
    code_set = session.get(WrapupCodeSet, set_id)
    if code_set is None:
        raise NotFound(f"no wrap-up code set {set_id}", field="set_id")
    return code_set


def codes_of(session: Session, set_id: int) -> Sequence[WrapupCode]:
    """The set's codes, in their order."""
    return session.scalars(
        select(WrapupCode)
        .where(WrapupCode.set_id == set_id)
        .order_by(WrapupCode.position, WrapupCode.id)
    ).all()


_CODES = table_of(WrapupCode)
#: What a code's spec is made of (after its position and id, which order the codes).
_SPEC_COLUMNS = (
    _CODES.c.code,
    _CODES.c.label,
    _CODES.c.counts_as_attempt,
    _CODES.c.final,
    _CODES.c.retry_after_minutes,
    _CODES.c.adds_to_dnc,
    _CODES.c.owner_action,
)


def codes_json(set_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """The codes of the set ``set_id`` names, as one JSON text (parse it with
    :func:`specs_from_json`): for a statement that reads them with something else."""
    return (
        select(json_rows(_CODES.c.position, _CODES.c.id, *_SPEC_COLUMNS))
        .where(_CODES.c.set_id == set_id)
        .scalar_subquery()
    )


@lru_cache(maxsize=256)
def specs_from_json(doc: str | None) -> Mapping[str, WrapupCodeSpec]:
    """:func:`codes_json`'s text: the codes by name, in their order (parsed once per
    content). The aggregate has no order of its own: each row carries its position."""
    rows = sorted(json.loads(doc or "[]"), key=lambda row: (row[0], row[1]))
    return MappingProxyType(
        {
            code: _spec(code, label, bool(attempt), bool(final), retry, bool(dnc), owner)
            for _, _, code, label, attempt, final, retry, dnc, owner in rows
        }
    )


def code_spec(code: WrapupCode) -> WrapupCodeSpec:
    return _spec(
        code.code,
        code.label,
        code.counts_as_attempt,
        code.final,
        code.retry_after_minutes,
        code.adds_to_dnc,
        code.owner_action,
    )


def _spec(
    code: str,
    label: str,
    counts_as_attempt: bool,
    final: bool,
    retry_after_minutes: int | None,
    adds_to_dnc: bool,
    owner_action: str | None,
) -> WrapupCodeSpec:
    return WrapupCodeSpec(
        code=code,
        label=label,
        counts_as_attempt=counts_as_attempt,
        final=final,
        retry_after_minutes=retry_after_minutes,
        adds_to_dnc=adds_to_dnc,
        owner_action=OwnerAction(owner_action) if owner_action else None,
    )


def _row(set_id: int, position: int, spec: WrapupCodeSpec) -> WrapupCode:
    row = WrapupCode(set_id=set_id, code=spec.code)
    _apply(row, position, spec)
    return row


def _apply(row: WrapupCode, position: int, spec: WrapupCodeSpec) -> None:
    row.position = position
    row.label = spec.label
    row.counts_as_attempt = spec.counts_as_attempt
    row.final = spec.final
    row.retry_after_minutes = spec.retry_after_minutes
    row.adds_to_dnc = spec.adds_to_dnc
    row.owner_action = spec.owner_action.value if spec.owner_action is not None else None


class SqlWrapupStore:
    """:class:`callhopper.ports.wrapup.WrapupStore` in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def code_set(self, set_id: int) -> WrapupSet | None:
        code_set = self.session.get(WrapupCodeSet, set_id)
        return self._info(code_set) if code_set is not None else None

    def code_sets(self) -> list[WrapupSet]:
        query = select(WrapupCodeSet).order_by(WrapupCodeSet.id)
        return [self._info(s) for s in self.session.scalars(query)]

    def set_named(self, name: str) -> int | None:
        return self.session.scalar(select(WrapupCodeSet.id).where(WrapupCodeSet.name == name))

    def add_set(
        self, *, name: str, description: str, codes: Sequence[WrapupCodeSpec], now: datetime
    ) -> WrapupSet:
        code_set = WrapupCodeSet(name=name, description=description, created_at=now)
        self.session.add(code_set)
        self.session.flush()
        self.session.add_all(
            _row(code_set.id, position, spec) for position, spec in enumerate(codes)
        )
        self.session.flush()
        return self._info(code_set)

    def change_set(
        self,
        set_id: int,
        *,
        name: str | None,
        description: str | None,
        codes: Sequence[WrapupCodeSpec] | None,
    ) -> WrapupSet:
        code_set = get_set(self.session, set_id)
        if name is not None:
            code_set.name = name
        if description is not None:
            code_set.description = description
        if codes is not None:
            existing = {c.code: c for c in codes_of(self.session, code_set.id)}
            for position, spec in enumerate(codes):
                row = existing.pop(spec.code, None)
                if row is None:
                    self.session.add(_row(code_set.id, position, spec))
                else:
                    _apply(row, position, spec)
            for row in existing.values():
                self.session.delete(row)
        self.session.flush()
        return self._info(code_set)

    def delete_set(self, set_id: int) -> None:
        self.session.delete(get_set(self.session, set_id))
        self.session.flush()

    def campaigns_using(self, set_id: int) -> list[str]:
        query = select(Campaign.name).where(Campaign.wrapup_set_id == set_id)
        return list(self.session.scalars(query))

    def _info(self, code_set: WrapupCodeSet) -> WrapupSet:
        return WrapupSet(
            id=code_set.id,
            name=code_set.name,
            description=code_set.description,
            codes=tuple(code_spec(c) for c in codes_of(self.session, code_set.id)),
        )
