"""Demo data: a small collections floor to click through (``callhopper demo``)."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select

from callhopper.clock import FrozenClock
from callhopper.core.campaigns import change_state, create_campaign
from callhopper.core.lists import create_list, import_rows
from callhopper.core.queues import QueueService
from callhopper.core.users import UserService
from callhopper.core.wrapup import WrapupService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.calling_window import CallingWindow
from callhopper.domain.campaign_values import CampaignSpec
from callhopper.domain.campaigns import CampaignAction, CampaignSettings, DialingMode, SortKey
from callhopper.domain.contacts import (
    ColumnSpec,
    FieldType,
    ListSchema,
    PhoneColumnSpec,
    TimezoneSource,
)
from callhopper.domain.ownership import OwnerOrder
from callhopper.domain.phones import PhoneType
from callhopper.domain.timezones import TimezoneSourceKind
from callhopper.security import Argon2PasswordHasher
from callhopper.store.db import Database
from callhopper.store.models import ContactList
from callhopper.store.uow import SqlUnitOfWork

DEMO_PASSWORD = "callhopper-demo"
DOMAIN = "demo.callhopper.dev"
LIST_NAME = "Demo accounts"
QUEUE_NAME = "Collections"
CAMPAIGN_NAME = "Demo collections"
AGENTS = ("alice", "bob", "carol")

_FIRST = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jon",
    "Kai",
    "Lena",
    "Marta",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tomas",
)
_LAST = (
    "Garcia",
    "Smith",
    "Nguyen",
    "Okafor",
    "Tanaka",
    "Kowalski",
    "Haddad",
    "Silva",
    "Brown",
    "Rossi",
    "Jensen",
    "Moreau",
)
#: (state, ZIP, area code) triples with real area codes, so numbers are valid.
_PLACES = (
    ("AZ", "85004", "602"),
    ("CA", "94103", "415"),
    ("NY", "10001", "212"),
    ("TX", "73301", "512"),
    ("IL", "60601", "312"),
    ("FL", "33101", "305"),
    ("WA", "98101", "206"),
    ("CO", "80202", "303"),
)


def demo_schema() -> ListSchema:
    return ListSchema(
        columns=(
            ColumnSpec(name="account", required=True),
            ColumnSpec(name="first_name"),
            ColumnSpec(name="last_name"),
            ColumnSpec(name="state"),
            ColumnSpec(name="zip"),
            ColumnSpec(name="balance", type=FieldType.NUMBER),
            ColumnSpec(name="home_phone"),
            ColumnSpec(name="cell_phone"),
            ColumnSpec(name="agent"),
            ColumnSpec(name="promise_date", type=FieldType.DATETIME, editable=True),
            ColumnSpec(name="paid", type=FieldType.CHECKBOX, editable=True),
            ColumnSpec(
                name="outcome",
                type=FieldType.DROPDOWN,
                editable=True,
                options=("promise to pay", "dispute", "hardship", "paid in full"),
            ),
            ColumnSpec(name="notes", editable=True),
        ),
        phone_columns=(
            PhoneColumnSpec(column="cell_phone", type=PhoneType.CELL),
            PhoneColumnSpec(column="home_phone", type=PhoneType.HOME),
        ),
        timezone_source=TimezoneSource(kind=TimezoneSourceKind.POSTAL_CODE, column="zip"),
        agent_owned_column="agent",
        key_column="account",
        default_region="US",
    )


def demo_rows(count: int = 60, seed: int = 7) -> list[dict[str, str]]:
    """Accounts spread over the three agents, plus rows the error monitor will show."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for n in range(count):
        state, zip_code, area = _PLACES[n % len(_PLACES)]
        owner = f"{AGENTS[n % len(AGENTS)]}@{DOMAIN}"
        if n % 3 == 1:
            owner = owner.upper()  # emails match in any case
        rows.append(
            {
                "account": f"AC-{1000 + n}",
                "first_name": rng.choice(_FIRST),
                "last_name": rng.choice(_LAST),
                "state": state,
                "zip": zip_code,
                "balance": f"{rng.randint(50, 5000)}.{rng.randint(0, 99):02d}",
                "home_phone": f"({area}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}",
                "cell_phone": f"+1 {area} {rng.randint(200, 989)} {rng.randint(1000, 9999)}",
                "agent": owner,
            }
        )
    # For the error monitor: an address nobody has, and an agent outside the queue.
    rows[-2]["agent"] = f"nobody@{DOMAIN}"
    rows[-1]["agent"] = f"dave@{DOMAIN}"
    return rows


def create_demo(db: Database, now: datetime) -> str:
    """Create the demo data once; later runs find it and leave it alone."""
    with db.read() as session:
        if session.scalar(select(ContactList.id).where(ContactList.name == LIST_NAME)):
            return f"demo data already present in {db.url}"
    uow, clock = SqlUnitOfWork(db), FrozenClock(now)
    users = UserService(uow, clock, Argon2PasswordHasher())
    people = [("admin", "admin", "Ada Admin"), ("supervisor", "supervisor", "Sol Supervisor")]
    people += [(a, "agent", f"{a.title()} Agent") for a in (*AGENTS, "dave")]
    for login, role, name in people:
        email = f"{login}@{DOMAIN}"
        if users.user_by_email(email) is None:
            users.create_user(
                SYSTEM,
                email=email,
                display_name=name,
                role=role,
                password=DEMO_PASSWORD,
                user_id=login,
            )
    queues = QueueService(uow, clock)
    queue = queues.create_queue(SYSTEM, name=QUEUE_NAME, description="Demo collections queue")
    queues.add_members(SYSTEM, queue.id, list(AGENTS))
    arizona = queues.create_skill(
        SYSTEM,
        name="Licensed: Arizona",
        expression='state == "AZ"',
        description="Agents licensed for Arizona",
    )
    queues.create_skill(SYSTEM, name="West coast", expression='state in ("CA", "WA")')
    users.set_skills(SYSTEM, "alice", [arizona.id])
    collections = WrapupService(uow, clock).create_set(
        SYSTEM, name="Collections", description="Default codes plus a promise to pay"
    )
    with SqlUnitOfWork(db).write() as tx:
        contact_list = create_list(
            tx,
            SYSTEM,
            name=LIST_NAME,
            description="Accounts owned by the demo agents",
            schema=demo_schema(),
            now=now,
        )
        outcome = import_rows(
            tx, SYSTEM, contact_list.id, source="demo", items=demo_rows(), clock=clock
        )
        campaign = create_campaign(
            tx,
            SYSTEM,
            CampaignSpec(
                name=CAMPAIGN_NAME,
                description="Each agent works the accounts the agent column gives them",
                list_id=contact_list.id,
                queue_id=queue.id,
                wrapup_set_id=collections.id,
                mode=DialingMode.PREVIEW,
                agent_owned_column="agent",
                owner_order=OwnerOrder.EMAIL_FIRST,
                sort=(SortKey(column="balance", descending=True),),
                # Open all day so that the demo works at any hour; real campaigns keep
                # the default 08:00-21:00 in each contact's own time zone.
                calling_window=CallingWindow(start="00:00", end="24:00"),
                settings=CampaignSettings(),
            ),
            now=now,
        )
        change_state(tx, SYSTEM, campaign.id, CampaignAction.START, now=now)
    return (
        f"demo: users admin, supervisor, {', '.join(AGENTS)} and dave (@{DOMAIN}); queue "
        f"{QUEUE_NAME!r}; contact list {LIST_NAME!r} with {outcome.report.rows_accepted} records; "
        f"agent-owned preview campaign {CAMPAIGN_NAME!r}, running"
    )
