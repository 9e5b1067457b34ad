"""Users, their skills and API tokens; roles and rights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from callhopper.api.deps import UsersDep, require, require_any
from callhopper.api.ids import IntId
from callhopper.api.routers.auth import token_created, token_public
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
    UsersImported,
    UserUpdate,
)
from callhopper.api.uploads import read_csv_upload
from callhopper.domain.actors import Actor
from callhopper.domain.rights import Right
from callhopper.domain.users import RoleInfo, UserDetails

router = APIRouter(tags=["users"])

UserManager = Annotated[Actor, Depends(require(Right.USER_MANAGE))]
UserReader = Annotated[Actor, Depends(require_any(Right.USER_MANAGE, Right.REPORT_VIEW))]


def user_public(details: UserDetails) -> UserPublic:
    user = details.user
    return UserPublic(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        deactivated_at=user.deactivated_at,
        language=user.language,
        skill_ids=list(details.skill_ids),
        queue_ids=list(details.queue_ids),
    )


@router.get("/users", response_model=list[UserPublic])
def list_users(
    _actor: UserReader,
    users: UsersDep,
    role: Annotated[str | None, Query(description="Only users with this role.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or deactivated) users.")] = None,
) -> list[UserPublic]:
    return [user_public(u) for u in users.users(role=role, active=active)]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, actor: UserManager, users: UsersDep) -> UserPublic:
    created = users.create_user(
        actor,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        user_id=body.user_id,
        language=body.language,
    )
    return user_public(created)


@router.post(
    "/users/import",
    response_model=UsersImported,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_users(request: Request, actor: UserManager, users: UsersDep) -> UsersImported:
    """Create users from a CSV file, all of them or none.

    Columns: ``email`` (required), ``user_id``, ``display_name``, ``role`` (default
    ``agent``), ``password`` (empty: API tokens only), ``queues`` and ``skills`` (names
    separated by ``|``). Send the file as the raw body (``Content-Type: text/csv``) or as
    the ``file`` field of a multipart form. A file with any problem creates nobody: the
    answer is 422 with every problem's ``line``, ``field`` and ``message`` in
    ``details.problems``."""
    upload = await read_csv_upload(request)
    try:
        created = await run_in_threadpool(users.import_users, actor, upload.stream)
    finally:
        upload.stream.close()
    return UsersImported(created=len(created), user_ids=created)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(user_id: str, _actor: UserReader, users: UsersDep) -> UserPublic:
    return user_public(users.user(user_id))


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(user_id: str, body: UserUpdate, actor: UserManager, users: UsersDep) -> UserPublic:
    updated = users.update_user(
        actor,
        user_id,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        language=body.language,
    )
    return user_public(updated)


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate_user(user_id: str, actor: UserManager, users: UsersDep) -> UserPublic:
    """The user can no longer log in or own records; their history stays."""
    return user_public(users.set_active(actor, user_id, False))


@router.post("/users/{user_id}/activate", response_model=UserPublic)
def activate_user(user_id: str, actor: UserManager, users: UsersDep) -> UserPublic:
    return user_public(users.set_active(actor, user_id, True))


@router.put("/users/{user_id}/skills", response_model=UserPublic)
def set_skills(user_id: str, body: SkillIds, actor: UserManager, users: UsersDep) -> UserPublic:
    """Replace the skills (lead filters) the user holds."""
    return user_public(users.set_skills(actor, user_id, body.skill_ids))


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def user_tokens(user_id: str, _actor: UserManager, users: UsersDep) -> list[TokenPublic]:
    return [token_public(t) for t in users.tokens(user_id)]


@router.post(
    "/users/{user_id}/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED
)
def create_user_token(
    user_id: str, body: TokenCreate, actor: UserManager, users: UsersDep
) -> TokenCreated:
    """An API token for another user (e.g. an integration account). Shown once."""
    issued = users.create_token(actor, user_id, body.name, expires_in_days=body.expires_in_days)
    return token_created(issued)


@router.delete("/users/{user_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_user_token(user_id: str, token_id: IntId, actor: UserManager, users: UsersDep) -> None:
    users.revoke_token(actor, token_id, of=user_id)


# --- roles -------------------------------------------------------------------------------------


def role_public(role: RoleInfo) -> RolePublic:
    return RolePublic.model_validate(role.view())


@router.get("/rights", response_model=list[str], tags=["roles"])
def list_rights(_actor: UserReader, users: UsersDep) -> list[str]:
    """Every right that exists."""
    return users.rights()


@router.get("/roles", response_model=list[RolePublic], tags=["roles"])
def list_roles(_actor: UserReader, users: UsersDep) -> list[RolePublic]:
    return [role_public(r) for r in users.roles()]


@router.post(
    "/roles", response_model=RolePublic, status_code=status.HTTP_201_CREATED, tags=["roles"]
)
def create_role(body: RoleCreate, actor: UserManager, users: UsersDep) -> RolePublic:
    """A custom role: explicit ``rights``, or ``based_on`` a role ``without`` some rights."""
    role = users.create_role(
        actor,
        name=body.name,
        rights=body.rights,
        based_on=body.based_on,
        without=body.without,
        description=body.description,
    )
    return role_public(role)


@router.patch("/roles/{name}", response_model=RolePublic, tags=["roles"])
def update_role(name: str, body: RoleUpdate, actor: UserManager, users: UsersDep) -> RolePublic:
    role = users.update_role(actor, name, rights=body.rights, description=body.description)
    return role_public(role)


@router.delete("/roles/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["roles"])
def delete_role(name: str, actor: UserManager, users: UsersDep) -> None:
    users.delete_role(actor, name)
