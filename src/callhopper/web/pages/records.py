"""The actions on a record delivered to the agent: Call, Skip, Decline, wrap-up, Done, Done
and Stop, Accept and Reject of a pushed record, and its callback.

Each form's values are checked by the API's own request schemas, and each action is one call
of the dispenser, which holds the rules (what may be skipped, when a wrap-up is needed, which
callback times are allowed); its refusals come back as notices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import CallbackIn, CallIn, DeclineIn, DoneIn, WrapupIn
from callhopper.core.dispensing import Delivery, DialResult, Dispenser
from callhopper.domain.actors import Actor
from callhopper.domain.errors import NotFound
from callhopper.web import messages as m
from callhopper.web.messages import Notice
from callhopper.web.pages.common import WORKSPACE_PATH, PageRoute, checked_form, text_of
from callhopper.web.pages.workspace import Outcome, act, when

router = APIRouter(prefix=WORKSPACE_PATH, route_class=PageRoute, include_in_schema=False)

_Body = TypeVar("_Body", bound=BaseModel)

RECORD = "/campaigns/{campaign_id}/records/{record_id}"
#: The form's names of a field's input and of the value it showed (see :func:`edits`).
FIELD_PREFIX = "field."
SHOWN_PREFIX = "shown."


def edits(form: FormData) -> dict[str, str]:
    """The fields the agent changed: each editable field's input beside the value the form
    showed, so that a field left alone is not sent (not even as an equal value written
    another way). A checkbox sends a hidden ``false`` before its ``true``: the last wins."""
    changed = {}
    for key in dict.fromkeys(form.keys()):
        if not key.startswith(FIELD_PREFIX):
            continue
        name = key.removeprefix(FIELD_PREFIX)
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        value = values[-1] if values else ""
        if value != text_of(form, SHOWN_PREFIX + name):
            changed[name] = value
    return changed


class Refused(Exception):
    """A form whose values the schema refused."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.text)
        self.notice = notice


def parsed(model: type[_Body], values: dict[str, Any]) -> _Body:
    """``values`` checked by an API request schema; a refusal is a notice (422)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise Refused(m.validation_notice(exc)) from None


Work = Callable[[Actor, Dispenser], Outcome]


async def record_action(request: Request, campaign_id: int, record_id: int, work: Work) -> Response:
    """Run ``work`` on the record (a form the schema refused is answered with its notice)."""

    def run(agent: Actor, dispenser: Dispenser) -> Outcome:
        try:
            return work(agent, dispenser)
        except Refused as exc:
            return refused(exc.notice)

    return await act(request, run, record_key=(campaign_id, record_id))


def still_here(
    dispenser: Dispenser, agent: Actor, campaign_id: int, record_id: int, notices: list[Notice]
) -> Outcome:
    """The answer of an action after which the record stays delivered: the record as it is
    now (or, if it left meanwhile, its departure)."""
    try:
        record = dispenser.delivery(agent, campaign_id, record_id)
    except NotFound:
        return Outcome([*notices, Notice(m.ENDED_OTHER, level="warning")], ended=True)
    return Outcome(notices, record=record)


def refused(notice: Notice) -> Outcome:
    return Outcome([notice], status=422)


def dialled(result: DialResult) -> list[Notice]:
    return m.dial_notices(
        result.case, result.closed, result.number, result.caller_id, result.extension
    )


@router.post(RECORD + "/call")
async def call(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    form = await checked_form(request)
    number = text_of(form, "number").strip()
    index = text_of(form, "phone_index")
    caller_id = text_of(form, "caller_id")
    values = {
        "phone_index": None if number or not index else index,
        "number": number or None,
        "caller_id": caller_id or None,
    }

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        body = parsed(CallIn, values)
        result = dispenser.call(
            agent,
            campaign_id,
            record_id,
            phone_index=body.phone_index,
            number=body.number,
            caller_id=body.caller_id,
        )
        if result.closed is not None:
            return Outcome(dialled(result), ended=True)
        return still_here(dispenser, agent, campaign_id, record_id, dialled(result))

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/skip")
async def skip(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        dispenser.skip(agent, campaign_id, record_id)
        return Outcome([Notice(m.SKIPPED, level="success")], ended=True)

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/decline")
async def decline(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    form = await checked_form(request)
    action = text_of(form, "action")

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        body = parsed(DeclineIn, {"action": action})
        dispenser.decline(agent, campaign_id, record_id, body.action)
        text = m.DECLINED_DNC if body.action == "do_not_call" else m.DECLINED_LATER
        return Outcome([Notice(text, level="success")], ended=True)

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/wrapup")
async def wrapup(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    form = await checked_form(request)
    values = {"code": text_of(form, "code"), "note": text_of(form, "note"), "fields": edits(form)}

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        body = parsed(WrapupIn, values)
        dispenser.wrapup(
            agent, campaign_id, record_id, code=body.code, note=body.note, fields=body.fields
        )
        return still_here(
            dispenser, agent, campaign_id, record_id, [Notice(m.WRAPUP_SAVED, level="success")]
        )

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/done")
async def done(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    form = await checked_form(request)
    values = {
        "code": text_of(form, "code") or None,
        "note": text_of(form, "note"),
        "fields": edits(form),
        "stop": text_of(form, "stop") == "1",
    }

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        body = parsed(DoneIn, values)
        dispenser.done(
            agent,
            campaign_id,
            record_id,
            code=body.code,
            note=body.note,
            fields=body.fields,
            stop=body.stop,
        )
        if body.stop:
            name = next((c.name for c in dispenser.my_campaigns(agent) if c.id == campaign_id), "")
            return Outcome([Notice(m.DONE_AND_STOP, {"campaign": name}, "success")], ended=True)
        return Outcome([Notice(m.DONE, level="success")], ended=True)

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/accept")
async def accept(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        result = dispenser.accept(agent, campaign_id, record_id)
        notices = [Notice(m.ACCEPTED, level="success")]
        if result is not None:  # direct push preview: accepting dials
            if result.closed is not None:
                return Outcome(dialled(result), ended=True)
            notices += dialled(result)
        return still_here(dispenser, agent, campaign_id, record_id, notices)

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/reject")
async def reject(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        dispenser.reject(agent, campaign_id, record_id)
        return Outcome([Notice(m.REJECTED, level="success")], ended=True)

    return await record_action(request, campaign_id, record_id, work)


@router.post(RECORD + "/callback")
async def schedule_callback(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    """Schedule or change the callback: the time is the contact's local time."""
    form = await checked_form(request)
    at = text_of(form, "at")
    values = {
        "at": at or None,
        "kind": text_of(form, "kind") or "personal",
        "number": text_of(form, "callback_number").strip() or None,
        "note": text_of(form, "callback_note"),
    }

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        if not at:
            return refused(Notice(m.CALLBACK_TIME_NEEDED, level="error"))
        body = parsed(CallbackIn, values)
        dispenser.schedule_callback(
            agent,
            campaign_id,
            record_id,
            at=body.at,
            kind=body.kind,
            number=body.number,
            note=body.note,
        )
        outcome = still_here(dispenser, agent, campaign_id, record_id, [])
        if outcome.record is not None:
            outcome.notices.insert(0, _scheduled(request, outcome.record))
        return outcome

    return await record_action(request, campaign_id, record_id, work)


def _scheduled(request: Request, record: Delivery) -> Notice:
    due = (record.callback or {}).get("due_at")
    return Notice(m.CALLBACK_SCHEDULED, {"at": when(request, due, record.timezone)}, "success")


@router.post(RECORD + "/callback/cancel")
async def cancel_callback(request: Request, campaign_id: IntId, record_id: BigIntId) -> Response:
    await checked_form(request)

    def work(agent: Actor, dispenser: Dispenser) -> Outcome:
        if not dispenser.cancel_callback(agent, campaign_id, record_id):
            raise NotFound("no callback scheduled on this record", field="callback")
        return still_here(
            dispenser,
            agent,
            campaign_id,
            record_id,
            [Notice(m.CALLBACK_CANCELLED, level="success")],
        )

    return await record_action(request, campaign_id, record_id, work)
