"""Dependencies shared by routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from callhopper.domain.actors import Actor
from callhopper.domain.errors import NotAuthenticated
from callhopper.domain.rights import Right
from callhopper.ports import Clock
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.users import TOKEN_TOUCH_INTERVAL, authenticate, touch_token

SESSION_COOKIE = "callhopper_session"

# Dependencies that only read the application's state or the actor are ``async def``: FastAPI
# runs them on the event loop, where a plain ``def`` would cost a trip through the thread pool
# on every request. Those that touch the database stay ``def`` (they block).


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def credential_of(request: Request) -> str | None:
    """The bearer token, else the session cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


def current_actor(request: Request, db: DbDep, clock: ClockDep) -> Actor:
    """The authenticated user; 401 when credentials are missing, wrong, expired or revoked."""
    secret = credential_of(request)
    if secret is None:
        raise NotAuthenticated("authentication required: send a bearer token or log in")
    now = clock.now()
    with db.lookup() as session:
        found = authenticate(session, secret, now=now)
    if found is None:
        raise NotAuthenticated("the token or session is invalid, expired or revoked")
    if found.last_used_at is None or now - found.last_used_at > TOKEN_TOUCH_INTERVAL:
        with db.write() as session:
            touch_token(session, found.token_id, now=now)
    return found.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(right: Right) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that passes only actors holding ``right`` (403 otherwise)."""

    async def check(actor: CurrentActor) -> Actor:
        actor.require(right)
        return actor

    return check


def require_any(*rights: Right) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency that passes actors holding at least one of ``rights``."""

    async def check(actor: CurrentActor) -> Actor:
        if not any(actor.can(r) for r in rights):
            actor.require(rights[0])
        return actor

    return check
