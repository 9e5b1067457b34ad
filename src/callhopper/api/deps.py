"""Dependencies shared by routers, as ``Annotated`` aliases."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_type_hints

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from callhopper.core.audit import AuditService
from callhopper.core.auth import AuthService
from callhopper.core.campaigns import CampaignService
from callhopper.core.dnc import DncService
from callhopper.core.eligibility import EligibilityService
from callhopper.core.hopper import HopperService
from callhopper.core.inbound import InboundService
from callhopper.core.leads import LeadService
from callhopper.core.lists import ListService
from callhopper.core.owners import OwnerService
from callhopper.core.ownership import OwnershipService
from callhopper.core.queues import QueueService
from callhopper.core.users import UserService
from callhopper.core.workflows import WorkflowService
from callhopper.core.wrapup import WrapupService
from callhopper.domain.actors import Actor
from callhopper.domain.errors import InvalidInput, NotAuthenticated
from callhopper.domain.limits import MAX_ADDRESS_LENGTH
from callhopper.domain.rights import Right
from callhopper.ports import Clock
from callhopper.services import Services
from callhopper.settings import Settings

SESSION_COOKIE = "callhopper_session"

_T = TypeVar("_T")

# Dependencies that only read the application's state or the actor are ``async def``: FastAPI
# runs them on the event loop, where a plain ``def`` would cost a trip through the thread pool
# on every request. Those that touch the database stay ``def`` (they block).


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def no_nul_in_url(connection: HTTPConnection) -> None:
    """422 for a NUL character in the path or in a query parameter, naming the parameter:
    PostgreSQL's text cannot hold one (bodies are checked by :class:`~.schemas.Body`)."""
    # NUL can only come percent-encoded in the query, or decoded in the path: the usual
    # request costs two substring searches.
    if b"%00" not in connection.scope["query_string"] and "\x00" not in connection.scope["path"]:
        return
    for name, value in connection.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _nul_in(name)
    for name, value in connection.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise _nul_in(name)


def _nul_in(name: str) -> InvalidInput:
    field = name.replace("\x00", "\\u0000")
    return InvalidInput(f"{field}: contains a NUL character, which text cannot hold", field=field)


ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# The administrative services, built once per process (:func:`callhopper.services.build`).


async def auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.services.admin.auth
    return service


async def user_service(request: Request) -> UserService:
    service: UserService = request.app.state.services.admin.users
    return service


async def queue_service(request: Request) -> QueueService:
    service: QueueService = request.app.state.services.admin.queues
    return service


async def inbound_service(request: Request) -> InboundService:
    service: InboundService = request.app.state.services.admin.inbound
    return service


async def wrapup_service(request: Request) -> WrapupService:
    service: WrapupService = request.app.state.services.admin.wrapup
    return service


async def audit_service(request: Request) -> AuditService:
    service: AuditService = request.app.state.services.admin.audit
    return service


async def dnc_service(request: Request) -> DncService:
    service: DncService = request.app.state.services.admin.dnc
    return service


async def workflow_service(request: Request) -> WorkflowService:
    service: WorkflowService = request.app.state.services.admin.workflows
    return service


AuthDep = Annotated[AuthService, Depends(auth_service)]
UsersDep = Annotated[UserService, Depends(user_service)]
QueuesDep = Annotated[QueueService, Depends(queue_service)]
InboundDep = Annotated[InboundService, Depends(inbound_service)]
WrapupDep = Annotated[WrapupService, Depends(wrapup_service)]
AuditDep = Annotated[AuditService, Depends(audit_service)]
DncDep = Annotated[DncService, Depends(dnc_service)]
WorkflowsDep = Annotated[WorkflowService, Depends(workflow_service)]


def client_address(connection: HTTPConnection) -> str:
    """The client's address, as the server saw it (behind a proxy: the proxy's, unless the
    server is told to trust its forwarded header), cut to the stored width."""
    client = connection.client
    return (client.host if client is not None else "unknown")[:MAX_ADDRESS_LENGTH]


def credential_of(request: Request) -> str | None:
    """The bearer token, else the session cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


@dataclass(frozen=True)
class Credentials:
    """A request's credentials, not checked yet: :meth:`actor` checks them (it reads the
    database, so it runs in a worker thread)."""

    secret: str
    auth: AuthService

    def actor(self) -> Actor:
        """The authenticated user; 401 when the credentials are wrong, expired or revoked."""
        return self.auth.authenticate(self.secret)


async def credentials(request: Request) -> Credentials:
    """401 at once when the request carries no credentials (before its body is read)."""
    secret = credential_of(request)
    if secret is None:
        raise NotAuthenticated("authentication required: send a bearer token or log in")
    # The service straight from the application's state: a dependency of its own would cost
    # every request another step of FastAPI's resolution.
    auth: AuthService = request.app.state.services.admin.auth
    return Credentials(secret, auth)


CredentialsDep = Annotated[Credentials, Depends(credentials)]


def current_actor(credentials: CredentialsDep) -> Actor:
    """The authenticated user (a trip through the thread pool of its own; see
    :func:`authenticated_in_thread` for endpoints that spare it)."""
    return credentials.actor()


CurrentActor = Annotated[Actor, Depends(current_actor)]


def authenticated_in_thread(
    right: Right,
) -> Callable[[Callable[..., _T]], Callable[..., Awaitable[_T]]]:
    """Turn a plain ``def`` endpoint taking ``agent: Actor`` into one that authenticates the
    actor (who must hold ``right``) in the worker thread the endpoint runs in.

    FastAPI runs a ``def`` dependency and a ``def`` endpoint in two trips through the thread
    pool, each a hand-over of the interpreter lock between the event loop and a worker; on
    an agent's hot path (Get Record, Done) the second trip cost about a tenth of the
    server's CPU (bench/RESULTS.md). The endpoint's other parameters are unchanged, and its
    documentation is the same.
    """

    def decorate(endpoint: Callable[..., _T]) -> Callable[..., Awaitable[_T]]:
        signature = inspect.signature(endpoint)
        if "agent" not in signature.parameters:
            raise TypeError(f"{endpoint.__name__} takes no agent parameter")
        hints = get_type_hints(endpoint, include_extras=True)
        parameters = [
            p.replace(annotation=CredentialsDep if p.name == "agent" else hints[p.name])
            for p in signature.parameters.values()
        ]

        @functools.wraps(endpoint)
        async def run(**kwargs: Any) -> _T:
            credentials: Credentials = kwargs.pop("agent")

            def work() -> _T:
                agent = credentials.actor()
                agent.require(right)
                return endpoint(agent=agent, **kwargs)

            return await run_in_threadpool(work)

        returns = hints.get("return", signature.empty)
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=parameters, return_annotation=None if returns is type(None) else returns
        )
        del run.__wrapped__  # FastAPI reads the signature above, not the endpoint's
        return run

    return decorate


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


# --- services (built once per process in ``callhopper.services``) ------------------------------


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def campaign_service(request: Request) -> CampaignService:
    return _services(request).campaigns


async def list_service(request: Request) -> ListService:
    return _services(request).lists


async def owner_service(request: Request) -> OwnerService:
    return _services(request).owners


async def ownership_service(request: Request) -> OwnershipService:
    return _services(request).ownership


async def lead_service(request: Request) -> LeadService:
    return _services(request).leads


async def hopper_service(request: Request) -> HopperService:
    return _services(request).hopper


async def eligibility_service(request: Request) -> EligibilityService:
    return _services(request).eligibility


CampaignsDep = Annotated[CampaignService, Depends(campaign_service)]
ListsDep = Annotated[ListService, Depends(list_service)]
OwnersDep = Annotated[OwnerService, Depends(owner_service)]
OwnershipDep = Annotated[OwnershipService, Depends(ownership_service)]
LeadsDep = Annotated[LeadService, Depends(lead_service)]
HopperDep = Annotated[HopperService, Depends(hopper_service)]
EligibilityDep = Annotated[EligibilityService, Depends(eligibility_service)]
