"""Dial compliance against the real store (no call outside the
calling window, none to a number on a do-not-call list or not validated).

4. A number on a DNC list, or one that could not be validated, is never dialled.
5. No dial happens outside the calling window in the contact's time zone.

Hypothesis draws small campaigns: contacts in zones with daylight-saving changes
(New York, London, St John's, Lord Howe's half-hour shift) and without, one to three
numbers each from a small pool, a calling window (overnight ones too, and edges
next to the changes), a DNC list attached to the campaign and one that is not, and
what a fake validation service says of each number (allowed, dnc, unavailable, no
answer, an answer that is no verdict) or whether it fails outright or takes long
enough for the window to close meanwhile. The real :class:`Dispenser` then delivers
records (Get Record) and dials them (Call: the first number, a chosen one, a typed
one; or the preview timeout's automatic dial) with a frozen clock set near the
window's edges on the days the clocks change. Every outcome is checked against a
model of the rules, and at the end of each example every dial in the database is
checked against the invariants on its own.

The world (database, admin client, agent) is built once per test; each example gets
its own list, numbers, queue, campaign and DNC lists in it.

Last, the HTTP validation adapter against a real local service that sleeps past the
timeout on one number: the next number is used; when every number times out the
record is closed as not validated.
"""

from __future__ import annotations

import itertools
import json
import threading
import time as wall
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from callhopper.clock import FrozenClock
from callhopper.core.dispensing import Delivery, DialResult, Dispenser
from callhopper.dnc_service import HttpNumberValidator
from callhopper.domain.actors import Actor
from callhopper.domain.errors import Conflict, InvalidInput
from callhopper.domain.predial import Verdict
from callhopper.store.db import Database
from callhopper.store.models import CampaignRecord, Interaction, User
from callhopper.store.uow import SqlUnitOfWork
from callhopper.store.users import actor_of
from tests.campaign_helpers import agents, make_campaign, make_queue, phone, start
from tests.support import MakeUser, Person

API = "/api/v1"

#: Zones and the 2026 days their clocks change (none for Phoenix and Kathmandu).
TRANSITIONS: dict[str, tuple[date, ...]] = {
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/St_Johns": (date(2026, 3, 8), date(2026, 11, 1)),  # UTC-3:30 / -2:30
    "Australia/Lord_Howe": (date(2026, 4, 5), date(2026, 10, 4)),  # a 30-minute shift
    "America/Phoenix": (),
    "Asia/Kathmandu": (),  # UTC+5:45
}
ZONES = tuple(TRANSITIONS)
PLAIN_DAYS = (date(2026, 3, 2), date(2026, 7, 15))
#: Window edges: mostly office hours, some next to the 01:00-03:00 changes, some overnight.
STARTS = ("08:00", "08:00", "09:00", "00:00", "01:30", "02:00", "02:30", "20:00", "22:00")
ENDS = ("21:00", "21:00", "17:00", "24:00", "01:00", "02:00", "02:30", "03:00")
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
#: Numbers per example; records draw theirs from this pool.
POOL = 5
PHONE_COLUMNS = ("p0", "p1", "p2")
#: What the fake service says of a number: a verdict, nothing, or something else.
ANSWERS = ("allowed", "allowed", "allowed", "dnc", "unavailable", "missing", "garbage")
PREVIEW_TIMEOUT_S = 60
CODES = ("sale", "busy", "no_answer")
RETRY_MIN = {"sale": None, "busy": 10, "no_answer": 60}

_examples = itertools.count(1)


# --- the model of the rules -----------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    days: tuple[int, ...] = ALL_DAYS

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "days": list(self.days)}

    def open_at(self, instant: datetime, zone: str) -> bool:
        """The calling window on its own: the local wall-clock minute and weekday of the contact;
        an overnight window belongs to the day it starts on."""
        local = instant.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return local.weekday() in self.days and start <= minute < end
        if minute >= start:
            return local.weekday() in self.days
        return minute < end and (local.weekday() - 1) % 7 in self.days


@dataclass(frozen=True)
class Step:
    """One delivery: Get Record, wait, dial (or let the preview timeout dial), finish."""

    #: Seconds from Get Record to the dial (the time the agent previews the record).
    delay_s: int
    #: ``first``; ``pick`` (a phone index, by position among the record's numbers);
    #: ``bad_index``; ``typed`` (a pool number typed in); ``auto`` (the preview timeout).
    how: str
    pick: int
    #: Seconds the validation service takes (the window may close meanwhile).
    latency_s: int
    service_fails: bool
    code: str
    #: Seconds after the step before the next one.
    gap_s: int


@dataclass(frozen=True)
class Scenario:
    zones: tuple[str, ...]
    #: Per record and phone column: the pool number there, or ``None``.
    phones: tuple[tuple[int | None, ...], ...]
    window: Window
    on_dnc: frozenset[int]
    #: On a DNC list the campaign does not check: dialable as far as that list goes.
    on_other_list: frozenset[int]
    answers: tuple[str, ...]
    auto: bool
    lease_at: datetime
    steps: tuple[Step, ...]


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.sampled_from(STARTS))
    end = draw(st.sampled_from([e for e in ENDS if e != start]))
    some_days = st.sets(st.sampled_from(ALL_DAYS), min_size=1).map(sorted).map(tuple)
    days = draw(st.sampled_from([ALL_DAYS, ALL_DAYS, None]))
    return Window(start, end, days if days is not None else draw(some_days))


@st.composite
def lease_instants(draw: st.DrawFn, zone: str, window: Window) -> datetime:
    """Mostly just inside the window's edges, some just outside, some at the hour the
    clocks change, some anywhere, on the days ``zone`` changes its clocks and others."""
    day = draw(st.sampled_from(TRANSITIONS[zone] + PLAIN_DAYS))
    start, end = _minutes(window.start), _minutes(window.end)
    minutes = draw(
        st.one_of(
            st.integers(1, 3).map(lambda k: end - k),  # about to close
            st.integers(1, 3).map(lambda k: end - k),
            st.integers(0, 2).map(lambda k: start + k),  # just opened
            st.integers(1, 2).map(lambda k: start - k),  # not yet open
            st.integers(-3, 3).map(lambda k: 120 + k),  # 02:00, when clocks change
            st.integers(0, 24 * 60 - 1),
        )
    )
    wall_time = datetime.combine(day, time(0, 0)) + timedelta(minutes=minutes)
    # A wall time the change skips or repeats is read with either offset (``fold``).
    local = wall_time.replace(tzinfo=ZoneInfo(zone), fold=draw(st.integers(0, 1)))
    instant = local.astimezone(UTC)
    return instant.replace(second=draw(st.sampled_from([0, 1, 30, 59])))


@st.composite
def steps(draw: st.DrawFn, auto: bool) -> Step:
    how = "auto" if auto else draw(st.sampled_from(["first", "pick", "pick", "typed", "bad_index"]))
    delay = draw(st.sampled_from([0, 1, 30, 59, 60, 61, 119, 120, 181, 3600]))
    if auto:
        delay = max(delay, PREVIEW_TIMEOUT_S)
    return Step(
        delay_s=delay,
        how=how,
        pick=draw(st.integers(0, 2)),
        latency_s=draw(st.sampled_from([0, 0, 0, 1, 30, 61, 150])),
        service_fails=draw(st.sampled_from([False, False, False, True])),
        code=draw(st.sampled_from(CODES)),
        gap_s=draw(st.sampled_from([0, 0, 600, 3600])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 3))
    zones = tuple(draw(st.sampled_from(ZONES)) for _ in range(n))
    phones = []
    for _ in range(n):
        numbers = draw(st.permutations(range(POOL)))[: len(PHONE_COLUMNS)]
        kept = draw(
            st.tuples(*(st.sampled_from([True, True, False]) for _ in PHONE_COLUMNS)).filter(any)
        )
        phones.append(tuple(p if keep else None for p, keep in zip(numbers, kept, strict=True)))
    window = draw(windows())
    auto = draw(st.booleans())
    return Scenario(
        zones=zones,
        phones=tuple(phones),
        window=window,
        on_dnc=frozenset(draw(st.sets(st.integers(0, POOL - 1), max_size=3))),
        on_other_list=frozenset(draw(st.sets(st.integers(0, POOL - 1), max_size=2))),
        answers=tuple(draw(st.sampled_from(ANSWERS)) for _ in range(POOL)),
        auto=auto,
        lease_at=draw(lease_instants(zones[0], window)),
        steps=tuple(draw(st.lists(steps(auto), min_size=1, max_size=3))),
    )


# --- the fake validation service ------------------------------------------------------------------


class ServiceDown(RuntimeError):
    """The fake service breaking the port's promise never to raise."""


@dataclass
class FakeValidator:
    """A :class:`~callhopper.dnc_service.NumberValidator` whose answers the test sets."""

    clock: FrozenClock
    answers: dict[str, str]
    latency_s: int = 0
    fails: bool = False
    asked: list[list[str]] = field(default_factory=list)

    def check(self, numbers: Sequence[str]) -> dict[str, Verdict]:
        self.asked.append(list(numbers))
        self.clock.advance(timedelta(seconds=self.latency_s))  # time passes while it thinks
        if self.fails:
            raise ServiceDown("the validation service blew up")
        result: dict[str, Any] = {}
        for number in numbers:
            answer = self.answers[number]
            if answer == "garbage":
                result[number] = "maybe"
            elif answer != "missing":
                result[number] = Verdict(answer)
        return result


# --- the world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    db: Database
    clock: FrozenClock
    api: TestClient
    person: Person
    actor: Actor
    #: Every example's campaign is tied to this queue (alice alone).
    queue_id: int


def _world(api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser) -> World:
    (person,) = agents(make_user, "alice")
    with db.read() as session:
        user = session.scalar(select(User).where(User.user_id == person.user_id))
        assert user is not None
        actor = actor_of(session, user)
    return World(db, clock, api, person, actor, make_queue(api, [person], name="Compliance"))


def e164(n: int) -> str:
    """The E.164 form of :func:`tests.campaign_helpers.phone`."""
    return f"+1602{200 + n // 10000:03d}{n % 10000:04d}"


@dataclass
class Built:
    campaign_id: int
    record_ids: list[int]
    #: Pool position → E.164 number.
    numbers: list[str]
    #: Pool position → the number as an agent would type it.
    typed: list[str]


def build(world: World, s: Scenario) -> Built:
    """The example's list, DNC lists, queue and campaign, started."""
    api, n = world.api, next(_examples)
    base = n * POOL
    numbers = [e164(base + k) for k in range(POOL)]
    typed = [phone(base + k) for k in range(POOL)]
    created = api.post(
        f"{API}/contact-lists",
        json={
            "name": f"Compliance {n}",
            "columns": ["account", *PHONE_COLUMNS, "tz"],
            "phone_columns": list(PHONE_COLUMNS),
            "key_column": "account",
            "timezone_source": {"kind": "iana", "column": "tz"},
        },
    )
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    rows = [
        {
            "account": f"C{r}",
            "tz": zone,
            **{
                c: typed[p] if p is not None else ""
                for c, p in zip(PHONE_COLUMNS, slots, strict=True)
            },
        }
        for r, (zone, slots) in enumerate(zip(s.zones, s.phones, strict=True))
    ]
    report = api.post(f"{API}/contact-lists/{list_id}/records", json={"records": rows}).json()
    assert report["rows_rejected"] == 0, report
    campaign_id = make_campaign(
        api,
        list_id,
        world.queue_id,
        name=f"Compliance {n}",
        agent_owned_column=None,
        calling_window=s.window.as_json(),
        sort=[{"column": "account"}],
        settings={
            "allow_manual_dial": True,
            "lease_timeout_s": 24 * 3600,
            "preview_timeout_s": PREVIEW_TIMEOUT_S if s.auto else None,
        },
    )
    checked = _dnc_list(api, f"Checked {n}", [numbers[k] for k in sorted(s.on_dnc)])
    if s.on_other_list:
        _dnc_list(api, f"Elsewhere {n}", [numbers[k] for k in sorted(s.on_other_list)])
    attached = api.put(f"{API}/campaigns/{campaign_id}/dnc-lists", json={"dnc_list_ids": [checked]})
    assert attached.status_code == 200, attached.text
    start(api, campaign_id)
    with world.db.read() as session:
        ids = list(
            session.scalars(
                select(CampaignRecord.record_id)
                .where(CampaignRecord.campaign_id == campaign_id)
                .order_by(CampaignRecord.rank)
            )
        )
    return Built(campaign_id, ids, numbers, typed)


def _dnc_list(api: TestClient, name: str, numbers: list[str]) -> int:
    created = api.post(f"{API}/dnc-lists", json={"name": name})
    assert created.status_code == 201, created.text
    list_id = int(created.json()["id"])
    if numbers:
        added = api.post(f"{API}/dnc-lists/{list_id}/numbers", json={"numbers": numbers})
        assert added.status_code == 200, added.text
    return list_id


# --- one example ----------------------------------------------------------------------------------


@dataclass
class RecordModel:
    zone: str
    #: Phone index → E.164 number, the record's numbers in dialling order.
    phones: list[tuple[int, str]]
    status: str = "ready"
    retry_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.status == "ready" or (
            self.status == "waiting" and self.retry_at is not None and self.retry_at <= now
        )


def listed(s: Scenario, built: Built, model: RecordModel) -> bool:
    """Every number of the record is on a list the campaign checks."""
    return bool(model.phones) and all(built.numbers.index(n) in s.on_dnc for _, n in model.phones)


def verdict_of(s: Scenario, built: Built, number: str) -> str:
    """What the rules make of a number: on a checked list, else what the service said."""
    position = built.numbers.index(number)
    if position in s.on_dnc:
        return "dnc"
    answer = s.answers[position]
    return answer if answer in ("allowed", "dnc") else "unavailable"


def expected_plan(
    candidates: list[tuple[int | None, str]], verdict: dict[str, str]
) -> tuple[str | None, str, str | None]:
    """(number dialled, case, close reason) for candidates in order."""
    for position, (_, number) in enumerate(candidates):
        if verdict[number] == "allowed":
            if position == 0:
                return number, "clear", None
            first = verdict[candidates[0][1]]
            return number, "dnc_next" if first == "dnc" else "unavailable_next", None
    if all(verdict[n] == "dnc" for _, n in candidates):
        return None, "dnc_none", "dnc"
    return None, "unavailable_none", "not_validated"


def run(world: World, s: Scenario) -> None:
    built = build(world, s)
    clock, cid = world.clock, built.campaign_id
    clock.set(s.lease_at)
    models = {
        record_id: RecordModel(
            zone,
            [(i, built.numbers[p]) for i, p in enumerate(slots) if p is not None],
        )
        for record_id, zone, slots in zip(built.record_ids, s.zones, s.phones, strict=True)
    }
    answers = {built.numbers[k]: s.answers[k] for k in range(POOL)}
    validator = FakeValidator(clock, answers)
    dispenser = Dispenser(SqlUnitOfWork(world.db), clock, validator=validator)
    verdict = {n: verdict_of(s, built, n) for n in built.numbers}
    # A service that raises (breaking the port's promise) validated nothing: only the
    # numbers on a list are known, as DNC; every other is unavailable.
    unvalidated = {
        n: "dnc" if built.numbers.index(n) in s.on_dnc else "unavailable" for n in built.numbers
    }
    expected_dials: list[tuple[int, str]] = []

    for step in s.steps:
        now = clock.now()
        # A record whose every number is on a checked list is never delivered: the claim
        # closes it as dnc and takes the next one.
        eligible = [
            r
            for r, m in models.items()
            if m.due(now) and s.window.open_at(now, m.zone) and not listed(s, built, m)
        ]
        got = dispenser.get_record(world.actor, cid)
        if not eligible:
            # Invariant 5 at selection: nothing outside the window is delivered.
            assert not isinstance(got, Delivery), (
                f"record {got.record_id} delivered at {now} outside {s.window} in "
                f"{models[got.record_id].zone}"
            )
            clock.advance(timedelta(seconds=step.gap_s))
            continue
        assert isinstance(got, Delivery), f"nothing delivered at {now}: {got}"
        record_id = got.record_id
        assert record_id in eligible, f"record {record_id} is not deliverable at {now}"
        model = models[record_id]

        clock.advance(timedelta(seconds=step.delay_s))
        validator.latency_s, validator.fails = step.latency_s, step.service_fails
        asked_before = len(validator.asked)
        outcome: DialResult | Exception | None
        try:
            outcome = _dial(dispenser, world.actor, cid, record_id, step, model, built)
        except (Conflict, InvalidInput) as exc:
            outcome = exc
        at = clock.now()  # when the dial was decided (after the service answered)
        known = unvalidated if step.service_fails else verdict
        _check(step, model, built, known, s.window, at, outcome, validator, asked_before)
        if isinstance(outcome, DialResult):
            if outcome.number is not None:
                expected_dials.append((record_id, outcome.number))
            if outcome.closed is not None:
                model.status = "final"
        if model.status != "final":
            dispenser.done(world.actor, cid, record_id, code=step.code)
            retry = RETRY_MIN[step.code]
            if retry is None:
                model.status = "final"
            else:
                model.status, model.retry_at = "waiting", clock.now() + timedelta(minutes=retry)
        clock.advance(timedelta(seconds=step.gap_s))

    _check_every_dial(world, s, built, models, expected_dials)


def _dial(
    dispenser: Dispenser,
    actor: Actor,
    campaign_id: int,
    record_id: int,
    step: Step,
    model: RecordModel,
    built: Built,
) -> DialResult | None:
    if step.how == "auto":
        # The preview timeout has run out: the pusher's timer dials for the agent.
        before = _dials(dispenser.uow.db, campaign_id)
        dispenser.auto_dial_due()
        after = _dials(dispenser.uow.db, campaign_id)
        new = after[len(before) :]
        closed = _closed(dispenser.uow.db, campaign_id, record_id)
        if not new and closed is None:
            return None  # refused (outside the window): auto-dial says nothing
        return DialResult(record_id, new[0][1] if new else None, None, "", "", [], closed)
    if step.how == "typed":
        return dispenser.call(actor, campaign_id, record_id, number=built.typed[step.pick])
    if step.how == "bad_index":
        return dispenser.call(actor, campaign_id, record_id, phone_index=7)
    index = model.phones[step.pick % len(model.phones)][0] if step.how == "pick" else None
    return dispenser.call(actor, campaign_id, record_id, phone_index=index)


def _check(
    step: Step,
    model: RecordModel,
    built: Built,
    verdict: dict[str, str],
    window: Window,
    at: datetime,
    outcome: DialResult | Exception | None,
    validator: FakeValidator,
    asked_before: int,
) -> None:
    """The outcome of one dial request against the rules."""
    if step.how == "bad_index":
        assert isinstance(outcome, InvalidInput), outcome
        return
    # Every number that may be dialled was put to the service first.
    assert len(validator.asked) == asked_before + 1
    if not window.open_at(at, model.zone):
        if step.how == "auto":
            assert outcome is None, outcome
        else:
            assert isinstance(outcome, Conflict), outcome
            assert outcome.code == "outside_calling_window", outcome
        return
    if step.how == "typed":
        number = built.numbers[step.pick]
        candidates: list[tuple[int | None, str]] = [(None, number)]
    else:
        chosen = model.phones[step.pick % len(model.phones)][0] if step.how == "pick" else None
        order = [c for c in model.phones if c[0] == chosen] if chosen is not None else []
        candidates = [*order, *(c for c in model.phones if c not in order)]
    assert validator.asked[-1] == [n for _, n in candidates]
    dialled, case, closed = expected_plan(candidates, verdict)
    if step.how == "typed" and dialled is None:
        # A typed number that may not be dialled is refused; the record stays.
        assert isinstance(outcome, Conflict), outcome
        assert outcome.code == f"number_{case}", outcome
        return
    assert isinstance(outcome, DialResult), outcome
    assert (outcome.number, outcome.closed) == (dialled, closed), (outcome, candidates, verdict)
    if step.how != "auto":
        assert outcome.case == case
        skipped = [k["number"] for k in outcome.skipped]
        passed = candidates[: [n for _, n in candidates].index(dialled)] if dialled else candidates
        assert skipped == [n for _, n in passed]


def _dials(db: Database, campaign_id: int) -> list[tuple[int, str | None, datetime]]:
    with db.read() as session:
        rows = session.execute(
            select(Interaction.record_id, Interaction.number, Interaction.at)
            .where(Interaction.campaign_id == campaign_id, Interaction.kind == "call")
            .order_by(Interaction.id)
        ).all()
    return [(r, n, a) for r, n, a in rows]


def _closed(db: Database, campaign_id: int, record_id: int) -> str | None:
    with db.read() as session:
        row = session.get(CampaignRecord, (campaign_id, record_id))
        assert row is not None
        if row.status == "final" and row.last_code in ("dnc", "not_validated"):
            return row.last_code
        return None


def _check_every_dial(
    world: World,
    s: Scenario,
    built: Built,
    models: dict[int, RecordModel],
    expected: list[tuple[int, str]],
) -> None:
    """Invariants 4 and 5 on every dial the database holds, whatever the model says."""
    dials = _dials(world.db, built.campaign_id)
    for record_id, number, at in dials:
        assert number is not None, f"a dial of record {record_id} without a number"
        position = built.numbers.index(number)
        assert position not in s.on_dnc, f"{number} is on a DNC list and was dialled"
        assert s.answers[position] == "allowed", (
            f"{number} was dialled though the service said {s.answers[position]!r}"
        )
        zone = models[record_id].zone
        assert s.window.open_at(at, zone), (
            f"{number} dialled at {at.astimezone(ZoneInfo(zone))} ({zone}), outside {s.window}"
        )
    assert [(r, n) for r, n, _ in dials] == expected


#: Every example builds a list, a queue, a campaign and two DNC lists in the database.
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: A record leased at 20:59 in New York on the day the clocks go forward and dialled two
#: minutes later is refused; so is the preview timeout's dial of one leased at 20:58:30
#: when the service takes a minute to answer.
AT_2059 = datetime(2026, 3, 8, 20, 59, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
LATE_CALL = Scenario(
    zones=("America/New_York",),
    phones=((0, None, None),),
    window=Window("08:00", "21:00"),
    on_dnc=frozenset(),
    on_other_list=frozenset(),
    answers=("allowed",) * POOL,
    auto=False,
    lease_at=AT_2059,
    steps=(Step(120, "first", 0, 0, False, "sale", 0),),
)
LATE_AUTO_DIAL = replace(
    LATE_CALL,
    auto=True,
    lease_at=AT_2059 - timedelta(seconds=30),
    steps=(Step(PREVIEW_TIMEOUT_S, "auto", 0, 61, False, "sale", 0),),
)


def test_no_dial_of_a_dnc_or_unvalidated_number_or_outside_the_window(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    world = _world(api, db, clock, make_user)

    @SETTINGS
    @given(scenario=scenarios())
    @example(scenario=LATE_CALL)
    @example(scenario=LATE_AUTO_DIAL)
    def check(scenario: Scenario) -> None:
        run(world, scenario)

    check()


# --- a real service that times out ----------------------------------------------------------------

TIMEOUT_S = 0.3
SLOW, FINE = 0, 1


class Service(ThreadingHTTPServer):
    """A validation service that hangs on the numbers in :attr:`slow`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.slow: set[str] = set()
        self.requests: list[list[str]] = []
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/check"


class _Handler(BaseHTTPRequestHandler):
    server: Service

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        numbers = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["numbers"]
        self.server.requests.append(numbers)
        if self.server.slow.intersection(numbers):
            self.server.stop.wait(10 * TIMEOUT_S)  # longer than the client waits
        payload = json.dumps({"results": dict.fromkeys(numbers, "allowed")}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up long ago


@pytest.fixture
def service() -> Iterator[Service]:
    server = Service()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


def _timeout_world(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser, phones: int
) -> tuple[World, Built]:
    """One contact in Phoenix with ``phones`` numbers, inside an all-day window."""
    world = _world(api, db, clock, make_user)
    s = Scenario(
        zones=("America/Phoenix",),
        phones=(tuple(range(phones)) + (None,) * (3 - phones),),
        window=Window("00:00", "24:00"),
        on_dnc=frozenset(),
        on_other_list=frozenset(),
        answers=("allowed",) * POOL,
        auto=False,
        lease_at=clock.now(),
        steps=(),
    )
    return world, build(world, s)


def _call_with(
    world: World, built: Built, validator: HttpNumberValidator
) -> tuple[DialResult, float]:
    dispenser = Dispenser(SqlUnitOfWork(world.db), world.clock, validator=validator)
    delivery = dispenser.get_record(world.actor, built.campaign_id)
    assert isinstance(delivery, Delivery)
    started = wall.monotonic()
    result = dispenser.call(world.actor, built.campaign_id, delivery.record_id)
    return result, wall.monotonic() - started


def test_a_service_timing_out_on_one_number_passes_to_the_next(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser, service: Service
) -> None:
    world, built = _timeout_world(api, db, clock, make_user, phones=2)
    service.slow = {built.numbers[SLOW]}
    with HttpNumberValidator(service.url, TIMEOUT_S) as validator:
        result, took = _call_with(world, built, validator)
    assert (result.number, result.phone_index, result.case) == (
        built.numbers[FINE],
        FINE,
        "unavailable_next",
    )
    assert [(k["number"], k["verdict"]) for k in result.skipped] == [
        (built.numbers[SLOW], "unavailable")
    ]
    assert "cannot be validated" in result.message and result.closed is None
    assert took < 8 * TIMEOUT_S  # the slow number did not hold the dial for long
    assert [n for _, n, _ in _dials(world.db, built.campaign_id)] == [built.numbers[FINE]]
    # The batch timed out; then each number was asked about on its own.
    slow, fine = built.numbers[SLOW], built.numbers[FINE]
    assert service.requests[0] == [slow, fine]
    assert sorted(service.requests[1:]) == sorted([[slow], [fine]])


def test_a_service_timing_out_on_every_number_closes_the_record_not_validated(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser, service: Service
) -> None:
    world, built = _timeout_world(api, db, clock, make_user, phones=2)
    service.slow = {built.numbers[SLOW], built.numbers[FINE]}
    with HttpNumberValidator(service.url, TIMEOUT_S) as validator:
        result, _ = _call_with(world, built, validator)
    assert (result.number, result.case, result.closed) == (
        None,
        "unavailable_none",
        "not_validated",
    )
    assert [k["verdict"] for k in result.skipped] == ["unavailable", "unavailable"]
    assert _dials(world.db, built.campaign_id) == []
    assert _closed(world.db, built.campaign_id, built.record_ids[0]) == "not_validated"
    # Closed: Get Record has nothing more for the agent.
    dispenser = Dispenser(SqlUnitOfWork(world.db), world.clock)
    assert not isinstance(dispenser.get_record(world.actor, built.campaign_id), Delivery)


def test_a_service_timing_out_on_the_only_number_closes_the_record(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser, service: Service
) -> None:
    world, built = _timeout_world(api, db, clock, make_user, phones=1)
    service.slow = {built.numbers[SLOW]}
    with HttpNumberValidator(service.url, TIMEOUT_S) as validator:
        result, took = _call_with(world, built, validator)
    assert (result.number, result.case, result.closed) == (
        None,
        "unavailable_none",
        "not_validated",
    )
    assert result.message == (
        "The phone number cannot be validated (Do-Not-Call list service is unavailable)."
    )
    assert took < 8 * TIMEOUT_S
    assert _dials(world.db, built.campaign_id) == []


def test_a_validator_that_raises_counts_as_unavailable(
    api: TestClient, db: Database, clock: FrozenClock, make_user: MakeUser
) -> None:
    world, built = _timeout_world(api, db, clock, make_user, phones=1)
    validator = FakeValidator(clock, {}, fails=True)
    dispenser = Dispenser(SqlUnitOfWork(world.db), world.clock, validator=validator)
    delivery = dispenser.get_record(world.actor, built.campaign_id)
    assert isinstance(delivery, Delivery)
    result = dispenser.call(world.actor, built.campaign_id, delivery.record_id)
    assert (result.number, result.closed) == (None, "not_validated")
