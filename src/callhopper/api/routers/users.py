"""Users, their skills and API tokens; roles and rights (SPEC §1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.orm import Session

from callhopper.api.deps import ClockDep, DbDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.routers.auth import token_public
from callhopper.api.schemas import (
    RoleCreate,
    RolePublic,
    RoleUpdate,
    SkillIds,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.store import queues, users
from callhopper.store.models import Role, User

router = APIRouter(tags=["users"])

UserManager = Annotated[Actor, Depends(require(Right.USER_MANAGE))]
UserReader = Annotated[Actor, Depends(require_any(Right.USER_MANAGE, Right.REPORT_VIEW))]


def user_public(session: Session, user: User) -> UserPublic:
    role = session.get(Role, user.role_id)
    assert role is not None
    return UserPublic(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=role.name,
        active=user.active,
        created_at=user.created_at,
        deactivated_at=user.deactivated_at,
        skill_ids=[s.id for s in queues.user_skills(session, user)],
        queue_ids=users.queue_ids_of(session, user),
    )


@router.get("/users", response_model=list[UserPublic])
def list_users(
    _actor: UserReader,
    db: DbDep,
    role: Annotated[str | None, Query(description="Only users with this role.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or deactivated) users.")] = None,
) -> list[UserPublic]:
    with db.read() as session:
        return [
            user_public(session, u) for u in users.list_users(session, role=role, active=active)
        ]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, actor: UserManager, db: DbDep, clock: ClockDep) -> UserPublic:
    with db.write() as session:
        user = users.create_user(
            session,
            actor,
            email=body.email,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            user_id=body.user_id,
            now=clock.now(),
        )
        return user_public(session, user)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: str, _actor: UserReader, db: DbDep) -> UserPublic:
    with db.read() as session:
        return user_public(session, users.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(
    user_id: str, body: UserUpdate, actor: UserManager, db: DbDep, clock: ClockDep
) -> UserPublic:
    with db.write() as session:
        user = users.update_user(
            session,
            actor,
            user_id,
            email=body.email,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            now=clock.now(),
        )
        return user_public(session, user)


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate_user(user_id: str, actor: UserManager, db: DbDep, clock: ClockDep) -> UserPublic:
    """The user can no longer log in or own records; their history stays."""
    with db.write() as session:
        return user_public(
            session, users.set_user_active(session, actor, user_id, False, now=clock.now())
        )


@router.post("/users/{user_id}/activate", response_model=UserPublic)
def activate_user(user_id: str, actor: UserManager, db: DbDep, clock: ClockDep) -> UserPublic:
    with db.write() as session:
        return user_public(
            session, users.set_user_active(session, actor, user_id, True, now=clock.now())
        )


@router.put("/users/{user_id}/skills", response_model=UserPublic)
def set_skills(
    user_id: str, body: SkillIds, actor: UserManager, db: DbDep, clock: ClockDep
) -> UserPublic:
    """Replace the skills (lead filters) the user holds."""
    with db.write() as session:
        queues.set_user_skills(session, actor, user_id, body.skill_ids, now=clock.now())
        return user_public(session, users.get_user(session, user_id))


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def user_tokens(user_id: str, _actor: UserManager, db: DbDep) -> list[TokenPublic]:
    with db.read() as session:
        return [
            token_public(t) for t in users.list_tokens(session, users.get_user(session, user_id))
        ]


@router.post(
    "/users/{user_id}/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED
)
def create_user_token(
    user_id: str, body: TokenCreate, actor: UserManager, db: DbDep, clock: ClockDep
) -> TokenCreated:
    """An API token for another user (e.g. an integration account). Shown once."""
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with db.write() as session:
        user = users.get_user(session, user_id)
        token, secret = users.create_api_token(
            session, actor, user, body.name, now=clock.now(), ttl=ttl
        )
        return TokenCreated(**token_public(token).model_dump(), token=secret)


@router.delete("/users/{user_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_user_token(
    user_id: str, token_id: IntId, actor: UserManager, db: DbDep, clock: ClockDep
) -> None:
    with db.write() as session:
        user = users.get_user(session, user_id)
        users.revoke_token(session, actor, token_id, now=clock.now(), of=user)


# --- roles -------------------------------------------------------------------------------------


def role_public(role: Role) -> RolePublic:
    return RolePublic.model_validate(users.role_view(role))


@router.get("/rights", response_model=list[str], tags=["roles"])
def list_rights(_actor: UserReader) -> list[str]:
    """Every right that exists."""
    return sorted(r.value for r in Right)


@router.get("/roles", response_model=list[RolePublic], tags=["roles"])
def list_roles(_actor: UserReader, db: DbDep) -> list[RolePublic]:
    with db.read() as session:
        return [role_public(r) for r in users.list_roles(session)]


@router.post(
    "/roles", response_model=RolePublic, status_code=status.HTTP_201_CREATED, tags=["roles"]
)
def create_role(body: RoleCreate, actor: UserManager, db: DbDep, clock: ClockDep) -> RolePublic:
    """A custom role: explicit ``rights``, or ``based_on`` a role ``without`` some rights."""
    with db.write() as session:
        role = users.create_role(
            session,
            actor,
            name=body.name,
            rights=body.rights,
            based_on=body.based_on,
            without=body.without,
            description=body.description,
            now=clock.now(),
        )
        return role_public(role)


@router.patch("/roles/{name}", response_model=RolePublic, tags=["roles"])
def update_role(
    name: str, body: RoleUpdate, actor: UserManager, db: DbDep, clock: ClockDep
) -> RolePublic:
    with db.write() as session:
        role = users.update_role(
            session, actor, name, rights=body.rights, description=body.description, now=clock.now()
        )
        return role_public(role)


@router.delete("/roles/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["roles"])
def delete_role(name: str, actor: UserManager, db: DbDep, clock: ClockDep) -> None:
    with db.write() as session:
        users.delete_role(session, actor, name, now=clock.now())
