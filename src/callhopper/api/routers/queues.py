"""Queues with member agents, and skills."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from callhopper.api.deps import QueuesDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.schemas import (
    QueueCreate,
    QueuePublic,
    QueueUpdate,
    SkillCreate,
    SkillPublic,
    SkillUpdate,
    UserIds,
)
from callhopper.domain.actors import Actor
from callhopper.domain.queues import QueueInfo, SkillInfo
from callhopper.domain.rights import Right

router = APIRouter(tags=["queues"])

QueueManager = Annotated[Actor, Depends(require(Right.QUEUE_MANAGE))]
QueueReader = Annotated[
    Actor, Depends(require_any(Right.QUEUE_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


def queue_public(queue: QueueInfo) -> QueuePublic:
    return QueuePublic(
        id=queue.id,
        name=queue.name,
        description=queue.description,
        member_user_ids=list(queue.member_user_ids),
    )


@router.get("/queues", response_model=list[QueuePublic])
def list_queues(_actor: QueueReader, queues: QueuesDep) -> list[QueuePublic]:
    return [queue_public(q) for q in queues.queues()]


@router.post("/queues", response_model=QueuePublic, status_code=status.HTTP_201_CREATED)
def create_queue(body: QueueCreate, actor: QueueManager, queues: QueuesDep) -> QueuePublic:
    return queue_public(queues.create_queue(actor, name=body.name, description=body.description))


@router.get("/queues/{queue_id}", response_model=QueuePublic)
def get_queue(queue_id: IntId, _actor: QueueReader, queues: QueuesDep) -> QueuePublic:
    return queue_public(queues.queue(queue_id))


@router.patch("/queues/{queue_id}", response_model=QueuePublic)
def update_queue(
    queue_id: IntId, body: QueueUpdate, actor: QueueManager, queues: QueuesDep
) -> QueuePublic:
    queue = queues.update_queue(actor, queue_id, name=body.name, description=body.description)
    return queue_public(queue)


@router.delete("/queues/{queue_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_queue(queue_id: IntId, actor: QueueManager, queues: QueuesDep) -> None:
    queues.delete_queue(actor, queue_id)


@router.post("/queues/{queue_id}/members", response_model=QueuePublic)
def add_members(
    queue_id: IntId, body: UserIds, actor: QueueManager, queues: QueuesDep
) -> QueuePublic:
    """Add agents (by user_id) to the queue; agents already in it are left as they are."""
    return queue_public(queues.add_members(actor, queue_id, body.user_ids))


@router.post("/queues/{queue_id}/members/remove", response_model=QueuePublic)
def remove_members(
    queue_id: IntId, body: UserIds, actor: QueueManager, queues: QueuesDep
) -> QueuePublic:
    return queue_public(queues.remove_members(actor, queue_id, body.user_ids))


# --- skills ------------------------------------------------------------------------------------


def skill_public(skill: SkillInfo) -> SkillPublic:
    return SkillPublic(
        id=skill.id,
        name=skill.name,
        expression=skill.expression,
        description=skill.description,
        filter=skill.filter.to_dict(),
    )


@router.get("/skills", response_model=list[SkillPublic], tags=["skills"])
def list_skills(_actor: QueueReader, queues: QueuesDep) -> list[SkillPublic]:
    return [skill_public(s) for s in queues.skills()]


@router.post(
    "/skills", response_model=SkillPublic, status_code=status.HTTP_201_CREATED, tags=["skills"]
)
def create_skill(body: SkillCreate, actor: QueueManager, queues: QueuesDep) -> SkillPublic:
    skill = queues.create_skill(
        actor, name=body.name, expression=body.expression, description=body.description
    )
    return skill_public(skill)


@router.get("/skills/{skill_id}", response_model=SkillPublic, tags=["skills"])
def get_skill(skill_id: IntId, _actor: QueueReader, queues: QueuesDep) -> SkillPublic:
    return skill_public(queues.skill(skill_id))


@router.patch("/skills/{skill_id}", response_model=SkillPublic, tags=["skills"])
def update_skill(
    skill_id: IntId, body: SkillUpdate, actor: QueueManager, queues: QueuesDep
) -> SkillPublic:
    skill = queues.update_skill(
        actor,
        skill_id,
        name=body.name,
        expression=body.expression,
        description=body.description,
    )
    return skill_public(skill)


@router.delete("/skills/{skill_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["skills"])
def delete_skill(skill_id: IntId, actor: QueueManager, queues: QueuesDep) -> None:
    queues.delete_skill(actor, skill_id)
