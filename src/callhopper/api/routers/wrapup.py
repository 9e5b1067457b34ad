"""Wrap-up code sets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from callhopper.api.deps import WrapupDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import WrapupSetCreate, WrapupSetPublic, WrapupSetUpdate
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.domain.wrapup import WrapupSet

router = APIRouter(prefix="/wrapup-code-sets", tags=["wrap-up codes"])

WrapupManager = Annotated[Actor, Depends(require(Right.WRAPUP_MANAGE))]
WrapupReader = Annotated[
    Actor,
    Depends(
        require_any(Right.WRAPUP_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW, Right.AGENT_WORK)
    ),
]


def set_public(code_set: WrapupSet) -> WrapupSetPublic:
    return WrapupSetPublic.model_validate(code_set.view())


@router.get("", response_model=list[WrapupSetPublic])
def list_sets(_actor: WrapupReader, wrapup: WrapupDep) -> list[WrapupSetPublic]:
    return [set_public(s) for s in wrapup.code_sets()]


@router.post("", response_model=WrapupSetPublic, status_code=status.HTTP_201_CREATED)
def create_set(body: WrapupSetCreate, actor: WrapupManager, wrapup: WrapupDep) -> WrapupSetPublic:
    """A new set; without ``codes`` it starts as a copy of the default codes."""
    code_set = wrapup.create_set(
        actor, name=body.name, description=body.description, codes=body.codes
    )
    return set_public(code_set)


@router.get("/{set_id}", response_model=WrapupSetPublic)
def get_set(set_id: IntId, _actor: WrapupReader, wrapup: WrapupDep) -> WrapupSetPublic:
    return set_public(wrapup.code_set(set_id))


@router.patch("/{set_id}", response_model=WrapupSetPublic)
def update_set(
    set_id: IntId, body: WrapupSetUpdate, actor: WrapupManager, wrapup: WrapupDep
) -> WrapupSetPublic:
    code_set = wrapup.update_set(
        actor, set_id, name=body.name, description=body.description, codes=body.codes
    )
    return set_public(code_set)


@router.delete("/{set_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_set(set_id: IntId, actor: WrapupManager, wrapup: WrapupDep) -> None:
    wrapup.delete_set(actor, set_id)
