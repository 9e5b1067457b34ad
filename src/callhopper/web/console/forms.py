"""What the console's forms share: run a service's change as the signed-in user and go on
to the next page with its notice, or show the page again with the service's refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.actors import Actor
from callhopper.domain.errors import CallhopperError, InvalidInput
from callhopper.domain.rights import Right
from callhopper.web.console.common import console_user, refusal
from callhopper.web.messages import Notice
from callhopper.web.pages.common import checked_form, redirect, text_of

_Model = TypeVar("_Model", bound=BaseModel)

#: Shows a page again: ``again(request, status, notices)``.
Again = Callable[[Request, int, list[Notice]], Awaitable[Response]]


async def form_action(
    request: Request,
    work: Callable[[Actor, FormData], Notice],
    right: Right,
    again: Again,
    done: str,
) -> Response:
    """Run ``work(actor, form)`` and go to ``done`` with its notice; on a refusal, the page
    (``again``) with the reason, answered 422 (the service stored nothing)."""
    form = await checked_form(request)

    def run(actor: Actor) -> tuple[Notice | None, CallhopperError | None]:
        try:
            return work(actor, form), None
        except CallhopperError as exc:
            return None, exc

    _actor, (notice, refused) = await console_user(request, run, right)
    if refused is not None or notice is None:
        assert refused is not None
        return await again(request, 422, [refusal(refused)])
    return redirect(done, [notice])


def whole_number(form: FormData, name: str) -> int | None:
    """The field ``name`` as a whole number (``None`` when empty); refused naming it."""
    raw = text_of(form, name).strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit():
        raise InvalidInput(f"{name}: {raw!r} is not a whole number", field=name)
    return int(raw)


def ticked(form: FormData, name: str) -> bool:
    """Whether the checkbox ``name`` was ticked."""
    return text_of(form, name) == "on"


def chosen(form: FormData, name: str) -> list[str]:
    """Every value of a multiple choice (checkboxes or a multiple select)."""
    return [v for v in form.getlist(name) if isinstance(v, str)]


def validated(model: type[_Model], body: dict[str, Any], prefix: str = "") -> _Model:
    """``body`` read into the API's ``model``; refused naming the first field it refuses
    (``prefix``: where the body sits in the form, e.g. a line of a table)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        fields = [prefix + ".".join(map(str, e["loc"])) for e in errors]
        message = "; ".join(
            f"{f}: {str(e['msg']).removeprefix('Value error, ')}"
            for f, e in zip(fields, errors, strict=True)
        )
        raise InvalidInput(message, field=fields[0]) from None
