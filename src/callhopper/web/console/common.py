"""What every console page shares: who may open it, its navigation, and rendering.

The console is for supervisors and administrators: a user whose only right is to work
campaigns (an agent) is refused every console page with a page that says so and points to
the workspace. Each page names the rights that open it (any one of them); the services
check the right of each action again, so a form posted without it is refused too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from callhopper.domain.actors import Actor
from callhopper.domain.csvtext import csv_lines
from callhopper.domain.errors import CallhopperError
from callhopper.domain.rights import Right
from callhopper.services import Services
from callhopper.web.messages import N_, Notice
from callhopper.web.pages.common import PageRoute, as_user, is_htmx, problem, render

_T = TypeVar("_T")

CONSOLE_PATH = "/console"

REFUSED = N_(
    "The console is for supervisors and administrators, and your account cannot open it. "
    "Your work is in the agent workspace."
)
NEEDS_RIGHT = N_("This page needs a right your account does not have: %(right)s.")
INVALID_VALUE = N_("This was refused: %(reason)s")
INVALID_FIELD = N_("This was refused (%(field)s): %(reason)s")

#: Readers of campaigns, lists and reports (supervisors have ``report.view``).
READERS = (Right.CAMPAIGN_MANAGE, Right.CONTACT_LIST_MANAGE, Right.REPORT_VIEW)
#: Readers of staleness rules and their runs (as the API's ``GET /staleness-rules``).
STALENESS_READERS = (Right.LEAD_MASS_EDIT, Right.REPORT_VIEW)


@dataclass(frozen=True)
class Section:
    """A console page in the navigation, shown to holders of any of ``rights``."""

    path: str
    label: str
    rights: tuple[Right, ...]


SECTIONS = (
    Section(f"{CONSOLE_PATH}/dashboard", N_("Dashboard"), READERS),
    Section(f"{CONSOLE_PATH}/campaigns", N_("Campaigns"), READERS),
    Section(f"{CONSOLE_PATH}/windows", N_("Calling windows"), READERS),
    Section(f"{CONSOLE_PATH}/wrapup", N_("Wrap-up codes"), (Right.WRAPUP_MANAGE,)),
    Section(f"{CONSOLE_PATH}/lists", N_("Contact lists"), READERS),
    Section(f"{CONSOLE_PATH}/users", N_("Users"), (Right.USER_MANAGE,)),
    Section(f"{CONSOLE_PATH}/roles", N_("Roles and rights"), (Right.USER_MANAGE,)),
    Section(f"{CONSOLE_PATH}/queues", N_("Queues"), (Right.QUEUE_MANAGE,)),
    Section(f"{CONSOLE_PATH}/skills", N_("Skills"), (Right.QUEUE_MANAGE,)),
    Section(f"{CONSOLE_PATH}/dnc", N_("Do-not-call lists"), (Right.DNC_MANAGE,)),
    Section(f"{CONSOLE_PATH}/workflows", N_("Workflow rules"), (Right.CAMPAIGN_MANAGE,)),
    Section(f"{CONSOLE_PATH}/staleness", N_("Staleness rules"), STALENESS_READERS),
    Section(f"{CONSOLE_PATH}/audit", N_("Audit log"), (Right.AUDIT_VIEW,)),
)


class ConsoleRefused(Exception):
    """The user may not open this console page (``right``: the one it needs, if the user
    may open the console at all)."""

    def __init__(self, actor: Actor, right: Right | None) -> None:
        super().__init__("console refused")
        self.actor = actor
        self.right = right


def opens_console(actor: Actor) -> bool:
    """Whether the user has any right beyond working campaigns."""
    return bool(actor.rights - {Right.AGENT_WORK})


def check(actor: Actor, rights: Sequence[Right]) -> None:
    """Refuse the page unless ``actor`` holds one of ``rights`` (agents: always)."""
    if not opens_console(actor):
        raise ConsoleRefused(actor, None)
    if rights and not any(actor.can(r) for r in rights):
        raise ConsoleRefused(actor, rights[0])


async def console_user(
    request: Request, work: Callable[[Actor], _T], *rights: Right
) -> tuple[Actor, _T]:
    """Authenticate, refuse users without one of ``rights``, then run ``work`` as the user
    (in a worker thread, as :func:`~callhopper.web.pages.common.as_user`)."""

    def guarded(actor: Actor) -> _T:
        check(actor, rights)
        return work(actor)

    return await as_user(request, guarded)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def nav_of(actor: Actor) -> list[Section]:
    return [s for s in SECTIONS if any(actor.can(r) for r in s.rights)]


def page(
    request: Request,
    template: str,
    actor: Actor,
    *,
    status: int = 200,
    notices: Sequence[Notice] = (),
    **values: Any,
) -> HTMLResponse:
    """Render the console template ``template`` with the navigation of ``actor``."""
    return render(
        request,
        f"console/{template}",
        actor=actor,
        status=status,
        notices=notices,
        nav=nav_of(actor),
        **values,
    )


def refusal(exc: CallhopperError) -> Notice:
    """A service's refusal of a form's value, with its reason and the field it names (the
    services word their reasons in English; the reason is data on a Japanese page)."""
    field = exc.details.get("field")
    if isinstance(field, str) and field:
        return Notice(INVALID_FIELD, {"field": field, "reason": str(exc)}, "error")
    return Notice(INVALID_VALUE, {"reason": str(exc)}, "error")


def csv_download(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """``rows`` as a CSV attachment (UTF-8 with a BOM, which spreadsheets need to read it as
    UTF-8), streamed one row at a time."""

    def lines() -> Iterator[bytes]:
        yield "\ufeff".encode()
        for line in csv_lines(header, rows):
            yield line.encode()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class ConsoleRoute(PageRoute):
    """A console page's route: a refused user reads why, on a page of its own."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def console_page(request: Request) -> Response:
            try:
                return await handle(request)
            except ConsoleRefused as exc:
                if exc.right is None:
                    notice = Notice(REFUSED, level="error")
                else:
                    notice = Notice(NEEDS_RIGHT, {"right": exc.right.value}, "error")
                if is_htmx(request):
                    return problem(request, 403, notice)
                return render(
                    request,
                    "console/refused.html",
                    actor=exc.actor,
                    status=403,
                    notices=[notice],
                    nav=nav_of(exc.actor) if exc.right is not None else [],
                    works=exc.actor.can(Right.AGENT_WORK),
                )

        return console_page
