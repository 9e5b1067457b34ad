"""Callbacks scheduled by agents."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from callhopper.api.schemas.base import Body, Note, PhoneText
from callhopper.domain.records import CallbackKind


class CallbackIn(Body):
    at: datetime = Field(
        description="When to call back; without a UTC offset it is the contact's local time."
    )
    kind: CallbackKind = Field(
        CallbackKind.PERSONAL,
        description="personal: back to you (or the record's owner); any: any agent.",
    )
    number: PhoneText | None = Field(None, description="Another number to call back.")
    note: Note = ""


class CallbackPublic(BaseModel):
    id: int
    campaign_id: int
    record_id: int
    kind: str
    agent_user_id: str | None = Field(description="Who gets it; null for any agent.")
    due_at: datetime
    number: str | None
    note: str
    status: str


class WaitingCallbackPublic(CallbackPublic):
    agent_logged_in: bool = Field(description="Whether the agent it waits for is logged in.")
