"""Queues with member agents, and skills (SPEC §2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
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
from callhopper.domain.filters import parse_filter
from callhopper.domain.rights import Right
from callhopper.store import queues
from callhopper.store.models import Queue, Skill

router = APIRouter(tags=["queues"])

QueueManager = Annotated[Actor, Depends(require(Right.QUEUE_MANAGE))]
QueueReader = Annotated[
    Actor, Depends(require_any(Right.QUEUE_MANAGE, Right.CAMPAIGN_MANAGE, Right.REPORT_VIEW))
]


def queue_public(session: Session, queue: Queue) -> QueuePublic:
    return QueuePublic(
        id=queue.id,
        name=queue.name,
        description=queue.description,
        member_user_ids=[u.user_id for u in queues.queue_members(session, queue.id)],
    )


@router.get("/queues", response_model=list[QueuePublic])
def list_queues(_actor: QueueReader, db: DbDep) -> list[QueuePublic]:
    with db.read() as session:
        return [queue_public(session, q) for q in queues.list_queues(session)]


@router.post("/queues", response_model=QueuePublic, status_code=status.HTTP_201_CREATED)
def create_queue(body: QueueCreate, actor: QueueManager, db: DbDep, clock: ClockDep) -> QueuePublic:
    with db.write() as session:
        queue = queues.create_queue(
            session, actor, name=body.name, description=body.description, now=clock.now()
        )
        return queue_public(session, queue)


@router.get("/queues/{queue_id}", response_model=QueuePublic)
def get_queue(queue_id: IntId, _actor: QueueReader, db: DbDep) -> QueuePublic:
    with db.read() as session:
        return queue_public(session, queues.get_queue(session, queue_id))


@router.patch("/queues/{queue_id}", response_model=QueuePublic)
def update_queue(
    queue_id: IntId, body: QueueUpdate, actor: QueueManager, db: DbDep, clock: ClockDep
) -> QueuePublic:
    with db.write() as session:
        queue = queues.update_queue(
            session, actor, queue_id, name=body.name, description=body.description, now=clock.now()
        )
        return queue_public(session, queue)


@router.delete("/queues/{queue_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_queue(queue_id: IntId, actor: QueueManager, db: DbDep, clock: ClockDep) -> None:
    with db.write() as session:
        queues.delete_queue(session, actor, queue_id, now=clock.now())


@router.post("/queues/{queue_id}/members", response_model=QueuePublic)
def add_members(
    queue_id: IntId, body: UserIds, actor: QueueManager, db: DbDep, clock: ClockDep
) -> QueuePublic:
    """Add agents (by user_id) to the queue; agents already in it are left as they are."""
    with db.write() as session:
        queues.add_queue_members(session, actor, queue_id, body.user_ids, now=clock.now())
        return queue_public(session, queues.get_queue(session, queue_id))


@router.post("/queues/{queue_id}/members/remove", response_model=QueuePublic)
def remove_members(
    queue_id: IntId, body: UserIds, actor: QueueManager, db: DbDep, clock: ClockDep
) -> QueuePublic:
    with db.write() as session:
        queues.remove_queue_members(session, actor, queue_id, body.user_ids, now=clock.now())
        return queue_public(session, queues.get_queue(session, queue_id))


# --- skills ------------------------------------------------------------------------------------


def skill_public(skill: Skill) -> SkillPublic:
    return SkillPublic(
        id=skill.id,
        name=skill.name,
        expression=skill.expression,
        description=skill.description,
        filter=parse_filter(skill.expression).to_dict(),
    )


@router.get("/skills", response_model=list[SkillPublic], tags=["skills"])
def list_skills(_actor: QueueReader, db: DbDep) -> list[SkillPublic]:
    with db.read() as session:
        return [skill_public(s) for s in queues.list_skills(session)]


@router.post(
    "/skills", response_model=SkillPublic, status_code=status.HTTP_201_CREATED, tags=["skills"]
)
def create_skill(body: SkillCreate, actor: QueueManager, db: DbDep, clock: ClockDep) -> SkillPublic:
    with db.write() as session:
        skill = queues.create_skill(
            session,
            actor,
            name=body.name,
            expression=body.expression,
            description=body.description,
            now=clock.now(),
        )
        return skill_public(skill)


@router.get("/skills/{skill_id}", response_model=SkillPublic, tags=["skills"])
def get_skill(skill_id: IntId, _actor: QueueReader, db: DbDep) -> SkillPublic:
    with db.read() as session:
        return skill_public(queues.get_skill(session, skill_id))


@router.patch("/skills/{skill_id}", response_model=SkillPublic, tags=["skills"])
def update_skill(
    skill_id: IntId, body: SkillUpdate, actor: QueueManager, db: DbDep, clock: ClockDep
) -> SkillPublic:
    with db.write() as session:
        skill = queues.update_skill(
            session,
            actor,
            skill_id,
            name=body.name,
            expression=body.expression,
            description=body.description,
            now=clock.now(),
        )
        return skill_public(skill)


@router.delete("/skills/{skill_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["skills"])
def delete_skill(skill_id: IntId, actor: QueueManager, db: DbDep, clock: ClockDep) -> None:
    with db.write() as session:
        queues.delete_skill(session, actor, skill_id, now=clock.now())
