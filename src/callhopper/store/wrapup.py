"""Wrap-up code sets and their codes (SPEC §4.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from callhopper.domain.actors import Actor
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.wrapup import DEFAULT_CODES, OwnerAction, WrapupCodeSpec
from callhopper.store.audit import audit
from callhopper.store.models import WrapupCode, WrapupCodeSet, table_of
from callhopper.store.types import json_rows


def get_set(session: Session, set_id: int) -> WrapupCodeSet:
    code_set = session.get(WrapupCodeSet, set_id)
    if code_set is None:
        raise NotFound(f"no wrap-up code set {set_id}", field="set_id")
    return code_set


def list_sets(session: Session) -> Sequence[WrapupCodeSet]:
    return session.scalars(select(WrapupCodeSet).order_by(WrapupCodeSet.id)).all()


def codes_of(session: Session, set_id: int) -> Sequence[WrapupCode]:
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


def create_set(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str,
    codes: list[WrapupCodeSpec] | None,
    now: datetime,
) -> WrapupCodeSet:
    """A new set with ``codes``, or with a copy of the default codes when ``None``."""
    name = name.strip()
    if not name:
        raise InvalidInput("the name is empty", field="name")
    if session.scalar(select(WrapupCodeSet.id).where(WrapupCodeSet.name == name)) is not None:
        raise AlreadyExists(f"a wrap-up code set named {name!r} already exists", field="name")
    specs = list(DEFAULT_CODES) if codes is None else codes
    _check_unique([s.code for s in specs])
    code_set = WrapupCodeSet(name=name, description=description, created_at=now)
    session.add(code_set)
    session.flush()
    for position, spec in enumerate(specs):
        session.add(_row(code_set.id, position, spec))
    session.flush()
    audit(
        session,
        actor,
        "wrapup_set.create",
        "wrapup_set",
        code_set.id,
        now=now,
        after=set_view(session, code_set),
    )
    return code_set


def update_set(
    session: Session,
    actor: Actor,
    set_id: int,
    *,
    name: str | None,
    description: str | None,
    codes: list[WrapupCodeSpec] | None,
    now: datetime,
) -> WrapupCodeSet:
    """Rename, redescribe, or replace the codes of a set (codes keep their ids by ``code``)."""
    code_set = get_set(session, set_id)
    before = set_view(session, code_set)
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput("the name is empty", field="name")
        other = session.scalar(select(WrapupCodeSet.id).where(WrapupCodeSet.name == name))
        if other is not None and other != code_set.id:
            raise AlreadyExists(f"a wrap-up code set named {name!r} already exists", field="name")
        code_set.name = name
    if description is not None:
        code_set.description = description
    if codes is not None:
        _check_unique([s.code for s in codes])
        if not codes:
            raise InvalidInput("a wrap-up code set needs at least one code", field="codes")
        existing = {c.code: c for c in codes_of(session, code_set.id)}
        for position, spec in enumerate(codes):
            row = existing.pop(spec.code, None)
            if row is None:
                session.add(_row(code_set.id, position, spec))
            else:
                _apply(row, position, spec)
        for row in existing.values():
            session.delete(row)
    session.flush()
    audit(
        session,
        actor,
        "wrapup_set.update",
        "wrapup_set",
        code_set.id,
        now=now,
        before=before,
        after=set_view(session, code_set),
    )
    return code_set


def delete_set(session: Session, actor: Actor, set_id: int, *, now: datetime) -> None:
    from callhopper.store.models import Campaign

    code_set = get_set(session, set_id)
    users = list(session.scalars(select(Campaign.name).where(Campaign.wrapup_set_id == set_id)))
    if users:
        raise Conflict(f"campaign(s) {', '.join(users)} use this set", field="set_id")
    audit(
        session,
        actor,
        "wrapup_set.delete",
        "wrapup_set",
        code_set.id,
        now=now,
        before=set_view(session, code_set),
    )
    session.delete(code_set)


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


def set_view(session: Session, code_set: WrapupCodeSet) -> dict[str, Any]:
    return {
        "id": code_set.id,
        "name": code_set.name,
        "description": code_set.description,
        "codes": [code_spec(c).model_dump(mode="json") for c in codes_of(session, code_set.id)],
    }


def _check_unique(codes: list[str]) -> None:
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise InvalidInput(f"duplicate code(s): {', '.join(dupes)}", field="codes")


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
