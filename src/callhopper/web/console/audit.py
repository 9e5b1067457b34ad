"""The audit log in the console: who did what to which target and when, filtered by who,
what (an action, or a prefix such as ``campaign.``), record, campaign and time range (in the
viewer's time zone), newest first, with the same selection as CSV.

The entries are :meth:`~callhopper.core.audit.AuditService.entries`, as the API's
``GET /audit`` reads them (changes of campaign ownership only for readers who control it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.domain.audit import AuditEntry, AuditQuery
from callhopper.domain.rights import Right
from callhopper.web.console.common import (
    CONSOLE_PATH,
    ConsoleRoute,
    console_user,
    csv_download,
    page,
    services,
)
from callhopper.web.pages.common import zone

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/audit", route_class=ConsoleRoute, include_in_schema=False
)

PAGE = 100
#: Entries the CSV reads per query.
CSV_BATCH = 1000
FILTERS = ("who", "what", "record", "campaign", "since", "until")


def _moment(raw: str, tz: str) -> datetime | None:
    """A ``datetime-local`` value in the viewer's zone (``None`` when empty or unreadable)."""
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(tz)) if raw else None
    except ValueError:
        return None


def query_of(request: Request, limit: int) -> AuditQuery:
    params = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    target_type, target_id = None, None
    if params["record"]:
        target_type, target_id = "record", params["record"]
    elif params["campaign"]:
        target_type, target_id = "campaign", params["campaign"]
    before = request.query_params.get("before", "")
    return AuditQuery(
        actor=params["who"] or None,
        action=params["what"] or None,
        target_type=target_type,
        target_id=target_id,
        since=_moment(params["since"], zone(request)),
        until=_moment(params["until"], zone(request)),
        before_id=int(before) if before.isdigit() else None,
        limit=limit,
    )


@router.get("")
async def audit_page(request: Request) -> Response:
    query = query_of(request, PAGE)
    actor, entries = await console_user(
        request, lambda a: services(request).admin.audit.entries(a, query), Right.AUDIT_VIEW
    )
    values = {name: request.query_params.get(name, "") for name in FILTERS}
    return page(request, "audit.html", actor, entries=entries, values=values, page_size=PAGE)


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    def doc(value: dict[str, Any] | None) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""

    return (
        entry.id,
        entry.at.isoformat(),
        entry.actor,
        entry.action,
        entry.target_type,
        entry.target_id,
        doc(entry.before),
        doc(entry.after),
        entry.reason,
    )


@router.get(".csv")
async def audit_csv(request: Request) -> Response:
    """Every entry the filters select, as CSV (read a thousand at a time)."""
    audit = services(request).admin.audit
    actor, _ = await console_user(request, lambda _a: None, Right.AUDIT_VIEW)
    first = query_of(request, CSV_BATCH)

    def rows() -> Iterator[tuple[Any, ...]]:
        query = first
        while True:
            batch = audit.entries(actor, query)
            yield from (_row(e) for e in batch)
            if len(batch) < CSV_BATCH:
                return
            query = dataclasses.replace(query, before_id=batch[-1].id)

    header = [
        "id",
        "at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
        "reason",
    ]
    return csv_download("audit.csv", header, rows())
