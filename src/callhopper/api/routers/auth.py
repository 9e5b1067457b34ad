"""Login sessions (cookie) and the caller's own API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from callhopper.api.deps import (
    SESSION_COOKIE,
    ClockDep,
    CurrentActor,
    DbDep,
    SettingsDep,
)
from callhopper.api.ids import IntId
from callhopper.api.schemas import LoginIn, MePublic, TokenCreate, TokenCreated, TokenPublic
from callhopper.domain.actors import Actor
from callhopper.store import users
from callhopper.store.models import AuthToken

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=MePublic)
def login(
    body: LoginIn, response: Response, db: DbDep, clock: ClockDep, settings: SettingsDep
) -> MePublic:
    """Check email and password and set the session cookie."""
    ttl = timedelta(hours=settings.session_ttl_hours)
    with db.write() as session:
        secret = users.login(session, body.email, body.password, now=clock.now(), ttl=ttl)
        user = users.get_user_by_email(session, body.email)
        assert user is not None
        actor = users.actor_of(session, user)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return me_of(actor)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, db: DbDep, clock: ClockDep) -> None:
    """End the login session of the cookie (no error if there is none)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is not None:
        with db.write() as session:
            users.end_session(session, secret, now=clock.now())
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=MePublic)
def me(actor: CurrentActor) -> MePublic:
    return me_of(actor)


@router.get("/tokens", response_model=list[TokenPublic])
def my_tokens(actor: CurrentActor, db: DbDep) -> list[TokenPublic]:
    with db.read() as session:
        user = users.get_user(session, actor.user_id)
        return [token_public(t) for t in users.list_tokens(session, user)]


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_my_token(
    body: TokenCreate, actor: CurrentActor, db: DbDep, clock: ClockDep
) -> TokenCreated:
    """A new API token for yourself. The secret is in the answer, and only there."""
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with db.write() as session:
        user = users.get_user(session, actor.user_id)
        token, secret = users.create_api_token(
            session, actor, user, body.name, now=clock.now(), ttl=ttl
        )
        return TokenCreated(**token_public(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(token_id: IntId, actor: CurrentActor, db: DbDep, clock: ClockDep) -> None:
    with db.write() as session:
        users.revoke_token(session, actor, token_id, now=clock.now())


def me_of(actor: Actor) -> MePublic:
    return MePublic(
        user_id=actor.user_id,
        email=actor.email,
        display_name=actor.display_name,
        role=actor.role,
        rights=sorted(r.value for r in actor.rights),
    )


def token_public(token: AuthToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )
