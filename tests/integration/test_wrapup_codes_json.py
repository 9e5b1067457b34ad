"""A campaign's wrap-up codes read as one JSON aggregate with the rest of its context
(Get Record, Done): the same codes, values and order as the rows, on both databases."""

from __future__ import annotations

from sqlalchemy import literal, select

from callhopper.clock import FrozenClock
from callhopper.core.wrapup import WrapupService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.wrapup import DEFAULT_CODES, OwnerAction, WrapupCodeSpec
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from callhopper.store.wrapup import code_spec, codes_json, codes_of, specs_from_json


def test_codes_read_as_json_equal_the_rows_in_their_order(db: Database, clock: FrozenClock) -> None:
    odd = WrapupCodeSpec(
        code="promise",
        label="Promise to pay — «ünïcode»",
        counts_as_attempt=False,
        final=True,
        retry_after_minutes=None,
        adds_to_dnc=True,
        owner_action=OwnerAction.SET_OWNER_TO_AGENT,
    )
    wrapup = WrapupService(SqlUnitOfWork(db), clock)
    code_set = wrapup.create_set(SYSTEM, name="Collections", description="", codes=None)
    # Reordered and extended after creation: positions no longer follow the ids.
    codes = [odd, *reversed(DEFAULT_CODES)]
    wrapup.update_set(SYSTEM, code_set.id, name=None, description=None, codes=codes)
    set_id = code_set.id
    with db.read() as session:
        doc = session.scalar(select(codes_json(literal(set_id))))
        rows = {c.code: code_spec(c) for c in codes_of(session, set_id)}
        empty = session.scalar(select(codes_json(literal(set_id + 1000))))
    specs = specs_from_json(doc)
    assert list(specs.items()) == list(rows.items())
    assert list(specs) == [c.code for c in codes]
    assert specs["promise"] == odd
    assert specs_from_json(empty) == {}
