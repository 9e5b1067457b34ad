"""What the console's dashboard shows of a campaign: its progress per owner agent, its
deliveries and their outcomes over the last hours, the hopper per agent (lead-ownership
campaigns), and, for a campaign that dials by itself, its abandon rate per day and over the
rolling window against its target.

Everything comes from the campaign and hopper services the API answers with; this module
only groups the recent deliveries into time buckets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callhopper.core.campaigns import CampaignService
from callhopper.core.hopper import HopperService, HopperView
from callhopper.domain.campaign_values import Assignment, CampaignProgress
from callhopper.domain.dialer import AbandonReport
from callhopper.ports import Clock

#: How far back the activity chart looks, in buckets of :data:`BUCKET`.
WINDOW = timedelta(hours=2)
BUCKET = timedelta(minutes=10)
#: The most recent deliveries the activity chart reads.
SAMPLE = 5000
#: The outcome of a delivery that has not ended yet.
OPEN = "open"
#: The rolling window of the abandon rate, in days (today included).
ABANDON_DAYS = 30


@dataclass(frozen=True)
class Bucket:
    """Deliveries that started in ``[start, start + BUCKET)``, by outcome (the wrap-up code,
    else how the delivery ended, else :data:`OPEN`)."""

    start: datetime
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class Dashboard:
    progress: CampaignProgress
    timeline: list[Bucket]
    #: The hopper per agent, for lead-ownership campaigns.
    hopper: HopperView | None
    now: datetime
    #: The abandon rate over the last :data:`ABANDON_DAYS` days, for campaigns that dial by
    #: themselves.
    abandon: AbandonReport | None = None

    @property
    def dials_by_itself(self) -> bool:
        return self.progress.campaign.mode.dials_by_itself


def outcome_of(assignment: Assignment) -> str:
    return assignment.code or assignment.outcome or OPEN


def timeline(assignments: list[Assignment], now: datetime) -> list[Bucket]:
    """Every bucket of the last :data:`WINDOW` up to ``now`` (empty ones too), oldest first."""
    size = BUCKET.total_seconds()
    first = now - WINDOW
    origin = datetime.fromtimestamp(first.timestamp() // size * size, tz=now.tzinfo)
    counts: dict[datetime, Counter[str]] = {}
    start = origin
    while start <= now:
        counts[start] = Counter()
        start += BUCKET
    for a in assignments:
        if a.leased_at < origin:
            continue
        slot = datetime.fromtimestamp(a.leased_at.timestamp() // size * size, tz=now.tzinfo)
        counts.setdefault(slot, Counter())[outcome_of(a)] += 1
    return [Bucket(s, dict(c)) for s, c in sorted(counts.items())]


class DashboardService:
    """The dashboard of one campaign."""

    def __init__(self, campaigns: CampaignService, hopper: HopperService, clock: Clock) -> None:
        self.campaigns = campaigns
        self.hopper = hopper
        self.clock = clock

    def campaign(self, campaign_id: int, *, tz: str = "UTC") -> Dashboard:
        """The dashboard of one campaign; its abandon-rate days are days in ``tz``."""
        progress = self.campaigns.progress(campaign_id)
        now = self.clock.now()
        recent = self.campaigns.assignment_history(
            campaign_id=campaign_id, record_id=None, agent=None, before_id=None, limit=SAMPLE
        )
        hopper = None
        if progress.campaign.enforce_lead_ownership:
            hopper = self.hopper.view(campaign_id)
        abandon = None
        if progress.campaign.mode.dials_by_itself:
            abandon = self.campaigns.abandon_rate(campaign_id, days=ABANDON_DAYS, tz=tz)
        return Dashboard(progress, timeline(recent, now), hopper, now, abandon)
