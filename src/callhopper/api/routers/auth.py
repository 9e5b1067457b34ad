"""Login sessions (cookie) and the caller's own API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from callhopper.api.deps import (
    SESSION_COOKIE,
    AuthDep,
    CurrentActor,
    SettingsDep,
    UsersDep,
    client_address,
)
from callhopper.api.ids import IntId
from callhopper.api.schemas import (
    LoginIn,
    MePublic,
    MeUpdate,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)
from callhopper.domain.actors import Actor
from callhopper.domain.users import IssuedToken, TokenInfo

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=MePublic)
def login(
    body: LoginIn, request: Request, response: Response, auth: AuthDep, settings: SettingsDep
) -> MePublic:
    """Check email and password and set the session cookie. After too many failures for the
    account or from the client's address lately, 429 with ``Retry-After``."""
    signed_in = auth.sign_in(body.email, body.password, address=client_address(request))
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.secret,
        max_age=int(auth.session_ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return me_of(signed_in.actor)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, auth: AuthDep) -> None:
    """End the login session of the cookie (no error if there is none)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is not None:
        auth.sign_out(secret)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=MePublic)
def me(actor: CurrentActor) -> MePublic:
    return me_of(actor)


@router.patch("/me", response_model=MePublic)
def update_me(body: MeUpdate, actor: CurrentActor, users: UsersDep) -> MePublic:
    """Choose the pages' language for yourself (it follows you to every browser)."""
    return me_of(users.set_own_language(actor, body.language).actor)


@router.get("/tokens", response_model=list[TokenPublic])
def my_tokens(actor: CurrentActor, users: UsersDep) -> list[TokenPublic]:
    return [token_public(t) for t in users.tokens(actor.user_id)]


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_my_token(body: TokenCreate, actor: CurrentActor, users: UsersDep) -> TokenCreated:
    """A new API token for yourself. The secret is in the answer, and only there."""
    issued = users.create_token(
        actor, actor.user_id, body.name, expires_in_days=body.expires_in_days
    )
    return token_created(issued)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(token_id: IntId, actor: CurrentActor, users: UsersDep) -> None:
    users.revoke_token(actor, token_id)


def me_of(actor: Actor) -> MePublic:
    return MePublic(
        user_id=actor.user_id,
        email=actor.email,
        display_name=actor.display_name,
        role=actor.role,
        rights=sorted(r.value for r in actor.rights),
        language=actor.language,
    )


def token_public(token: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def token_created(issued: IssuedToken) -> TokenCreated:
    return TokenCreated(**token_public(issued.token).model_dump(), token=issued.secret)
