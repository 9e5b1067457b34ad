"""The Outbound Campaigns dashboard: one campaign's progress per agent (total, delivered,
handled, remaining, errors), its deliveries and outcomes over the last hours, its hopper
per agent (lead ownership), and its abandon rate against the target for campaigns that
dial by themselves (per day and over the rolling 30 days, from the same report as the API's
``GET /campaigns/{id}/abandon-rate``). The charts refresh every few seconds while the page
is open.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from callhopper.api.ids import IntId
from callhopper.core.dashboard import OPEN, Dashboard
from callhopper.domain.actors import Actor
from callhopper.web.console.charts import PALETTE, Series, bars, columns, rate_columns
from callhopper.web.console.common import (
    CONSOLE_PATH,
    READERS,
    ConsoleRoute,
    console_user,
    page,
    services,
)
from callhopper.web.i18n import translations
from callhopper.web.messages import N_
from callhopper.web.pages.common import language, zone
from callhopper.web.views import MODES, STATUS

router = APIRouter(
    prefix=f"{CONSOLE_PATH}/dashboard", route_class=ConsoleRoute, include_in_schema=False
)

#: How often the open page asks for fresh figures (seconds).
REFRESH_S = 3
PROGRESS = (
    ("total", N_("Total")),
    ("delivered", N_("Delivered")),
    ("handled", N_("Handled")),
    ("remaining", N_("Remaining")),
    ("errors", N_("Errors")),
)
OPEN_LABEL = N_("Not ended yet")
ABANDON_NOT_YET = N_(
    "No call has been placed by this campaign yet: the abandon rate and its target appear "
    "once it has dialled."
)
ABANDON_NOT_DIALLING = N_(
    "The abandon rate is watched for campaigns that dial by themselves (progressive and "
    "predictive). In this campaign, agents dial each call after seeing the record, so no call "
    "is abandoned."
)


def _charts(dashboard: Dashboard, lang: str, tz: str) -> dict[str, Any]:
    """The SVG charts and their legends (the words of the legends are translated by the
    template)."""
    words = translations(lang).gettext
    agents = dashboard.progress.agents
    progress_chart = bars(
        [a.user_id for a in agents],
        [Series(key, [getattr(a.progress, key) for a in agents]) for key, _ in PROGRESS],
        words(N_("Progress per agent")),
    )
    outcomes = sorted({o for b in dashboard.timeline for o in b.outcomes})
    ticks = [
        format_time(b.start, "short", tzinfo=ZoneInfo(tz), locale=lang) for b in dashboard.timeline
    ]
    activity_chart = columns(
        ticks,
        [Series(o, [b.outcomes.get(o, 0) for b in dashboard.timeline]) for o in outcomes],
        words(N_("Deliveries and outcomes, last two hours")),
    )
    hopper_chart = None
    if dashboard.hopper is not None:
        owned = dashboard.hopper.owned
        hopper_chart = bars(
            [o.owner_user_id for o in owned],
            [Series("leads", [o.leads for o in owned])],
            words(N_("Hopper per agent")),
        )
    abandon = dashboard.abandon
    abandon_chart = None
    if abandon is not None and abandon.answered_by_person:
        abandon_chart = rate_columns(
            [format_date(d.day, "short", locale=lang) for d in abandon.days],
            [d.rate for d in abandon.days],
            abandon.target,
            words(N_("Abandon rate per day")),
        )
    return {
        "abandon_chart": abandon_chart,
        "progress_chart": progress_chart,
        "activity_chart": activity_chart,
        "hopper_chart": hopper_chart,
        "outcomes": outcomes,
        "open_outcome": OPEN,
        "open_label": OPEN_LABEL,
        "palette": PALETTE,
        "abandon_note": ABANDON_NOT_YET if dashboard.dials_by_itself else ABANDON_NOT_DIALLING,
    }


def _look(request: Request, campaign_id: int | None) -> Any:
    found = services(request)
    campaigns = found.campaigns.all()
    if campaign_id is None:
        running = [c for c in campaigns if c.state.is_active]
        campaign_id = next((c.id for c in running or campaigns), None)
    tz = zone(request)
    dashboard = found.dashboard.campaign(campaign_id, tz=tz) if campaign_id is not None else None
    return campaigns, dashboard


@router.get("")
async def dashboard_page(request: Request) -> Response:
    raw = request.query_params.get("campaign", "")
    campaign_id = int(raw) if raw.isdigit() else None
    actor, (campaigns, dashboard) = await console_user(
        request, lambda _a: _look(request, campaign_id), *READERS
    )
    return _render(request, actor, "dashboard.html", campaigns, dashboard)


@router.get("/{campaign_id}/live")
async def live(request: Request, campaign_id: IntId) -> Response:
    """The figures and charts alone, for the page's refresh."""
    actor, (campaigns, dashboard) = await console_user(
        request, lambda _a: _look(request, campaign_id), *READERS
    )
    return _render(request, actor, "_dashboard_live.html", campaigns, dashboard)


def _render(
    request: Request, actor: Actor, template: str, campaigns: Any, dashboard: Dashboard | None
) -> Response:
    charts = _charts(dashboard, language(request), zone(request)) if dashboard else {}
    return page(
        request,
        template,
        actor,
        campaigns=campaigns,
        dashboard=dashboard,
        progress_keys=PROGRESS,
        modes=MODES,
        status_words=STATUS,
        refresh_s=REFRESH_S,
        **charts,
    )
