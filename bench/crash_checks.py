"""What a floor (:mod:`bench.crash_floor`) left in the database, checked against the promises.

* **Lost**: a record of the floor's campaigns that is not final, or final without a Done.
* **Handled twice**: a record with two Dones (in the history, in the contact history, or two
  204 answers seen by clients), or two deliveries of one record whose times overlap (two
  holders at once), or a delivery still open at the end.
* **Leases held at a kill**: each comes back by its rule. The agent who comes back gets it
  again (Get Record answers it, the channel resends it) and finishes it; the lease of an
  agent who never comes back lapses (the lease timeout, or a push's accept deadline) and
  the record goes to someone else, not before.
* **Audit**: each Done's field edit has its ``record.edit`` audit entry (same record,
  agent, instant and values) and each entry its Done; the record holds the last value.
* **Lost events** (push): a record pushed to an agent who stayed that never reached the
  agent's channel.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.crash_floor import PUSH, Floor, HeldLease, utc

#: What ends a delivery whose lease lapsed (the history's outcome).
LAPSED = {"expired", "accept_timeout"}


@dataclass
class Findings:
    records: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    held_at_kills: int = 0
    resumed: int = 0
    lapsed: int = 0
    unrecovered: list[str] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    lost_events: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unrecovered or self.audit) and not (
            self.lost_events
        )

    def summary(self) -> str:
        parts = {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unrecovered": self.unrecovered,
            "audit": self.audit,
            "lost events": self.lost_events,
        }
        return "; ".join(f"{k}: {v[:5]} ({len(v)})" for k, v in parts.items() if v) or "clean"


@dataclass
class Delivery:
    id: int
    campaign_id: int
    record_id: int
    agent_id: int
    leased_at: datetime
    released_at: datetime | None
    outcome: str | None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _in(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def check(floor: Floor) -> Findings:
    engine = floor.engine
    try:
        return _check(floor, engine)
    finally:
        engine.dispose()


def _check(floor: Floor, engine: Engine) -> Findings:
    campaigns = _in(list(floor.campaigns.values()))
    found = Findings()
    with engine.connect() as conn:
        statuses = conn.execute(
            text(
                "SELECT campaign_id, record_id, status FROM campaign_records "
                f"WHERE campaign_id IN ({campaigns})"
            )
        ).all()
        history = [
            Delivery(r[0], r[1], r[2], r[3], utc(r[4]), utc(r[5]), r[6])  # type: ignore[arg-type]
            for r in conn.execute(
                text(
                    "SELECT id, campaign_id, record_id, agent_id, leased_at, released_at, outcome "
                    f"FROM assignment_history WHERE campaign_id IN ({campaigns}) "
                    "ORDER BY campaign_id, record_id, leased_at, id"
                )
            ).all()
        ]
        wrapups = conn.execute(
            text(
                "SELECT campaign_id, record_id, agent_id, at, edits FROM interactions "
                f"WHERE kind = 'wrapup' AND campaign_id IN ({campaigns})"
            )
        ).all()
        audits = conn.execute(
            text(
                "SELECT target_id, actor_id, at, after FROM audit_log "
                "WHERE action = 'record.edit' AND target_type = 'record'"
            )
        ).all()
        notes = dict(
            conn.execute(
                text(
                    "SELECT r.id, r.data FROM records r JOIN campaign_records cr "
                    f"ON cr.record_id = r.id WHERE cr.campaign_id IN ({campaigns})"
                )
            ).all()
        )
    found.records = len(statuses)
    by_record: dict[tuple[int, int], list[Delivery]] = defaultdict(list)
    for d in history:
        by_record[(d.campaign_id, d.record_id)].append(d)
    done_rows = Counter(k for k, ds in by_record.items() for d in ds if d.outcome == "done")
    wrapup_rows = Counter((w[0], w[1]) for w in wrapups)
    for campaign_id, record_id, status in statuses:
        key = (campaign_id, record_id)
        if status != "final" or not done_rows[key]:
            found.lost.append(f"{key}: {status}, {done_rows[key]} done")
        dones = (done_rows[key], wrapup_rows[key], floor.done_ok[key])
        if max(dones) > 1:
            found.duplicated.append(f"{key}: done (history, wrap-ups, clients) {dones}")
    for key, ds in by_record.items():
        for before, after in itertools.pairwise(ds):
            if before.released_at is None or after.leased_at < before.released_at:
                found.duplicated.append(f"{key}: deliveries {before.id} and {after.id} overlap")
        if ds[-1].released_at is None:
            found.duplicated.append(f"{key}: delivery {ds[-1].id} still open")
    by_id = {d.id: d for d in history}
    for kill in floor.kills:
        for lease in kill.held:
            found.held_at_kills += 1
            verdict = _recovery(lease, by_id.get(lease.assignment_id))
            if verdict == "resumed":
                found.resumed += 1
            elif verdict == "lapsed":
                found.lapsed += 1
            else:
                found.unrecovered.append(verdict)
    found.audit = _audit(wrapups, audits, notes)
    found.lost_events = _lost_events(floor, history)
    return found


def _recovery(lease: HeldLease, delivery: Delivery | None) -> str:
    """``resumed``, ``lapsed``, or what went wrong."""
    what = f"lease {lease.assignment_id} (record {lease.record_id}, agent {lease.agent_id})"
    if delivery is None:
        return f"{what}: not in the history"
    if delivery.outcome == "done" and not lease.deserter:
        return "resumed"  # the same delivery, finished by its own agent after the restart
    deadline = lease.accept_by or lease.lease_expires_at
    if delivery.outcome in LAPSED:
        if deadline is None or delivery.released_at is None or delivery.released_at < deadline:
            return f"{what}: {delivery.outcome} at {delivery.released_at}, before {deadline}"
        return "lapsed"
    return f"{what}: ended {delivery.outcome!r} (deserter: {lease.deserter})"


def _audit(wrapups: list[Any], audits: list[Any], notes: dict[int, Any]) -> list[str]:
    """Each Done's edit and its audit entry, one for one; the record holds the value."""
    edited = Counter(
        (w[1], w[2], utc(w[3]), _json(w[4])["notes"][1]) for w in wrapups if w[4] is not None
    )
    audited = Counter(
        (int(a[0]), a[1], utc(a[2]), (_json(a[3]) or {}).get("notes")) for a in audits
    )
    audited = Counter({k: v for k, v in audited.items() if k[0] in notes})
    problems = [f"Done without its audit entry: {k}" for k in edited - audited]
    problems += [f"audit entry without its Done: {k}" for k in audited - edited]
    last: dict[int, str] = {}
    for record_id, _, _at, value in sorted(edited, key=lambda k: (k[0], k[2])):
        last[record_id] = value
    for record_id, value in last.items():
        held = (_json(notes[record_id]) or {}).get("notes")
        if held != value:
            problems.append(f"record {record_id} holds notes {held!r}, its last Done {value!r}")
    return problems


def _lost_events(floor: Floor, history: list[Delivery]) -> list[str]:
    """Deliveries to push agents that never reached their channel although it was open
    from the push to the delivery's end. (A push to an agent whose server is dead reaches
    them when they reconnect, if it is still theirs then; one that lapses before is not
    lost: its record comes back at the accept deadline.)"""
    push_id = floor.campaigns.get(PUSH)
    agents = {a.db_id: a for a in floor.agents if a.kind == PUSH}

    def listening(d: Delivery) -> bool:
        end = d.released_at or datetime.max.replace(tzinfo=UTC)
        spans = agents[d.agent_id].connected
        return any(start <= d.leased_at and end <= stop for start, stop in spans)

    return [
        f"record {d.record_id} pushed to {agents[d.agent_id].user_id} ({d.outcome})"
        for d in history
        if d.campaign_id == push_id
        and d.agent_id in agents
        and d.record_id not in agents[d.agent_id].seen
        and listening(d)
    ]
