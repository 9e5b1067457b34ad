"""The agent's side of preview campaigns: My Campaigns, Get Record and record actions."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect, status
from fastapi.concurrency import run_in_threadpool

from callhopper.api.deps import SESSION_COOKIE, authenticated_in_thread
from callhopper.api.ids import BigIntId, IntId
from callhopper.api.schemas import (
    AcceptPublic,
    AgentStatePublic,
    CallbackIn,
    CallbackPublic,
    CallIn,
    CallPublic,
    DeclineIn,
    DeliveryPublic,
    DoneIn,
    GetRecordPublic,
    LeasePublic,
    MyCampaignPublic,
    ReadyIn,
    ReceivingIn,
    WrapupIn,
)
from callhopper.core.auth import AuthService
from callhopper.core.dispensing import Delivery, Dispenser
from callhopper.domain.actors import Actor
from callhopper.domain.callbacks import ScheduledCallback
from callhopper.domain.campaigns import CampaignState, Channel
from callhopper.domain.errors import NotFound
from callhopper.domain.events import AgentEvent
from callhopper.domain.rights import Right
from callhopper.ports.events import AgentChannels

router = APIRouter(prefix="/agent", tags=["agent"])

#: Every agent endpoint authenticates in the worker thread it runs in (one trip through the
#: thread pool per request instead of two).
agent_endpoint = authenticated_in_thread(Right.AGENT_WORK)


async def get_dispenser(request: Request) -> Dispenser:
    dispenser: Dispenser = request.app.state.dispenser
    return dispenser


DispenserDep = Annotated[Dispenser, Depends(get_dispenser)]


def delivery_public(delivery: Delivery) -> DeliveryPublic:
    # Read from the dataclasses' attributes: ``asdict`` would deep-copy every nested value first.
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


@router.get("/campaigns", response_model=list[MyCampaignPublic])
@agent_endpoint
def my_campaigns(agent: Actor, dispenser: DispenserDep) -> list[MyCampaignPublic]:
    """*My Campaigns*: running campaigns of your queues."""
    return [
        MyCampaignPublic(
            id=c.id,
            name=c.name,
            description=c.description,
            status="running" if c.state is CampaignState.ON else c.state.value,
            mode=c.mode,
            delivery=c.delivery,
            logged_in=c.logged_in,
            receiving=c.receiving,
            record_id=c.record_id,
        )
        for c in dispenser.my_campaigns(agent)
    ]


@router.post("/campaigns/{campaign_id}/login", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def login(campaign_id: IntId, agent: Actor, dispenser: DispenserDep) -> None:
    dispenser.login(agent, campaign_id)


@router.post("/campaigns/{campaign_id}/logout", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def logout(campaign_id: IntId, agent: Actor, dispenser: DispenserDep) -> None:
    """Leave the campaign; a record you hold goes back to the list (its owner stays)."""
    dispenser.logout(agent, campaign_id)


@router.post("/campaigns/{campaign_id}/get-record", response_model=GetRecordPublic)
@agent_endpoint
def get_record(campaign_id: IntId, agent: Actor, dispenser: DispenserDep) -> GetRecordPublic:
    """Get Record: the record you hold in this campaign, else your next one.

    ``delivery`` is null when nothing can be delivered now; ``reason`` says why.
    """
    result = dispenser.get_record(agent, campaign_id)
    if isinstance(result, Delivery):
        return GetRecordPublic(delivery=delivery_public(result))
    return GetRecordPublic(
        delivery=None,
        reason=result.reason,
        message=result.message,
        next_retry_at=result.next_retry_at,
        held_by=result.held_by,
        held_until=result.held_until,
    )


@router.get("/deliveries", response_model=list[DeliveryPublic])
@agent_endpoint
def my_deliveries(agent: Actor, dispenser: DispenserDep) -> list[DeliveryPublic]:
    """Every record delivered to you now, in every campaign (to resume after a reconnect)."""
    return [delivery_public(d) for d in dispenser.deliveries(agent)]


_RECORD = "/campaigns/{campaign_id}/records/{record_id}"


@router.get(_RECORD, response_model=DeliveryPublic)
@agent_endpoint
def delivery(
    campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep
) -> DeliveryPublic:
    """A record delivered to you (404 for any other record)."""
    return delivery_public(dispenser.delivery(agent, campaign_id, record_id))


@router.post(f"{_RECORD}/keepalive", response_model=LeasePublic)
@agent_endpoint
def keepalive(
    campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep
) -> LeasePublic:
    """Keep the record: its lease runs for the campaign's lease timeout from now."""
    until = dispenser.keepalive(agent, campaign_id, record_id)
    return LeasePublic(record_id=record_id, lease_expires_at=until)


@router.post(f"{_RECORD}/call", response_model=CallPublic)
@agent_endpoint
def call(
    campaign_id: IntId,
    record_id: BigIntId,
    agent: Actor,
    dispenser: DispenserDep,
    body: CallIn | None = None,
) -> CallPublic:
    """Call one of the record's numbers (``phone_index``), or a new ``number`` where allowed.

    Each number is validated first (DNC lists, validation service): one that may not be
    dialled is passed over for the next (``case``, ``message``, ``skipped``); when none is
    left the record is closed (``closed``: ``dnc`` or ``not_validated``). A typed number that
    may not be dialled is refused (409 ``number_dnc_none`` / ``number_unavailable_none``).
    Refused (409) outside the calling window in the contact's time zone."""
    body = body or CallIn()  # no body: the first number
    result = dispenser.call(
        agent,
        campaign_id,
        record_id,
        phone_index=body.phone_index,
        number=body.number,
        caller_id=body.caller_id,
    )
    return CallPublic(**vars(result))


@router.post(f"{_RECORD}/skip", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def skip(campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep) -> None:
    dispenser.skip(agent, campaign_id, record_id)


@router.post(f"{_RECORD}/decline", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def decline(
    campaign_id: IntId, record_id: BigIntId, body: DeclineIn, agent: Actor, dispenser: DispenserDep
) -> None:
    """``call_later``: back to the end of the list. ``do_not_call``: out of the campaign."""
    dispenser.decline(agent, campaign_id, record_id, body.action)


@router.post(f"{_RECORD}/wrapup", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def wrapup(
    campaign_id: IntId, record_id: BigIntId, body: WrapupIn, agent: Actor, dispenser: DispenserDep
) -> None:
    """Choose the wrap-up code, note and field edits (checked now, applied by Done)."""
    dispenser.wrapup(
        agent, campaign_id, record_id, code=body.code, note=body.note, fields=body.fields
    )


@router.post(f"{_RECORD}/done", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def done(
    campaign_id: IntId, record_id: BigIntId, body: DoneIn, agent: Actor, dispenser: DispenserDep
) -> None:
    """Done (``stop``: Done and Stop). Applies the wrap-up chosen (or the one sent here)."""
    dispenser.done(
        agent,
        campaign_id,
        record_id,
        code=body.code,
        note=body.note,
        fields=body.fields,
        stop=body.stop,
    )


# --- pushed modes, channels, callbacks ---------------------------------------------------------


@router.post(f"{_RECORD}/accept", response_model=AcceptPublic)
@agent_endpoint
def accept(
    campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep
) -> AcceptPublic:
    """Accept a pushed record (in direct push preview, accepting dials it)."""
    dialled = dispenser.accept(agent, campaign_id, record_id)
    return AcceptPublic(
        record_id=record_id,
        dialled=CallPublic(**vars(dialled)) if dialled is not None else None,
    )


@router.post(f"{_RECORD}/reject", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def reject(campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep) -> None:
    """Reject a pushed record: back to the top of the list; in push preview you are set
    not ready on outbound_preview."""
    dispenser.reject(agent, campaign_id, record_id)


@router.post(f"{_RECORD}/callback", response_model=CallbackPublic)
@agent_endpoint
def schedule_callback(
    campaign_id: IntId,
    record_id: BigIntId,
    body: CallbackIn,
    agent: Actor,
    dispenser: DispenserDep,
) -> CallbackPublic:
    """Schedule (or change) a callback; it applies when you mark the record Done. The time
    must be in the future and inside the calling window in the contact's time zone."""
    callback = dispenser.schedule_callback(
        agent,
        campaign_id,
        record_id,
        at=body.at,
        kind=body.kind,
        number=body.number,
        note=body.note,
    )
    return callback_public(callback)


@router.delete(f"{_RECORD}/callback", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def cancel_callback(
    campaign_id: IntId, record_id: BigIntId, agent: Actor, dispenser: DispenserDep
) -> None:
    if not dispenser.cancel_callback(agent, campaign_id, record_id):
        raise NotFound("no callback scheduled on this record", field="callback")


@router.put("/campaigns/{campaign_id}/receiving", status_code=status.HTTP_204_NO_CONTENT)
@agent_endpoint
def receiving(campaign_id: IntId, body: ReceivingIn, agent: Actor, dispenser: DispenserDep) -> None:
    """Direct push preview's Get Record / Stop toggle."""
    dispenser.set_receiving(agent, campaign_id, body.on)


@router.get("/state", response_model=AgentStatePublic)
@agent_endpoint
def state(agent: Actor, dispenser: DispenserDep) -> AgentStatePublic:
    return AgentStatePublic(channels={c.value: r for c, r in dispenser.channels(agent).items()})


@router.put("/channels/{channel}", response_model=AgentStatePublic)
@agent_endpoint
def set_channel(
    channel: Channel, body: ReadyIn, agent: Actor, dispenser: DispenserDep
) -> AgentStatePublic:
    """Ready / not ready on ``voice`` or ``outbound_preview``."""
    channels = dispenser.set_channel(agent, channel, body.ready)
    return AgentStatePublic(channels={c.value: r for c, r in channels.items()})


def callback_public(callback: ScheduledCallback) -> CallbackPublic:
    return CallbackPublic(
        id=callback.id,
        campaign_id=callback.campaign_id,
        record_id=callback.record_id,
        kind=callback.kind.value,
        agent_user_id=callback.agent_user_id,
        due_at=callback.due_at,
        number=callback.number,
        note=callback.note,
        status=callback.status.value,
    )


# --- the real-time channel ---------------------------------------------------------------------


@router.websocket("/ws")
async def channel(websocket: WebSocket) -> None:
    """The agent's real-time channel (authenticate with ``?token=``, a bearer header or the
    session cookie). On connect: ``hello``, then every record delivered to you now
    (``delivery`` with ``resumed``), then events as they happen: ``delivery``,
    ``delivery_ended``, ``state``, ``campaign``. Send ``ping`` to get ``pong``."""
    app = websocket.app
    secret = (
        websocket.query_params.get("token")
        or _bearer(websocket.headers.get("authorization"))
        or websocket.cookies.get(SESSION_COOKIE)
    )
    actor = await run_in_threadpool(_actor_for, app.state.services.admin.auth, secret)
    await websocket.accept()
    if actor is None or actor.id is None:
        # Closed after the handshake, so that a browser sees the code (a refused handshake
        # is an anonymous error to it): 4401 to log in again, 4403 for a user who may not work.
        await websocket.close(code=4401, reason="not authenticated")
        return
    if not actor.can(Right.AGENT_WORK):
        await websocket.close(code=4403, reason=f"the right {Right.AGENT_WORK.value} is needed")
        return
    bus: AgentChannels = app.state.bus
    dispenser: Dispenser = app.state.dispenser
    queue = bus.subscribe(actor.id, asyncio.get_running_loop())
    receiver: asyncio.Task[None] | None = None
    try:
        channels = await run_in_threadpool(dispenser.channels, actor)
        await websocket.send_json(
            {
                "type": "hello",
                "user_id": actor.user_id,
                "channels": {c.value: r for c, r in channels.items()},
            }
        )
        for delivery in await run_in_threadpool(dispenser.deliveries, actor):
            await websocket.send_json(
                {
                    "type": "delivery",
                    "resumed": True,
                    "campaign_id": delivery.campaign_id,
                    "record_id": delivery.record_id,
                    "reason": None,
                    "delivery": _jsonable(delivery),
                }
            )
            bus.sent(actor.id, delivery.campaign_id, delivery.record_id)
        receiver = asyncio.create_task(_read(websocket, queue))
        while (event := await queue.get()) is not _CLOSED:
            message: dict[str, Any] | None
            if event is _PING:
                message = {"type": "pong"}
            elif isinstance(event.snapshot, Delivery):  # made here: sent as it was made
                message = _message_of(event, {"delivery": _jsonable(event.snapshot)})
            else:
                message = await run_in_threadpool(_message, dispenser, actor, event)
            if message is not None:
                await websocket.send_json(message)
        await receiver  # the reader's own failure, if it failed rather than saw the close
    except WebSocketDisconnect:
        pass
    finally:
        if receiver is not None:
            receiver.cancel()
        bus.unsubscribe(actor.id, queue)


#: What the channel's reader puts in the agent's queue beside the bus's events, so that the
#: handler waits on one queue: an event put there wakes it in one step of the event loop
#: (waiting on a queue and the socket at once took a task per event and three more steps,
#: each behind everything else the loop has to do: the push's latency under load).
_PING = AgentEvent(0, "ping")
_CLOSED = AgentEvent(0, "closed")


async def _read(websocket: WebSocket, queue: asyncio.Queue[AgentEvent]) -> None:
    """Read what the client sends (``ping``) until it goes away, then close the queue."""
    try:
        while True:
            if (await websocket.receive_text()).strip() == "ping":
                queue.put_nowait(_PING)
    except WebSocketDisconnect:
        pass
    finally:
        queue.put_nowait(_CLOSED)


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _actor_for(auth: AuthService, secret: str | None) -> Actor | None:
    return auth.identify(secret) if secret else None


def _jsonable(delivery: Delivery) -> dict[str, Any]:
    return delivery_public(delivery).model_dump(mode="json")


def _message_of(event: AgentEvent, loaded: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event.kind,
        "campaign_id": event.campaign_id,
        "record_id": event.record_id,
        "reason": event.reason,
        **event.extra,
        **loaded,
    }


def _message(dispenser: Dispenser, actor: Actor, event: AgentEvent) -> dict[str, Any] | None:
    """The message of an event, with what it names read from the database."""
    loaded: dict[str, Any] = {}
    if event.kind == "delivery":
        assert event.campaign_id is not None and event.record_id is not None
        try:
            delivery = dispenser.delivery(actor, event.campaign_id, event.record_id)
        except NotFound:
            return None  # gone again before it could be sent (the resume covers the rest)
        loaded["delivery"] = _jsonable(delivery)
    elif event.kind == "state":
        loaded["channels"] = {c.value: r for c, r in dispenser.channels(actor).items()}
        if event.campaign_id is not None:  # the campaign's Get Record / Stop toggle
            loaded["receiving"] = dispenser.receiving(actor, event.campaign_id)
    return _message_of(event, loaded)
