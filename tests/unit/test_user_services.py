"""Signing in, authentication and user management against in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callhopper.clock import FrozenClock
from callhopper.core.auth import TOKEN_TOUCH_INTERVAL, AuthService
from callhopper.core.users import UserService
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.credentials import secret_hash
from callhopper.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from callhopper.domain.rights import Right
from callhopper.domain.users import SignInFailures, TokenKind, sign_in_wait_s
from tests.unit.admin_fakes import MemoryUnitOfWork, PlainPasswords

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def uow() -> MemoryUnitOfWork:
    return MemoryUnitOfWork()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def users(uow: MemoryUnitOfWork, clock: FrozenClock) -> UserService:
    return UserService(uow, clock, PlainPasswords())


@pytest.fixture
def auth(uow: MemoryUnitOfWork, clock: FrozenClock) -> AuthService:
    return AuthService(uow, clock, PlainPasswords(), session_ttl=timedelta(hours=12))


def person(users: UserService, role: str = "agent", **kw: str) -> Actor:
    n = len(users.users()) + 1
    created = users.create_user(
        SYSTEM,
        email=kw.get("email", f"{role}{n}@example.com"),
        role=role,
        password=kw.get("password", "correct horse"),
        user_id=kw.get("user_id", f"{role}{n}"),
    )
    return created.user.actor


# --- signing in and authentication ---------------------------------------------------------------


def test_sign_in_opens_a_session_that_authenticates(
    auth: AuthService, users: UserService, uow: MemoryUnitOfWork
) -> None:
    agent = person(users, email="Ann@Example.com")
    signed_in = auth.sign_in("ann@example.COM", "correct horse")
    assert signed_in.actor == agent
    assert signed_in.secret.startswith("chs_")
    assert signed_in.expires_at == T0 + timedelta(hours=12)
    (session,) = uow.tx.tokens.tokens(agent.id or 0, TokenKind.SESSION)
    assert session.name == "login" and session.prefix == signed_in.secret[:10]
    assert secret_hash(signed_in.secret) in uow.tx.tokens.hashes
    assert auth.authenticate(signed_in.secret) == agent


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.com", "correct horse"), ("agent1@example.com", "wrong horse")],
)
def test_sign_in_refuses_unknown_emails_and_wrong_passwords_alike(
    auth: AuthService, users: UserService, email: str, password: str
) -> None:
    person(users)
    with pytest.raises(NotAuthenticated, match="wrong email or password"):
        auth.sign_in(email, password)


def test_a_deactivated_user_cannot_sign_in_and_loses_every_token(
    auth: AuthService, users: UserService, uow: MemoryUnitOfWork
) -> None:
    agent = person(users)
    signed_in = auth.sign_in("agent1@example.com", "correct horse")
    token = users.create_token(agent, agent.user_id, "mine")
    users.set_active(SYSTEM, agent.user_id, False)
    with pytest.raises(NotAuthenticated):
        auth.sign_in("agent1@example.com", "correct horse")
    for secret in (signed_in.secret, token.secret):
        with pytest.raises(NotAuthenticated):
            auth.authenticate(secret)
        assert auth.identify(secret) is None
    assert uow.tx.users.ended_work == [agent.id]
    assert uow.tx.audit.actions[-1] == "user.deactivate"


def test_authentication_touches_a_token_at_most_every_interval(
    auth: AuthService, users: UserService, uow: MemoryUnitOfWork, clock: FrozenClock
) -> None:
    agent = person(users)
    secret = users.create_token(agent, agent.user_id, "api").secret
    for _ in range(3):
        auth.authenticate(secret)
    clock.advance(TOKEN_TOUCH_INTERVAL)
    auth.authenticate(secret)
    clock.advance(timedelta(seconds=1))
    auth.authenticate(secret)
    assert len(uow.tx.tokens.touched) == 2
    writes = uow.writes
    assert auth.identify(secret) == agent
    assert uow.writes == writes  # identify only reads


def test_expired_and_signed_out_secrets_stop_working(
    auth: AuthService, users: UserService, clock: FrozenClock
) -> None:
    agent = person(users)
    short = users.create_token(agent, agent.user_id, "short", expires_in_days=1).secret
    signed_in = auth.sign_in("agent1@example.com", "correct horse")
    auth.sign_out(signed_in.secret)
    auth.sign_out("chs_not-a-session")  # nothing to end: no error
    with pytest.raises(NotAuthenticated):
        auth.authenticate(signed_in.secret)
    assert auth.authenticate(short) == agent
    clock.advance(timedelta(days=1))
    with pytest.raises(NotAuthenticated):
        auth.authenticate(short)


# --- managing users ------------------------------------------------------------------------------


def test_create_user_checks_its_input_and_uniqueness(users: UserService) -> None:
    person(users, user_id="ann", email="ann@example.com")
    with pytest.raises(InvalidInput) as bad_email:
        users.create_user(SYSTEM, email="not an email")
    assert bad_email.value.details == {"field": "email"}
    with pytest.raises(InvalidInput) as bad_id:
        users.create_user(SYSTEM, email="b@example.com", user_id="b@c")
    assert bad_id.value.details == {"field": "user_id"}
    with pytest.raises(AlreadyExists):
        users.create_user(SYSTEM, email="other@example.com", user_id="ann")
    with pytest.raises(AlreadyExists):
        users.create_user(SYSTEM, email="ANN@example.com")
    with pytest.raises(NotFound):
        users.create_user(SYSTEM, email="c@example.com", role="wizard")
    with pytest.raises(InvalidInput, match="at least 8 characters"):
        users.create_user(SYSTEM, email="d@example.com", password="short")
    made_up = users.create_user(SYSTEM, email="  e@example.com ", display_name=" ")
    assert made_up.user.user_id.startswith("u_")
    assert made_up.user.display_name == made_up.user.email == "e@example.com"


def test_nobody_hands_out_rights_they_do_not_hold(users: UserService) -> None:
    manager_role = users.create_role(
        SYSTEM, name="Manager", rights=[Right.USER_MANAGE.value, Right.AGENT_WORK.value]
    )
    assert manager_role.rights == {Right.USER_MANAGE, Right.AGENT_WORK}
    manager = person(users, "Manager")
    admin = person(users, "admin")
    agent = person(users)
    with pytest.raises(PermissionDenied):
        users.create_user(manager, email="boss@example.com", role="admin")
    with pytest.raises(PermissionDenied):
        users.update_user(manager, admin.user_id, password="a new password")
    with pytest.raises(PermissionDenied):
        users.create_token(manager, admin.user_id, "as the admin")
    with pytest.raises(PermissionDenied):
        users.create_role(manager, name="Auditor", based_on="admin", without=["user.manage"])
    changed = users.update_user(manager, agent.user_id, display_name="Agent Smith")
    assert changed.user.display_name == "Agent Smith"


def test_roles_based_on_another_and_their_life(users: UserService, uow: MemoryUnitOfWork) -> None:
    role = users.create_role(
        SYSTEM, name=" Floor ", based_on="supervisor", without=["audit.view"], description="d"
    )
    assert (role.name, role.rights) == ("Floor", frozenset({Right.REPORT_VIEW}))
    with pytest.raises(InvalidInput):
        users.create_role(SYSTEM, name="Both", rights=[], based_on="agent")
    with pytest.raises(AlreadyExists):
        users.create_role(SYSTEM, name="Floor", rights=[])
    with pytest.raises(Conflict, match="cannot be changed"):
        users.update_role(SYSTEM, "agent", description="mine")
    updated = users.update_role(SYSTEM, "Floor", rights=["report.view", "agent.work"])
    assert updated.rights == {Right.REPORT_VIEW, Right.AGENT_WORK}
    person(users, "Floor")
    with pytest.raises(Conflict, match="still have the role"):
        users.delete_role(SYSTEM, "Floor")
    assert [e.action for e in uow.tx.audit.entries if e.target_type == "role"] == [
        "role.create",
        "role.update",
    ]


def test_nobody_deactivates_themselves(users: UserService) -> None:
    admin = person(users, "admin")
    with pytest.raises(Conflict):
        users.set_active(admin, admin.user_id, False)
    again = users.set_active(admin, admin.user_id, True)  # already active: nothing to do
    assert again.user.active


def test_tokens_of_others_are_revoked_only_as_theirs(
    users: UserService, uow: MemoryUnitOfWork
) -> None:
    admin = person(users, "admin")
    agent = person(users)
    issued = users.create_token(admin, agent.user_id, "integration", expires_in_days=30)
    assert issued.token.expires_at == T0 + timedelta(days=30)
    with pytest.raises(NotFound):
        users.revoke_token(admin, issued.token.id)  # not the admin's own token
    users.revoke_token(admin, issued.token.id, of=agent.user_id)
    users.revoke_token(admin, issued.token.id, of=agent.user_id)  # revoked once, audited once
    (token,) = users.tokens(agent.user_id)
    assert token.revoked_at == T0
    assert uow.tx.audit.actions.count("token.revoke") == 1


def test_the_sign_in_wait_runs_until_the_oldest_failure_leaves_the_window() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    window = timedelta(minutes=5)
    oldest = now - timedelta(minutes=4)
    assert (
        sign_in_wait_s(SignInFailures(9, oldest, 9, oldest), limit=10, window=window, now=now)
        is None
    )
    assert (
        sign_in_wait_s(SignInFailures(10, oldest, 0, None), limit=10, window=window, now=now) == 60
    )
    by_address = SignInFailures(1, now, 10, now - timedelta(seconds=299, microseconds=1))
    assert sign_in_wait_s(by_address, limit=10, window=window, now=now) == 1
