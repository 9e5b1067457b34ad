"""Wrap-up code sets (SPEC §4.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import WrapupSetCreate, WrapupSetPublic, WrapupSetUpdate
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.store import wrapup
from callhopper.store.models import WrapupCodeSet

router = APIRouter(prefix="/wrapup-code-sets", tags=["wrap-up codes"])

WrapupManager = Annotated[Actor, Depends(require(Right.WRAPUP_MANAGE))]
WrapupReader = Annotated[
    Actor,
    Depends(
        require_any(Right.WRAPUP_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW, Right.AGENT_WORK)
    ),
]


def set_public(session: Session, code_set: WrapupCodeSet) -> WrapupSetPublic:
    return WrapupSetPublic.model_validate(wrapup.set_view(session, code_set))


@router.get("", response_model=list[WrapupSetPublic])
def list_sets(_actor: WrapupReader, db: DbDep) -> list[WrapupSetPublic]:
    with db.read() as session:
        return [set_public(session, s) for s in wrapup.list_sets(session)]


@router.post("", response_model=WrapupSetPublic, status_code=status.HTTP_201_CREATED)
def create_set(
    body: WrapupSetCreate, actor: WrapupManager, db: DbDep, clock: ClockDep
) -> WrapupSetPublic:
    """A new set; without ``codes`` it starts as a copy of the default codes."""
    with db.write() as session:
        code_set = wrapup.create_set(
            session,
            actor,
            name=body.name,
            description=body.description,
            codes=body.codes,
            now=clock.now(),
        )
        return set_public(session, code_set)


@router.get("/{set_id}", response_model=WrapupSetPublic)
def get_set(set_id: IntId, _actor: WrapupReader, db: DbDep) -> WrapupSetPublic:
    with db.read() as session:
        return set_public(session, wrapup.get_set(session, set_id))


@router.patch("/{set_id}", response_model=WrapupSetPublic)
def update_set(
    set_id: IntId, body: WrapupSetUpdate, actor: WrapupManager, db: DbDep, clock: ClockDep
) -> WrapupSetPublic:
    with db.write() as session:
        code_set = wrapup.update_set(
            session,
            actor,
            set_id,
            name=body.name,
            description=body.description,
            codes=body.codes,
            now=clock.now(),
        )
        return set_public(session, code_set)


@router.delete("/{set_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_set(set_id: IntId, actor: WrapupManager, db: DbDep, clock: ClockDep) -> None:
    with db.write() as session:
        wrapup.delete_set(session, actor, set_id, now=clock.now())
