"""The hopper store (:class:`callhopper.ports.hopper.HopperStore`): loads, what the hopper
holds, dialable leads, and leads put straight into a hopper by the lead API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from callhopper.domain.campaign_values import Campaign
from callhopper.domain.errors import NotFound
from callhopper.domain.filters import Filter
from callhopper.domain.hopper_reports import HopperCount, HopperLead, LoadReport
from callhopper.store import hopper, hopper_load
from callhopper.store.models import Campaign as CampaignRow
from callhopper.store.models import HopperEntry, Record, Skill, User, UserSkill

#: Direct hopper inserts with a higher priority go before every lead loaded normally:
#: priority ``p`` (1 to 9) takes positions from ``-p * PRIORITY_STEP`` up, in the lower half of
#: its band (a rejected push goes back on top at the lowest position less one, coming down
#: from the top of a band); priority 0 and loads take positive positions.
PRIORITY_STEP = 1_000_000_000


class SqlHopperStore:
    """Hoppers in a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def load(self, campaign: Campaign, now: datetime) -> LoadReport:
        return hopper_load.load(self.session, campaign, now)

    def counts(self, campaign_id: int) -> list[HopperCount]:
        return hopper.counts(self.session, campaign_id)

    def entries(
        self,
        campaign_id: int,
        *,
        owner_id: int | None,
        general: bool,
        limit: int,
        after: int | None,
    ) -> list[HopperLead]:
        return hopper.entries(
            self.session, campaign_id, owner_id=owner_id, general=general, limit=limit, after=after
        )

    def logged_in_agents(self, campaign: Campaign) -> list[int]:
        return hopper.logged_in_agents(self.session, campaign)

    def agent_filters(self, campaign: Campaign, agents: Sequence[int]) -> dict[int, Filter | None]:
        return hopper.agent_filters(self.session, agents, campaign.settings)

    def skills(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for user_id, name in self.session.execute(
            select(UserSkill.user_id, Skill.name).join(Skill, Skill.id == UserSkill.skill_id)
        ):
            found.setdefault(user_id, []).append(name)
        return found

    def user_ids(self) -> dict[int, str]:
        return dict(self.session.execute(select(User.id, User.user_id)).all())

    def dialable(
        self, campaign: Campaign, agent_id: int, lead_filter: Filter | None, now: datetime
    ) -> tuple[int, int]:
        return hopper.dialable(self.session, campaign, agent_id, lead_filter, now)

    def insert(
        self, campaign_id: int, record_ids: Sequence[int], priority: int, now: datetime
    ) -> int:
        session = self.session
        exists = hopper.while_campaign_exists(select(CampaignRow.id), campaign_id)
        if session.scalar(exists) is None:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")  # deleted meanwhile
        # After the last position of the priority's band, so that positions stay unique in
        # the campaign (the hopper view pages by position).
        floor = -priority * PRIORITY_STEP
        last = select(func.max(HopperEntry.position)).where(
            HopperEntry.campaign_id == campaign_id, HopperEntry.position >= floor
        )
        if priority:
            last = last.where(HopperEntry.position < floor + PRIORITY_STEP // 2)
        found = session.scalar(last)
        base = int(found) if found is not None else floor
        owners = dict(
            session.execute(
                select(Record.id, Record.owner_id).where(Record.id.in_(list(record_ids)))
            ).all()
        )
        rows = [
            {
                "campaign_id": campaign_id,
                "record_id": record_id,
                "owner_id": owners.get(record_id),
                "group_key": None,
                "position": base + n,
                "direct": True,
                "loaded_at": now,
            }
            for n, record_id in enumerate(record_ids, start=1)
        ]
        session.execute(insert(HopperEntry), rows)
        return len(rows)
