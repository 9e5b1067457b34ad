"""The data of a simulated floor: agents, a queue, a contact list and an automatic campaign,
created through the core services as an administrator would."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from callhopper.clock import FrozenClock
from callhopper.core.campaigns import change_state, create_campaign
from callhopper.core.lists import create_list, import_rows
from callhopper.core.queues import QueueService
from callhopper.core.users import UserService
from callhopper.domain.actors import SYSTEM, Actor
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import CampaignSpec
from callhopper.domain.campaigns import CampaignAction, CampaignSettings, DialingMode
from callhopper.domain.contacts import ColumnSpec, ListSchema, PhoneColumnSpec, TimezoneSource
from callhopper.domain.ownership import OwnerOrder
from callhopper.domain.phones import PhoneType
from callhopper.domain.timezones import TimezoneSourceKind
from callhopper.ports.transactions import UnitOfWork
from callhopper.security import Argon2PasswordHasher

#: (ZIP, area code, time zone) of the simulated contacts: four US zones.
PLACES = (
    ("10001", "212", "America/New_York"),
    ("60601", "312", "America/Chicago"),
    ("80202", "303", "America/Denver"),
    ("94103", "415", "America/Los_Angeles"),
)
DOMAIN = "sim.callhopper.dev"
CALLER_ID = "+14155550100"


def floor_schema(owned: bool) -> ListSchema:
    columns = [
        ColumnSpec(name="account", required=True),
        ColumnSpec(name="zip"),
        ColumnSpec(name="phone"),
    ]
    if owned:
        columns.append(ColumnSpec(name="agent"))
    return ListSchema(
        columns=tuple(columns),
        phone_columns=(PhoneColumnSpec(column="phone", type=PhoneType.CELL),),
        timezone_source=TimezoneSource(kind=TimezoneSourceKind.POSTAL_CODE, column="zip"),
        agent_owned_column="agent" if owned else None,
        key_column="account",
        default_region="US",
    )


def floor_rows(
    count: int, seed: int, *, zones: int = 1, owners: list[str] | None = None
) -> list[dict[str, str]]:
    """``count`` contacts with distinct valid numbers, spread over the first ``zones`` of
    :data:`PLACES` (and over ``owners``, round robin, when given)."""
    rng = random.Random(f"rows:{seed}")
    exchanges = rng.sample(range(200, 990), 8)
    rows = []
    for n in range(count):
        zip_code, area, _ = PLACES[n % zones]
        exchange = exchanges[(n // 10000) % len(exchanges)]
        row = {
            "account": f"S-{n:06d}",
            "zip": zip_code,
            "phone": f"+1{area}{exchange}{n % 10000:04d}",
        }
        if owners:
            row["agent"] = owners[n % len(owners)]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Floor:
    campaign_id: int
    list_id: int
    queue_id: int
    #: The agents, as actors, by user id.
    agents: dict[int, Actor]


def create_floor(
    uow: UnitOfWork,
    now: datetime,
    *,
    agents: int,
    records: int,
    mode: DialingMode,
    seed: int = 0,
    zones: int = 1,
    owned: bool = False,
    window: CallingWindow | None = None,
    settings: CampaignSettings | None = None,
) -> Floor:
    """Create and start the floor's campaign (``window``: default open all day)."""
    clock = FrozenClock(now)
    users = UserService(uow, clock, Argon2PasswordHasher())
    logins = [f"agent{n:03d}" for n in range(1, agents + 1)]
    for login in logins:
        users.create_user(SYSTEM, email=f"{login}@{DOMAIN}", display_name=login, user_id=login)
    queues = QueueService(uow, clock)
    queue = queues.create_queue(SYSTEM, name=f"Floor {seed}", description="simulated agents")
    queues.add_members(SYSTEM, queue.id, logins)
    owners = [f"{login}@{DOMAIN}" for login in logins] if owned else None
    with uow.write() as tx:
        contact_list = create_list(
            tx, SYSTEM, name=f"Floor {seed}", description="", schema=floor_schema(owned), now=now
        )
        rows = floor_rows(records, seed, zones=zones, owners=owners)
        import_rows(tx, SYSTEM, contact_list.id, source="simulation", items=rows, clock=clock)
        campaign = create_campaign(
            tx,
            SYSTEM,
            CampaignSpec(
                name=f"Floor {seed} {mode.value}",
                description="",
                list_id=contact_list.id,
                queue_id=queue.id,
                wrapup_set_id=1,
                mode=mode,
                agent_owned_column="agent" if owned else None,
                owner_order=OwnerOrder.EMAIL_FIRST,
                sort=(),
                calling_window=window or CallingWindow(start="00:00", end="24:00"),
                settings=settings or CampaignSettings(caller_ids=(CALLER_ID,)),
            ),
            now=now,
        )
        change_state(tx, SYSTEM, campaign.id, CampaignAction.START, now=now)
    with uow.read() as tx:
        actors = {}
        for login in logins:
            user = tx.users.user(login)
            assert user is not None
            actors[user.id] = tx.agents.actor(user.id)
    return Floor(campaign.id, contact_list.id, queue.id, actors)
