"""Records leased to the dialer (a predictive call in flight, before any agent is chosen)
handed to the agent the call is connected to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from callhopper.store.dispensing import RENEW_OUT, UPDATE_DIALER_LEASE, update_lease
from callhopper.store.types import UTCDateTime

_HAND_OVER = UPDATE_DIALER_LEASE.values(
    lease_agent_id=bindparam("agent"),
    lease_expires_at=bindparam("until", type_=UTCDateTime()),
    leased_at=bindparam("now", type_=UTCDateTime()),
)


def hand_over(
    session: Session,
    campaign_id: int,
    record_id: int,
    agent_id: int,
    now: datetime,
    until: datetime,
) -> None:
    """The dialer's lease of a record becomes ``agent_id``'s, until ``until`` (a call
    connected to them); 404 unless the record is leased to the dialer."""
    update_lease(session, _HAND_OVER, campaign_id, record_id, agent_id, now=now, until=until)
    session.execute(RENEW_OUT, {"record": record_id, "campaign": campaign_id, "until": until})
